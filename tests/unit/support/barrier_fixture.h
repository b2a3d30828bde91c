/*
 * barrier_fixture: what the unit tests of engine/barrier.c share.
 *
 *   recorder  copies each decision the coordinator reports, so that tests
 *             assert on it after the operation that caused it;
 *   fx        a coordinator on a plan loaded from YAML, addressed by
 *             workflow and barrier names, with one wrapper per operation
 *             that re-checks the invariants after it;
 *   hand      a plan built by hand: shapes `check` would reject and sizes
 *             too large to write as YAML.
 *
 * Used by test_barrier.c (the documented scenarios), test_barrier_oracle.c
 * (exhaustive interleavings and random runs against oracles) and
 * test_barrier_sizes.c (large plans). The helpers assert with cmocka: call
 * them from inside a cmocka test only. Their short names are the ones the
 * tests were written with; they live in test programs only.
 */
#ifndef LS_TEST_BARRIER_FIXTURE_H
#define LS_TEST_BARRIER_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/xalloc.h"
#include "engine/barrier.h"
#include "pipeline/model.h"

/* "No workflow" and "no barrier", as the coordinator spells them. */
#define NONE SIZE_MAX
/* The `why` of coord_fail most tests use. */
#define WHY_DEPLOY "failed at step 'deploy' (exit status 1)"

/* ---- recording decisions ---- */

/* A copy of one struct barrier_decision, valid after the callback. */
struct rec_decision {
	size_t barrier;
	enum barrier_state state;
	char *reason;            /* owned; NULL when PASSED */
	char *message;           /* owned; NULL when PASSED */
	size_t origin;
	uint64_t now;
	size_t *waiting;         /* owned; nwaiting entries (never NULL) */
	size_t nwaiting;
	size_t op;               /* value of recorder.op when it was decided */
};

/*
 * The decisions of one coordinator, in the order they were taken. Starts
 * zeroed (`{ 0 }`); the recorder owns the copies in `d`.
 */
struct recorder {
	VEC(struct rec_decision) d;
	size_t op;               /* bumped by the test before each operation */
	const char **activity;   /* per workflow, or NULL: appends nothing (borrowed) */
	const struct coord *c;   /* to check the callback sees the new state (borrowed) */
};

/*
 * coord_ops.decided, with a struct recorder * as `arg`: appends a copy of
 * `d` stamped with the recorder's `op`. When `r->c` is set, it also checks
 * that the coordinator is already in its new state: the barrier has the
 * decided state, no released workflow still waits there, and a BROKEN
 * decision's message is the barrier's own.
 */
void decided_cb(const struct barrier_decision *d, void *arg);
/*
 * coord_ops.activity, with a struct recorder * as `arg`: appends
 * `r->activity[wf]` to `out` when both are non-NULL, else nothing.
 */
void activity_cb(size_t wf, struct buf *out, void *arg);
/* Frees the recorded decisions and empties `d`; `op`, `activity` and `c` stay. */
void recorder_release(struct recorder *r);
/* Empties the recorder for a fresh coordinator, as recorder_release does. */
void recorder_clear(struct recorder *r);

/* ---- plans from YAML ---- */

/*
 * A coordinator on a plan loaded from YAML, with its recorder wired in
 * (decided_cb and activity_cb, `r.c` set). fx_start fills it (it need not
 * be initialised), fx_end frees everything it holds; a test may then
 * fx_start the same struct again.
 */
struct fx {
	struct diag d;
	struct pipeline *p;      /* owned */
	struct plan *plan;       /* owned; the coordinator borrows it */
	struct coord c;
	struct recorder r;
};

/*
 * Loads and expands `text` (not checked: some tests need plans `check`
 * rejects, like the swapped deadlock) and starts a coordinator on it.
 * `text` is borrowed. Fails the test, printing the diagnostics, when the
 * text does not load or expand.
 */
void fx_start(struct fx *F, const char *text);
void fx_end(struct fx *F);

/* Index of workflow `name`, or of barrier `id` in F->c.barriers (of the
 * rollback barriers when `rollback`); fails the test when there is none. */
size_t wf_of(const struct fx *F, const char *name);
size_t bar_of(const struct fx *F, const char *id, bool rollback);

/*
 * The coordinator operations by name. Each bumps F->r.op and runs
 * coord_assert_valid afterwards; `msg` as in coord_arrive (may be NULL).
 */
enum arrive_result arrive(struct fx *F, const char *b, bool rollback, const char *wf,
			  uint64_t now, const char **msg);
void fail_wf(struct fx *F, const char *wf, bool rollback, const char *why, uint64_t now);
void withdraw(struct fx *F, const char *wf, bool rollback, uint64_t now);
void tick(struct fx *F, uint64_t now);

enum barrier_state state_of(const struct fx *F, const char *b, bool rollback);

/* Asserts that `d` released exactly the `n` workflows that follow, as
 * size_t values, in that order. */
void assert_waiting(const struct rec_decision *d, size_t n, ...);

/* ---- plans by hand ---- */

/* A plan whose arena holds everything: free it with
 * arena_release(&h->plan.arena). */
struct hand {
	struct plan plan;
};

/*
 * A plan with `nwf` workflows named w0, w1, ..., and room for `nbarriers`
 * step barriers and `nrollback` rollback barriers, all zeroed: set each
 * one with hand_barrier before coord_init.
 */
void hand_init(struct hand *h, size_t nwf, size_t nbarriers, size_t nrollback);
/*
 * Sets barrier `pb`, one of h's, to `id` (copied) with the `n` workflow
 * indexes of `wfs` (copied) as its uses, in that order, and the default
 * timeout.
 */
void hand_barrier(struct hand *h, struct plan_barrier *pb, const char *id, const size_t *wfs,
		  size_t n, bool rollback);

#endif
