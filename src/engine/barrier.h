/*
 * barrier: the barrier coordinator of a run (docs/pipeline-format.md#barrier-semantics,
 * rules B1-B10).
 *
 * Pure logic over (participants, arrivals, failures, withdrawals, clock):
 * no I/O, no timers, no clock reads. The engine tells it what happened and
 * when (`now`, in milliseconds on any monotonic clock); it decides, once
 * per barrier, whether the barrier passes or breaks, and reports each
 * decision through the `decided` callback, in the order it took them.
 * Every decision is final. All tables are allocated by coord_init; the
 * only later allocations are the reason and message texts of a broken
 * barrier, built when it breaks and freed by coord_release.
 *
 *                 arrive (not all)                 all arrived / the rest withdrew
 *   OPEN ──────────────────────────────► OPEN ────────────────────────────► PASSED
 *     │                                    │
 *     │ a pending party fails or aborts;   │ timeout since the first arrival;
 *     │ run aborted; deadlock              │ deadlock; party fails; run aborted
 *     └────────────────────────────────────┴──────────────────────────────► BROKEN
 *
 * Participants (B1, B9): the workflow instances that use the barrier, fixed
 * at coord_init. Each is PENDING, ARRIVED or WITHDRAWN; a party only ever
 * leaves PENDING, and only while the barrier is OPEN, except that a late
 * arrival at a BROKEN barrier is recorded as ARRIVED. A barrier passes
 * when no participant is PENDING any more (B5). Normally at least one
 * ARRIVED; when every participant withdrew (no workflow rolls back, B9),
 * it passes too, with nobody waiting, so that every barrier of a run ends
 * with exactly one recorded decision. It breaks when a PENDING participant
 * fails (B6), `timeout_ms` after its first arrival (B7), when its waiting
 * participants wait for each other (B8), or when the run is aborted (B10).
 *
 * Step barriers and rollback barriers are independent: failing or
 * withdrawing from one kind never touches barriers of the other kind.
 *
 * Deadlock (B8): after every operation that can create one (an arrival, a
 * withdrawal) the coordinator looks for a set of waiting workflows whose
 * missing parties all wait inside that same set; their barriers break at
 * once with one shared reason. Detection is linear in the number of
 * participants, and an arrival whose barrier still misses a workflow that
 * is not waiting anywhere costs only the arriving workflow's barriers.
 */
#ifndef LS_ENGINE_BARRIER_H
#define LS_ENGINE_BARRIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "pipeline/model.h"

enum barrier_state { BARRIER_OPEN, BARRIER_PASSED, BARRIER_BROKEN };
enum party_state { PARTY_PENDING, PARTY_ARRIVED, PARTY_WITHDRAWN };

struct barrier {
	const struct plan_barrier *plan; /* id, title, timeout, rollback flag */
	size_t *parties;                 /* distinct workflow indexes, ascending (plan order) */
	enum party_state *party;         /* state of parties[i] */
	size_t nparties;
	size_t npending;                 /* parties in PARTY_PENDING */
	size_t narrived;                 /* parties in PARTY_ARRIVED */
	size_t nfree;                    /* PENDING parties not waiting at any barrier */
	enum barrier_state state;
	bool armed;                      /* the timeout runs (there was an arrival) */
	uint64_t first_arrival_ms;
	uint64_t deadline_ms;            /* armed: first_arrival_ms + timeout_ms */
	uint64_t decided_ms;
	char *reason;                    /* BROKEN: the cause, e.g. "run aborted" (owned) */
	char *message;                   /* BROKEN: "barrier ID (TITLE) broken: CAUSE" (owned) */
	size_t origin;                   /* BROKEN: the workflow that caused it, or SIZE_MAX */
};

