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
 * Parses a run id: a decimal integer >= 1 without sign or blanks. Returns
 * false for anything else.
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

/* True for the step kinds that write a log (run, http-check, k8s-rolling, k8s-rollback). */
bool report_kind_has_log(const char *kind);

/*
 * The header line `logs` prints before an attempt's output:
 * "==> WORKFLOW/STEP attempt N (rollback): STATUS, exit CODE, DURATION <==".
 */
void report_attempt_header(const struct store_workflow *w, const struct store_step *s,
			   const struct store_attempt *a, FILE *out);

#endif
