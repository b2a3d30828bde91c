/*
 * view: what a run's events add up to, folded in one place for every
 * sink: the plain lines and the live board of `lockstep run`, its summary,
 * `show` (text and JSON), `logs` (which attempts, their headers), and
 * later the server.
 *
 * A view starts from a skeleton: the workflows with their steps (ids,
 * names, kinds) and the barriers with their titles, timeouts and
 * participants, so that what never started is listed too. At run time
 * the skeleton is the plan (view_new_plan); at show time it is the
 * snapshot of the plan the store kept, which the command adds with
 * view_add_workflow, view_add_step, view_add_barrier and
 * view_add_participant. Then the view is fed the run's events in seq
 * order:
 *
 *   skeleton ──► view_apply(run.started) ... view_apply(run.finished)
 *                   │
 *                   └─► workflows (status, reasons, times, where each is),
 *                       steps and their attempts (VIEW_DETAIL), barriers
 *                       (arrivals, decision, reason, origin), warnings,
 *                       the failure chain (view_failure_chain)
 *
 * Statuses follow the events as docs/events.md tells them: a workflow is
 * pending, then running, rolling-back, then what its last
 * workflow.finished says; a step pending, running, then what its last
 * step.finished says; a barrier pending, waiting (someone arrived),
 * passed or broken.
 *
 * Detail. With VIEW_DETAIL every step keeps its status, exit code,
 * duration and attempts, and every arrival its time: `show` and `logs`
 * need them. Without it a view costs O(workflows + participants) instead
 * of O(steps): a run's own sinks show where each workflow is and what
 * failed, and at 10,000 workflows the difference is megabytes
 * (docs/performance.md).
 *
 * Memory: the skeleton's strings are borrowed (the plan, or the store's
 * run, outlives the view); what events bring is copied, each distinct
 * string once.
 */
#ifndef LS_EVENTS_VIEW_H
#define LS_EVENTS_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/map.h"
#include "events/events.h"
#include "pipeline/model.h"

/* No index: a workflow not waiting, a name not in the skeleton. */
#define VIEW_NONE SIZE_MAX

/* view_new flags */
enum {
	VIEW_DETAIL = 1 << 0,      /* keep every step and attempt, and the time of every arrival */
};

/*
 * A moment: the wall clock (ms since the epoch; 0: it has not happened)
 * and the monotonic clock (0 when unknown: recorded events have none).
 */
struct view_time {
	int64_t wall_ms;
	uint64_t mono_ms;
};

/* One attempt of a step (VIEW_DETAIL). */
struct view_attempt {
	int attempt;               /* 1, 2, ... */
	bool finished;
	bool has_exit_code;
	int exit_code;
	int pid;                   /* its process (and process group); 0 when none was recorded */
	const char *status;        /* running until its step.finished */
	uint64_t duration_ms;      /* once finished */
	int64_t started_ms, finished_ms;
	uint64_t seq;              /* of its step.started: the order `logs` prints attempts in */
};

/* A step of the skeleton and what happened to it (VIEW_DETAIL). */
struct view_step {
	const char *id, *name, *kind; /* borrowed from the skeleton */
	bool rollback;             /* in the rollback list */
	bool has_exit_code;        /* of its last step.finished */
	bool has_duration;
	int exit_code;
	int attempts;              /* the number of the last attempt started; 0: never started */
	const char *status;        /* pending, running, or as its last step.finished says */
	uint64_t duration_ms;      /* of the last attempt that finished */
	int64_t started_ms;        /* its first start (0: never) */
	int64_t finished_ms;       /* the end of its last attempt (0 while one runs) */
	struct view_attempt *att;  /* in the order they started */
	size_t natt, capatt;
};

struct view_workflow {
	const char *name;          /* borrowed from the skeleton */
	const char *status;        /* pending, running, rolling-back, or a final status */
	const char *reason;        /* of its last workflow.finished, or NULL */
	const char *rollback_reason; /* of its workflow.rollback, or NULL */
	struct view_step *steps;   /* VIEW_DETAIL: its steps, then its rollback steps */
	/* Where it is. */
	const char *step;          /* the step started last (its id), or NULL */
	const char *last_done;     /* the last step of its `steps` list that finished */
	/* The step that failed it, if one did: the last of its `steps` list
	 * that did not succeed (an earlier one may have had continue-on-error). */
	const char *failed_step;
	struct view_time started, finished;
	/* Sizes are 32-bit (a plan holds at most 100,000 workflows and
	 * 1,000,000 steps): a view of 10,000 workflows is kept small. */
	uint32_t group;            /* 0-based */
	uint32_t nmain;            /* steps in its `steps` list (rollback steps not counted) */
	uint32_t nsteps, capsteps; /* of `steps` */
	uint32_t steps_done;       /* steps of its `steps` list that have finished */
	uint32_t waiting_at;       /* while `waiting`: the barrier it waits at */
	int failed_exit;
	bool failed_has_exit;
	bool step_rollback;        /* that step is in the rollback list, or it is rolling back */
	bool waiting;              /* at barrier `waiting_at`, until its barrier step ends */
};

/* A participant of a barrier. */
struct view_member {
	uint32_t wf;               /* index into the view's workflows */
	bool arrived;
};

/* When a participant arrived (VIEW_DETAIL). */
struct view_arrival {
	int64_t ms;
	uint64_t seq;
};

