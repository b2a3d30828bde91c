/*
 * events: the typed events of a run (SPEC §5), numbered and time-stamped
 * in the order the engine decided them, and fanned out to sinks (the
 * --json line writer, the terminal, later the store and the API).
 *
 * The engine never formats output itself: it emits events, sinks listen.
 */
#ifndef LS_ENGINE_EVENTS_H
#define LS_ENGINE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

enum event_type {
	EV_RUN_STARTED,
	EV_GROUP_STARTED,
	EV_WORKFLOW_STARTED,
	EV_STEP_STARTED,
	EV_STEP_FINISHED,
	EV_BARRIER_ARRIVED,
	EV_BARRIER_PASSED,
	EV_BARRIER_BROKEN,
	EV_WORKFLOW_ROLLBACK,
	EV_WORKFLOW_FINISHED,
	EV_RUN_FINISHED,
	EV_TYPE_COUNT
};

/*
 * One event. Which fields are set depends on the type (SPEC §5); strings
 * are borrowed for the duration of the emit call.
 */
struct event {
	enum event_type type;
	uint64_t seq;              /* set by events_emit: 1, 2, ... */
	int64_t ts_ms;             /* set by events_emit: wall clock, ms since the epoch */
	uint64_t run;              /* set by events_emit */
	uint64_t mono_ms;          /* set by events_emit: monotonic clock, for durations */
	const char *pipeline;      /* run.started */
	size_t group;              /* group.started (0-based) */
	const char *const *workflows; /* group.started */
	size_t nworkflows;
	const char *const *participants; /* barrier.passed */
	size_t nparticipants;
	const char *workflow;      /* workflow.*, step.*, barrier.arrived */
	const char *step;          /* step.*: the step id */
	int attempt;               /* step.started: 1, 2, ... */
	const char *status;        /* step.finished, workflow.finished, run.finished */
	bool has_exit_code;        /* step.finished: exit_code is a number, else null */
	int exit_code;
	uint64_t duration_ms;      /* step.finished */
	const char *barrier;       /* barrier.* */
	const char *reason;        /* barrier.broken, workflow.rollback, workflow.finished (or NULL) */
	const char *origin;        /* barrier.broken: workflow or NULL */
	bool rollback;             /* step.*: the step is in the rollback list (extension field) */
};

struct event_sink {
	void (*emit)(const struct event *ev, void *arg);
	void *arg;
};

#define EVENTS_MAX_SINKS 8

struct events {
	struct event_sink sinks[EVENTS_MAX_SINKS];
	size_t nsinks;
	uint64_t seq;
	uint64_t run;
};

void events_init(struct events *e, uint64_t run);
/* Adds a sink; sinks are called in the order they were added. */
void events_add_sink(struct events *e, void (*emit)(const struct event *ev, void *arg), void *arg);
/* Numbers and time-stamps `ev`, then hands it to every sink. */
void events_emit(struct events *e, struct event *ev);
/* "run.started", "step.finished", ... */
const char *event_type_name(enum event_type t);
/* Appends `ev` as one JSON object (no newline), fields in SPEC §5 order. */
void event_to_json(const struct event *ev, struct buf *out);
/* Formats `ms` since the epoch as RFC 3339 UTC with milliseconds. */
void events_format_ts(int64_t ms, char out[64]);

#endif
