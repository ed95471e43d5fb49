/* Account roles: names, parsing and the chair rule. */
#include "model/role.h"
#include "model/forum.h"

#include <string.h>

static const char *const names[] = {
    [GV_ROLE_NONE] = "anonymous",       [GV_ROLE_SECRETARIAT] = "secretariat", [GV_ROLE_CHAIR] = "chair",
    [GV_ROLE_DELEGATE] = "delegate",    [GV_ROLE_OBSERVER] = "observer",       [GV_ROLE_ENGINE] = "engine"};

gv_role gv_role_parse(const char *name) {
  if (name == NULL) return GV_ROLE_NONE;
  for (int r = GV_ROLE_SECRETARIAT; r <= GV_ROLE_ENGINE; r++)
    if (strcmp(names[r], name) == 0) return (gv_role)r;
  return GV_ROLE_NONE;
}

const char *gv_role_name(gv_role role) {
  return (unsigned)role < sizeof names / sizeof names[0] ? names[role] : names[GV_ROLE_NONE];
}

int gv_role_is_account(gv_role role) {
  return role == GV_ROLE_SECRETARIAT || role == GV_ROLE_CHAIR || role == GV_ROLE_DELEGATE || role == GV_ROLE_OBSERVER;
}

int gv_role_holds_chair(const gv_forum *f, gv_role role) {
  if (role == GV_ROLE_CHAIR) return 1;
  return !f->chair_appointed && role != GV_ROLE_NONE && role == gv_role_parse(f->chair_acting);
}
