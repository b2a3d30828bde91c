/*
 * supervise: a run's supervisor (exec_supervise.c) and the engine's side
 * of it, the supervised executor (exec_client.c). See exec/exec.h and
 * docs/design.md, "Executors and the supervisor".
 */
#ifndef LS_EXEC_SUPERVISE_H
#define LS_EXEC_SUPERVISE_H

#include <stdbool.h>
#include <uv.h>

#include "base/buf.h"
#include "pipeline/model.h"

/* The descriptor on which a new supervisor finds the engine that started it. */
#define SUPERVISE_FD 3

/* How long an engine waits for a supervisor to answer (attach) or to exit (close). */
#define SUPERVISE_WAIT_MS 5000

/* The hidden command `lockstep __supervise DIR`. Returns the exit status. */
int supervise_main(int argc, char **argv);

/*
 * Starts the supervisor of a new run in `dir` (STATE/supervise/RUN,
 * made 0700 if missing), `self_exe __supervise DIR` (NULL: this
 * process's executable), its logs masked by the values of `secrets`
 * (may be NULL). Returns the executor, or NULL with a message in `err`.
 */
struct executor *exec_supervised_start(uv_loop_t *loop, const char *dir, const char *self_exe,
				       const struct kvlist *secrets, struct buf *err);
/* True when run directory `dir` has a live supervisor that answers. */
bool supervise_alive(const char *dir);
/*
 * Takes over the processes of a run whose engine died: reads the
 * journal in `dir`, attaches to its supervisor if it is alive (and says
 * so in `*attached`), or else starts a new one. Steps that the journal or
 * the supervisor know can then be adopted (exec_adopt). Returns the
 * executor, or NULL with a message in `err`.
 */
struct executor *exec_supervised_resume(uv_loop_t *loop, const char *dir, const char *self_exe,
					const struct kvlist *secrets, bool *attached, struct buf *err);

#endif
