-- A tiny test runner for Argo CD health checks, in Lua 5.1 (the language of
-- gopher-lua, in which Argo CD runs them).
--
--   lua5.1 health_runner.lua test YAML2JSON DIR...
--       runs DIR/health_test.yaml of each check directory (Argo CD's layout:
--       DIR/health.lua, DIR/health_test.yaml, DIR/testdata/*.yaml) and
--       fails unless every case yields its status and message exactly.
--   lua5.1 health_runner.lua eval HEALTH_LUA < object.json
--       prints "<status>\t<message>" for one resource (e.g. a live object
--       from `kubectl get -o json`).
--
-- The script sees the resource as the global `obj`, and only the libraries
-- Argo CD opens for health scripts (base, table, string, math), so a script
-- that passes here does not depend on io or os.

-- JSON -------------------------------------------------------------------

local decode

local function skip(s, i)
  local _, e = string.find(s, "^[ \t\r\n]*", i)
  return e + 1
end

local escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function utf8(cp)
  if cp < 0x80 then
    return string.char(cp)
  elseif cp < 0x800 then
    return string.char(0xC0 + math.floor(cp / 0x40), 0x80 + cp % 0x40)
  elseif cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 0x1000), 0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return string.char(0xF0 + math.floor(cp / 0x40000), 0x80 + math.floor(cp / 0x1000) % 0x40,
    0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end

local function decode_string(s, i)
  -- s:sub(i, i) == '"'
  local out, j = {}, i + 1
  while true do
    local c = s:sub(j, j)
    if c == "" then
      error("unterminated string at " .. i)
    elseif c == '"' then
      return table.concat(out), j + 1
    elseif c == "\\" then
      local e = s:sub(j + 1, j + 1)
      if e == "u" then
        local cp = tonumber(s:sub(j + 2, j + 5), 16)
        if cp >= 0xD800 and cp < 0xDC00 and s:sub(j + 6, j + 7) == "\\u" then
          local lo = tonumber(s:sub(j + 8, j + 11), 16)
          cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
          j = j + 6
        end
        out[#out + 1] = utf8(cp)
        j = j + 6
      else
        out[#out + 1] = escapes[e] or error("bad escape at " .. j)
        j = j + 2
      end
    else
      local k = string.find(s, '["\\]', j) or (#s + 1)
      out[#out + 1] = s:sub(j, k - 1)
      j = k
    end
  end
end

decode = function(s, i)
  i = skip(s, i or 1)
  local c = s:sub(i, i)
  if c == "{" then
    local t = {}
    i = skip(s, i + 1)
    if s:sub(i, i) == "}" then
      return t, i + 1
    end
    while true do
      local key
      key, i = decode_string(s, skip(s, i))
      i = skip(s, i)
      if s:sub(i, i) ~= ":" then error("expected ':' at " .. i) end
      local v
      v, i = decode(s, i + 1)
      t[key] = v
      i = skip(s, i)
      local d = s:sub(i, i)
      if d == "}" then return t, i + 1 end
      if d ~= "," then error("expected ',' or '}' at " .. i) end
      i = i + 1
    end
  elseif c == "[" then
    local t, n = {}, 0
    i = skip(s, i + 1)
    if s:sub(i, i) == "]" then
      return t, i + 1
    end
    while true do
      local v
      v, i = decode(s, i)
      n = n + 1
      t[n] = v
      i = skip(s, i)
      local d = s:sub(i, i)
      if d == "]" then return t, i + 1 end
      if d ~= "," then error("expected ',' or ']' at " .. i) end
      i = i + 1
    end
  elseif c == '"' then
    return decode_string(s, i)
  elseif s:sub(i, i + 3) == "true" then
    return true, i + 4
  elseif s:sub(i, i + 4) == "false" then
    return false, i + 5
  elseif s:sub(i, i + 3) == "null" then
    return nil, i + 4
  end
  local num = string.match(s, "^-?%d+%.?%d*[eE]?[-+]?%d*", i)
  if num == nil or num == "" then
    error("unexpected '" .. c .. "' at " .. i)
  end
  return tonumber(num), i + #num
end

-- Running a health script -------------------------------------------------

local function sandbox(obj)
  return {
    obj = obj,
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, pcall = pcall,
    select = select, tonumber = tonumber, tostring = tostring, type = type, unpack = unpack,
    string = string, table = table, math = math,
  }
end

local function health(script, obj)
  local chunk, err = loadfile(script)
  if chunk == nil then
    error(err)
  end
  setfenv(chunk, sandbox(obj))
  local hs = chunk()
  if type(hs) ~= "table" then
    error(script .. " returned " .. type(hs) .. ", not a table")
  end
  return hs
end

local function read_all(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function yaml(yaml2json, path)
  local p = assert(io.popen(yaml2json .. " < '" .. path .. "'"))
  local s = p:read("*a")
  p:close()
  if s == "" then
    error(path .. ": yaml2json gave nothing")
  end
  return (decode(s))
end

local mode = arg[1]
if mode == "eval" then
  local hs = health(arg[2], (decode(io.read("*a"))))
  io.write(tostring(hs.status), "\t", tostring(hs.message), "\n")
  os.exit(0)
elseif mode ~= "test" then
  io.stderr:write("usage: health_runner.lua test YAML2JSON DIR... | eval HEALTH_LUA < object.json\n")
  os.exit(2)
end

local yaml2json, failures, cases = arg[2], 0, 0
local valid = { Healthy = true, Progressing = true, Degraded = true, Suspended = true, Missing = true, Unknown = true }
for a = 3, #arg do
  local dir = arg[a]
  local spec = yaml(yaml2json, dir .. "/health_test.yaml")
  if spec.tests == nil or #spec.tests == 0 then
    io.stderr:write(dir .. "/health_test.yaml: no tests\n")
    failures = failures + 1
  end
  for _, case in ipairs(spec.tests or {}) do
    cases = cases + 1
    local ok, hs = pcall(health, dir .. "/health.lua", yaml(yaml2json, dir .. "/" .. case.inputPath))
    local want = case.healthStatus
    if not ok then
      failures = failures + 1
      io.stderr:write(string.format("FAIL %s: %s\n", case.inputPath, tostring(hs)))
    elseif not valid[hs.status] then
      failures = failures + 1
      io.stderr:write(string.format("FAIL %s: %q is not an Argo CD health status\n", case.inputPath, tostring(hs.status)))
    elseif hs.status ~= want.status or hs.message ~= want.message then
      failures = failures + 1
      io.stderr:write(string.format("FAIL %s:\n  want %s %q\n  got  %s %q\n", case.inputPath,
        tostring(want.status), tostring(want.message), tostring(hs.status), tostring(hs.message)))
    else
      io.write(string.format("ok   %-40s %s\n", case.inputPath, hs.status))
    end
  end
end
io.write(string.format("%d cases, %d failures\n", cases, failures))
os.exit(failures == 0 and 0 or 1)
