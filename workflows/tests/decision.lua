-- Scenarios for decisions: the silence procedure and outcomes recorded by the chair.

local TEXT = { en = "The Dialogue adopts the regional labour mobility framework.",
               fr = "Le Dialogue adopte le cadre régional de mobilité de la main-d'œuvre." }

local function new_decision(t, extra)
  local params = { text = TEXT }
  for k, v in pairs(extra or {}) do params[k] = v end
  return t:create("secretariat", "decision", { en = "Labour mobility framework", fr = "Cadre de mobilité" }, params)
end

scenario("silence unbroken: adopted by silence when the deadline passes", function(t)
  local d = new_decision(t)
  -- The silence period must last at least the forum's 72 hours.
  local msg, field = t:fails("secretariat", d, "circulate_for_silence", { deadline = t:at("71h") }, "invalid_parameter")
  t:eq(field, "deadline")
  t:has(msg, "at least 72h")
  t:act("secretariat", d, "circulate_for_silence", { deadline = t:at("72h") })
  t:state(d, "under_silence")
  t:eq(t:view("km.delegate", d).number, nil, "no number before adoption")
  t:advance("71h")
  t:state(d, "under_silence")
  t:advance("1h")
  t:state(d, "adopted_by_silence")
  local v = t:view("observer", d)
  t:eq(v.number, "MiDIOCC/2026/1", "numbered in the adopting transaction")
  local last = t:events("observer", d)
  last = last[#last]
  t:eq(last.action, "adopt_by_silence")
  t:eq(last.kind, "timer")
  t:eq(last.actor, nil, "adopted by the engine, not a person")
  -- Everyone is told.
  local told = t:outbox("item.action")
  t:eq(told[#told].payload.action, "adopt_by_silence")
  t:eq(told[#told].audience, { "all" })
  -- Breaking silence afterwards is refused: the deadline is decided by commit time.
  t:fails("sc.delegate", d, "break_silence", { reason = "too late" }, "deadline_passed")
end)

scenario("silence broken by Seychelles, revised, recirculated, then adopted", function(t)
  local d = new_decision(t)
  t:act("secretariat", d, "circulate_for_silence", { deadline = t:at("3d") })
  t:advance("1d")
  t:act("sc.delegate", d, "break_silence", { reason = "Paragraph 2 must mention maritime safety." })
  t:state(d, "silence_broken")
  local data = t:item(d).data
  t:eq(data.objections[1].member, "SC")
  t:eq(data.silence.broken_by, "SC")
  -- The old deadline no longer adopts anything.
  t:advance("3d")
  t:state(d, "silence_broken")
  t:act("secretariat", d, "revise", { text = { en = TEXT.en .. " It covers maritime safety.", fr = TEXT.fr .. " Il couvre la sécurité maritime." },
                                      note = "Seychelles' objection addressed" })
  t:act("secretariat", d, "circulate_for_silence", { deadline = t:at("4d") })
  t:eq(t:item(d).data.silence.round, 2, "second round")
  t:advance("4d")
  t:state(d, "adopted_by_silence")
  t:eq(#t:item(d).data.versions, 2, "two versions")
  t:has(t:item(d).data.text.en, "maritime safety")
end)

scenario("an objection received in writing before the deadline breaks silence", function(t)
  local d = new_decision(t)
  local circulated = t:now()
  t:act("secretariat", d, "circulate_for_silence", { deadline = t:at("3d") })
  t:advance("2d")
  local received = t:at("-1d")
  -- Not before the text went out, not in the future, and a delegate cannot use this action.
  t:fails("secretariat", d, "record_objection_on_behalf", { member = "KM", reason = "r", reference = "NV-1",
           received_at = t:at("-3d") }, "invalid_parameter")
  t:fails("secretariat", d, "record_objection_on_behalf", { member = "KM", reason = "r", reference = "NV-1",
           received_at = t:at("1h") }, "invalid_parameter")
  t:fails("km.delegate", d, "record_objection_on_behalf", { member = "KM", reason = "r", reference = "NV-1",
           received_at = received }, "forbidden")
  t:act("secretariat", d, "record_objection_on_behalf", { member = "KM", reason = "Comoros objects to paragraph 3",
        reference = "NV/KM/2026/88", received_at = received })
  t:state(d, "silence_broken")
  local o = t:item(d).data.objections[1]
  t:eq(o.member, "KM")
  t:eq(o.on_behalf, true)
  t:eq(o.reference, "NV/KM/2026/88")
  t:ok(circulated < o.received_at, "received after circulation")
end)

scenario("adopted with reservations, reservations in the record", function(t)
  local m = t:meeting { title = "Third meeting", title_fr = "Troisième réunion", place = "Victoria, Seychelles", start = "+1d", days = 2 }
  local d = new_decision(t, { meeting = m })
  -- Not before the meeting begins: the day before, the chair is refused.
  local msg = t:fails("chair", d, "record_outcome", { outcome = "adopted_by_consensus" }, "wrong_state")
  t:has(msg, "the meeting begins on")
  t:advance("1d")
  t:fails("chair", d, "record_outcome", { outcome = "adopted_with_reservations" }, "invalid_parameter")
  t:fails("chair", d, "record_outcome", { outcome = "adopted_by_consensus",
           reservations = { { member = "MG", text = "x" } } }, "invalid_parameter")
  t:fails("secretariat", d, "record_outcome", { outcome = "adopted_by_consensus" }, "forbidden")
  t:fails("mg.delegate", d, "record_outcome", { outcome = "adopted_by_consensus" }, "forbidden")
  -- Members present are counted once each: a state listed twice is refused, naming it.
  local msg2, field = t:fails("chair", d, "record_outcome", { outcome = "adopted_by_consensus",
                               present = { "KM", "MG", "KM" } }, "invalid_parameter")
  t:eq(field, "present")
  t:has(msg2, '"KM" is listed twice')
  t:fails("chair", d, "record_outcome", { outcome = "adopted_by_consensus", present = { "KM", "FR" } }, "invalid_parameter")
  t:act("chair", d, "record_outcome", {
    outcome = "adopted_with_reservations",
    reservations = { { member = "MG", text = "Madagascar reserves its position on article 5 <pending review>." } },
  })
  t:state(d, "adopted_with_reservations")
  t:eq(t:view("observer", d).number, "MiDIOCC/2026/1")
  local md = t:record(m, "md")
  t:has(md, "MiDIOCC/2026/1")
  t:has(md, "Madagascar reserves its position on article 5")
  t:has(md, "Adoptée avec réserves")
  t:has(md, "Adopted with reservations")
  local html = t:record(m, "html")
  t:has(html, "article 5 &lt;pending review&gt;", "user text is escaped in HTML")
  t:no(html, "<pending review>", "no raw user markup in HTML")
  local json = t:record(m, "json")
  t:has(json, '"reservations"')
end)

scenario("decision numbers are gapless per year in the forum's time zone", function(t)
  -- 2026-12-31 22:30 UTC is already 2027-01-01 in Mauritius (UTC+4).
  local a = new_decision(t)
  t:act("chair", a, "record_outcome", { outcome = "adopted_by_consensus" })
  local b = new_decision(t)
  t:act("chair", b, "record_outcome", { outcome = "not_adopted" })      -- takes no number
  local c = new_decision(t)
  t:fails("chair", c, "record_outcome", { outcome = "adopted_with_reservations" }, "invalid_parameter")
  t:act("chair", c, "record_outcome", { outcome = "adopted_by_consensus" })
  t:eq(t:view("observer", a).number, "MiDIOCC/2026/1")
  t:eq(t:view("observer", b).number, nil)
  t:eq(t:view("observer", c).number, "MiDIOCC/2026/2", "a refused adoption leaves no gap")
  t:advance("7312h")            -- from 2026-03-02 05:00Z to 2026-12-31 21:00Z (01:00 on 1 January in Mauritius)
  t:eq(t:now(), "2026-12-31T21:00:00.000Z")
  local d = new_decision(t)
  t:act("chair", d, "record_outcome", { outcome = "adopted_by_consensus" })
  t:eq(t:view("observer", d).number, "MiDIOCC/2027/1", "a new year in Mauritius starts at 1")
end)

scenario("the silence deadline extended, recorded with its reason", function(t)
  local d = new_decision(t)
  t:act("secretariat", d, "circulate_for_silence", { deadline = t:at("3d") })
  t:fails("secretariat", d, "extend_silence", { deadline = t:at("2d"), reason = "x" }, "invalid_parameter")
  t:act("secretariat", d, "extend_silence", { deadline = t:at("5d"), reason = "Public holiday in Madagascar" })
  t:advance("3d")
  t:state(d, "under_silence")
  t:act("mg.delegate", d, "break_silence", { reason = "Needs more time" })
  t:state(d, "silence_broken")
  local x = t:item(d).data.extensions[1]
  t:eq(x.reason, "Public holiday in Madagascar")
end)

scenario("a silence deadline passed while the engine was down: adopted once after restart, delay noted", function(t)
  local m = t:meeting { title = "Fourth meeting", start = "+10d" }
  local d = new_decision(t)
  t:act("secretariat", d, "circulate_for_silence", { deadline = t:at("72h") })
  t:advance("70h")
  t:restart { down = "5h" }
  t:state(d, "adopted_by_silence")
  local adoptions = 0
  for _, e in ipairs(t:events("observer", d)) do
    if e.action == "adopt_by_silence" then
      adoptions = adoptions + 1
      t:eq(e.params.delay_seconds, 3 * 3600, "three hours late")
    end
  end
  t:eq(adoptions, 1, "adopted exactly once")
  t:restart { down = "1h" }
  t:eq(#t:events("observer", d), 3, "nothing fired twice")
  -- The next meeting's record lists it, with the delay.
  t:has(t:record(m, "md"), "adoption was recorded with a delay of 180 min")
end)

scenario("withdrawing a decision under silence stops the procedure", function(t)
  local d = new_decision(t)
  t:act("secretariat", d, "circulate_for_silence", { deadline = t:at("3d") })
  t:act("secretariat", d, "withdraw", { reason = "Superseded" })
  t:advance("4d")
  t:state(d, "withdrawn")
end)
