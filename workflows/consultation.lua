-- Position gathering: a question put to the member states, each answering for itself.
--
-- The secretariat opens a consultation with a question, a deadline and the stances a
-- state may take. Each state's delegates submit (and may revise until close) their
-- state's position with a written statement; the latest one counts and the history is
-- kept. With visibility = "hidden_until_close" a stance is seen only by its own state,
-- the secretariat and the chair until the consultation closes. It closes at the
-- deadline, or early when every state answered if close_when_all_answered is set.

local extensions = use "extensions"
local drafts = use "drafts"

local DEFAULT_STANCES = { "support", "support_with_reservations", "oppose", "abstain" }

-- Closes early when asked to and nobody is left to answer.
local function close_if_complete(item)
  if item:get("close_when_all_answered") and #item:pending_members() == 0 then
    item:go("closed")
  end
end

workflow "consultation" {
  title = { en = "Consultation of member states", fr = "Consultation des États membres" },
  states = { "open", "closed" },
  labels = {
    open   = { en = "Open", fr = "Ouverte" },
    closed = { en = "Closed", fr = "Close" },
  },
  positions = true,
  reservations = { "support_with_reservations" }, -- stances the summary lists as reservations

  create {
    label = { en = "Open a consultation", fr = "Ouvrir une consultation" },
    by = "secretariat",
    params = {
      question   = text { required = true, max = 20000,
                          label = { en = "Question", fr = "Question" } },
      deadline   = time { required = true, after = "now",
                          label = { en = "Deadline", fr = "Date limite" } },
      options    = list { of = str { max = 64 }, min = 2, max = 12,
                          label = { en = "Stances", fr = "Positions possibles" } },
      visibility = enum { "open", "hidden_until_close", default = "open",
                          label = { en = "Results", fr = "Résultats" } },
      close_when_all_answered = boolean { default = false,
                          label = { en = "Close when every state answered", fr = "Clore quand tous les États ont répondu" } },
      draft      = object {
                     item    = item_ref { required = true, workflow = "draft" },
                     version = integer { required = true, min = 1 },
                     label = { en = "On draft version", fr = "Sur la version du projet" } },
      meeting    = meeting_ref { label = { en = "Meeting", fr = "Réunion" } },
    },
    to = "open",
    notify = "members",
    run = function(item, p)
      item.data.options = p.options or DEFAULT_STANCES
      drafts.check_version(p.draft, "draft.version")
      if p.visibility == "hidden_until_close" then
        item:seal()
      end
    end,
  },

  action "submit_position" {
    label = { en = "Submit our position", fr = "Soumettre notre position" },
    by = "delegate",              -- for the delegate's own state only
    from = "open",
    deadline = "deadline",
    sealed = true,                -- hidden from other states while results are hidden
    params = {
      stance    = enum { from = "options", required = true,
                         label = { en = "Position", fr = "Position" } },
      statement = str { max = 20000,
                        label = { en = "Explanation of position", fr = "Explication de position" } },
    },
    to = { "closed" },
    run = function(item, p, caller)
      item:set_position(caller.member, p.stance, p.statement or "")
      close_if_complete(item)
    end,
  },

  action "record_on_behalf" {
    label = { en = "Record an answer received in writing", fr = "Enregistrer une réponse reçue par écrit" },
    by = "secretariat",
    from = "open",
    deadline = "deadline",
    sealed = true,
    params = {
      member    = member { required = true, label = { en = "State", fr = "État" } },
      stance    = enum { from = "options", required = true, label = { en = "Position", fr = "Position" } },
      statement = str { max = 20000, label = { en = "Explanation of position", fr = "Explication de position" } },
      reference = str { required = true, max = 200,
                        label = { en = "Reference of the letter or note verbale", fr = "Référence de la lettre ou note verbale" } },
    },
    to = { "closed" },
    run = function(item, p)
      item:set_position(p.member, p.stance, p.statement or "", { reference = p.reference })
      close_if_complete(item)
    end,
  },

  action "extend_deadline" {
    label = { en = "Extend the deadline", fr = "Prolonger le délai" },
    by = { "secretariat", "chair" },
    from = "open",
    params = {
      deadline = time { required = true, after = "now", label = { en = "New deadline", fr = "Nouveau délai" } },
      reason   = str { required = true, max = 2000, label = { en = "Reason", fr = "Motif" } },
    },
    run = function(item, p, caller)
      extensions.extend(item, "deadline", p, caller)
    end,
  },

  action "close" {
    label = { en = "Close the consultation", fr = "Clore la consultation" },
    by = { "secretariat", "chair" },
    from = "open",
    to = "closed",
    params = {
      reason = str { max = 2000, label = { en = "Reason", fr = "Motif" } },
    },
  },

  -- Closes itself at the deadline; the states that have not answered are reminded.
  timer "deadline" { at = "deadline", from = "open", fire = "close" },
  remind { timer = "deadline", before = forum.rules.reminders, to = "states_not_answered" },

  on_enter "closed" {
    run = function(item)
      item:unseal()               -- hidden results become visible to all at close
      item.data.closed_at = now()
    end,
  },

  -- The meeting record lists the consultations of the meeting with each state's position.
  record { section = "consultations", fields = { question = "question" } },

  history {
    create           = { en = "{actor} opened the consultation", fr = "{actor} a ouvert la consultation" },
    submit_position  = { en = "{member} submitted its position", fr = "{member} a soumis sa position" },
    record_on_behalf = { en = "{actor} recorded the position of {member} received in writing ({reference})",
                         fr = "{actor} a enregistré la position de {member} reçue par écrit ({reference})" },
    extend_deadline  = { en = "{actor} extended the deadline to {deadline}: {reason}",
                         fr = "{actor} a prolongé le délai jusqu'au {deadline} : {reason}" },
    close            = { en = "The consultation was closed", fr = "La consultation a été close" },
  },
}
