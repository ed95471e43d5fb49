-- Drafts seen from other workflows: a consultation or decision may name a version of a draft.
local drafts = {}

-- Refuses a { item, version } reference (at parameter field) to a draft version that does not exist.
function drafts.check_version(ref, field)
  if not ref then
    return
  end
  local d = gavel.item(ref.item)
  if not d or not d.data.versions or not d.data.versions[ref.version] then
    reject(field, "draft " .. ref.item .. " has no version " .. ref.version)
  end
end

return drafts
