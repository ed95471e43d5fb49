/* Helpers shared by the parts of Gavel that host Lua (forum, config and workflow loaders). */
#ifndef GV_LHOST_H
#define GV_LHOST_H

#include <jansson.h>
#include <lua.h>

#include "base/error.h"
#include "model/forum.h"

/* The line of the Lua code that called the running C function (0 if unknown). */
int gv_lhost_caller_line(lua_State *L);

/* The first line at or after from_line whose text starts (after blanks) with
 * `key =` or `["key"] =`; from_line if none. Lets errors about a table field point at
 * the field, since Lua tables keep no line numbers. */
int gv_lhost_key_line(const char *src, const char *key, int from_line);

/* Converts the Lua value at idx to JSON: nil → null, booleans, integers, floats,
 * strings, tables with keys 1..n → arrays, tables with string keys → objects (frozen
 * tables are read through). Functions, userdata, mixed or cyclic tables are an error
 * naming the path. Returns a new reference or NULL with err set. */
json_t *gv_lhost_to_json(lua_State *L, int idx, gv_error *err);

/* Pushes a JSON value as a Lua value (objects and arrays become new tables). */
void gv_lhost_push_json(lua_State *L, const json_t *j);

/* The closest of candidates to word (edit distance ≤ 2), or NULL: for "did you mean". */
const char *gv_lhost_suggest(const char *word, const char *const *candidates);

/* Pushes the forum as a Lua table (id, short_name, name, time_zone, languages, members,
 * rules, chair), not yet frozen: the loaders give it to workflow files as `forum`. */
void gv_lhost_push_forum(lua_State *L, const gv_forum *f);

#endif
