-- namelist: the classic MOPEX namelist parser (grammar: shared/spec/namelist_cli.md §2).
--
--   local N = require "namelist"
--   local nl = N.parse(text, { file = "cdf/mosaic.nl" })   -- raises "file:line: E1xx ..." on errors
--   local nl = N.load("cdf/mosaic.nl")                      -- same, from a file
--
-- The result keeps the user's spellings and line numbers, for diagnostics:
--   nl.file, nl.strict
--   nl.triggers[norm] = entry       assignments outside blocks whose key is a trigger
--   nl.globals[norm]  = entry       every other assignment outside blocks
--   nl.blocks[norm]   = block       { name = "MEDFILTER", norm = "medfilter", line = N,
--                                     end_line = M, entries = { [norm] = entry }, order = {norm...} }
--   nl.order          = { {kind = "trigger"|"global"|"block", norm = ...}, ... }  first appearance
--   nl.ignored        = { entry... } assignments --strict-classic ignores (KEY=value)
--   nl.diagnostics    = { {severity = "error"|"warning"|"note", code = "W001", file, line, message} }
--   entry = { key = "Window_X", norm = "window_x", value = "45" | nil (empty = unset),
--             raw = "45,", quoted = false, line = 12, block = "medfilter" | nil }
--
-- Names are case-insensitive and '-' equals '_' (norm = lower case, '_').
-- Values stay text here: typing is the schema's job (mopex.schema S.coerce), done by
-- the configuration layer, which also reports unknown keys (N.check_keys).
--
-- This file depends on nothing but the Lua standard library, so the fuzz harness
-- (tests/fuzz/fuzz_namelist.c) can load it in a bare Lua state.
local N = {}

local function norm_key(k) return (k:lower():gsub("%-", "_")) end
N.norm_key = norm_key

local function trim(s) return (s:match("^%s*(.-)%s*$")) end

