-- Agenda items: proposed by a state (or the secretariat), accepted or returned by the
-- secretariat, placed on a meeting's provisional agenda, and adopted with the agenda by
-- the chair, deferred, or withdrawn by whoever proposed it.
--
-- The forum's agenda_cutoff_days rule refuses proposals for a meeting that starts
-- sooner than that many days away.

-- Refuses a proposal too close to the meeting it is meant for.
local function check_cutoff(meeting_id)
  local m = gavel.meeting(meeting_id)
  local days = forum.rules.agenda_cutoff_days or 0
  if days > 0 then
    local last_day = dates.sub(m.starts_at, days .. "d")
    if now() >= last_day then
      reject("meeting", "items for the meeting starting on " .. m.starts_on .. " could be proposed until " ..
             dates.day(last_day) .. " (" .. days .. " days before it)")
    end
  end
  if m.agenda_adopted then
    reject("meeting", "the agenda of that meeting has already been adopted")
  end
end

workflow "agenda_item" {
  title = { en = "Agenda item", fr = "Point de l'ordre du jour" },
  states = { "proposed", "accepted", "returned", "scheduled", "adopted", "deferred", "withdrawn" },
  labels = {
    proposed  = { en = "Proposed", fr = "Proposé" },
    accepted  = { en = "Accepted", fr = "Accepté" },
    returned  = { en = "Returned", fr = "Renvoyé" },
    scheduled = { en = "On the provisional agenda", fr = "À l'ordre du jour provisoire" },
    adopted   = { en = "Adopted", fr = "Adopté" },
    deferred  = { en = "Deferred", fr = "Reporté" },
    withdrawn = { en = "Withdrawn", fr = "Retiré" },
  },

  create {
    name = "propose",
    label = { en = "Propose an item", fr = "Proposer un point" },
    by = { "delegate", "secretariat" },
    params = {
      description = text { required = true, max = 20000, label = { en = "Description", fr = "Description" } },
      meeting     = meeting_ref { label = { en = "For the meeting", fr = "Pour la réunion" } },
    },
    to = "proposed",
    notify = "secretariat",
    run = function(item, p)
      if p.meeting then
        check_cutoff(p.meeting)
      end
    end,
  },

  action "accept" {
    label = { en = "Accept", fr = "Accepter" },
    by = "secretariat",
    from = "proposed",
    to = "accepted",
    notify = "proposer",
  },

  action "return" {
    label = { en = "Return to the proposer", fr = "Renvoyer à l'auteur" },
    by = "secretariat",
    from = "proposed",
    to = "returned",
    notify = "proposer",
    params = { reason = str { required = true, max = 2000, label = { en = "Reason", fr = "Motif" } } },
    run = function(item, p)
      item.data.returned_reason = p.reason
    end,
  },

  action "resubmit" {
    label = { en = "Resubmit", fr = "Soumettre à nouveau" },
    by = "proposer",
    from = "returned",
    to = "proposed",
    params = {
      description = text { required = true, max = 20000, label = { en = "Description", fr = "Description" } },
    },
    run = function(item, p)
      item.data.description = p.description
    end,
  },

  action "schedule" {
    label = { en = "Place on a meeting's agenda", fr = "Inscrire à l'ordre du jour d'une réunion" },
    by = "secretariat",
    from = { "accepted", "deferred" },
    to = "scheduled",
    params = { meeting = meeting_ref { required = true, label = { en = "Meeting", fr = "Réunion" } } },
    run = function(item, p)
      if gavel.meeting(p.meeting).agenda_adopted then
        reject("meeting", "the agenda of that meeting has already been adopted")
      end
      item:set_meeting(p.meeting)
      item.data.meeting = p.meeting
    end,
  },

  -- Taken for every scheduled item at once when the chair adopts a meeting's agenda.
  action "adopt" {
    label = { en = "Adopt with the agenda", fr = "Adopter avec l'ordre du jour" },
    by = "chair",
    from = "scheduled",
    to = "adopted",
  },

  action "defer" {
    label = { en = "Defer", fr = "Reporter" },
    by = { "chair", "secretariat" },
    from = { "accepted", "scheduled" },
    to = "deferred",
    params = { reason = str { required = true, max = 2000, label = { en = "Reason", fr = "Motif" } } },
    run = function(item, p)
      item.data.deferred_reason = p.reason
      item:set_meeting(nil)
    end,
  },

  action "withdraw" {
    label = { en = "Withdraw", fr = "Retirer" },
    by = "proposer",
    from = { "proposed", "accepted", "returned", "scheduled", "deferred" },
    to = "withdrawn",
  },

  -- Adopting a meeting's agenda adopts every item scheduled for it.
  agenda { on_adopt = "adopt" },

  -- The record's adopted agenda: the items of the meeting on its agenda or adopted with it.
  record { section = "agenda", states = { "scheduled", "adopted" }, fields = { description = "description" } },

  history {
    propose  = { en = "{actor} proposed the item", fr = "{actor} a proposé le point" },
    accept   = { en = "{actor} accepted the item", fr = "{actor} a accepté le point" },
    ["return"] = { en = "{actor} returned the item to its proposer: {reason}", fr = "{actor} a renvoyé le point à son auteur : {reason}" },
    resubmit = { en = "{actor} resubmitted the item", fr = "{actor} a soumis le point à nouveau" },
    schedule = { en = "{actor} placed the item on a meeting's agenda", fr = "{actor} a inscrit le point à l'ordre du jour d'une réunion" },
    adopt    = { en = "Adopted with the agenda", fr = "Adopté avec l'ordre du jour" },
    defer    = { en = "{actor} deferred the item: {reason}", fr = "{actor} a reporté le point : {reason}" },
    withdraw = { en = "{actor} withdrew the item", fr = "{actor} a retiré le point" },
  },
}
