/* Account roles: the one list of them, and the rule of who holds the chair's powers. */
#ifndef GV_ROLE_H
#define GV_ROLE_H

struct gv_forum;

/* What an account (or the engine itself) is. The names are the API's and the database's. */
typedef enum gv_role {
  GV_ROLE_NONE = 0,      /* no account: an anonymous caller, or an unknown name */
  GV_ROLE_SECRETARIAT,
  GV_ROLE_CHAIR,
  GV_ROLE_DELEGATE,
  GV_ROLE_OBSERVER,
  GV_ROLE_ENGINE         /* the engine itself (timers); never an account's */
} gv_role;

/* The role named name ("secretariat", ...), or GV_ROLE_NONE for NULL or an unknown name. */
gv_role gv_role_parse(const char *name);
/* The name of role ("secretariat", ...); "anonymous" for GV_ROLE_NONE. Static storage. */
const char *gv_role_name(gv_role role);
/* Whether an account may hold role (secretariat, chair, delegate, observer). */
int gv_role_is_account(gv_role role);

/* The chair rule, written once: the chair's powers belong to the chair, or, while no chair
 * is appointed, to the role the forum's configuration names as acting for the chair. */
int gv_role_holds_chair(const struct gv_forum *f, gv_role role);

#endif