-- Typographic quotes as UTF-8 (the guide's own examples contain them, 000 l.3676).
local TYPO = { ["\226\128\152"] = "'", ["\226\128\153"] = "'",
               ["\226\128\156"] = '"', ["\226\128\157"] = '"' }

--- Format one diagnostic as "file:line: W001 message" (the form every tool prints).
function N.format(d)
  local where = d.file or "namelist"
  if d.line then where = where .. ":" .. d.line end
  return string.format("%s: %s%s", where, d.code and (d.code .. " ") or "", d.message)
end

-- Cut a line at its comment. Returns code, comment (or nil); or nil, quote_pos
-- when a quote is not closed on the line (a fatal error, namelist_cli.md §2.4).
local function strip_comment(s)
  local i = 1
  while true do
    local j = s:find("[#'\"]", i)
    if not j then return s, nil end
    local c = s:sub(j, j)
    if c == "#" then return s:sub(1, j - 1), s:sub(j) end
    local k = s:find(c, j + 1, true)
    if not k then return nil, j end
    i = k + 1
  end
end

-- Decode a value text (trimmed, comment and trailing comma removed).
-- Returns value (nil for empty = unset), quoted; or raises a message string.
local function decode_value(v)
  if v == "" then return nil, false end
  local q = v:sub(1, 1)
  if q ~= "'" and q ~= '"' then return v, false end
  local pieces, pos = {}, 1
  while true do
    q = v:sub(pos, pos)
    local close = v:find(q, pos + 1, true)
    -- strip_comment already proved every quote is closed on this line
    pieces[#pieces + 1] = v:sub(pos + 1, close - 1)
    local rest = v:sub(close + 1)
    if rest:match("^%s*$") then break end
    local gap = rest:match("^(%s+[aA][nN][dD]%s+)['\"]")
    if not gap then
      error("text after the closing quote: " .. rest:gsub("^%s+", ""), 0)
    end
    pos = close + 1 + #gap
  end
  return table.concat(pieces, " and "), true
end
N.decode_value = decode_value

local function default_triggers()
  local ok, P = pcall(require, "pipelines")
  if ok and type(P) == "table" and P.all_triggers then return P.all_triggers() end
  return {}
end

--- Parse namelist text and never raise: errors are diagnostics of severity "error"
--- (nl.errors counts them). opts: file (name for messages), strict (--strict-classic),
--- triggers (set of normalised trigger keys; default: every classic trigger).
function N.parse_all(text, opts)
  opts = opts or {}
  if type(text) ~= "string" then error("namelist: text must be a string", 0) end
  local file = opts.file or "namelist"
  local strict = opts.strict and true or false
  local triggers = opts.triggers or default_triggers()
  local nl = { file = file, strict = strict, triggers = {}, globals = {}, blocks = {},
               order = {}, ignored = {}, diagnostics = {} }
  local diags = nl.diagnostics
  local nerr = 0
  local function diag(sev, code, line, msg)
    diags[#diags + 1] = { severity = sev, code = code, file = file, line = line, message = msg }
    if sev == "error" then nerr = nerr + 1 end
  end

  local cur = nil            -- open block
  local seen_order = {}
  local function note_order(kind, norm)
    local id = kind .. ":" .. norm
    if not seen_order[id] then
      seen_order[id] = true
      nl.order[#nl.order + 1] = { kind = kind, norm = norm }
    end
  end

  local function store(entry)
    local scope, kind
    if cur then
      scope, kind = cur.entries, nil
    elseif triggers[entry.norm] then
      scope, kind = nl.triggers, "trigger"
    else
      scope, kind = nl.globals, "global"
    end
    local old = scope[entry.norm]
    if old then
      diag("warning", "W004", entry.line, string.format(
        "'%s' is set twice%s (first on line %d); the last value wins",
        entry.key, cur and (" in &" .. cur.name) or "", old.line))
    end
    scope[entry.norm] = entry
    if cur then
      if not old then cur.order[#cur.order + 1] = entry.norm end
    else
      note_order(kind, entry.norm)
    end
  end

  local lineno, pos, len = 0, 1, #text
  while pos <= len do
    local nlpos = text:find("\n", pos, true)
    local line
    if nlpos then line = text:sub(pos, nlpos - 1); pos = nlpos + 1
    else line = text:sub(pos); pos = len + 1 end
    lineno = lineno + 1
    if line:sub(-1) == "\r" then line = line:sub(1, -2) end
    if line:find("\226\128", 1, true) then line = line:gsub("\226\128[\152\153\156\157]", TYPO) end

    local code, comment = strip_comment(line)
    if code == nil then
      diag("error", "E104", lineno, "unmatched " .. (line:sub(comment, comment) == "'" and "single" or "double")
        .. " quote in: " .. trim(line))
      goto continue
    end
    code = trim(code)
    if code == "" then
      if comment and cur and strict and not comment:match(",%s*$") then
        diag("warning", "W010", lineno, "comment line in &" .. cur.name
          .. " does not end in a comma (classic MOPEX requires one, 000 l.9455-9456)")
      end
      goto continue
    end

    if code:sub(1, 1) == "&" then
      local name, tail = code:match("^&([%a_][%w_]*)%s*(.-)$")
      if name and tail ~= "" and tail ~= "," then name = nil end
      if not name then
        diag("error", "E106", lineno, "malformed block line '" .. code
          .. "' (expected &NAME or &END alone on the line)")
      elseif name:upper() == "END" then
        if not cur then
          diag("error", "E102", lineno, "&END without an open block")
        else
          cur.end_line = lineno
          cur = nil
        end
      elseif cur then
        diag("error", "E103", lineno, string.format(
          "block &%s opened inside block &%s (line %d); close it with &END first",
          name, cur.name, cur.line))
      else
        local norm = norm_key(name)
        local b = nl.blocks[norm]
        if b then
          diag("warning", "W005", lineno, string.format(
            "block &%s appears twice (first on line %d); its keys are merged, later values win",
            name, b.line))
        else
          b = { name = name, norm = norm, line = lineno, entries = {}, order = {} }
          nl.blocks[norm] = b
          note_order("block", norm)
        end
        cur = b
      end
      goto continue
    end

    do
      local key, rest = code:match("^([%a_][%w_%-]*)(.*)$")
      local before, after
      if key then before, after = rest:match("^(%s*)=(.*)$") end
      if not before then
        if strict then
          diag("error", "E107", lineno, "line is neither 'KEY = value', '&BLOCK', '&END' nor a comment: " .. code)
        else
          diag("warning", "W002", lineno, "unparseable line ignored: " .. code)
        end
        goto continue
      end
      local raw = trim(after)
      local had_comma = false
      if raw:sub(-1) == "," then raw = trim(raw:sub(1, -2)); had_comma = true end
      if cur and not had_comma then
        if strict then
          diag("warning", "W010", lineno, "line in &" .. cur.name
            .. " does not end in a comma (classic MOPEX requires one, 000 l.9455-9456)")
        else
          diag("note", "N010", lineno, "line in &" .. cur.name .. " has no trailing comma (accepted)")
        end
      end
      local ok, value, quoted = pcall(decode_value, raw)
      if not ok then
        diag("error", "E104", lineno, "value of '" .. key .. "': " .. tostring(value))
        goto continue
      end
      local entry = { key = key, norm = norm_key(key), value = value, raw = after, quoted = quoted,
                      line = lineno, block = cur and cur.norm or nil }
      if raw ~= "" and (before == "" or not after:match("^%s")) then
        local shown = key .. before .. "=" .. after:gsub("%s*,%s*$", "")
        if strict then
          diag("warning", "W001", lineno, string.format(
            "'%s' has no spaces around '='; ignored, as classic MOPEX does (the default is used)", shown))
          nl.ignored[#nl.ignored + 1] = entry
          goto continue
        end
        diag("warning", "W001", lineno, string.format(
          "'%s' has no spaces around '='; classic MOPEX would ignore this line", shown))
      end
      store(entry)
    end
    ::continue::
  end
  if cur then
    diag("error", "E101", cur.line, "block &" .. cur.name .. " is not closed by &END before the end of the file")
  end

  nl.errors = nerr
  return nl
end

--- The error diagnostics of a parse as one message, one "file:line: E1xx ..." per line.
function N.error_message(diags)
  local msgs = {}
  for _, d in ipairs(diags) do if d.severity == "error" then msgs[#msgs + 1] = N.format(d) end end
  return table.concat(msgs, "\n")
end

--- Parse namelist text. opts as N.parse_all, plus quiet (do not print), verbose (also
--- print notes), log (function(diag) instead of io.stderr). Returns the structure
--- above; raises one string listing every error when the text has errors.
function N.parse(text, opts)
  opts = opts or {}
  local nl = N.parse_all(text, opts)
  if not opts.quiet then N.report(nl.diagnostics, opts) end
  if nl.errors > 0 then error(N.error_message(nl.diagnostics), 0) end
  return nl
end

--- Print diagnostics (warnings and errors; notes only with opts.verbose) through
--- opts.log(diag) or to io.stderr. Returns the number printed.
function N.report(diags, opts)
  opts = opts or {}
  local n = 0
  for _, d in ipairs(diags) do
    if d.severity ~= "note" or opts.verbose then
      if opts.log then opts.log(d)
      else io.stderr:write(N.format(d), "\n") end
      n = n + 1
    end
  end
  return n
end

--- Read and parse a namelist file (opts as N.parse; opts.file defaults to path).
function N.load(path, opts)
  local f, err = io.open(path, "rb")
  if not f then error("cannot read namelist " .. path .. ": " .. tostring(err), 0) end
  local text = f:read("a")
  f:close()
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.file = o.file or path
  return N.parse(text, o), text
end

--- Report keys the pipeline does not know (W003, with the closest known key).
--- known = { globals = set, triggers = set, blocks = { [block] = set | false },
---           legacy = set }   (sets map normalised name -> original spelling or true;
--- a block mapped to false is known but its keys are not checked). Legacy keys
--- are listed once, as a note (seen with verbose). Appends to nl.diagnostics and
--- returns the new diagnostics.
function N.check_keys(nl, known, suggest)
  suggest = suggest or N.suggest
  local out = {}
  local function add(sev, code, line, msg)
    local d = { severity = sev, code = code, file = nl.file, line = line, message = msg }
    nl.diagnostics[#nl.diagnostics + 1] = d
    out[#out + 1] = d
  end
  local function names(set)
    local t = {}
    for k, v in pairs(set or {}) do t[#t + 1] = type(v) == "string" and v or k end
    table.sort(t)
    return t
  end
  local outside = {}
  for _, s in ipairs({ known.globals, known.triggers }) do
    for k, v in pairs(s or {}) do outside[k] = v end
  end
  local outside_names = names(outside)
  local legacy_seen = {}
  local function check(entry, set, cands, where)
    if set[entry.norm] then return end
    if known.legacy and known.legacy[entry.norm] and not entry.block then
      legacy_seen[#legacy_seen + 1] = entry
      return
    end
    local hint = suggest(entry.key, cands)
    add("warning", "W003", entry.line, string.format("unknown key '%s'%s ignored%s", entry.key, where,
      hint and (" (did you mean '" .. hint .. "'?)") or ""))
  end
  local entries = {}
  for _, e in pairs(nl.globals) do entries[#entries + 1] = e end
  for _, e in pairs(nl.triggers) do entries[#entries + 1] = e end
  table.sort(entries, function(a, b) return a.line < b.line end)
  for _, e in ipairs(entries) do check(e, outside, outside_names, "") end
  local blocks = {}
  for _, b in pairs(nl.blocks) do blocks[#blocks + 1] = b end
  table.sort(blocks, function(a, b) return a.line < b.line end)
  local block_names = names(known.blocks and (function()
    local t = {}
    for k in pairs(known.blocks) do t[k] = k:upper() end
    return t
  end)())
  for _, b in ipairs(blocks) do
    local keys = known.blocks and known.blocks[b.norm]
    if keys == nil then
      local hint = suggest(b.name, block_names)
      add("warning", "W006", b.line, string.format("unknown block &%s ignored%s", b.name,
        hint and (" (did you mean '&" .. hint .. "'?)") or ""))
    elseif keys then
      local cands = names(keys)
      local sorted = {}
      for _, n in ipairs(b.order) do sorted[#sorted + 1] = b.entries[n] end
      for _, e in ipairs(sorted) do check(e, keys, cands, " in &" .. b.name) end
    end
  end
  if #legacy_seen > 0 then
    local parts = {}
    for _, e in ipairs(legacy_seen) do parts[#parts + 1] = e.key .. " (line " .. e.line .. ")" end
    add("note", "N003", legacy_seen[1].line, "recognised but unused legacy keys: " .. table.concat(parts, ", "))
  end
  return out
end

--- Closest candidate to word (or nil when nothing is reasonably close):
--- mopex.schema's rule on normalised keys. Required here rather than at
--- load time, so that the parser alone loads without the mopex module (the
--- fuzz harness, a stock Lua); there, with no mopex to load, no suggestion.
function N.suggest(word, candidates)
  local ok, S = pcall(require, "mopex.schema")
  if not ok and pcall(require, "mopex") then ok, S = pcall(require, "mopex.schema") end
  if not ok then return nil end
  return S.suggest(word, candidates, norm_key)
end

return N
