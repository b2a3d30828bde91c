/*
 * logpath: where a run keeps the output of its steps, as docs/cli.md
 * (state directory) describes it:
 *
 *   STATE/logs/RUN/WORKFLOW/STEP.ATTEMPT.log
 *   └── run log directory ─┘
 *
 * WORKFLOW is the instance name made one path component
 * (base/logname.h's log_component); STEP is the step id, unique across a
 * workflow's steps and rollback steps. The engine writes there, the
 * Kubernetes steps keep their records beside the log (STEP.ATTEMPT.SUFFIX),
 * and `logs` reads there: all of them build the names here, so that they
 * cannot disagree.
 */
#ifndef LS_EVENTS_LOGPATH_H
#define LS_EVENTS_LOGPATH_H

#include <stdint.h>

#include "base/buf.h"

/* The suffix of an attempt's log file. */
#define LOGPATH_LOG ".log"

/* Appends the log directory of run `run`: STATE/logs/RUN. */
void logpath_run_dir(const char *state_dir, uint64_t run, struct buf *out);
/*
 * Appends the directory of run `run`'s supervisor, STATE/supervise/RUN,
 * made absolute (exec/supervise.h).
 */
void logpath_supervise_dir(const char *state_dir, uint64_t run, struct buf *out);
/*
 * Appends the directory of workflow instance `workflow`'s files under the
 * run's log directory `run_dir`: RUN_DIR/WORKFLOW.
 */
void logpath_workflow_dir(const char *run_dir, const char *workflow, struct buf *out);
/*
 * Appends the file of attempt `attempt` of step `step` that ends in
 * `suffix` (LOGPATH_LOG, ".k8s.json", ...): RUN_DIR/WORKFLOW/STEP.ATTEMPT.SUFFIX.
 */
void logpath_attempt_file(const char *run_dir, const char *workflow, const char *step, int attempt,
			  const char *suffix, struct buf *out);
/* Appends an attempt's log file: RUN_DIR/WORKFLOW/STEP.ATTEMPT.log. */
void logpath_attempt(const char *run_dir, const char *workflow, const char *step, int attempt,
		     struct buf *out);

#endif
