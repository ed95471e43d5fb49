-- Scenarios for the consultation workflow: positions, hidden results, deadlines, reminders.

local STATES = { "km", "mg", "mu", "re", "sc" }

local function open_consultation(t, extra)
  local params = {
    question = { en = "Do you support the draft regional labour mobility framework?",
                 fr = "Soutenez-vous le projet de cadre régional de mobilité de la main-d'œuvre ?" },
    deadline = t:at("7d"),
  }
  for k, v in pairs(extra or {}) do params[k] = v end
  return t:create("secretariat", "consultation", { en = "Labour mobility framework", fr = "Cadre de mobilité" }, params)
end

scenario("a full consultation answered by all five states", function(t)
  local c = open_consultation(t)
  t:state(c, "open")
  t:eq(t:view("km.delegate", c).summary.pending, { "KM", "MG", "MU", "RE", "SC" }, "pending before anyone answered")
  local stances = { km = "support", mg = "support_with_reservations", mu = "support", re = "abstain", sc = "oppose" }
  for _, s in ipairs(STATES) do
    t:act(s .. ".delegate", c, "submit_position", { stance = stances[s], statement = "Statement of " .. s })
  end
  -- A state may revise its position until the close; the latest one counts, history is kept.
  t:act("sc.delegate", c, "submit_position", { stance = "support_with_reservations", statement = "Revised: subject to article 4" })
  local v = t:view("observer", c)
  t:eq(v.summary.answered, { "KM", "MG", "MU", "RE", "SC" }, "answered")
  t:eq(v.summary.pending, {}, "pending")
  t:eq(v.summary.counts, { support = 2, support_with_reservations = 2, abstain = 1 }, "counts")
  t:eq(#v.summary.reservations, 2, "reservations listed")
  local history = t:positions("secretariat", c, true)
  t:eq(#history, 6, "every submission is kept")
  t:eq(history[5].stance, "oppose", "the earlier Seychelles position")
  t:eq(history[5].actor, "sc.delegate", "who submitted it")
  t:advance("7d")
  t:state(c, "closed")
  -- After the deadline nobody may submit: the deadline is decided by commit time.
  t:fails("km.delegate", c, "submit_position", { stance = "oppose" }, "deadline_passed")
end)

scenario("a stance outside the options is refused with the options named", function(t)
  local c = open_consultation(t, { options = { "agree", "disagree" } })
  local msg, field = t:fails("km.delegate", c, "submit_position", { stance = "support" }, "invalid_parameter")
  t:eq(field, "stance", "field")
  t:has(msg, "agree, disagree")
  t:act("km.delegate", c, "submit_position", { stance = "agree" })
  t:fails("km.delegate", c, "submit_position", { stance = "agree", colour = "blue" }, "invalid_parameter")
  t:fails("km.delegate", c, "submit_position", {}, "invalid_parameter")
end)

scenario("a Madagascar delegate cannot answer for Comoros", function(t)
  local c = open_consultation(t)
  -- There is no way to name another state: the member parameter is refused ...
  local msg = t:fails("mg.delegate", c, "submit_position", { stance = "oppose", member = "KM" }, "invalid_parameter")
  t:has(msg, "unknown parameter 'member'")
  -- ... and the on-behalf action belongs to the secretariat.
  t:fails("mg.delegate", c, "record_on_behalf", { member = "KM", stance = "oppose", reference = "x" }, "forbidden")
  t:act("mg.delegate", c, "submit_position", { stance = "oppose" })
  local mine = t:positions("secretariat", c)
  t:eq(#mine, 1, "one position")
  t:eq(mine[1].member, "MG", "recorded for the delegate's own state")
  t:eq(t:view("km.delegate", c).summary.pending[1], "KM", "Comoros still pending")
end)

scenario("an observer is refused every action", function(t)
  local c = open_consultation(t)
  for _, a in ipairs({ "submit_position", "record_on_behalf", "extend_deadline", "close" }) do
    t:fails("observer", c, a, {}, "forbidden")
  end
  t:create_fails("observer", "consultation", "X", { question = "Q", deadline = t:at("3d") }, "forbidden")
  t:eq(#t:view("observer", c).actions, 0, "an observer is offered no action")
end)

scenario("hidden results are invisible to other states and observers until close", function(t)
  local c = open_consultation(t, { visibility = "hidden_until_close" })
  t:act("mg.delegate", c, "submit_position", { stance = "oppose", statement = "Secret reasons of Madagascar" })
  t:act("secretariat", c, "record_on_behalf", { member = "KM", stance = "abstain", statement = "Comoros letter",
                                                reference = "NV/2026/17" })
  for _, reader in ipairs({ "km.delegate", "mu.delegate", "observer" }) do
    local seen = t:json(t:view(reader, c)) .. t:json(t:events(reader, c)) .. t:json(t:positions(reader, c))
      .. t:json(t:positions(reader, c, true))
    t:no(seen, '"stance":"oppose"', reader .. " sees Madagascar's stance")
    t:no(seen, "Secret reasons", reader .. " sees Madagascar's statement")
    if reader ~= "km.delegate" then
      t:no(seen, '"stance":"abstain"', reader .. " sees Comoros' stance")
      t:no(seen, "Comoros letter", reader .. " sees Comoros' statement")
      t:no(seen, "NV/2026/17", reader .. " sees the reference of Comoros' letter")
    end
    t:eq(t:view(reader, c).summary.answered, { "KM", "MG" }, "who answered is not secret")
    t:eq(t:view(reader, c).summary.counts, nil, "no counts while hidden")
  end
  -- Madagascar sees its own; the secretariat and the chair see all.
  t:has(t:json(t:view("mg.delegate", c)), '"stance":"oppose"')
  t:has(t:json(t:view("km.delegate", c)), "Comoros letter")
  t:no(t:json(t:positions("mg.delegate", c)), '"stance":"abstain"', "Madagascar sees Comoros' stance")
  t:has(t:json(t:view("secretariat", c)), "Secret reasons")
  t:has(t:json(t:positions("chair", c)), "oppose")
  -- Nothing hidden goes into notifications either.
  t:no(t:json(t:outbox()), "Secret reasons", "outbox")
  t:act("secretariat", c, "close", {})
  for _, reader in ipairs({ "km.delegate", "observer" }) do
    local seen = t:json(t:view(reader, c)) .. t:json(t:events(reader, c))
    t:has(seen, '"stance":"oppose"', "visible after close")
    t:has(seen, "Secret reasons", "visible after close")
  end
  t:eq(t:view("observer", c).summary.counts, { oppose = 1, abstain = 1 }, "counts after close")
end)

scenario("closes early when every state answered, if so configured", function(t)
  local c = open_consultation(t, { close_when_all_answered = true })
  for i, s in ipairs(STATES) do
    t:state(c, "open")
    t:act(s .. ".delegate", c, "submit_position", { stance = "support" })
  end
  t:state(c, "closed")
end)

scenario("the secretariat records an answer received in writing, shown as such", function(t)
  local c = open_consultation(t)
  t:act("secretariat", c, "record_on_behalf", { member = "RE", stance = "support", statement = "Per note verbale",
                                                reference = "NV-2026-041" })
  local p = t:positions("observer", c)[1]
  t:eq(p.member, "RE")
  t:eq(p.on_behalf, true, "on_behalf")
  t:eq(p.reference, "NV-2026-041", "reference")
  t:eq(p.actor, "secretariat", "actor")
  t:fails("secretariat", c, "record_on_behalf", { member = "RE", stance = "support" }, "invalid_parameter")
  t:fails("secretariat", c, "record_on_behalf", { member = "XX", stance = "support", reference = "r" }, "invalid_parameter")
end)

scenario("a deadline extension is recorded with its reason", function(t)
  local c = open_consultation(t)
  local old = t:item(c).data.deadline
  t:fails("secretariat", c, "extend_deadline", { deadline = t:at("1d"), reason = "earlier" }, "invalid_parameter")
  t:fails("secretariat", c, "extend_deadline", { deadline = t:at("10d") }, "invalid_parameter")
  t:act("chair", c, "extend_deadline", { deadline = t:at("10d"), reason = "Cyclone warning in Mauritius" })
  local d = t:item(c).data
  t:eq(d.extensions[1].reason, "Cyclone warning in Mauritius", "reason")
  t:eq(d.extensions[1].from, old, "previous deadline")
  t:eq(d.extensions[1].by, "chair", "who extended it")
  t:advance("8d")
  t:state(c, "open")  -- the old deadline no longer closes it
  t:act("km.delegate", c, "submit_position", { stance = "support" })
  t:advance("2d")
  t:state(c, "closed")
end)

scenario("reminders go only to the states that have not answered", function(t)
  local c = open_consultation(t, { deadline = t:at("5d") })
  t:act("km.delegate", c, "submit_position", { stance = "support" })
  t:act("mg.delegate", c, "submit_position", { stance = "support" })
  t:advance("3d")   -- 48 hours before the deadline
  local r = t:outbox("reminder")
  t:eq(#r, 1, "one reminder at 48h")
  t:eq(r[1].audience.members, { "MU", "RE", "SC" }, "to the states yet to answer")
  t:eq(r[1].payload.before, "48h")
  t:act("mu.delegate", c, "submit_position", { stance = "support" })
  t:advance("1d")   -- 24 hours before
  r = t:outbox("reminder")
  t:eq(#r, 2, "a second reminder at 24h")
  t:eq(r[2].audience.members, { "RE", "SC" }, "Mauritius answered meanwhile")
  t:advance("1d")
  t:state(c, "closed")
end)

scenario("a deadline that passed while the engine was stopped closes it once after restart", function(t)
  local c = open_consultation(t, { deadline = t:at("2d") })
  t:act("km.delegate", c, "submit_position", { stance = "support" })
  t:restart { down = "3d" }
  t:state(c, "closed")
  local closes = 0
  for _, e in ipairs(t:events("secretariat", c)) do
    if e.action == "close" then
      closes = closes + 1
      t:eq(e.kind, "timer")
      t:ok(e.params.delay_seconds >= 86400, "the delay is noted")
    end
  end
  t:eq(closes, 1, "closed exactly once")
  t:restart { down = "1h" }
  t:eq(#t:events("secretariat", c), 3, "nothing fires twice")
end)

scenario("a long explanation of position recorded on behalf keeps its reference in the record", function(t)
  local m = t:meeting { title = "Fourth meeting", start = "+20d" }
  local c = open_consultation(t, { meeting = m })
  local long = ("The Republic of Seychelles wishes to explain its position at length. "):rep(140)
  t:act("secretariat", c, "record_on_behalf", { member = "SC", stance = "support_with_reservations",
                                                statement = long, reference = "NV-2026-17" })
  t:act("secretariat", c, "close", {})
  local md = t:record(m, "md")
  t:has(md, "NV-2026-17", "the reference survives a long statement")
  t:has(md, long:sub(-200), "the whole statement is there")
end)
