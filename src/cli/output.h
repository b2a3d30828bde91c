/*
 * output: what `lockstep run` shows a person. Event sinks for the JSON
 * lines of --json, the plain progress lines (CI logs), step output
 * prefixed with the workflow name, and the summary at the end.
 */
#ifndef LS_CLI_OUTPUT_H
#define LS_CLI_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "base/buf.h"
#include "base/map.h"
#include "engine/events.h"
#include "engine/proc.h"
#include "pipeline/model.h"

/* --json: one event per line on `out`, flushed at once. */
void output_json_sink(const struct event *ev, void *arg /* FILE * */);

struct output {
	FILE *out;                 /* progress and step output */
	bool color;
	const struct plan *plan;
	/* per workflow: partial output line, timings, results */
	struct output_wf *wfs;
	size_t nwfs;
	/* per barrier id, in order of first event */
	struct output_barrier *barriers;
	size_t nbarriers, capbarriers;
	uint64_t start_mono, end_mono;
	uint64_t run;
	char *status;
	struct map index;          /* workflow name -> index into wfs */
};

void output_init(struct output *o, FILE *out, bool color, const struct plan *plan);
void output_release(struct output *o);
/* The plain progress sink: one line per event of interest. */
void output_plain_sink(const struct event *ev, void *arg /* struct output * */);
/* Remembers what the summary needs, printing nothing. */
void output_record_sink(const struct event *ev, void *arg /* struct output * */);
/* Step output, prefixed "[workflow] ", whole lines only (partial lines wait). */
void output_step_output(const char *workflow, const char *step, enum proc_stream s,
			const char *data, size_t len, void *arg /* struct output * */);
/*
 * Splits output `data` into whole lines, keeping an unfinished one in
 * `partial` for the next call; calls `line` for each line (without its
 * newline). A partial line longer than 8 KiB is passed on as it is, so one
 * endless line cannot grow memory.
 */
void output_lines(struct buf *partial, const char *data, size_t len,
		  void (*line)(const char *s, size_t n, void *arg), void *arg);
/* Flushes partial lines and prints the summary to `out`. */
void output_summary(struct output *o, FILE *out);

/*
 * The run's warnings (step.warning: a step log that could not be opened
 * or written), for the end of the summary: they change no result, so the
 * rest of the summary would not show them.
 */
struct output_warnings {
	struct buf lines;          /* one line per warning, each ending in '\n' */
	size_t n;
};
void output_warnings_init(struct output_warnings *w);
void output_warnings_release(struct output_warnings *w);
/* Remembers each step.warning, printing nothing. */
void output_warnings_sink(const struct event *ev, void *arg /* struct output_warnings * */);
/* Prints "warnings:" and a line per warning to `out`; nothing without any. */
void output_warnings_summary(const struct output_warnings *w, FILE *out);

#endif
