-- Draft circulation: the secretariat posts a text and circulates it with a comment
-- deadline; delegates comment per paragraph and propose amendments; the secretariat
-- issues revision N+1 saying which amendments it took; a final version is locked.
-- Every comment and amendment is pinned to the version it was made on.

-- Number of paragraphs (separated by blank lines) of a text, or of its longest language.
local function paragraphs(text)
  local function count(s)
    local n = 0
    for _, part in ipairs(s:split("\n\n")) do
      if part:trim() ~= "" then n = n + 1 end
    end
    return n
  end
  if type(text) == "string" then return count(text) end
  local most = 0
  for _, s in pairs(text) do most = math.max(most, count(s)) end
  return most
end

-- Checks that a comment or amendment names the current version and an existing paragraph.
local function check_pin(item, p)
  local current = item.data.version
  if p.version ~= current then
    reject("version", "comments and amendments are made on the version being circulated, " .. current ..
           "; version " .. p.version .. (p.version < current and " has been superseded" or " does not exist"))
  end
  local n = paragraphs(item.data.versions[current].text)
  if p.paragraph > n then
    reject("paragraph", "version " .. current .. " has " .. n .. " paragraphs")
  end
end

local function append(item, field, entry)
  local list = item.data[field] or {}
  entry.id = #list + 1
  list[#list + 1] = entry
  item.data[field] = list
end

workflow "draft" {
  title = { en = "Draft", fr = "Projet de texte" },
  states = { "editing", "circulating", "final" },
  labels = {
    editing     = { en = "Being edited", fr = "En cours de rédaction" },
    circulating = { en = "Circulating for comments", fr = "Diffusé pour observations" },
    final       = { en = "Final", fr = "Définitif" },
  },

  create {
    label = { en = "Post a draft", fr = "Publier un projet" },
    by = "secretariat",
    params = {
      text = text { required = true, max = 100000, label = { en = "Text", fr = "Texte" } },
    },
    to = "editing",
    run = function(item, p, caller)
      item.data.versions = { { version = 1, text = p.text, by = caller.username, at = now() } }
      item.data.version = 1
      item.data.text = nil
    end,
  },

  action "circulate" {
    label = { en = "Circulate for comments", fr = "Diffuser pour observations" },
    by = "secretariat",
    from = "editing",
    to = "circulating",
    notify = "all",
    params = {
      comment_deadline = time { required = true, after = "now", label = { en = "Comments until", fr = "Observations jusqu'au" } },
    },
    run = function(item, p)
      item.data.comment_deadline = p.comment_deadline
      item.data.circulated_version = item.data.version
    end,
  },

  action "comment" {
    label = { en = "Comment on a paragraph", fr = "Commenter un paragraphe" },
    by = { "delegate", "secretariat", "chair" },
    from = "circulating",
    deadline = "comments",
    params = {
      version   = integer { required = true, min = 1, label = { en = "Version", fr = "Version" } },
      paragraph = integer { required = true, min = 1, label = { en = "Paragraph", fr = "Paragraphe" } },
      text      = str { required = true, max = 20000, label = { en = "Comment", fr = "Observation" } },
    },
    run = function(item, p, caller)
      check_pin(item, p)
      append(item, "comments", {
        version = p.version, paragraph = p.paragraph, text = p.text,
        member = caller.member, by = caller.username, at = now(),
      })
    end,
  },

  action "propose_amendment" {
    label = { en = "Propose an amendment", fr = "Proposer un amendement" },
    by = "delegate",
    from = "circulating",
    deadline = "comments",
    params = {
      version   = integer { required = true, min = 1, label = { en = "Version", fr = "Version" } },
      paragraph = integer { required = true, min = 1, label = { en = "Paragraph", fr = "Paragraphe" } },
      text      = str { required = true, max = 20000, label = { en = "New text", fr = "Nouveau texte" } },
      rationale = str { max = 20000, label = { en = "Rationale", fr = "Justification" } },
    },
    run = function(item, p, caller)
      check_pin(item, p)
      append(item, "amendments", {
        version = p.version, paragraph = p.paragraph, text = p.text, rationale = p.rationale,
        member = caller.member, by = caller.username, at = now(), status = "proposed",
      })
    end,
  },

  action "revise" {
    label = { en = "Issue a revision", fr = "Publier une révision" },
    by = "secretariat",
    from = { "editing", "circulating" },
    to = "editing",
    params = {
      text = text { required = true, max = 100000, label = { en = "Revised text", fr = "Texte révisé" } },
      note = str { max = 5000, label = { en = "Note", fr = "Note" } },
      adopted_amendments = list { of = integer { min = 1 }, max = 1000,
                                  label = { en = "Amendments taken", fr = "Amendements retenus" } },
    },
    run = function(item, p, caller)
      local current = item.data.version
      local amendments = item.data.amendments or {}
      local taken = {}
      for _, id in ipairs(p.adopted_amendments or {}) do
        local a = amendments[id]
        if not a then
          reject("adopted_amendments", "there is no amendment " .. id)
        end
        if a.version ~= current then
          reject("adopted_amendments", "amendment " .. id .. " was made on version " .. a.version ..
                 ", not on the current version " .. current)
        end
        taken[id] = true
      end
      for id, a in ipairs(amendments) do
        if a.version == current and a.status == "proposed" then
          a.status = taken[id] and "adopted" or "not_adopted"
          a.decided_in = current + 1
        end
      end
      item.data.amendments = amendments
      local versions = item.data.versions
      versions[current + 1] = {
        version = current + 1, text = p.text, note = p.note, by = caller.username, at = now(),
        adopted_amendments = p.adopted_amendments or {},
      }
      item.data.versions = versions
      item.data.version = current + 1
      item.data.comment_deadline = nil
    end,
  },

  action "finalize" {
    label = { en = "Lock the final version", fr = "Arrêter la version définitive" },
    by = "secretariat",
    from = { "editing", "circulating" },
    to = "final",
    notify = "all",
    run = function(item)
      item.data.final_version = item.data.version
      item.data.comment_deadline = nil
    end,
  },

  -- When the comment period ends the draft goes back to the secretariat.
  action "close_comments" {
    label = { en = "Comment period ended", fr = "Fin de la période d'observations" },
    by = "engine",
    from = "circulating",
    to = "editing",
  },

  timer "comments" { at = "comment_deadline", from = "circulating", fire = "close_comments" },

  history {
    create            = { en = "{actor} created the draft", fr = "{actor} a créé le projet" },
    circulate         = { en = "{actor} circulated the draft for comments until {comment_deadline}",
                          fr = "{actor} a diffusé le projet pour observations jusqu'au {comment_deadline}" },
    comment           = { en = "{actor} commented on paragraph {paragraph} of version {version}",
                          fr = "{actor} a commenté le paragraphe {paragraph} de la version {version}" },
    propose_amendment = { en = "{member} proposed an amendment to paragraph {paragraph} of version {version}",
                          fr = "{member} a proposé un amendement au paragraphe {paragraph} de la version {version}" },
    revise            = { en = "{actor} issued a revision", fr = "{actor} a publié une révision" },
    finalize          = { en = "{actor} locked the final version", fr = "{actor} a arrêté la version définitive" },
    close_comments    = { en = "The comment period ended", fr = "La période d'observations a pris fin" },
  },
}
