-- A small workflow that exercises every part of the runtime: every parameter type,
-- roles (including the proposer and the engine), effects that choose their target
-- state, on_enter hooks, timers computed by a function, sealed actions, numbering,
-- meetings, other items, notifications and structured refusals.

local function tally(item)
  local n = 0
  for _ in pairs(item:positions()) do n = n + 1 end
  return n
end

workflow "motion" {
  title = { en = "Motion", fr = "Motion" },
  states = { "draft", "voting", "carried", "lost", "lapsed", "withdrawn" },
  positions = true,

  create {
    by = { "delegate", "secretariat" },
    params = {
      summary   = str { required = true, min = 3, max = 80 },
      body      = text { max = 5000 },
      urgency   = enum { "low", "normal", "high", default = "normal" },
      seconds   = integer { min = 0, max = 5, default = 0 },
      public    = boolean { default = true },
      closes    = time { after = "now" },
      sponsor   = member {},
      related   = item_ref {},
      meeting   = meeting_ref {},
      tags      = list { of = str { max = 20 }, max = 3, unique = true },
      contact   = object { name = str { required = true }, phone = str {} },
    },
    to = "draft",
    run = function(item, p, caller)
      item.data.created_by_role = caller.role
      if p.related then
        local other = gavel.item(p.related)
        item.data.related_state = other.state
        other.data.tampered = true          -- a copy: the other item is not changed
      end
      if p.meeting then
        item.data.meeting_place = gavel.meeting(p.meeting).place
      end
      if p.summary == "refuse me" then refuse("motions cannot say that") end
      if p.summary == "deny me" then deny("not you") end
    end,
  },

  action "open_vote" {
    by = { "secretariat", "chair" },
    from = "draft",
    to = "voting",
    params = { hours = integer { required = true, min = 1, max = 1000 } },
    run = function(item, p)
      item.data.vote_ends = dates.add(now(), p.hours * 3600000)
      item:seal()
    end,
    notify = { "members", "secretariat" },
  },

  action "vote" {
    by = "delegate",
    from = "voting",
    deadline = "vote_end",
    sealed = true,
    params = { choice = enum { "yes", "no", required = true } },
    to = { "carried" },
    run = function(item, p, caller)
      item:set_position(caller.member, p.choice, "")
      if tally(item) == #forum.members and p.choice == "yes" then
        item:go("carried")
      end
    end,
  },

  -- The effect tries to act for another state: refused by the engine.
  action "vote_for" {
    by = "delegate",
    from = "voting",
    params = { other = member { required = true } },
    run = function(item, p)
      item:set_position("KM", "yes", "")
    end,
  },

  action "withdraw" { by = "proposer", from = { "draft", "voting" }, to = "withdrawn" },

  action "count" {
    by = "engine",
    from = "voting",
    to = { "carried", "lost" },
    run = function(item)
      local yes = 0
      for _, pos in pairs(item:positions()) do
        if pos.stance == "yes" then yes = yes + 1 end
      end
      if yes * 2 > #forum.members then
        item.data.number = item:next_number("motion")
        item:go("carried")
      else
        item:go("lost")
      end
    end,
  },

  -- Faulty actions used to check that failures commit nothing and leave an incident.
  action "crash" {
    by = "secretariat", from = { "draft", "voting" },
    run = function(item) item.data.half_done = true; error("boom") end,
  },
  action "spin" {
    by = "secretariat", from = { "draft", "voting" },
    run = function(item) item.data.half_done = true; while true do end end,
  },
  action "hoard" {
    by = "secretariat", from = { "draft", "voting" },
    run = function(item) local t = {} for i = 1, 1e9 do t[i] = ("x"):rep(1000000) .. i end end,
  },
  action "leak" {
    by = "secretariat", from = { "draft", "voting" },
    run = function(item) stash = item end,
  },

  timer "vote_end" {
    at = function(item) return item.data.vote_ends end,
    from = "voting",
    fire = "count",
  },

  on_enter "carried" {
    run = function(item)
      item:unseal()
      item.data.carried_at = now()
      item:notify("motion.carried", "all", { summary = item.data.summary })
    end,
  },
  on_enter "lost" { run = function(item) item:unseal() end },
}
