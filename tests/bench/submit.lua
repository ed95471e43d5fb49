-- wrk script: delegates submitting positions on random open consultations.
-- Environment: GAVEL_TOKENS (comma-separated bearer tokens), GAVEL_ITEMS (number of items).
local tokens = {}
for t in string.gmatch(os.getenv("GAVEL_TOKENS") or "", "[^,]+") do tokens[#tokens + 1] = t end
local items = tonumber(os.getenv("GAVEL_ITEMS") or "100")
local stances = { "support", "oppose", "abstain", "support_with_reservations" }
local counter = 0

request = function()
  counter = counter + 1
  local item = math.random(1, items)
  local body = '{"params":{"stance":"' .. stances[counter % 4 + 1] .. '","statement":"As circulated."}}'
  return wrk.format("POST", "/v1/items/" .. item .. "/actions/submit_position", {
    ["Authorization"] = "Bearer " .. tokens[counter % #tokens + 1],
    ["Content-Type"] = "application/json",
  }, body)
end
