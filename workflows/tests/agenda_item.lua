-- Scenarios for agenda items: proposals, the cut-off, scheduling, adoption, withdrawal.

scenario("the agenda cut-off refuses proposals too close to the meeting", function(t)
  local soon = t:meeting { title = "Meeting in ten days", start = "+10d" }
  local later = t:meeting { title = "Meeting in a month", start = "+30d" }
  local msg, field = t:create_fails("mu.delegate", "agenda_item", "Diaspora engagement",
                                    { description = "Diaspora bonds", meeting = soon }, "invalid_parameter")
  t:eq(field, "meeting")
  t:has(msg, "14 days before")
  local a = t:create("mu.delegate", "agenda_item", "Diaspora engagement", { description = "Diaspora bonds", meeting = later })
  t:state(a, "proposed")
  t:eq(t:view("secretariat", a).member, "MU", "proposed by Mauritius")
  -- Sixteen days later the same meeting is within the cut-off.
  t:advance("17d")
  t:create_fails("km.delegate", "agenda_item", "Late item", { description = "x", meeting = later }, "invalid_parameter")
end)

scenario("accepted, scheduled and adopted with the agenda", function(t)
  local m = t:meeting { title = "Third meeting", start = "+30d" }
  local a = t:create("re.delegate", "agenda_item", { en = "Migration and health", fr = "Migration et santé" },
                     { description = { en = "Health screening", fr = "Dépistage sanitaire" } })
  t:fails("re.delegate", a, "accept", {}, "forbidden")
  t:act("secretariat", a, "accept", {})
  t:act("secretariat", a, "schedule", { meeting = m })
  t:state(a, "scheduled")
  t:eq(t:view("observer", a).meeting_id, m)
  t:fails("secretariat", a, "adopt", {}, "forbidden")
  t:act("chair", a, "adopt", {})
  t:state(a, "adopted")
  t:has(t:record(m, "md"), "Migration and health")
  t:has(t:record(m, "md"), "Migration et santé")
end)

scenario("returned with a reason, resubmitted, deferred", function(t)
  local a = t:create("sc.delegate", "agenda_item", "Maritime safety", { description = "SAR coordination" })
  t:fails("secretariat", a, "return", {}, "invalid_parameter")
  t:act("secretariat", a, "return", { reason = "Please specify the legal basis" })
  t:eq(t:item(a).data.returned_reason, "Please specify the legal basis")
  t:fails("km.delegate", a, "resubmit", { description = "x" }, "forbidden")
  t:act("sc.delegate", a, "resubmit", { description = "SAR coordination under the 1979 convention" })
  t:state(a, "proposed")
  t:act("secretariat", a, "accept", {})
  t:act("chair", a, "defer", { reason = "Next meeting" })
  t:state(a, "deferred")
end)

scenario("only the proposer withdraws", function(t)
  local a = t:create("km.delegate", "agenda_item", "Free movement", { description = "IOC decision No. 6" })
  t:fails("mg.delegate", a, "withdraw", {}, "forbidden")
  t:fails("secretariat", a, "withdraw", {}, "forbidden")
  t:fails("observer", a, "withdraw", {}, "forbidden")
  t:act("km.delegate", a, "withdraw", {})
  t:state(a, "withdrawn")
  t:fails("km.delegate", a, "withdraw", {}, "wrong_state")
end)

scenario("an observer is refused every agenda action", function(t)
  t:create_fails("observer", "agenda_item", "x", { description = "y" }, "forbidden")
  local a = t:create("secretariat", "agenda_item", "Data sharing", { description = "Migration data" })
  for _, action in ipairs({ "accept", "return", "resubmit", "schedule", "adopt", "defer", "withdraw" }) do
    t:fails("observer", a, action, {}, "forbidden")
  end
end)
