/*
 * logs_view: what `lockstep logs` prints of a recorded run
 * (docs/cli.md#lockstep-logs): which attempts a selection names, in the
 * order they started, each after a header line and with its log file
 * (events/logpath.h). Plain `logs` and `logs --follow` (cmd_logs.c) print
 * from the same pieces, off the run's view (cli/recorded.h).
 */
#ifndef LS_CLI_LOGS_VIEW_H
#define LS_CLI_LOGS_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/buf.h"
#include "events/view.h"

/*
 * Resolves a `logs` selection of run `run` (its view `v`): NULL
 * (everything; *wf and *step NULL), a workflow instance name (they may
 * hold '/'), else WORKFLOW/STEP split at the last '/'. Returns 0, or
 * STORE_ENOTFOUND with a message (and a "did you mean") in `err` when it
 * names nothing of the run.
 */
int logs_select(const struct run_view *v, uint64_t run, const char *select, const struct view_workflow **wf,
		const struct view_step **step, struct buf *err);

/* One step attempt, as `logs` lists them; pointers into the view. */
struct logs_attempt {
	const struct view_workflow *wf;
	const struct view_step *step;
	const struct view_attempt *att;
};
/*
 * The attempts `logs` prints for a selection (logs_select's `wf` and
 * `step`; NULL: all), in the order they started (the seq of their
 * step.started; workflow, step and attempt break ties). Without a step,
 * only the kinds that write a log. Returns how many; *out is the caller's
 * to free (NULL when there are none).
 */
size_t logs_attempts(const struct run_view *v, const struct view_workflow *wf, const struct view_step *step,
		     struct logs_attempt **out);
/*
 * The header line `logs` prints before an attempt's output:
 * "==> WORKFLOW/STEP attempt N (rollback): STATUS, exit CODE, DURATION <==".
 */
void logs_attempt_header(const struct logs_attempt *x, FILE *out);
/*
 * What `logs` prints after an attempt's log: a newline if the log did not
 * end with one (`last`: its last byte, -1 when empty), or why there is no
 * log (`found`: the file at `path` existed).
 */
void logs_attempt_footer(const struct logs_attempt *x, bool found, int last, const char *path, FILE *out);
/*
 * `logs`: the logs of the attempts `select` names (see logs_select) of
 * run `run`, each after its header, read from the run's log directory
 * `run_dir` (events/logpath.h). Returns 0; STORE_ENOTFOUND with a
 * message in `err` when `select` names nothing of the run.
 */
int logs_print(const struct run_view *v, uint64_t run, const char *run_dir, const char *select, FILE *out,
	       struct buf *err);
/*
 * True for the step kinds that write a log, `kind` spelled as in pipeline
 * files (the engine's step_kind_writes_log).
 */
bool logs_kind_has_log(const char *kind);

#endif
