/*
 * events: the typed events of a run (docs/events.md), numbered and time-stamped
 * in the order the engine decided them, and fanned out to sinks (the
 * --json line writer, the run view behind the terminal and the summary,
 * later the API). Their JSON form is events/codec.h; what they add up to,
 * events/view.h.
 *
 * The engine never formats output itself: it emits events, sinks listen.
 *
 * Durable before visible. One sink may be the durable one (the store).
 * When it is set, events_emit() does not hand an event to the other sinks
 * at once: it copies the event into a queue and returns, so the engine
 * never waits for the disk. events_flush(), called by the owner of the
 * loop once per loop iteration, hands the queue to the durable sink in
 * one call (one transaction, one fsync) and only then, when that
 * succeeded, to the other sinks, in seq order:
 *
 *   engine ── events_emit ──► queue ── events_flush ──► durable (commit)
 *                                                   └─► sinks (after the commit)
 *
 * The commit thread. With events_start_committer() the commits run on a
 * thread of their own, so that the loop never waits for the store (a
 * write lock another process holds, a slow fsync) and its timers fire on
 * time. events_flush() then never blocks: it hands the queue to the
 * thread when no commit is in flight, and delivers a batch whose commit
 * has ended. The thread wakes the owner (a callback that must be safe to
 * call from any thread: uv_async_send) each time a commit ends; events
 * emitted while one is in flight go in the next. One batch is in flight
 * at a time, so batches are committed and delivered in seq order.
 * events_finish() waits for the last commit and stops the thread:
 *
 *   loop thread:   emit ─► queue ─ flush ─► in flight ············ flush ─► sinks, next batch
 *   commit thread:                          └─ commit (may wait) ─ wake ─┘
 *
 * Who uses the durable sink's resources (the store's connection): the
 * caller's thread until events_start_committer(), then only the commit
 * thread, then the caller's again once events_finish() has returned.
 *
 * The owner flushes between the engine's callbacks, so what is recorded
 * normally ends where the engine had finished reacting to something. A
 * burst inside one callback (a barrier releasing thousands of workflows)
 * is committed and delivered in batches of EVENTS_FLUSH_BATCH, so that
 * memory stays bounded: then the record may end half-way through a
 * reaction, which `lockstep resume` completes (engine/resume.c).
 *
 * If the durable sink fails, the queue still goes to the other sinks (a
 * person must see what happened), the error is kept, and from then on
 * events go straight to the other sinks: nothing is recorded any more and
 * the owner is told by events_flush()'s return value. Without a durable
 * sink, events_emit() delivers at once, as before.
 *
 * Step output is not an event, but it never overtakes the step.started
 * that announces it: events_output() holds a step's output while that
 * event waits for its commit (see there).
 */
#ifndef LS_EVENTS_EVENTS_H
#define LS_EVENTS_EVENTS_H

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
	/* Extension: `lockstep resume` or `lockstep abort` took the run over
	 * after its owner died; `mode` says which. */
	EV_RUN_RESUMED,
	/* Extension: something went wrong beside a step that does not change
	 * its result (its log could not be opened or written): `workflow`,
	 * `step`, `attempt`, `message`. May come after the step's
	 * step.finished (output of what it left running). */
	EV_STEP_WARNING,
	/*
	 * Internal, never shown and not numbered: a run step's process
	 * started (`pid`, which is also its process group, and `pid_start`).
	 * Only the durable sink gets it, so that a later resume can find
	 * and kill what a dead owner left running.
	 */
	EV_STEP_PROCESS,
	EV_TYPE_COUNT
};

/* Internal events reach the durable sink only (see EV_STEP_PROCESS). */
static inline int event_type_internal(enum event_type t)
{
	return t == EV_STEP_PROCESS;
}

/*
 * One event. Which fields are set depends on the type (docs/events.md); strings
 * are borrowed for the duration of the emit call (events_emit copies what
 * it queues). Sinks get events whose strings live until they return.
 */
