-- mopex.objects: Image, Table and Wcs objects and the functions that make them.
--
-- O.install(M, core) copies the constructors and engine functions of the C
-- bindings (lua/l_*.c) into the public table M, adds the few methods that
-- are better written in Lua, and attaches a one-paragraph doc to each for
-- help(). Pixel and row coordinates are FITS 1-based everywhere here.
local O = {}

function O.install(M, core)
  local doc = M.doc
  local Image, Table, Wcs = core.Image, core.Table, core.Wcs
  local mt = core.metatables

  -- Lua-side methods ------------------------------------------------------
  --- img:stats{mask=, fatal=, ddof=} -> {n, mean, stddev, median, mad_sigma, min, max}
  function Image.stats(self, opts) return core.stats(self, opts) end
  --- img:sigma_clip{lo=, hi=, nsig=, maxiter=, center=, mask=, fatal=, ddof=}
  function Image.sigma_clip(self, opts) return core.sigma_clip(self, opts) end
  --- img:pix2sky(x, y) / img:sky2pix(ra, dec): through the image's WCS.
  function Image.pix2sky(self, x, y)
    local w <close> = self:wcs()
    return w:pix2sky(x, y)
  end
  function Image.sky2pix(self, ra, dec)
    local w <close> = self:wcs()
    return w:sky2pix(ra, dec)
  end

  --- t:to_rows() -> array of row tables (nulls are nil), for small tables.
  function Table.to_rows(self)
    local out = {}
    for i, row in self:rows() do out[i] = row end
    return out
  end

  -- Public functions ------------------------------------------------------
  local function export(name, fn, text)
    M[name] = doc(fn, text)
  end

  export("read", core.read, [=[
mopex.read(path) -> Image
  Read the image in a FITS file (the primary HDU, or the first image
  extension when the primary is empty). Integer files without scaling come
  back as integer images (masks), everything else as float images with
  BSCALE/BZERO applied and BLANK turned into NaN. Errors name the file and
  the reason. Use `local img <close> = mopex.read(p)` to free the pixels as
  soon as the variable goes out of scope.]=])
  export("read_float", core.read_float, [=[
mopex.read_float(path) -> Image
  Read any FITS image as float pixels (scaling applied, BLANK -> NaN).]=])
  export("read_mask", core.read_mask, [=[
mopex.read_mask(path) -> Image
  Read an integer mask (BITPIX 8/16/32, unsigned 16-bit offsets applied).
  A floating-point file is an error.]=])
  export("image", core.image, [=[
mopex.image(nx, ny[, fill]) -> Image
  A new float image of nx x ny pixels, all set to `fill` (default 0),
  with an empty header.]=])
  export("mask", core.mask, [=[
mopex.mask(nx, ny[, bitpix]) -> Image
  A new integer image (mask) of nx x ny zeros, written with BITPIX 8, 16 or
  32 (default 32).]=])
  export("read_header", core.read_header, [=[
mopex.read_header(path) -> table
  The primary header of a FITS file without its pixels: keyword -> value
  (numbers, strings and booleans typed from the cards; COMMENT and HISTORY
  as arrays of text), plus nx, ny and bitpix.]=])

  export("read_table", core.read_table, [=[
mopex.read_table(path) -> Table
  Read an IPAC table (as written by IRSA tools, astropy and MOPEX, including
  the unaligned variants found in the MOPEX guide). Errors name the file and
  the line.]=])
  export("parse_table", core.parse_table, [=[
mopex.parse_table(text[, source]) -> Table
  Parse an IPAC table from a string; `source` names it in messages.]=])
  export("table", core.table, [=[
mopex.table() -> Table
  A new empty table: add columns with t:add_column(name, type, values, unit)
  and rows with t:append{...}.]=])

  export("wcs_from_header", core.wcs_from_header, [=[
mopex.wcs_from_header(h) -> Wcs
  The celestial WCS of a header given as a table keyword -> value, or as
  header text (80-character cards, or one card per line as in .hdr files).
  TAN-SIP, TPV and every wcslib projection are understood.]=])
  export("read_wcs", core.read_wcs, [=[
mopex.read_wcs(path) -> Wcs
  The celestial WCS of a FITS file's primary header or of a header text file.]=])
  export("wcs_simple", core.wcs_simple, [=[
mopex.wcs_simple{ctype = {"RA---TAN", "DEC--TAN"}, crval = {ra, dec},
                 crpix = {x, y}, cdelt = {dx, dy}, crota2 = 0, equinox = 2000} -> Wcs
  An undistorted WCS in CDELT/CROTA2 form, the kind MOPEX writes for FIFs
  and mosaics. crval and cdelt in degrees, crpix FITS 1-based.]=])

  export("stats", core.stats, [=[
mopex.stats(x[, {mask=, fatal=, ddof=}]) -> {n, mean, stddev, median, mad_sigma, min, max}
  Statistics of the finite values of a Lua array or an Image. `mask` (an
  Image of the same size or an array) hides pixels where it is non-zero, or
  where (mask & fatal) ~= 0 when `fatal` is given. median is the upper
  middle element; mad_sigma = median(|v - median|) / 0.6745.]=])
  export("median", core.median, [=[
mopex.median(x[, "average" | {mask=, fatal=, average=}]) -> number
  Median of the finite values (upper middle element, or the average of the
  two middle ones with "average").]=])
  export("mean", core.mean, [=[
mopex.mean(x[, {mask=, fatal=}]) -> number
  Mean of the finite values (NaN when there are none).]=])
  export("std", core.std, [=[
mopex.std(x[, ddof | {mask=, fatal=, ddof=}]) -> number
  Standard deviation of the finite values (ddof 0: divide by N; 1: by N-1).]=])
  export("mad_sigma", core.mad_sigma, [=[
mopex.mad_sigma(x[, {mask=, fatal=}]) -> number
  Robust sigma: median(|v - median|) / 0.6745.]=])
  export("sigma_clip", core.sigma_clip, [=[
mopex.sigma_clip(x[, {lo=3, hi=3, nsig=, maxiter=10, center="median"|"mean", mask=, fatal=, ddof=}])
  Iterative sigma clipping around the median (or mean); returns the stats
  table of the values kept (n = number kept).]=])

  export("read_list", core.read_list, [=[
mopex.read_list(path[, check=true]) -> paths, line_numbers
  Read a MOPEX list file (one path per line; blank lines and '#' comments
  skipped; relative paths resolved against the working directory, then
  against the list's own directory). With check (the default) every entry
  must exist: the error names the list, the line and the path.]=])
  export("write_list", core.write_list, [=[
mopex.write_list(path, paths)
  Write a list file, one path per line (atomically).]=])
  export("check_lists", core.check_lists, [=[
mopex.check_lists(a, aname, b, bname)
  Raise when two lists (list file names or arrays of paths) differ in
  length: "SigmaList 'b.txt' has 99 entries, ImageList 'a.txt' has 100".
  b may be nil (nothing to check).]=])
  export("basename_noext", core.basename_noext, [=[
mopex.basename_noext(path) -> string
  File name without directory and without .fits/.fit/.fts (and .gz/.fz):
  the <b> in MOPEX output names.]=])
  export("path_join", core.path_join, [=[
mopex.path_join(dir, name) -> string   (name unchanged when absolute)]=])
  export("mkdir_p", core.mkdir_p, [=[
mopex.mkdir_p(dir)   create a directory and its parents (like mkdir -p)]=])
  export("file_exists", core.file_exists, [=[
mopex.file_exists(path) -> boolean   (a regular file exists there)]=])

  export("threads", core.threads, [=[
mopex.threads([n]) -> n
  Get or set the number of worker threads (n <= 0: one per CPU). The default
  comes from the MOPEX_THREADS environment variable, else the CPU count.
  Results are identical for any thread count.]=])
  export("log_level", core.log_level, [=[
mopex.log_level([level]) -> level
  Get or set the verbosity: "error", "warn", "info" (default) or "debug".]=])
  export("warnings", core.warnings, [=[
mopex.warnings() -> array of strings
  The warnings printed since the last call (they are also printed to
  stderr as they happen); the list is cleared.]=])
  export("last_status", core.last_status, [=[
mopex.last_status() -> "io" | "format" | "wcs" | ... | nil
  Kind of the last engine error raised (use with pcall to tell a missing
  file from a malformed one).]=])
  export("check_interrupt", core.check_interrupt, [=[
mopex.check_interrupt()
  Raise "interrupted by user" if Ctrl-C was pressed; long Lua loops call it.]=])
  export("interrupt_requested", core.interrupt_requested, [=[
mopex.interrupt_requested() -> boolean   (Ctrl-C pressed and not yet handled)]=])
  export("clear_interrupt", core.clear_interrupt, [=[
mopex.clear_interrupt()   forget a pending Ctrl-C]=])

  -- Object documentation --------------------------------------------------
  M.Image, M.Table, M.Wcs = Image, Table, Wcs

  local image_doc = [=[
Image: a 2-D FITS image, float pixels or an integer mask, with its header.
  Coordinates are FITS 1-based: (1,1) is the first pixel.
  img:size() -> nx, ny          img:kind() -> "float"|"int"   img:bitpix()
  img:get(x, y)  img:set(x, y, v)   img:row(y) -> array   img:set_row(y, array)
  img:fill(v)    img:region(x0, y0, x1, y1) -> Image (inclusive; WCS follows)
  img:header(key) -> value, comment       img:set_header(key, value[, comment])
  img:delete_header(key)  img:history(text)  img:comment(text)  img:cards()
  img:bunit()    img:wcs() -> Wcs    img:set_wcs(w)   img:pix2sky(x, y)
  img:stats{mask=, fatal=}   img:sigma_clip{...}
  img:copy()     img:write(path)     img:close()      img:path()
  `local img <close> = mopex.read(p)` frees the pixels at the end of the scope.]=]
  doc(mt.Image, image_doc)
  doc(Image, image_doc)

  local table_doc = [=[
Table: an IPAC table, typed columns (int, double, string) with units and nulls.
  Rows and columns are 1-based; a column is named or given by index.
  t:nrows() (or #t)  t:ncols()  t:columns() -> names  t:has_column(name)
  t:column(c) -> values, nulls   t:type(c)  t:unit(c)
  t:add_column(name, type[, values[, unit]])     t:set_format(c, "%.6f")
  t:get(row, c)  t:set(row, c, v)   (nil = null)   t:row(i) -> {name = value}
  for i, row in t:rows() do ... end     t:append{name = value, ...} -> index
  t:keyword(k) -> text, type   t:set_keyword(k, v[, "c"|"i"|"r"])   t:keywords()
  t:comments()  t:add_comment(text)  t:text() -> IPAC text   t:write(path)
  t:to_rows()   t:close()]=]
  doc(mt.Table, table_doc)
  doc(Table, table_doc)

  local wcs_doc = [=[
Wcs: a celestial world coordinate system (wcslib; SIP/TPV distortion included).
  Pixels are FITS 1-based, sky coordinates degrees in the WCS's own frame.
  w:pix2sky(x, y) -> ra, dec     (numbers, or two arrays -> two arrays)
  w:sky2pix(ra, dec) -> x, y
  w:pixel_scale([x, y]) -> sx, sy arcsec/pixel   w:pixel_area([x, y]) -> arcsec^2
  w:orientation([x, y]) -> crota2 (deg E of N), flipped
  w:footprint(nx, ny[, nedge]) -> ras, decs   (corners counter-clockwise)
  w:ctype(1|2)  w:projection()  w:system()  w:has_distortion()
  w:reference() -> {crval1, crval2}, {crpix1, crpix2}    w:copy()  w:close()
  (x, y) default to the reference pixel.]=]
  doc(mt.Wcs, wcs_doc)
  doc(Wcs, wcs_doc)

  local method_docs = {
    [Image] = {
      size = "img:size() -> nx, ny",
      kind = "img:kind() -> \"float\" or \"int\" (integer mask)",
      bitpix = "img:bitpix() -> BITPIX the image is written with (-32 for float)",
      path = "img:path() -> the file it was read from, or nil",
      get = "img:get(x, y) -> value of pixel (x, y), 1-based (NaN for blank float pixels)",
      set = "img:set(x, y, v): set pixel (x, y), 1-based; masks take integers that fit BITPIX",
      row = "img:row(y) -> array of the nx values of row y",
      set_row = "img:set_row(y, values): replace row y (nx values)",
      fill = "img:fill(v) -> img: set every pixel to v",
      region = "img:region(x0, y0, x1, y1) -> Image: the inclusive 1-based rectangle, with the\n"
        .. "  header copied and CRPIX shifted so that the WCS stays right",
      copy = "img:copy() -> Image: an independent copy (pixels and header)",
      close = "img:close(): free the pixels now; any later use raises",
      write = "img:write(path) -> img: write a FITS file atomically (float as BITPIX -32)",
      header = "img:header(key) -> value, comment: typed from the card (string, number,\n"
        .. "  integer, boolean); nil when absent; COMMENT/HISTORY give arrays of text",
      set_header = "img:set_header(key, value[, comment]) -> img: add or replace a keyword\n"
        .. "  (type follows the Lua value: integer, number, string, boolean)",
      delete_header = "img:delete_header(key) -> number of cards removed",
      history = "img:history(text) -> img: add HISTORY cards (long text wraps)",
      comment = "img:comment(text) -> img: add COMMENT cards",
      cards = "img:cards() -> array of the header cards (trailing blanks removed)",
      bunit = "img:bunit() -> BUNIT or nil",
      wcs = "img:wcs() -> Wcs of the header; raises naming the file when there is none",
      set_wcs = "img:set_wcs(w) -> img: write an undistorted WCS into the header\n"
        .. "  (CDELT/CROTA2 form; CD, PC, SIP and PV cards removed first)",
      stats = "img:stats{mask=, fatal=, ddof=} -> {n, mean, stddev, median, mad_sigma, min, max}",
      sigma_clip = "img:sigma_clip{lo=, hi=, maxiter=, center=, mask=} -> stats of the kept pixels",
      pix2sky = "img:pix2sky(x, y) -> ra, dec through the image's WCS (1-based pixels)",
      sky2pix = "img:sky2pix(ra, dec) -> x, y (1-based) through the image's WCS",
    },
    [Table] = {
      nrows = "t:nrows() -> number of rows (also #t)",
      ncols = "t:ncols() -> number of columns",
      columns = "t:columns() -> array of column names",
      has_column = "t:has_column(name) -> boolean (case-insensitive)",
      column = "t:column(c) -> values, nulls: two arrays; a null cell holds NaN, 0 or \"\" in\n"
        .. "  values and true in nulls",
      type = "t:type(c) -> \"int\", \"double\" or \"string\"",
      unit = "t:unit(c) -> unit string or nil",
      add_column = "t:add_column(name, type[, values[, unit]]) -> t: type \"int\", \"double\" or\n"
        .. "  \"string\"; values (nil entries are nulls) fill the first rows",
      get = "t:get(row, c) -> value, nil for a null cell",
      set = "t:set(row, c, v): set a cell (nil makes it null; strings are parsed for numeric columns)",
      row = "t:row(i) -> {column = value} (nulls absent)",
      rows = "for i, row in t:rows() do ... end: every row as {column = value}",
      append = "t:append{name = value, ...} -> index of the new row (missing columns null)",
      keyword = "t:keyword(k) -> raw text, type tag (\"c\", \"i\", \"r\"); nil when absent",
      keywords = "t:keywords() -> array of keyword names in order",
      set_keyword = "t:set_keyword(k, v[, type]) -> t: add or replace a header keyword",
      comments = "t:comments() -> array of the free comment lines",
      add_comment = "t:add_comment(text) -> t",
      set_format = "t:set_format(c, fmt) -> t: printf format of a double column (nil: exact %.17g)",
      text = "t:text() -> the table as IPAC text",
      write = "t:write(path) -> t: write an IPAC table atomically",
      close = "t:close(): free the table now",
      to_rows = "t:to_rows() -> array of row tables",
    },
    [Wcs] = {
      pix2sky = "w:pix2sky(x, y) -> ra, dec (degrees); x, y 1-based numbers or two arrays",
      sky2pix = "w:sky2pix(ra, dec) -> x, y (1-based); numbers or two arrays",
      pixel_scale = "w:pixel_scale([x, y]) -> sx, sy: arcsec per pixel along x and y at (x, y)",
      pixel_area = "w:pixel_area([x, y]) -> solid angle of the pixel in arcsec^2",
      orientation = "w:orientation([x, y]) -> crota2, flipped: FITS CROTA2 of the aligned frame (= minus the position angle of +y, deg E of N)",
      footprint = "w:footprint(nx, ny[, nedge]) -> ras, decs of the outer corners of an nx x ny\n"
        .. "  image, counter-clockwise from pixel corner (0.5, 0.5), nedge points per edge",
      ctype = "w:ctype(axis) -> CTYPE of axis 1 or 2, e.g. \"RA---TAN-SIP\"",
      projection = "w:projection() -> \"TAN\", \"SIN\", ...",
      system = "w:system() -> \"J2000\", \"Galactic\", \"Ecliptic\" or \"Other\"",
      has_distortion = "w:has_distortion() -> boolean (SIP, TPV, ...)",
      reference = "w:reference() -> {crval1, crval2}, {crpix1, crpix2}",
      copy = "w:copy() -> an independent Wcs (one per thread of work)",
      close = "w:close(): free it now",
    },
  }
  -- Frames (FIF tables), tiling, gains and sky systems (bindings in l_fif.c).
  export("read_fif", core.read_fif, [=[
mopex.read_fif(path) -> frame
  Read a Fiducial Image Frame table (FIF.tbl, hand-edited ones included) as a
  table with crval1, crval2, crpix1, crpix2, cdelt1, cdelt2, crota2, naxis1,
  naxis2, equinox, projection, system, ctype1, ctype2.]=])
  export("write_fif", core.write_fif, [=[
mopex.write_fif(path, frame [, program]) -> nothing
  Write a frame as a FIF.tbl (IPAC keywords in the guide's order).]=])
  export("mosaic_fif", core.mosaic_fif, [=[
mopex.mosaic_fif(frame|path, {pixel_size_x=, pixel_size_y=, pixel_ratio_x=, pixel_ratio_y=}) -> frame
  The FIF at the output pixel size (the mosaic_fif.tbl rule: same sky, size wins over ratio).]=])
  export("fif_wcs", core.fif_wcs, [=[
mopex.fif_wcs(frame|path) -> Wcs
  The WCS of a frame (CDELT/CROTA2 form).]=])
  export("tiling", core.tiling, [=[
mopex.tiling(naxis1, naxis2, tilemax_x [, tilemax_y]) -> array of tiles
  The guide's tiling rule (000 l.7716-7729): {tile_id=, naxis1=, naxis2=, offset_x=, offset_y=},
  offsets 0-based as in the tile tables.]=])
  export("spitzer_gain", core.spitzer_gain, [=[
mopex.spitzer_gain(path|Image) -> gain, read_noise
  The guide's Eq 4.1: Gain = EXPTIME*GAIN/FLUXCONV (e- per MJy/sr), and RONOISE (or nil):
  the values to give the S/N Estimator for Spitzer BCDs.]=])
  export("sky_convert", core.sky_convert, [=[
mopex.sky_convert(from, to, lon, lat) -> lon, lat
  Convert positions (numbers or arrays, degrees) between "J2000", "FK5", "Galactic",
  "Ecliptic".]=])

  export("aperture", core.aperture, [=[
mopex.aperture(img, x, y, {r = 5, annulus = {12, 20}, mask = m, fatal = 32520}) -> result
mopex.aperture(img, xs, ys, opts) -> array of results
  Exact aperture photometry (each pixel weighted by its exact overlap with the disc):
  sum (background-subtracted when an annulus is given), sum_raw, area, area_bad, nbad,
  background (annulus median), nbackground, edge, bad. x, y are FITS 1-based; NaN pixels
  and mask pixels with (mask & fatal) ~= 0 are bad. Sums are in image units x pixels.]=])

  for methods, texts in pairs(method_docs) do
    for name, text in pairs(texts) do
      assert(methods[name], "objects.lua documents a missing method " .. name)
      doc(methods[name], text)
    end
  end
end

return O
