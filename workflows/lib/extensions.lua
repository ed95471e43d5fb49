-- The extension log: a deadline moved later, saying from when, to when, why, by whom and when.
local extensions = {}

-- The value at a dotted path of t ("deadline", "silence.deadline").
local function get(t, path)
  for _, k in ipairs(path:split(".")) do
    if type(t) ~= "table" then
      return nil
    end
    t = t[k]
  end
  return t
end

local function set(t, path, value)
  local keys = path:split(".")
  for i = 1, #keys - 1 do
    t = t[keys[i]]
  end
  t[keys[#keys]] = value
end

-- Moves the deadline kept at path of item.data to p.deadline (refused unless it is later)
-- and appends the extension, with p.reason, to item.data.extensions.
function extensions.extend(item, path, p, caller)
  local data = item.data
  local current = get(data, path)
  if current and p.deadline <= current then
    reject("deadline", "the new deadline must be later than the current one, " .. current)
  end
  local log = data.extensions or {}
  log[#log + 1] = { from = current, to = p.deadline, reason = p.reason, by = caller.username, at = now() }
  data.extensions = log
  set(data, path, p.deadline)
end

return extensions
