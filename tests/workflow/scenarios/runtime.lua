-- Scenarios that exercise the workflow runtime through the small "motion" workflow.

local function new_motion(t, user, extra)
  local p = { summary = "Establish a working group" }
  for k, v in pairs(extra or {}) do p[k] = v end
  return t:create(user or "km.delegate", "motion", "Working group", p)
end

scenario("every parameter type is validated and normalized", function(t)
  local m = t:meeting { title = "M", place = "Moroni", start = "+20d" }
  local other = new_motion(t)
  local id = t:create("secretariat", "motion", { en = "Full", fr = "Complète" }, {
    summary = "All types", body = { en = "Body", fr = "Corps" }, urgency = "high", seconds = 2, public = false,
    closes = "2026-04-01T12:00:00+04:00", sponsor = "SC", related = other, meeting = m,
    tags = { "a", "b" }, contact = { name = "Ana", phone = "+230" },
  })
  local d = t:item(id).data
  t:eq(d.closes, "2026-04-01T08:00:00.000Z", "times are normalized to UTC")
  t:eq(d.related_state, "draft")
  t:eq(d.meeting_place, "Moroni")
  t:eq(d.urgency, "high")
  t:eq(t:item(other).data.tampered, nil, "another item's copy was changed, not the item")
  t:eq(new_motion(t) and t:item(new_motion(t)).data.urgency, "normal", "defaults apply")
  local bad = {
    { { summary = "ab" }, "summary" },
    { { summary = ("x"):rep(81) }, "summary" },
    { { summary = 7 }, "summary" },
    { { summary = "okay", body = { de = "Hallo" } }, "body.de" },
    { { summary = "okay", urgency = "extreme" }, "urgency" },
    { { summary = "okay", seconds = 6 }, "seconds" },
    { { summary = "okay", seconds = 1.5 }, "seconds" },
    { { summary = "okay", public = "yes" }, "public" },
    { { summary = "okay", closes = "2026-04-01 12:00" }, "closes" },
    { { summary = "okay", closes = "2020-01-01T00:00:00Z" }, "closes" },
    { { summary = "okay", sponsor = "FR" }, "sponsor" },
    { { summary = "okay", related = 9999 }, "related" },
    { { summary = "okay", meeting = 9999 }, "meeting" },
    { { summary = "okay", tags = { "a", "b", "c", "d" } }, "tags" },
    { { summary = "okay", tags = { ("y"):rep(21) } }, "tags[0]" },
    { { summary = "okay", tags = { "a", "b", "a" } }, "tags" },
    { { summary = "okay", contact = { phone = "1" } }, "contact.name" },
    { { summary = "okay", contact = { name = "A", fax = "2" } }, "contact.fax" },
    { { summary = "okay", extra = 1 }, "extra" },
    { { summary = "bad\0byte" }, "summary" },
  }
  for i, case in ipairs(bad) do
    local _, field = t:create_fails("secretariat", "motion", "x", case[1], "invalid_parameter")
    t:eq(field, case[2], "case " .. i)
  end
  t:create_fails("secretariat", "motion", "", { summary = "okay" }, "invalid_parameter")
  t:create_fails("secretariat", "motion", { de = "Titel" }, { summary = "okay" }, "invalid_parameter")
  t:create_fails("secretariat", "nosuch", "x", {}, "invalid_parameter")
end)

scenario("effects refuse with structured errors", function(t)
  local msg = t:create_fails("km.delegate", "motion", "x", { summary = "refuse me" }, "wrong_state")
  t:eq(msg, "motions cannot say that")
  t:create_fails("km.delegate", "motion", "x", { summary = "deny me" }, "forbidden")
  t:create_fails("observer", "motion", "x", { summary = "abc" }, "forbidden")
  t:create_fails("chair", "motion", "x", { summary = "abc" }, "forbidden")
end)

