-- mopex.objects: Image, Table and Wcs objects and the functions that make them.
-- (Filled in by the bindings work; this stub installs nothing.)
local O = {}
function O.install(M, core) end
return O