struct view_barrier {
	const char *id, *title;    /* borrowed from the skeleton; title NULL when undeclared */
	bool rollback;             /* used in rollback lists */
	uint64_t timeout_ms;
	const char *status;        /* pending, waiting, passed, broken */
	const char *reason;        /* broken: why */
	const char *origin;        /* broken: the workflow that broke it, or NULL */
	struct view_time decided;  /* when it passed or broke */
	uint64_t decided_order;    /* 1, 2, ...: the order barriers were first decided in; 0: not yet */
	struct view_member *members; /* its participants, as the skeleton lists them */
	size_t nmembers, capmembers;
	size_t narrived;
	struct view_arrival *arrivals; /* VIEW_DETAIL: one per member */
	uint32_t *passed_by;       /* barrier.passed: its participants, indexes of workflows */
	size_t npassed;
};

struct run_view {
	unsigned flags;
	uint64_t run;              /* from run.started (0 before it) */
	const char *pipeline;      /* from run.started, or NULL */
	const char *status;        /* of run.finished, or NULL while it runs */
	struct view_time started, finished;
	size_t group;              /* the group started last, 1-based; 0: none yet */
	size_t ngroups;            /* in the skeleton */
	size_t nmain;              /* steps in every workflow's `steps` list */
	uint64_t last_seq;         /* of the last event applied */
	struct view_workflow *wfs;
	size_t nwfs, capwfs;
	struct view_barrier *barriers;
	size_t nbarriers, capbarriers;
	struct event **warnings;   /* its step.warning events, in order (owned copies) */
	size_t nwarnings, capwarnings;
	/* private */
	uint64_t ndecided;
	struct map wf_index, barrier_index, strings;
	const char **stringv;
	size_t nstrings, capstrings;
	struct arena arena;
};

/* An empty view (no skeleton yet); flags: VIEW_DETAIL or 0. Free with view_free. */
struct run_view *view_new(unsigned flags);
/* A view whose skeleton is `plan` (borrowed: it must outlive the view). */
struct run_view *view_new_plan(const struct plan *plan, unsigned flags);
void view_free(struct run_view *v);

/*
 * The skeleton, before the first event; names are borrowed. Workflows
 * and barriers keep the order they are added in (the plan's), steps too
 * (a workflow's steps, then its rollback steps). Adding a name twice
 * returns the first one's index and adds nothing.
 */
size_t view_add_workflow(struct run_view *v, const char *name, size_t group);
void view_add_step(struct run_view *v, size_t wf, const char *id, const char *name, const char *kind,
		   bool rollback);
size_t view_add_barrier(struct run_view *v, const char *id, const char *title, bool rollback,
			uint64_t timeout_ms);
/* Makes workflow `wf` a participant of barrier `b`; once for each (the plan's uses are unique). */
void view_add_participant(struct run_view *v, size_t b, size_t wf);

/*
 * Folds event `ev` (borrowed) into the view; events come in seq order.
 * Events that name a workflow, step or barrier the skeleton does not
 * have change nothing of it. step.process gives an attempt its pid
 * (VIEW_DETAIL): a reader of the store has them from its attempts.
 */
void view_apply(struct run_view *v, const struct event *ev);
/* view_apply as an event sink (events_add_sink): `arg` is the view. */
void view_sink(const struct event *ev, void *arg);

/*
 * The barriers that have been decided (passed or broken), as indexes, in
 * the order they first were. Returns how many; *out is the caller's to
 * free.
 */
size_t view_decided_barriers(const struct run_view *v, size_t **out);
/*
 * Appends the run's warnings, one line each ("  " and then
 * event_warning_text); nothing when there were none. The summary and
 * `show` list them under a "warnings:" line.
 */
void view_warnings_text(const struct run_view *v, struct buf *out);

/* The workflow named `name`, or NULL. */
const struct view_workflow *view_find_workflow(const struct run_view *v, const char *name);
/* Its index, or VIEW_NONE. */
size_t view_workflow_index(const struct run_view *v, const char *name);
/* The step `id` of workflow `w` (VIEW_DETAIL), or NULL. */
const struct view_step *view_find_step(const struct view_workflow *w, const char *id);
/* The barrier `id`, or NULL. */
const struct view_barrier *view_find_barrier(const struct run_view *v, const char *id);
/*
 * Where workflow `w` is, as the board says it: `waiting` while it waits
 * at a barrier, else its status.
 */
const char *view_workflow_state(const struct view_workflow *w);
/*
 * How long from `from` to `to`, in ms: by the monotonic clock when both
 * have it (a run being watched), else by the wall clock; 0 when either
 * has not happened or `to` is earlier.
 */
uint64_t view_elapsed(struct view_time from, struct view_time to);

/*
 * The failure chain: which workflows failed by themselves, which
 * barriers each failure broke, and which workflows failed there.
 *
 * A workflow failed by itself when it ended failed, rolled-back or
 * rollback-failed because a step of its own `steps` list failed: not at
 * a barrier someone else broke (its reason starts with "barrier "), and
 * not by an abort (aborted, or a reason starting with "aborted"), nor
 * because another workflow's failure rolled it back (rollback-all):
 * there the abort, or that failure, is the story.
 */
struct view_broken {
	size_t barrier;            /* a barrier broken by the root's failure */
	size_t *failed;            /* the workflows that failed there, in skeleton order */
	size_t nfailed;
};
struct view_root {
	size_t wf;                 /* a workflow that failed by itself */
	struct view_broken *broken; /* the barriers its failure broke, in the order they broke */
	size_t nbroken;
};
struct view_chain {
	struct view_root *roots;   /* in skeleton order */
	size_t nroots;
	size_t *others;            /* broken barriers that no root broke (an abort, a timeout), in the order they broke */
	size_t nothers;
};
void view_failure_chain(const struct run_view *v, struct view_chain *out);
void view_chain_release(struct view_chain *c);

#endif
