-- The silence procedure: a text circulated with a deadline is adopted unless a state objects
-- before it. Its rounds live in item.data.silence ({ round, started_at, deadline,
-- text_version, broken_by, broken_at }) and the objections in item.data.objections; a timer
-- declared with at = "silence.deadline" fires when the deadline passes.
local silence = {}

-- Starts a round ending at deadline, which must leave the forum's min_silence at least.
function silence.start(item, deadline, text_version)
  local earliest = dates.add(now(), forum.rules.min_silence)
  if deadline < earliest then
    reject("deadline", "the silence period must last at least " .. forum.rules.min_silence ..
           ": the deadline must be " .. earliest .. " or later")
  end
  local previous = item.data.silence
  item.data.silence = {
    round = previous and previous.round + 1 or 1,
    started_at = now(),
    deadline = deadline,
    text_version = text_version,
  }
end

-- Refuses an objection received in writing outside the current round (or in the future).
function silence.check_received(item, received_at)
  local round = item.data.silence
  if received_at >= round.deadline then
    reject("received_at", "the objection must have been received before the silence deadline, " .. round.deadline)
  end
  if received_at < round.started_at then
    reject("received_at", "the objection was received before the text was circulated on " .. round.started_at)
  end
  if received_at > now() then
    reject("received_at", "received_at cannot be in the future")
  end
end

-- Records an objection ({ member, reason, ... }) in the current round: silence is broken.
function silence.object(item, objection)
  local round = item.data.silence
  objection.round = round.round
  local objections = item.data.objections or {}
  objections[#objections + 1] = objection
  item.data.objections = objections
  round.broken_by = objection.member
  round.broken_at = now()
end

return silence
