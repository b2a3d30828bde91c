/*
 * json_out: the event lines of `lockstep run --json` on standard output.
 *
 * Every event is written, in seq order, however slowly the reader reads,
 * and the run never waits for it: the lines go to an output queue
 * (base/outq.h) and, once the reader is JSON_OUT_LIMIT bytes behind, the
 * queue stops keeping them in memory and its writer thread reads them
 * back from the store when it gets there (the sink only ever sees events
 * that are already committed, durable before visible). Memory stays
 * bounded and nothing is lost. Only events that could not be recorded
 * (the store failed) are kept in memory whatever their size, and an event
 * that cannot be read back is counted and reported at the end.
 */
#ifndef LS_CLI_JSON_OUT_H
#define LS_CLI_JSON_OUT_H

#include <stdint.h>

#include "base/buf.h"
#include "base/outq.h"
#include "events/events.h"

/* Bytes of event lines kept in memory for a slow reader. */
#define JSON_OUT_LIMIT (4u << 20)

struct store;

struct json_out {
	struct outq *q;            /* standard output (borrowed) */
	const struct events *ev;   /* which events are recorded: seq <= last_committed */
	const char *state_dir;     /* borrowed */
	uint64_t run;
	struct store *st;          /* the writer thread's own connection, opened on first use */
	struct buf err;            /* why events could not be read back, for the end */
};

/* Writes the events of run `run` of `state_dir` to `q`; all borrowed. */
void json_out_init(struct json_out *j, struct outq *q, const struct events *ev, const char *state_dir,
		   uint64_t run);
/* After the queue is freed (its thread stopped): closes the connection. */
void json_out_release(struct json_out *j);
/* Event sink: one line per event. */
void json_out_sink(const struct event *ev, void *arg /* struct json_out * */);

#endif
