/*
 * report: what `lockstep runs`, `show` and `logs` print, made from the
 * store's records (text for people, JSON for tools). The commands in cli/
 * only parse their options and call these.
 */
#ifndef LS_STORE_REPORT_H
#define LS_STORE_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/buf.h"
#include "store/store.h"

/*
 * Parses a run id: a decimal integer from 1 to STORE_RUN_ID_MAX, in
 * digits only (base/num.h). Returns false for anything else.
 */
bool report_parse_run_id(const char *s, uint64_t *id);

/* `runs`: a table (id, pipeline, status, started, duration), newest first. */
void report_runs_text(const struct store_run_list *l, FILE *out);
/* `runs --json`: one JSON array of runs. */
void report_runs_json(const struct store_run_list *l, FILE *out);

/* `show`: the run, its workflows and steps, barriers, failure chain. */
void report_run_text(const struct store_run *r, FILE *out);
/*
 * `show --json`: one JSON document with the same facts as the run's
 * events, and the events themselves (loaded with STORE_LOAD_EVENTS).
 */
void report_run_json(const struct store_run *r, FILE *out);

/*
 * `logs`: the logs of run `r`'s step attempts in the order they started,
 * each after a header line, read from STATE/logs. `select` is NULL (all),
 * WORKFLOW or WORKFLOW/STEP (step id). Returns 0; STORE_ENOTFOUND with a
 * message in `err` when `select` names no workflow or step of the run.
 */
int report_logs(const struct store_run *r, const char *state_dir, const char *select, FILE *out,
		struct buf *err);

/*
 * Resolves a `logs` selection: NULL (everything; *wf and *step NULL), a
 * workflow instance name (they may hold '/'), else WORKFLOW/STEP split at
 * the last '/'. Returns 0, or STORE_ENOTFOUND with a message (and a "did
 * you mean") in `err` when it names nothing of the run.
 */
int report_select(const struct store_run *r, const char *select, const struct store_workflow **wf,
		  const struct store_step **step, struct buf *err);

/* One step attempt, as `logs` lists them; pointers into the run. */
struct report_attempt {
	const struct store_workflow *wf;
	const struct store_step *step;
	const struct store_attempt *att;
};
/*
 * The attempts `logs` prints for a selection (report_select's `wf` and
 * `step`; NULL: all), in the order they started (the seq of their
 * step.started; workflow, step and attempt break ties). Without a step,
 * only the kinds that write a log. Returns how many; *out is the caller's
 * to free (NULL when there are none).
 */
size_t report_attempts(const struct store_run *r, const struct store_workflow *wf,
		       const struct store_step *step, struct report_attempt **out);
/*
 * What `logs` prints after an attempt's log: a newline if the log did not
 * end with one (`last`: its last byte, -1 when empty), or why there is no
 * log (`found`: the file at `path` existed).
 */
void report_attempt_footer(const struct report_attempt *x, bool found, int last, const char *path,
			   FILE *out);

/*
 * True for the step kinds that write a log, `kind` spelled as in pipeline
 * files (the engine's step_kind_writes_log).
 */
bool report_kind_has_log(const char *kind);

/*
 * The header line `logs` prints before an attempt's output:
 * "==> WORKFLOW/STEP attempt N (rollback): STATUS, exit CODE, DURATION <==".
 */
void report_attempt_header(const struct store_workflow *w, const struct store_step *s,
			   const struct store_attempt *a, FILE *out);

#endif