struct event {
	enum event_type type;
	int attempt;               /* step.started: 1, 2, ... */
	int exit_code;
	int pid;                   /* step.process: the process (and its group) */
	bool has_exit_code;        /* step.finished: exit_code is a number, else null */
	bool rollback;             /* step.*: the step is in the rollback list (extension field) */
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
	const char *status;        /* step.finished, workflow.finished, run.finished */
	uint64_t duration_ms;      /* step.finished */
	const char *barrier;       /* barrier.* */
	const char *reason;        /* barrier.broken, workflow.rollback, workflow.finished (or NULL) */
	const char *origin;        /* barrier.broken: workflow or NULL */
	const char *mode;          /* run.resumed: "resume" or "abort" */
	const char *message;       /* step.warning */
	uint64_t pid_start;        /* step.process: its start time (base/pidinfo.h) */
};

struct event_sink {
	void (*emit)(const struct event *ev, void *arg);
	void *arg;
};

/*
 * The durable sink: records `n` events (in seq order) in one transaction
 * and returns 0 once they are committed, or a negative code with a
 * message for a person in `err` (nothing of the batch is then recorded).
 */
typedef int (*event_commit_fn)(const struct event *const *evs, size_t n, struct buf *err, void *arg);

#define EVENTS_MAX_SINKS 8
/*
 * Queued events are committed and delivered at most this many at a time
 * ($LOCKSTEP_EVENT_BATCH overrides it, for tests: 1 makes every event
 * its own transaction). A commit inside a burst stops the engine for an
 * fsync, so the batch is big enough for the usual bursts (a failure
 * reaching a few thousand waiting workflows emits two events for each)
 * and small enough to bound memory (about 2 MiB of queued events).
 */
#define EVENTS_FLUSH_BATCH 8192
/*
 * With the commit thread: events queued behind a commit in flight. Past
 * this many, events_emit() waits for that commit (the one case where the
 * loop waits for the store: a burst of a very wide run while a commit is
 * slow), so that memory stays bounded: about 4 MiB with the batch in
 * flight.
 */
#define EVENTS_QUEUE_MAX EVENTS_FLUSH_BATCH

struct committer;
struct held_output;

/* Where events_output() sends step output; `stream` is the caller's (1 stdout, 2 stderr). */
typedef void (*events_output_fn)(const char *workflow, const char *step, int stream, const char *data,
				 size_t len, void *arg);

struct events {
	struct event_sink sinks[EVENTS_MAX_SINKS];
	size_t nsinks;
	uint64_t seq;
	uint64_t run;
	/* the durable sink and the events it has not committed yet (owned copies) */
	event_commit_fn commit;
	void *commit_arg;
	struct event **pending;
	size_t npending, cappending;
	int commit_err;            /* the durable sink's first error; 0 while it works */
	struct buf commit_msg;     /* its message */
	uint64_t last_committed;   /* seq of the last event committed */
	uint64_t pending_seq;      /* seq of the last event queued */
	size_t batch;              /* EVENTS_FLUSH_BATCH, or the override */
	bool delivering;
	/* events_start_committer: the thread, and the batch it has (owned) */
	struct committer *committer;
	struct event **inflight;
	size_t ninflight;
	uint64_t inflight_seq;     /* seq of the last event of the batch in flight */
	/* events_output: where it goes, and what waits for a step.started */
	events_output_fn output;
	void *output_arg;
	struct held_output *held, **held_tail;
	/* events_set_mask: rewrites the free text of events, or NULL */
	char *(*mask)(const char *text, void *arg);
	void *mask_arg;
};

/* Starts the numbering at 1 for run `run`; no sinks. Release with events_release. */
void events_init(struct events *e, uint64_t run);
/*
 * Continues the numbering of a run whose events up to `last_seq` are
 * recorded (resume): the next event is last_seq + 1. Before the first event.
 */