scenario("roles: the proposer, the chair, delegates for their own state, the engine", function(t)
  local id = new_motion(t, "mg.delegate")
  t:fails("km.delegate", id, "withdraw", {}, "forbidden")
  t:fails("mg.delegate", id, "open_vote", { hours = 5 }, "forbidden")
  t:fails("secretariat", id, "count", {}, "forbidden")      -- only timers fire it
  t:fails("secretariat", id, "nosuch", {}, "not_found")
  t:act("chair", id, "open_vote", { hours = 5 })
  local msg = t:fails("mg.delegate", id, "vote_for", { other = "KM" }, "forbidden")
  t:has(msg, "own state")
  msg = t:fails("mg.delegate", id, "vote_for", { other = "MG" }, "forbidden")
  t:has(msg, "own state")
  t:act("mg.delegate", id, "withdraw", {})
  t:state(id, "withdrawn")
  t:fails("mg.delegate", id, "withdraw", {}, "wrong_state")
end)

scenario("a timer computed by a function fires its action; on_enter runs; numbering", function(t)
  local id = new_motion(t)
  t:act("secretariat", id, "open_vote", { hours = 48 })
  t:eq(t:view("observer", id).deadlines.vote_end, t:at("48h") and t:item(id).data.vote_ends)
  t:act("km.delegate", id, "vote", { choice = "yes" })
  t:act("mg.delegate", id, "vote", { choice = "yes" })
  t:act("mu.delegate", id, "vote", { choice = "yes" })
  t:act("re.delegate", id, "vote", { choice = "no" })
  t:no(t:json(t:view("re.delegate", id)), '"stance":"yes"', "sealed while voting")
  t:advance("47h")
  t:state(id, "voting")
  t:advance("1h")
  t:state(id, "carried")
  local d = t:item(id).data
  t:eq(d.number, "MiDIOCC/2026/1")
  t:ok(d.carried_at, "on_enter ran")
  t:has(t:json(t:view("re.delegate", id)), '"stance":"yes"', "unsealed on enter")
  local n = t:outbox("motion.carried")
  t:eq(#n, 1)
  t:eq(n[1].payload.data.summary, "Establish a working group")
  t:fails("sc.delegate", id, "vote", { choice = "yes" }, "deadline_passed")
  local opened = t:outbox("item.action")
  t:eq(opened[1].audience, { "secretariat", "members" })
end)

scenario("an effect can choose its target state", function(t)
  local id = new_motion(t)
  t:act("secretariat", id, "open_vote", { hours = 10 })
  for _, s in ipairs({ "km", "mg", "mu", "re" }) do t:act(s .. ".delegate", id, "vote", { choice = "yes" }) end
  t:state(id, "voting")
  t:act("sc.delegate", id, "vote", { choice = "yes" })
  t:state(id, "carried")
end)

scenario("a failing or runaway action commits nothing and leaves an incident", function(t)
  local id = new_motion(t)
  local before = #t:events("secretariat", id)
  local msg = t:fails("secretariat", id, "crash", {}, "workflow_error")
  t:has(msg, "boom")
  t:has(msg, "motion.lua")
  t:fails("secretariat", id, "spin", {}, "workflow_limit")
  t:fails("secretariat", id, "hoard", {}, "workflow_limit")
  msg = t:fails("secretariat", id, "leak", {}, "workflow_error")
  t:has(msg, "global 'stash'")
  t:eq(t:item(id).data.half_done, nil, "nothing of the failed effects was kept")
  t:eq(#t:events("secretariat", id), before, "no event recorded")
  local incidents = t:incidents()
  t:eq(#incidents, 4, "each failure is an incident")
  t:eq(incidents[4].kind, "script_error")
  t:eq(incidents[3].kind, "instruction_limit")
  t:eq(incidents[2].kind, "memory_limit")
  t:eq(incidents[1].action, "leak")
  -- The workflow still works after all that.
  t:act("secretariat", id, "open_vote", { hours = 1 })
end)

scenario("items stay on their workflow version when the file changes or disappears", function(t)
  local old = new_motion(t)
  local v_old = t:view("observer", old).version_id
  -- The secretariat edits the workflow: withdrawing is now the secretariat's.
  t:write_workflow("motion.lua", [[
workflow "motion" {
  states = { "draft", "withdrawn" },
  create { by = "secretariat", params = { summary = str { required = true } }, to = "draft" },
  action "withdraw" { by = "secretariat", from = "draft", to = "withdrawn" },
}
]])
  local new = t:create("secretariat", "motion", "New", { summary = "Second" })
  t:ok(t:view("observer", new).version_id ~= v_old, "new items use the new version")
  t:eq(t:view("observer", old).version_id, v_old, "the old item keeps its version")
  -- Old rules for the old item, new rules for the new one.
  t:fails("secretariat", old, "withdraw", {}, "forbidden")
  t:fails("km.delegate", new, "withdraw", {}, "forbidden")
  t:create_fails("km.delegate", "motion", "x", { summary = "abc" }, "forbidden")
  -- Even with the file gone and the engine restarted, both keep running.
  t:remove_workflow("motion.lua")
  t:restart { down = "1h" }
  t:act("secretariat", old, "open_vote", { hours = 1 })
  t:act("secretariat", new, "withdraw", {})
  t:advance("1h")
  t:state(old, "lost")
  t:state(new, "withdrawn")
end)

scenario("a timer fires exactly once, even when its action keeps the item where it was", function(t)
  t:write_workflow("ticker.lua", [[
workflow "ticker" {
  states = { "open" },
  create { by = "secretariat", params = { due = time { required = true } }, to = "open" },
  action "tick" { by = "engine", from = "open",
    run = function(item) item.data.fired = (item:get("fired") or 0) + 1 end },
  action "touch" { by = "secretariat", from = "open",
    run = function(item) item.data.touched = (item.data.touched or 0) + 1 end },
  timer "tick" { at = "due", from = "open", fire = "tick" },
}
]])
  local id = t:create("secretariat", "ticker", "T", { due = t:at("2h") })
  t:advance("2h")
  t:eq(t:item(id).data.fired, 1, "fired at its time")
  t:act("secretariat", id, "touch", {})
  t:act("secretariat", id, "touch", {})
  t:advance("1h")
  t:eq(t:item(id).data.fired, 1, "changing the data did not arm the fired time again")
end)

scenario("cancelling one timer leaves a timer whose name starts the same", function(t)
  t:write_workflow("closer.lua", [[
workflow "closer" {
  states = { "open", "review", "closed" },
  create { by = "secretariat", params = { due = time { required = true } }, to = "open" },
  action "to_review" { by = "secretariat", from = "open", to = "review" },
  action "shut" { by = "engine", from = { "open", "review" }, to = "closed" },
  timer "close" { at = "due", from = "open", fire = "shut" },
  timer "close_all" { at = "due", from = { "open", "review" }, fire = "shut" },
}
]])
  local id = t:create("secretariat", "closer", "C", { due = t:at("5h") })
  t:act("secretariat", id, "to_review", {})
  t:eq(t:view("observer", id).deadlines, { close_all = t:item(id).data.due }, "only 'close' was cancelled")
  t:advance("5h")
  t:state(id, "closed")
end)

scenario("a timer action that stays in its state and moves the deadline fires again later", function(t)
  t:write_workflow("pulse.lua", [[
workflow "pulse" {
  states = { "open", "done" },
  create { by = "secretariat", params = { next = time { required = true } }, to = "open" },
  action "beat" { by = "engine", from = "open",
    run = function(item)
      item.data.beats = (item.data.beats or 0) + 1
      if item.data.beats < 3 then item.data.next = dates.add(item.data.next, "24h") else item:go("done") end
    end, to = { "done" } },
  action "touch" { by = "secretariat", from = "open", run = function(item) item.data.touched = now() end },
  timer "beat" { at = "next", from = "open", fire = "beat" },
}
]])
  local id = t:create("secretariat", "pulse", "P", { next = t:at("1h") })
  t:advance("1h")
  t:eq(t:item(id).data.beats, 1)
  t:act("secretariat", id, "touch", {})
  t:act("secretariat", id, "touch", {})
  t:eq(t:item(id).data.beats, 1, "touching the data fires nothing again")
  t:advance("24h")
  t:eq(t:item(id).data.beats, 2, "the moved deadline fired")
  t:advance("24h")
  t:state(id, "done")
  t:eq(t:item(id).data.beats, 3)
end)

scenario("gavel.meeting of an unknown meeting is nil", function(t)
  t:write_workflow("probe.lua", [[
workflow "probe" {
  states = { "open" },
  create { by = "secretariat", to = "open",
    run = function(item) item.data.found = gavel.meeting(987654) ~= nil; item.data.other = gavel.item(987654) ~= nil end },
}
]])
  local id = t:create("secretariat", "probe", "P", {})
  t:eq(t:item(id).data.found, false)
  t:eq(t:item(id).data.other, false)
end)
