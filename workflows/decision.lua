-- Decisions: recorded by the chair in a meeting, or adopted by the silence procedure.
--
-- In a meeting the chair records the outcome (adopted by consensus, adopted with
-- reservations, not adopted, deferred). Between meetings the secretariat circulates
-- the text under silence: unless a state breaks silence with a written objection
-- before the deadline, the decision is adopted by silence when the deadline passes,
-- automatically. Adopted decisions are numbered per forum and year (MiDIOCC/2026/1).

local silence = use "silence"
local extensions = use "extensions"
local drafts = use "drafts"

local OUTCOMES = { "adopted_by_consensus", "adopted_with_reservations", "not_adopted", "deferred" }

local function add_version(item, text, note, by)
  local versions = item.data.versions or {}
  versions[#versions + 1] = { version = #versions + 1, text = text, note = note, by = by, at = now() }
  item.data.versions = versions
  item.data.text = text
end

local function adopt(item, outcome)
  item.data.outcome = outcome
  item.data.number = item:next_number("decision")
  item.data.adopted_at = now()
end

workflow "decision" {
  title = { en = "Decision", fr = "Décision" },
  states = {
    "open", "under_silence", "silence_broken",
    "adopted_by_silence", "adopted_by_consensus", "adopted_with_reservations",
    "not_adopted", "deferred", "withdrawn",
  },
  labels = {
    open                      = { en = "Open", fr = "Ouverte" },
    under_silence             = { en = "Under silence procedure", fr = "En procédure d'approbation tacite" },
    silence_broken            = { en = "Silence broken", fr = "Silence rompu" },
    adopted_by_silence        = { en = "Adopted by silence procedure", fr = "Adoptée par procédure d'approbation tacite" },
    adopted_by_consensus      = { en = "Adopted by consensus", fr = "Adoptée par consensus" },
    adopted_with_reservations = { en = "Adopted with reservations", fr = "Adoptée avec réserves" },
    not_adopted               = { en = "Not adopted", fr = "Non adoptée" },
    deferred                  = { en = "Deferred", fr = "Reportée" },
    withdrawn                 = { en = "Withdrawn", fr = "Retirée" },
  },

  create {
    label = { en = "Propose a decision", fr = "Proposer une décision" },
    by = "secretariat",
    params = {
      text    = text { required = true, max = 50000, label = { en = "Decision text", fr = "Texte de la décision" } },
      meeting = meeting_ref { label = { en = "Meeting", fr = "Réunion" } },
      draft   = object {
                  item    = item_ref { required = true, workflow = "draft" },
                  version = integer { required = true, min = 1 },
                  label = { en = "From draft version", fr = "Version du projet" } },
    },
    to = "open",
    run = function(item, p, caller)
      drafts.check_version(p.draft, "draft.version")
      add_version(item, p.text, nil, caller.username)
    end,
  },

  action "revise" {
    label = { en = "Revise the text", fr = "Réviser le texte" },
    by = "secretariat",
    from = { "open", "silence_broken" },
    params = {
      text = text { required = true, max = 50000, label = { en = "New text", fr = "Nouveau texte" } },
      note = str { max = 2000, label = { en = "What changed", fr = "Modifications" } },
    },
    run = function(item, p, caller)
      add_version(item, p.text, p.note, caller.username)
    end,
  },

  action "refer_to_meeting" {
    label = { en = "Refer to a meeting", fr = "Renvoyer à une réunion" },
    by = "secretariat",
    from = { "open", "silence_broken" },
    to = "open",
    params = { meeting = meeting_ref { required = true, label = { en = "Meeting", fr = "Réunion" } } },
    run = function(item, p)
      item:set_meeting(p.meeting)
    end,
  },

  action "record_outcome" {
    label = { en = "Record the outcome", fr = "Consigner la décision" },
    by = "chair",                 -- or whoever the forum names while there is no chair
    from = { "open", "silence_broken" },
    to = OUTCOMES,
    notify = "all",
    params = {
      outcome      = enum { "adopted_by_consensus", "adopted_with_reservations", "not_adopted", "deferred",
                            required = true, label = { en = "Outcome", fr = "Résultat" } },
      text         = text { max = 50000, label = { en = "Text as adopted", fr = "Texte adopté" } },
      reservations = list { max = 100, of = object {
                              member = member { required = true },
                              text   = str { required = true, max = 20000 } },
                            label = { en = "Reservations", fr = "Réserves" } },
      present      = list { of = member {}, unique = true, max = 200,
                            label = { en = "Members present", fr = "Membres présents" } },
    },
    run = function(item, p, caller)
      -- A decision of a meeting is taken in it: not before it begins (its number's year is
      -- then the year of the meeting, too).
      local m = item:meeting()
      if m and m.starts_at and dates.diff(now(), m.starts_at) < 0 then
        refuse("the meeting begins on " .. dates.day(m.starts_at) ..
               ": its decisions can be recorded from then on")
      end
      local reservations = p.reservations or {}
      if p.outcome == "adopted_with_reservations" and #reservations == 0 then
        reject("reservations", "adopted_with_reservations needs at least one reservation (member and text)")
      end
      if p.outcome ~= "adopted_with_reservations" and #reservations > 0 then
        reject("reservations", "reservations are recorded only with the outcome adopted_with_reservations")
      end
      local quorum = forum.rules.quorum or 0
      if quorum > 0 and (p.outcome == "adopted_by_consensus" or p.outcome == "adopted_with_reservations") then
        if not p.present or #p.present < quorum then
          reject("present", "a decision needs " .. quorum .. " members present; " ..
                 (p.present and #p.present or 0) .. " are listed in present")
        end
      end
      if p.text then
        add_version(item, p.text, "as adopted", caller.username)
      end
      item.data.reservations = reservations
      item.data.present = p.present
      if p.outcome == "adopted_by_consensus" or p.outcome == "adopted_with_reservations" then
        adopt(item, p.outcome)
      else
        item.data.outcome = p.outcome
      end
      item:go(p.outcome)
    end,
  },

  action "circulate_for_silence" {
    label = { en = "Circulate under silence procedure", fr = "Diffuser en procédure d'approbation tacite" },
    by = "secretariat",
    from = { "open", "silence_broken" },
    to = "under_silence",
    notify = "all",
    params = {
      deadline = time { required = true, after = "now", label = { en = "Silence deadline", fr = "Fin du délai de silence" } },
    },
    run = function(item, p)
      silence.start(item, p.deadline, #item.data.versions)
    end,
  },

  action "break_silence" {
    label = { en = "Break silence", fr = "Rompre le silence" },
    by = "delegate",              -- for the delegate's own state only
    from = "under_silence",
    to = "silence_broken",
    deadline = "silence",
    notify = "all",
    params = {
      reason = str { required = true, max = 20000, label = { en = "Objection", fr = "Objection" } },
    },
    run = function(item, p, caller)
      silence.object(item, { member = caller.member, reason = p.reason, by = caller.username, at = now() })
    end,
  },

  action "record_objection_on_behalf" {
    label = { en = "Record an objection received in writing", fr = "Enregistrer une objection reçue par écrit" },
    by = "secretariat",
    from = "under_silence",
    to = "silence_broken",
    deadline = "silence",
    notify = "all",
    params = {
      member      = member { required = true, label = { en = "State", fr = "État" } },
      reason      = str { required = true, max = 20000, label = { en = "Objection", fr = "Objection" } },
      reference   = str { required = true, max = 200, label = { en = "Reference", fr = "Référence" } },
      received_at = time { required = true, label = { en = "Received at", fr = "Reçue le" } },
    },
    run = function(item, p, caller)
      silence.check_received(item, p.received_at)
      silence.object(item, {
        member = p.member, reason = p.reason, reference = p.reference, received_at = p.received_at,
        on_behalf = true, by = caller.username, at = now(),
      })
    end,
  },

  action "extend_silence" {
    label = { en = "Extend the silence period", fr = "Prolonger le délai de silence" },
    by = { "secretariat", "chair" },
    from = "under_silence",
    params = {
      deadline = time { required = true, after = "now", label = { en = "New deadline", fr = "Nouveau délai" } },
      reason   = str { required = true, max = 2000, label = { en = "Reason", fr = "Motif" } },
    },
    run = function(item, p, caller)
      extensions.extend(item, "silence.deadline", p, caller)
    end,
  },

  -- Fired by the timer when the silence deadline passes unbroken.
  action "adopt_by_silence" {
    label = { en = "Adopted by silence procedure", fr = "Adoptée par procédure d'approbation tacite" },
    by = "engine",
    from = "under_silence",
    to = "adopted_by_silence",
    notify = "all",
    run = function(item)
      adopt(item, "adopted_by_silence")
    end,
  },

  action "withdraw" {
    label = { en = "Withdraw", fr = "Retirer" },
    by = "secretariat",
    from = { "open", "under_silence", "silence_broken", "deferred" },
    to = "withdrawn",
    params = { reason = str { max = 2000, label = { en = "Reason", fr = "Motif" } } },
  },

  timer "silence" { at = "silence.deadline", from = "under_silence", fire = "adopt_by_silence" },

  -- The meeting record: decisions taken in the meeting, and those adopted by silence since
  -- the previous meeting (placed by their adoption time), with the silence round.
  record {
    section = "decisions",
    states = { "adopted_by_silence", "adopted_by_consensus", "adopted_with_reservations", "not_adopted", "deferred" },
    between_meetings = { "adopted_by_silence" },
    fields = {
      number = "number", text = "text", adopted_at = "adopted_at",
      reservations = "reservations", objections = "objections", extensions = "extensions",
    },
    silence = {
      states = { "adopted_by_silence" }, deadline = "silence.deadline", rounds = "silence.round",
      action = "adopt_by_silence",
    },
  },

  history {
    create                     = { en = "{actor} created the decision", fr = "{actor} a créé la décision" },
    revise                     = { en = "{actor} revised the text", fr = "{actor} a révisé le texte" },
    refer_to_meeting           = { en = "{actor} referred the decision to a meeting", fr = "{actor} a renvoyé la décision à une réunion" },
    record_outcome             = { en = "{actor} recorded the outcome: {state}", fr = "{actor} a consigné le résultat : {state}" },
    circulate_for_silence      = { en = "{actor} circulated the text under silence procedure until {deadline}",
                                   fr = "{actor} a diffusé le texte en procédure d'approbation tacite jusqu'au {deadline}" },
    break_silence              = { en = "{member} broke silence: {reason}", fr = "{member} a rompu le silence : {reason}" },
    record_objection_on_behalf = { en = "{actor} recorded an objection from {member} ({reference}): {reason}",
                                   fr = "{actor} a enregistré une objection de {member} ({reference}) : {reason}" },
    extend_silence             = { en = "{actor} extended the silence period to {deadline}: {reason}",
                                   fr = "{actor} a prolongé le délai de silence jusqu'au {deadline} : {reason}" },
    adopt_by_silence           = { en = "Adopted by silence procedure", fr = "Adoptée par procédure d'approbation tacite" },
    withdraw                   = { en = "{actor} withdrew the decision", fr = "{actor} a retiré la décision" },
  },
}