/* What the coordinator decided. Valid during the callback only. */
struct barrier_decision {
	size_t barrier;                  /* index into coord.barriers */
	enum barrier_state state;        /* BARRIER_PASSED or BARRIER_BROKEN */
	/* BROKEN: the cause, as the barrier.broken event's `reason`:
	 *   "workflow frontend-deploy failed at step 'deploy' (exit status 1)"
	 *   "timed out after 10m waiting for frontend-deploy (running step 'deploy')"
	 *   "deadlock: backend-deploy waits at FE for frontend-deploy; frontend-deploy waits at BE for backend-deploy"
	 *   "run aborted"
	 * and the failure reason of the workflows that fail at it:
	 *   "barrier FE (Frontend service deployment done) broken: CAUSE"
	 * ("barrier FE broken: CAUSE" when the barrier has no title).
	 * Both NULL when PASSED. */
	const char *reason;
	const char *message;
	size_t origin;                   /* BROKEN: workflow index, or SIZE_MAX */
	uint64_t now_ms;
	/* The workflows that were waiting at the barrier, ascending: they
	 * continue (PASSED) or fail with `message` (BROKEN). They no longer
	 * wait when the callback runs. A workflow whose own coord_arrive or
	 * coord_fail call takes the decision is never listed: it learns the
	 * outcome from that call. */
	const size_t *waiting;
	size_t nwaiting;
};

struct coord_ops {
	/* A decision was taken; the engine emits the event and resumes or
	 * fails the participants that wait at the barrier. Called from inside
	 * coord_* functions; it must not call back into the coordinator. May
	 * be NULL. */
	void (*decided)(const struct barrier_decision *d, void *arg);
	/* What workflow `wf` is doing, for timeout reasons: appends e.g.
	 * "running step 'deploy'" to `out`, or nothing. May be NULL. */
	void (*activity)(size_t wf, struct buf *out, void *arg);
	void *arg;
};

/* One barrier a workflow takes part in: the inverse of barrier.parties. */
struct coord_member {
	size_t barrier;                  /* index into coord.barriers */
	size_t slot;                     /* index into that barrier's parties */
};

struct coord {
	const struct plan *plan;
	struct barrier *barriers;        /* steps barriers, then rollback barriers */
	size_t nbarriers;
	size_t nstep_barriers;           /* barriers[0..nstep_barriers) are from steps */
	size_t *waiting_at;              /* per workflow: barrier index, or SIZE_MAX */
	size_t nworkflows;
	struct coord_ops ops;
	/* Private. Workflow w's barriers, ascending by barrier index, are
	 * members[member_first[w] .. member_first[w + 1]). */
	struct coord_member *members;
	size_t *member_first;
	size_t arriving;                 /* workflow inside coord_arrive, or SIZE_MAX */
	/* Scratch space sized at coord_init, so deciding never allocates
	 * tables: per barrier (count, order) and per workflow (flag, queue,
	 * list of waiting workflows handed to `decided`). */
	size_t *scratch_count;
	size_t *scratch_order;
	bool *scratch_flag;
	size_t *scratch_queue;
	size_t *scratch_waiting;
};

/* What an arriving workflow does next. */
enum arrive_result {
	ARRIVE_WAIT,    /* wait: a later decision (callback) releases or fails it */
	ARRIVE_PASSED,  /* the barrier passed with this arrival: continue now */
	ARRIVE_BROKEN,  /* the barrier was already broken, or broke now: fail */
};

/*
 * Sets up one OPEN barrier per plan barrier: plan->barriers first, then
 * plan->rollback_barriers. Its parties are the distinct workflows of the
 * plan barrier's uses (a workflow listed twice takes part once), all
 * PENDING. `plan` is borrowed and must outlive the coordinator; `ops` is
 * copied. Out-of-memory aborts.
 */
void coord_init(struct coord *c, const struct plan *plan, const struct coord_ops *ops);
/* Frees everything coord_init and the decisions allocated. */
void coord_release(struct coord *c);

/*
 * Index into c->barriers of plan barrier `plan_index`: of
 * plan->rollback_barriers when `rollback`, else of plan->barriers (as in
 * plan_step.barrier_index).
 */
size_t coord_index(const struct coord *c, size_t plan_index, bool rollback);

