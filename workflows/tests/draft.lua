-- Scenarios for draft circulation: versions, comments and amendments pinned to them.

local V1 = "Article 1. Purpose.\n\nArticle 2. Labour mobility.\n\nArticle 3. Review."

scenario("amendments are pinned to the version they were made on", function(t)
  local d = t:create("secretariat", "draft", "Regional framework", { text = V1 })
  t:fails("km.delegate", d, "comment", { version = 1, paragraph = 1, text = "x" }, "wrong_state")
  t:act("secretariat", d, "circulate", { comment_deadline = t:at("10d") })
  t:act("km.delegate", d, "comment", { version = 1, paragraph = 2, text = "Add seasonal workers." })
  t:act("mg.delegate", d, "propose_amendment", { version = 1, paragraph = 2, text = "Article 2. Labour and seasonal mobility.",
                                                 rationale = "Covers seasonal work" })
  t:act("sc.delegate", d, "propose_amendment", { version = 1, paragraph = 3, text = "Article 3. Review every two years." })
  local msg, field = t:fails("mu.delegate", d, "comment", { version = 1, paragraph = 9, text = "x" }, "invalid_parameter")
  t:eq(field, "paragraph")
  t:act("secretariat", d, "revise", { text = "Article 1. Purpose.\n\nArticle 2. Labour and seasonal mobility.\n\nArticle 3. Review.",
                                      note = "Madagascar's amendment taken", adopted_amendments = { 1 } })
  local data = t:item(d).data
  t:eq(data.version, 2)
  t:eq(data.amendments[1].version, 1, "pinned to version 1")
  t:eq(data.amendments[1].status, "adopted")
  t:eq(data.amendments[2].status, "not_adopted")
  t:eq(data.versions[2].adopted_amendments, { 1 })
  t:eq(data.comments[1].version, 1)
  t:eq(data.comments[1].member, "KM")
  -- Comments on the superseded version are refused once version 2 circulates.
  t:act("secretariat", d, "circulate", { comment_deadline = t:at("5d") })
  msg = t:fails("km.delegate", d, "comment", { version = 1, paragraph = 1, text = "late" }, "invalid_parameter")
  t:has(msg, "superseded")
  t:act("km.delegate", d, "comment", { version = 2, paragraph = 1, text = "Fine now." })
  t:fails("secretariat", d, "revise", { text = "v3", adopted_amendments = { 2 } }, "invalid_parameter")
  t:act("secretariat", d, "finalize", {})
  t:state(d, "final")
  t:eq(t:item(d).data.final_version, 2)
  t:fails("km.delegate", d, "comment", { version = 2, paragraph = 1, text = "x" }, "wrong_state")
end)

scenario("the comment period ends at its deadline", function(t)
  local d = t:create("secretariat", "draft", { en = "Framework", fr = "Cadre" },
                     { text = { en = V1, fr = "Article 1. Objet.\n\nArticle 2. Mobilité.\n\nArticle 3. Révision." } })
  t:act("secretariat", d, "circulate", { comment_deadline = t:at("2d") })
  t:advance("2d")
  t:state(d, "editing")
  t:fails("km.delegate", d, "comment", { version = 1, paragraph = 1, text = "late" }, "deadline_passed")
end)

scenario("a consultation and a decision can point at a draft version", function(t)
  local d = t:create("secretariat", "draft", "Framework", { text = V1 })
  t:create_fails("secretariat", "consultation", "On v2", { question = "OK?", deadline = t:at("3d"),
                 draft = { item = d, version = 2 } }, "invalid_parameter")
  local c = t:create("secretariat", "consultation", "On v1", { question = "OK?", deadline = t:at("3d"),
                     draft = { item = d, version = 1 } })
  t:eq(t:item(c).data.draft.version, 1)
  local other = t:create("secretariat", "consultation", "Not a draft", { question = "?", deadline = t:at("3d") })
  t:create_fails("secretariat", "decision", "From a consultation", { text = "x", draft = { item = other, version = 1 } },
                 "invalid_parameter")
end)
