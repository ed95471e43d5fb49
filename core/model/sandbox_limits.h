/* Limits on workflow code (memory, instructions, time), shared by the parts that configure them. */
#ifndef GV_LIMITS_H
#define GV_LIMITS_H

#include <stddef.h>
#include <stdint.h>

typedef struct gv_sandbox_limits {
  size_t memory_bytes;    /* cap on everything the state allocates; default 64 MiB */
  uint64_t instructions;  /* per gv_sandbox_call; default 20 million */
  uint32_t milliseconds;  /* wall time per gv_sandbox_call, 0 for none; default 2000. It
                           * stops loops of costly C calls (a 1 MB concatenation or a sort
                           * per instruction) that the instruction count alone lets run for
                           * hours; it is reported as an instruction limit. */
} gv_sandbox_limits;

/* Bytes of source accepted per file. */
#define GV_SANDBOX_MAX_SOURCE (1 << 20)

/* Fills l with the defaults above. */
void gv_sandbox_limits_default(gv_sandbox_limits *l);

#endif
