/*
 * output: what `lockstep run` shows a person. The plain progress lines
 * (CI logs), an event sink; step output prefixed with the workflow name;
 * and the summary at the end, rendered from the run's view
 * (events/view.h). The --json lines are cli/json_out.h, the live board
 * cli/term.h.
 *
 * Nothing here writes to a descriptor during the run: lines go to an
 * output queue (base/outq.h) whose own thread writes them, so a reader
 * that falls behind never holds up the run's loop. What a slow human
 * reader cannot take is dropped, step output first (OUTPUT_STEP_LIMIT
 * bytes behind) and lockstep's own lines only further behind
 * (OUTPUT_EVENT_LIMIT), with a note saying how many lines and where to
 * read them; the store has everything. (The --json lines are never
 * dropped: cli/json_out.h.)
 */
#ifndef LS_CLI_OUTPUT_H
#define LS_CLI_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "base/buf.h"
#include "base/outq.h"
#include "engine/run.h"
#include "events/events.h"
#include "events/view.h"
#include "pipeline/model.h"

/* How far (bytes not yet written) a reader may fall behind before step
 * output, then lockstep's own lines, are dropped. */
#define OUTPUT_STEP_LIMIT (1u << 20)
#define OUTPUT_EVENT_LIMIT (2u << 20)

struct output {
	struct outq *q;            /* progress and step output */
	const struct plan *plan;   /* how steps are named */
	const struct run_view *view; /* which workflow an event or output is of */
	struct buf *partial;       /* per workflow: its unfinished output line */
};

/*
 * Progress and step output of a run of `plan` go to `q`; `view` is the
 * run's (view_new_plan of the same plan). All borrowed.
 */
void output_init(struct output *o, struct outq *q, const struct plan *plan, const struct run_view *view);
void output_release(struct output *o);
/*
 * Appends how progress lines name step `step` (an id) of workflow
 * instance `wf` (an index into plan->workflows) to `out`: "NAME (ID)"
 * when the step has a `name:` of its own, else "ID", after "rollback "
 * for a step of the rollback list: `Rolling deploy (step-1)`. The id
 * stays, since `logs RUN WORKFLOW/ID` and the events use it.
 */
void output_step_label(const struct plan *plan, size_t wf, const char *step, bool rollback, struct buf *out);
/* The plain progress sink: one line per event of interest. */
void output_plain_sink(const struct event *ev, void *arg /* struct output * */);
/* Step output, prefixed "[workflow] ", whole lines only (partial lines wait). */
void output_step_output(const char *workflow, const char *step, enum run_stream s,
			const char *data, size_t len, void *arg /* struct output * */);
/*
 * Splits output `data` into whole lines, keeping an unfinished one in
 * `partial` for the next call; calls `line` for each line (without its
 * newline). A partial line longer than 8 KiB is passed on as it is, so one
 * endless line cannot grow memory.
 */
void output_lines(struct buf *partial, const char *data, size_t len,
		  void (*line)(const char *s, size_t n, void *arg), void *arg);
/* Queues the partial lines of step output (at the end of the run). */
void output_flush_partial(struct output *o);
/*
 * The ANSI colour of a run, workflow, step or barrier status, by outcome:
 * succeeded and passed green; rolled-back yellow (it failed, and was
 * undone); failed, broken, timed-out and aborted red; rollback-failed
 * bold red; running cyan, waiting blue, rolling-back magenta; anything
 * else (pending, skipped) dim. The board and the summary use it.
 */
const char *output_status_color(const char *status);
/*
 * Prints the summary of the run `v` has seen to `out` (after the queue is
 * drained), in colour with `color`: its status and duration, each
 * workflow, the barriers that were decided, the failure chain, and last
 * the warnings (step.warning: a step log that could not be opened or
 * written), which change no result, so nothing else would show them.
 */
void output_summary(const struct run_view *v, bool color, FILE *out);

#endif
