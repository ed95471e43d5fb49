-- Scenarios for workflow modules (lib/NAME.lua used with `use`), timers on data paths and
-- history sentences.

local GREETER = [[
local greet = use "greet"

workflow "greeter" {
  states = { "open" },
  create { by = "secretariat", to = "open" },
  action "greet" {
    by = "secretariat",
    from = "open",
    run = function(item) item.data.word = greet.word() end,
  },
  history { greet = { en = "{actor} said {state}", fr = "{actor} a dit {state}" } },
}
]]

scenario("an edited module never changes a running item; new items use the new one", function(t)
  t:write_workflow("lib/greet.lua", 'return { word = function() return "hello" end }')
  t:write_workflow("greeter.lua", GREETER)
  local old = t:create("secretariat", "greeter", "Old", {})
  t:write_workflow("lib/greet.lua", 'return { word = function() return "bonjour" end }')
  local new = t:create("secretariat", "greeter", "New", {})
  t:act("secretariat", old, "greet", {})
  t:act("secretariat", new, "greet", {})
  t:eq(t:item(old).data.word, "hello", "the running item keeps the module it started with")
  t:eq(t:item(new).data.word, "bonjour", "a new item uses the edited module")
  t:restart{ down = "1h" }
  t:act("secretariat", old, "greet", {})
  t:eq(t:item(old).data.word, "hello", "also after a restart, from the stored version")
  t:ok(t:item(old).version_id ~= t:item(new).version_id, "the module's edit made a new version")
end)

scenario("a module cannot be used once the file has loaded, nor name a path", function(t)
  t:write_workflow("lib/greet.lua", 'return { word = function() return "hello" end }')
  t:write_workflow("late.lua", [[
workflow "late" {
  states = { "open" },
  create { by = "secretariat", to = "open" },
  action "try" { by = "secretariat", from = "open", run = function(item) item.data.m = use("greet").word() end },
}
]])
  local id = t:create("secretariat", "late", "Late", {})
  t:fails("secretariat", id, "try", {}, "workflow_error")
end)

scenario("a timer takes its time from a nested data path", function(t)
  t:write_workflow("nested.lua", [[
workflow "nested" {
  states = { "waiting", "done" },
  create {
    by = "secretariat", to = "waiting",
    params = { until_time = time { required = true } },
    run = function(item, p) item.data.plan = { due = p.until_time } end,
  },
  action "finish" { by = "engine", from = "waiting", to = "done" },
  action "postpone" {
    by = "secretariat", from = "waiting",
    run = function(item) item.data.plan.due = dates.add(item.data.plan.due, "1d") end,
  },
  timer "due" { at = "plan.due", from = "waiting", fire = "finish" },
}
]])
  local id = t:create("secretariat", "nested", "Nested", { until_time = t:at("10h") })
  t:act("secretariat", id, "postpone", {})
  t:advance("11h")
  t:state(id, "waiting")
  t:advance("24h")
  t:state(id, "done")
end)

scenario("events carry the workflow's sentence and labels in the reader's language", function(t)
  t:write_workflow("lib/greet.lua", 'return { word = function() return "hello" end }')
  t:write_workflow("greeter.lua", GREETER)
  local id = t:create("secretariat", "greeter", "Old", {})
  t:act("secretariat", id, "greet", {})
  local evs = t:events("secretariat", id)
  local last = evs[#evs]
  t:eq(last.sentence, "secretariat said open", "the sentence is filled in (a state without a label reads as its name)")
  t:eq(last.action_label, "greet")
  t:ok(type(evs[1].sentence) ~= "string", "an action without a sentence has none")
end)