void events_continue(struct events *e, uint64_t last_seq);
/*
 * Frees the queue (events not flushed are dropped), output still held,
 * and the error message; stops the commit thread (waiting for a commit
 * in flight, whose events are dropped too).
 */
void events_release(struct events *e);
/* Adds a sink; sinks are called in the order they were added. */
void events_add_sink(struct events *e, void (*emit)(const struct event *ev, void *arg), void *arg);
/*
 * Makes `commit` the durable sink: from now on events are queued until
 * events_flush() has committed them, and only then reach the other sinks.
 * Set it before the first event.
 */
void events_set_durable(struct events *e, event_commit_fn commit, void *arg);
/*
 * Has every event's free text (`reason`, which may quote what a step
 * printed or answered, and a warning's `message`) rewritten by `mask` before any sink, durable or
 * not, sees it: `mask` returns a heap string, or NULL to keep the text.
 * Set it before the first event it must see. Names (workflows, steps, barriers) are
 * left alone: the pipeline file gives them, and they are keys.
 */
void events_set_mask(struct events *e, char *(*mask)(const char *text, void *arg), void *arg);
/*
 * Numbers and time-stamps `ev`, then hands it to every sink, or, with a
 * durable sink that works, queues a copy for the next events_flush().
 */
void events_emit(struct events *e, struct event *ev);
/*
 * Moves the durable sink's commits onto a thread of their own (see the
 * top of this file); `wake(wake_arg)` is called on that thread each time
 * a commit has ended, and must be safe there (uv_async_send): the owner
 * answers it with events_flush() on its own thread. After
 * events_set_durable, before the first events_flush.
 */
void events_start_committer(struct events *e, void (*wake)(void *arg), void *wake_arg);
/*
 * Commits the queued events to the durable sink, then hands them to the
 * other sinks. Returns 0, or the durable sink's error: the first time it
 * fails (the message is in e->commit_msg) and on every later call, so the
 * owner can react once and keep the run going without the store. Cheap
 * when the queue is empty.
 *
 * With the commit thread it never waits: it delivers the batch whose
 * commit has ended, if any, and hands what is queued to the thread when
 * no commit is in flight. Its value says what the commits that ended so
 * far did.
 */
int events_flush(struct events *e);
/*
 * Commits and delivers everything queued, waiting for the commit thread,
 * and stops it: the end of a run. Returns as events_flush(). Without the
 * thread, events_flush().
 */
int events_finish(struct events *e);
/* Events emitted but not yet handed to the sinks (queued or in flight). */
size_t events_pending(const struct events *e);
/*
 * The seq up to which what depends on the record may go on: the last
 * event committed while the durable sink works; every event emitted when
 * there is none or it failed (nothing will be recorded any more, so
 * nothing waits for it). A step's process starts once its step.started
 * is at or below it (engine: run_committed).
 */
uint64_t events_recorded_seq(const struct events *e);
/* Where events_output() sends step output (borrowed until events_release). */
void events_set_output(struct events *e, events_output_fn output, void *arg);
/*
 * Step output of `workflow`'s step `step`, for the output set with
 * events_set_output(): at once, unless that step's step.started has not
 * reached the sinks yet (it waits for its commit); then a copy waits and
 * goes right after it, in the order output came. Output is not held
 * behind other events: a commit that waits (a locked store) holds back
 * only what a step printed before anyone was told it started.
 */
void events_output(struct events *e, const char *workflow, const char *step, int stream,
		   const char *data, size_t len);
/*
 * A deep copy of `ev` in one allocation (free() it, or event_free): the
 * strings and arrays it points to are copied too.
 */
struct event *event_dup(const struct event *ev);
void event_free(struct event *ev);
/* "run.started", "step.finished", ... */
const char *event_type_name(enum event_type t);
/*
 * Appends step.warning `ev` as one line for a person (no newline):
 * "WORKFLOW: step 'STEP' (attempt N[, rollback]): MESSAGE". The run's
 * summary and `show` print warnings so.
 */
void event_warning_text(const struct event *ev, struct buf *out);

#endif