/*
 * Workflow `wf` arrives at barrier `b`, which arms the barrier's timeout
 * when it is the first arrival. Returns ARRIVE_PASSED when it was the last
 * missing party; ARRIVE_BROKEN when the barrier had already broken (a late
 * arrival fails on arrival, B6) or when this arrival completed a deadlock
 * (B8); ARRIVE_WAIT otherwise, and `wf` then waits at `b` until a decision
 * lists it in `waiting`. Decisions this causes (the pass, deadlock breaks,
 * including the one of `b`) are reported through `decided` before it
 * returns. For ARRIVE_BROKEN, `*message` (may be NULL) receives the
 * workflow's failure reason ("barrier ID (TITLE) broken: CAUSE"), owned by
 * the coordinator. Arriving at a barrier `wf` is not a pending participant
 * of (not a party, twice, after withdrawing), or while waiting at another
 * one, is a programming error (asserted).
 */
enum arrive_result coord_arrive(struct coord *c, size_t b, size_t wf, uint64_t now,
				const char **message);

/*
 * Workflow `wf` failed (or was aborted) before arriving at its remaining
 * barriers of the given kind (step barriers, or rollback barriers when
 * `rollback`): each OPEN one where it is PENDING breaks, in index order,
 * with origin `wf` and the cause "workflow WF WHY", e.g. WHY = "failed at
 * step 'deploy' (exit status 1)" or "was aborted". If it was waiting at an
 * OPEN barrier of that kind, it stops waiting there first (the engine
 * fails it itself, so it is not listed in `waiting`) and that barrier
 * breaks too, since it will never continue. Barriers it already passed,
 * and barriers of the other kind, are untouched. `why` is borrowed.
 */
void coord_fail(struct coord *c, size_t wf, bool rollback, const char *why, uint64_t now);

/*
 * Workflow `wf` will never arrive at its remaining barriers of that kind
 * (its failure is ignored, it was skipped, or it ends without rolling
 * back): it withdraws from every OPEN one where it is PENDING, and those
 * with no PENDING party left pass without it (B6, B9), in index order. An
 * arrival it already made stands: if it waits at a barrier, it still does.
 */
void coord_withdraw(struct coord *c, size_t wf, bool rollback, uint64_t now);

/*
 * Breaks every armed OPEN barrier whose deadline is <= now (B7), in
 * deadline order, ties in index order. The reason names every PENDING
 * participant with its activity.
 */
void coord_tick(struct coord *c, uint64_t now);
/* The earliest deadline of an armed OPEN barrier, or UINT64_MAX. */
uint64_t coord_next_deadline(const struct coord *c);

/* Breaks every OPEN barrier, of both kinds, with reason "run aborted" (B10), in index order. */
void coord_abort(struct coord *c, uint64_t now);
/*
 * Breaks the OPEN step barriers only, with "run aborted": after an abort
 * the rollbacks still run (B10), and rollback barriers keep ordering them.
 */
void coord_abort_steps(struct coord *c, uint64_t now);

/* ---- restoring a recorded state (lockstep resume) ----
 *
 * A resumed run rebuilds its coordinator from the recorded events before
 * anything new happens: arrivals, decisions and who waits where. None of
 * these calls decides anything or calls `decided`: the decisions they
 * restore were reported when they were taken. Afterwards the engine
 * withdraws the workflows that will never arrive (coord_withdraw), as it
 * did when the run was alive.
 */

/* Workflow `wf`, a PENDING party of `b`, arrived at `at` (arms the timeout). */
void coord_restore_arrival(struct coord *c, size_t b, size_t wf, uint64_t at);
/*
 * Barrier `b`, OPEN, was decided at `at`: PASSED, or BROKEN with `cause`
 * (borrowed) and `origin` (workflow index or SIZE_MAX).
 */
void coord_restore_decision(struct coord *c, size_t b, enum barrier_state to, const char *cause,
			    size_t origin, uint64_t at);
/* Workflow `wf` waits at `b`, where it arrived and which is OPEN. */
void coord_restore_waiting(struct coord *c, size_t wf, size_t b);
/*
 * Decides, now and through `decided`, what the restored state already
 * implies but the record did not get to: an OPEN barrier that nobody is
 * pending at any more passes (its last arrival was recorded, its pass
 * was not).
 */
void coord_restore_settle(struct coord *c, uint64_t now);

/*
 * Checks the invariants (for tests): aborts with a message when one does
 * not hold. Linear in the size of the plan, so tests may call it after
 * every operation.
 */
void coord_assert_valid(const struct coord *c);

#endif
