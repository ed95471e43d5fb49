/* Scenario tests for workflows: a fresh database per scenario, demo users, and a virtual clock. */
#ifndef GV_SCENARIO_H
#define GV_SCENARIO_H

typedef struct gv_scenario_opts {
  const char *workflows_dir;  /* the workflows under test (copied per scenario) */
  const char *forum_file;     /* the forum definition */
  const char *filter;         /* run only scenarios whose name contains this (NULL: all) */
  int verbose;
} gv_scenario_opts;

/* Runs every scenario in the file at path, printing one line per scenario. Adds to
 * *passed and *failed. Returns 0, or -1 if the file itself could not be loaded
 * (counted as one failure). */
int gv_scenario_run_file(const char *path, const gv_scenario_opts *o, int *passed, int *failed);

#endif
