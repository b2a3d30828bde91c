/*
 * Tests for engine/barrier.c, the barrier coordinator (B1-B10 of
 * docs/pipeline-format.md): the documented scenarios with their exact
 * texts. The backend/frontend seed, timeouts (B7), abort (B10), deadlocks
 * (B8), withdrawals and rollback barriers (B6, B9), and setup on plans
 * `check` would reject.
 * coord_assert_valid() runs after every operation.
 *
 * The exhaustive and random runs against oracles are in
 * test_barrier_oracle.c, the large plans in test_barrier_sizes.c; the
 * fixture they share is support/barrier_fixture.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "engine/barrier.h"
#include "pipeline/model.h"
#include "support/barrier_fixture.h"

/* ---- the seed scenario (the example of docs/pipeline-format.md) ---- */

static const char seed_yaml[] =
	"name: multi-service\n"
	"barriers:\n"
	"  BE:\n"
	"    name: Backend service deployment done\n"
	"    timeout: 10m\n"
	"  FE:\n"
	"    name: Frontend service deployment done\n"
	"stages:\n"
	"  - workflow: backend-deploy\n"
	"  - workflow: frontend-deploy\n"
	"    parallel: true\n"
	"workflows:\n"
	"  backend-deploy:\n"
	"    steps:\n"
	"      - {id: deploy, run: ./deploy.sh backend}\n"
	"      - barrier: BE\n"
	"      - barrier: FE\n"
	"    rollback:\n"
	"      - run: ./rollback.sh backend\n"
	"  frontend-deploy:\n"
	"    steps:\n"
	"      - barrier: BE\n"
	"      - {id: deploy, run: ./deploy.sh frontend}\n"
	"      - barrier: FE\n"
	"    rollback:\n"
	"      - run: ./rollback.sh frontend\n";

static void test_seed_success(void **state)
{
	(void)state;
	struct fx F;
	fx_start(&F, seed_yaml);
	size_t be = wf_of(&F, "backend-deploy"), fe = wf_of(&F, "frontend-deploy");
	assert_int_equal(F.c.nbarriers, 2);
	assert_int_equal(F.c.nstep_barriers, 2);
	assert_int_equal(F.c.barriers[bar_of(&F, "BE", false)].nparties, 2);

	assert_int_equal(arrive(&F, "BE", false, "frontend-deploy", 100, NULL), ARRIVE_WAIT);
	assert_int_equal(F.c.waiting_at[fe], bar_of(&F, "BE", false));
	assert_int_equal(coord_next_deadline(&F.c), 100 + 600000);
	assert_int_equal(arrive(&F, "BE", false, "backend-deploy", 5000, NULL), ARRIVE_PASSED);
	assert_int_equal(F.r.d.n, 1);
	assert_int_equal(F.r.d.v[0].state, BARRIER_PASSED);
	assert_int_equal(F.r.d.v[0].now, 5000);
	assert_waiting(&F.r.d.v[0], 1, fe);
	assert_int_equal(F.c.waiting_at[fe], NONE);
	assert_int_equal(coord_next_deadline(&F.c), UINT64_MAX);

	assert_int_equal(arrive(&F, "FE", false, "backend-deploy", 5001, NULL), ARRIVE_WAIT);
	assert_int_equal(arrive(&F, "FE", false, "frontend-deploy", 9000, NULL), ARRIVE_PASSED);
	assert_int_equal(F.r.d.n, 2);
	assert_int_equal(F.r.d.v[1].barrier, bar_of(&F, "FE", false));
	assert_waiting(&F.r.d.v[1], 1, be);
	assert_int_equal(F.c.barriers[bar_of(&F, "FE", false)].decided_ms, 9000);

	/* Failures after passing touch nothing (B6). */
	fail_wf(&F, "frontend-deploy", false, WHY_DEPLOY, 9500);
	coord_abort(&F.c, 9600);
	coord_assert_valid(&F.c);
	assert_int_equal(F.r.d.n, 2);
	fx_end(&F);
}

static void test_seed_frontend_fails_before_be(void **state)
{
	(void)state;
	struct fx F;
	fx_start(&F, seed_yaml);
	size_t be = wf_of(&F, "backend-deploy"), fe = wf_of(&F, "frontend-deploy");
	/* The frontend fails first thing (say its BE step is aborted while it
	 * has not arrived), while the backend waits at BE. */
	assert_int_equal(arrive(&F, "BE", false, "backend-deploy", 100, NULL), ARRIVE_WAIT);
	fail_wf(&F, "frontend-deploy", false, WHY_DEPLOY, 200);

	assert_int_equal(F.r.d.n, 2);
	const struct rec_decision *d = &F.r.d.v[0];
	assert_int_equal(d->barrier, bar_of(&F, "BE", false));
	assert_int_equal(d->state, BARRIER_BROKEN);
	assert_int_equal(d->origin, fe);
	assert_string_equal(d->reason,
			    "workflow frontend-deploy failed at step 'deploy' (exit status 1)");
	assert_string_equal(d->message,
			    "barrier BE (Backend service deployment done) broken: workflow "
			    "frontend-deploy failed at step 'deploy' (exit status 1)");
	assert_waiting(d, 1, be);
	d = &F.r.d.v[1];
	assert_int_equal(d->barrier, bar_of(&F, "FE", false));
	assert_int_equal(d->state, BARRIER_BROKEN);
	assert_string_equal(d->message,
			    "barrier FE (Frontend service deployment done) broken: workflow "
			    "frontend-deploy failed at step 'deploy' (exit status 1)");
	assert_waiting(d, 0);
	assert_int_equal(F.c.waiting_at[be], NONE);

	/* The backend fails in turn (it failed at BE): nothing left to break. */
	fail_wf(&F, "backend-deploy", false, "failed at barrier BE", 201);
	assert_int_equal(F.r.d.n, 2);
	fx_end(&F);
}

static void test_seed_frontend_fails_after_be(void **state)
{
	(void)state;
	struct fx F;
	fx_start(&F, seed_yaml);
	size_t be = wf_of(&F, "backend-deploy"), fe = wf_of(&F, "frontend-deploy");
	assert_int_equal(arrive(&F, "BE", false, "frontend-deploy", 10, NULL), ARRIVE_WAIT);
	assert_int_equal(arrive(&F, "BE", false, "backend-deploy", 20, NULL), ARRIVE_PASSED);
	assert_int_equal(arrive(&F, "FE", false, "backend-deploy", 30, NULL), ARRIVE_WAIT);
	fail_wf(&F, "frontend-deploy", false, WHY_DEPLOY, 40);
	assert_int_equal(F.r.d.n, 2);
	assert_int_equal(state_of(&F, "BE", false), BARRIER_PASSED);
	assert_null(F.c.barriers[bar_of(&F, "BE", false)].reason);
	const struct rec_decision *d = &F.r.d.v[1];
	assert_int_equal(d->barrier, bar_of(&F, "FE", false));
	assert_int_equal(d->state, BARRIER_BROKEN);
	assert_int_equal(d->origin, fe);
	assert_int_equal(d->now, 40);
	assert_waiting(d, 1, be);
	assert_string_equal(d->message,
			    "barrier FE (Frontend service deployment done) broken: workflow "
			    "frontend-deploy failed at step 'deploy' (exit status 1)");
	fx_end(&F);
}

/* A late arrival fails on arrival, with the message (B6). */
static void test_late_arrival(void **state)
{
	(void)state;
	struct fx F;
	fx_start(&F, seed_yaml);
	fail_wf(&F, "backend-deploy", false, "failed at step 'deploy' (exit status 2)", 50);
	assert_int_equal(F.r.d.n, 2);
	const char *msg = NULL;
	assert_int_equal(arrive(&F, "BE", false, "frontend-deploy", 60, &msg), ARRIVE_BROKEN);
	assert_string_equal(msg, "barrier BE (Backend service deployment done) broken: workflow "
				 "backend-deploy failed at step 'deploy' (exit status 2)");
	assert_ptr_equal(msg, F.c.barriers[bar_of(&F, "BE", false)].message);
	/* Late arrivals do not arm timers nor decide again. */
	assert_false(F.c.barriers[bar_of(&F, "BE", false)].armed);
	assert_int_equal(coord_next_deadline(&F.c), UINT64_MAX);
	assert_int_equal(F.r.d.n, 2);
	fx_end(&F);
}

/* A waiting workflow that fails (aborted at the barrier) breaks it: it will
 * never continue. It is not among the released: it knows. */
static void test_fail_while_waiting(void **state)
{
	(void)state;
	struct fx F;
	fx_start(&F, "name: x\nstages: [a, {workflow: b, parallel: true}, {workflow: c, parallel: true}]\n"
		     "workflows:\n"
		     "  a: {steps: [{barrier: X}, {barrier: Y}]}\n"
		     "  b: {steps: [{barrier: X}, {barrier: Y}]}\n"
		     "  c: {steps: [{barrier: X}, {barrier: Y}]}\n");
	assert_int_equal(arrive(&F, "X", false, "a", 1, NULL), ARRIVE_WAIT);
	assert_int_equal(arrive(&F, "X", false, "c", 2, NULL), ARRIVE_WAIT);
	fail_wf(&F, "c", false, "was aborted", 3);
	assert_int_equal(F.r.d.n, 2);
	assert_int_equal(F.r.d.v[0].barrier, bar_of(&F, "X", false));
	assert_string_equal(F.r.d.v[0].message, "barrier X broken: workflow c was aborted");
	assert_int_equal(F.r.d.v[0].origin, wf_of(&F, "c"));
	assert_waiting(&F.r.d.v[0], 1, wf_of(&F, "a"));
	assert_int_equal(F.r.d.v[1].barrier, bar_of(&F, "Y", false));
	assert_string_equal(F.r.d.v[1].reason, "workflow c was aborted");
	fx_end(&F);
}

/* ---- timeouts (B7) ---- */

static void test_timeout(void **state)
{
	(void)state;
	struct fx F;
	fx_start(&F, "name: x\n"
		     "barriers: {T: {name: Three, timeout: 250ms}, U: {timeout: 1s}}\n"
		     "stages: [a, {workflow: b, parallel: true}, {workflow: c, parallel: true},"
		     " {workflow: d, parallel: true}]\n"
		     "workflows:\n"
		     "  a: {steps: [{barrier: T}]}\n"
		     "  b: {steps: [{barrier: T}, {barrier: U}]}\n"
		     "  c: {steps: [{barrier: T}]}\n"
		     "  d: {steps: [{barrier: T}, {barrier: U}]}\n");
	const char *acts[] = { NULL, "running step 'build'", NULL, "" };
	F.r.activity = acts;
	size_t t = bar_of(&F, "T", false);

	assert_int_equal(coord_next_deadline(&F.c), UINT64_MAX);
	tick(&F, 1000000);
	assert_int_equal(F.r.d.n, 0); /* nobody arrived: no timer runs */

	assert_int_equal(arrive(&F, "T", false, "a", 1000, NULL), ARRIVE_WAIT);
	assert_true(F.c.barriers[t].armed);
	assert_int_equal(F.c.barriers[t].first_arrival_ms, 1000);
	assert_int_equal(F.c.barriers[t].deadline_ms, 1250);
	assert_int_equal(coord_next_deadline(&F.c), 1250);
	/* Later arrivals do not move the deadline. */
	assert_int_equal(arrive(&F, "T", false, "c", 1200, NULL), ARRIVE_WAIT);
	assert_int_equal(coord_next_deadline(&F.c), 1250);

	tick(&F, 1249);
	assert_int_equal(F.r.d.n, 0);
	tick(&F, 1250);
	assert_int_equal(F.r.d.n, 1);
	const struct rec_decision *d = &F.r.d.v[0];
	assert_int_equal(d->state, BARRIER_BROKEN);
	assert_int_equal(d->origin, NONE);
	assert_int_equal(d->now, 1250);
	assert_string_equal(d->reason,
			    "timed out after 250ms waiting for b (running step 'build') and d");
	assert_string_equal(d->message, "barrier T (Three) broken: timed out after 250ms waiting "
					"for b (running step 'build') and d");
	assert_waiting(d, 2, wf_of(&F, "a"), wf_of(&F, "c"));
	assert_int_equal(coord_next_deadline(&F.c), UINT64_MAX);
	tick(&F, 5000);
	assert_int_equal(F.r.d.n, 1);

	/* b arrives late at T, then goes on to U. */
	const char *msg;
	assert_int_equal(arrive(&F, "T", false, "b", 1300, &msg), ARRIVE_BROKEN);
	assert_string_equal(msg, d->message);
	assert_int_equal(arrive(&F, "U", false, "b", 1400, NULL), ARRIVE_WAIT);
	assert_int_equal(coord_next_deadline(&F.c), 2400);
	/* Ticking well after the deadline breaks it too, listing d alone. */
	F.r.activity = NULL;
	tick(&F, 9999);
	assert_int_equal(F.r.d.n, 2);
	assert_string_equal(F.r.d.v[1].message, "barrier U broken: timed out after 1s waiting for d");
	assert_int_equal(F.r.d.v[1].now, 9999);
	fx_end(&F);
}

/* The text of the spec, with the default timeout and three missing parties. */
static void test_timeout_texts(void **state)
{
	(void)state;
	struct fx F;
	fx_start(&F, seed_yaml);
	const char *acts[] = { "running step 'x'", "running step 'deploy'" };
	F.r.activity = acts;
	assert_int_equal(arrive(&F, "FE", false, "backend-deploy", 0, NULL), ARRIVE_WAIT);
	tick(&F, 600000);
	assert_int_equal(F.r.d.n, 1);
	assert_string_equal(F.r.d.v[0].reason,
			    "timed out after 10m waiting for frontend-deploy (running step 'deploy')");
	assert_string_equal(F.r.d.v[0].message,
			    "barrier FE (Frontend service deployment done) broken: timed out after "
			    "10m waiting for frontend-deploy (running step 'deploy')");
	fx_end(&F);

	fx_start(&F, "name: x\nbarriers: {M: {timeout: 1h30m}}\n"
		     "stages: [a, {workflow: b, parallel: true}, {workflow: c, parallel: true},"
		     " {workflow: d, parallel: true}]\n"
		     "workflows:\n"
		     "  a: {steps: [{barrier: M}]}\n  b: {steps: [{barrier: M}]}\n"
		     "  c: {steps: [{barrier: M}]}\n  d: {steps: [{barrier: M}]}\n");
	const char *acts2[] = { "x", "waiting at barrier N", NULL, "running step 'e'" };
	F.r.activity = acts2;
	assert_int_equal(arrive(&F, "M", false, "a", 7, NULL), ARRIVE_WAIT);
	tick(&F, 7 + 5400000);
	assert_string_equal(F.r.d.v[0].reason,
			    "timed out after 1h30m waiting for b (waiting at barrier N), c and d "
			    "(running step 'e')");
	fx_end(&F);
}

/* Deadlines in order, ties by index, whatever the index order. */
static void test_timeout_order(void **state)
{
	(void)state;
	struct fx F;
	fx_start(&F, "name: x\nbarriers: {P: {timeout: 5s}, Q: {timeout: 3s}, S: {timeout: 2s}}\n"
		     "stages: [a, {workflow: b, parallel: true}, {workflow: c, parallel: true},"
		     " {workflow: d, parallel: true}, {workflow: e, parallel: true},"
		     " {workflow: f, parallel: true}]\n"
		     "workflows:\n"
		     "  a: {steps: [{barrier: P}]}\n"
		     "  b: {steps: [{barrier: P}]}\n"
		     "  c: {steps: [{run: x}], rollback: [{barrier: Q}]}\n"
		     "  d: {steps: [{run: x}], rollback: [{barrier: Q}]}\n"
		     "  e: {steps: [{run: x}], rollback: [{barrier: S}]}\n"
		     "  f: {steps: [{run: x}], rollback: [{barrier: S}]}\n");
	assert_int_equal(arrive(&F, "P", false, "a", 0, NULL), ARRIVE_WAIT);    /* 5000 */
	assert_int_equal(arrive(&F, "S", true, "e", 3000, NULL), ARRIVE_WAIT);  /* 5000 */
	assert_int_equal(arrive(&F, "Q", true, "c", 1000, NULL), ARRIVE_WAIT);  /* 4000 */
	assert_int_equal(coord_next_deadline(&F.c), 4000);
	tick(&F, 6000);
	assert_int_equal(F.r.d.n, 3);
	assert_int_equal(F.r.d.v[0].barrier, bar_of(&F, "Q", true));
	assert_int_equal(F.r.d.v[1].barrier, bar_of(&F, "P", false));
	assert_int_equal(F.r.d.v[2].barrier, bar_of(&F, "S", true));
	assert_true(bar_of(&F, "P", false) < bar_of(&F, "S", true));
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(F.r.d.v[i].now, 6000);
	fx_end(&F);
}

/* ---- abort (B10) ---- */

static void test_abort(void **state)
{
	(void)state;
	struct fx F;
	fx_start(&F, "name: x\nstages: [a, {workflow: b, parallel: true}]\n"
		     "workflows:\n"
		     "  a: {steps: [{barrier: P}, {barrier: Q}], rollback: [{barrier: R}]}\n"
		     "  b: {steps: [{barrier: P}, {barrier: Q}], rollback: [{barrier: R}]}\n");
	assert_int_equal(arrive(&F, "P", false, "a", 1, NULL), ARRIVE_WAIT);
	assert_int_equal(arrive(&F, "P", false, "b", 2, NULL), ARRIVE_PASSED);
	assert_int_equal(arrive(&F, "Q", false, "b", 3, NULL), ARRIVE_WAIT);
	F.r.op++;
	coord_abort(&F.c, 4);
	coord_assert_valid(&F.c);
	assert_int_equal(F.r.d.n, 3);
	assert_int_equal(F.r.d.v[1].barrier, bar_of(&F, "Q", false));
	assert_string_equal(F.r.d.v[1].reason, "run aborted");
	assert_string_equal(F.r.d.v[1].message, "barrier Q broken: run aborted");
	assert_int_equal(F.r.d.v[1].origin, NONE);
	assert_waiting(&F.r.d.v[1], 1, wf_of(&F, "b"));
	assert_int_equal(F.r.d.v[2].barrier, bar_of(&F, "R", true));
	assert_string_equal(F.r.d.v[2].reason, "run aborted");
	assert_int_equal(state_of(&F, "P", false), BARRIER_PASSED);
	assert_int_equal(coord_next_deadline(&F.c), UINT64_MAX);
	/* A second abort has nothing left to do. */
	coord_abort(&F.c, 5);
	assert_int_equal(F.r.d.n, 3);
	fx_end(&F);
}

/* ---- deadlocks (B8) ---- */

static void test_deadlock_swapped(void **state)
{
	(void)state;
	struct fx F;
	fx_start(&F, "name: x\n"
		     "barriers:\n  BE: {name: Backend service deployment done}\n"
		     "  FE: {name: Frontend service deployment done}\n"
		     "stages: [backend-deploy, {workflow: frontend-deploy, parallel: true}]\n"
		     "workflows:\n"
		     "  backend-deploy: {steps: [{barrier: FE}, {barrier: BE}]}\n"
		     "  frontend-deploy: {steps: [{barrier: BE}, {barrier: FE}]}\n");
	size_t be = wf_of(&F, "backend-deploy");
	assert_int_equal(arrive(&F, "FE", false, "backend-deploy", 10, NULL), ARRIVE_WAIT);
	assert_int_equal(F.r.d.n, 0);
	const char *msg = NULL;
	assert_int_equal(arrive(&F, "BE", false, "frontend-deploy", 20, &msg), ARRIVE_BROKEN);
	static const char reason[] = "deadlock: backend-deploy waits at FE for frontend-deploy; "
				     "frontend-deploy waits at BE for backend-deploy";
	assert_int_equal(F.r.d.n, 2);
	/* Both at once, in index order: FE was met first. */
	assert_int_equal(F.r.d.v[0].barrier, bar_of(&F, "FE", false));
	assert_int_equal(F.r.d.v[1].barrier, bar_of(&F, "BE", false));
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(F.r.d.v[i].state, BARRIER_BROKEN);
		assert_string_equal(F.r.d.v[i].reason, reason);
		assert_int_equal(F.r.d.v[i].origin, NONE);
		assert_int_equal(F.r.d.v[i].now, 20);
		assert_int_equal(F.r.d.v[i].op, F.r.op);
	}
	assert_waiting(&F.r.d.v[0], 1, be);
	assert_waiting(&F.r.d.v[1], 0); /* frontend learns it from ARRIVE_BROKEN */
	assert_string_equal(msg, "barrier BE (Backend service deployment done) broken: deadlock: "
				 "backend-deploy waits at FE for frontend-deploy; frontend-deploy "
				 "waits at BE for backend-deploy");
	assert_int_equal(F.c.waiting_at[0], NONE);
	assert_int_equal(F.c.waiting_at[1], NONE);
	fx_end(&F);
}

static const char cycle3_yaml[] =
	"name: x\n"
	"stages: [a, {workflow: b, parallel: true}, {workflow: c, parallel: true}]\n"
	"workflows:\n"
	"  a: {steps: [{barrier: AB}, {barrier: CA}]}\n"
	"  b: {steps: [{barrier: BC}, {barrier: AB}]}\n"
	"  c: {steps: [{barrier: CA}, {barrier: BC}]}\n";

/* Every arrival order of the three-workflow cycle deadlocks at the third
 * arrival, with one reason in plan order. */
static void test_deadlock_three_cycle(void **state)
{
	(void)state;
	static const char *const orders[6][3] = {
		{ "a", "b", "c" }, { "a", "c", "b" }, { "b", "a", "c" },
		{ "b", "c", "a" }, { "c", "a", "b" }, { "c", "b", "a" },
	};
	static const char *const first[] = { "AB", "BC", "CA" }; /* a, b, c's first */
	for (size_t o = 0; o < 6; o++) {
		struct fx F;
		fx_start(&F, cycle3_yaml);
		size_t last = bar_of(&F, first[wf_of(&F, orders[o][2])], false);
		for (size_t i = 0; i < 3; i++) {
			size_t w = wf_of(&F, orders[o][i]);
			const char *msg = NULL;
			enum arrive_result r = arrive(&F, first[w], false, orders[o][i], 10 * i, &msg);
			if (i < 2) {
				assert_int_equal(r, ARRIVE_WAIT);
				assert_int_equal(F.r.d.n, 0);
				continue;
			}
			assert_int_equal(r, ARRIVE_BROKEN);
			assert_non_null(strstr(msg, "barrier "));
		}
		/* All three at once, in index order (AB, CA, BC as first met). */
		assert_int_equal(F.r.d.n, 3);
		for (size_t i = 0; i < 3; i++) {
			assert_int_equal(F.r.d.v[i].barrier, i);
			assert_string_equal(F.r.d.v[i].reason,
					    "deadlock: a waits at AB for b; b waits at BC for c; "
					    "c waits at CA for a");
			assert_int_equal(F.r.d.v[i].nwaiting, i == last ? 0 : 1);
		}
		fx_end(&F);
	}
}

/* Missing parties that are still running: no deadlock, however long the
 * chain of waiting workflows in front of them. */
static void test_no_deadlock_while_running(void **state)
{
	(void)state;
	struct fx F;
	fx_start(&F, cycle3_yaml);
	assert_int_equal(arrive(&F, "AB", false, "a", 1, NULL), ARRIVE_WAIT); /* for b */
	assert_int_equal(arrive(&F, "BC", false, "b", 2, NULL), ARRIVE_WAIT); /* for c, running */
	assert_int_equal(F.r.d.n, 0);
	/* c fails instead: CA and BC break, in index order; b is released
	 * from BC. */
	fail_wf(&F, "c", false, WHY_DEPLOY, 3);
	assert_int_equal(F.r.d.n, 2);
	assert_int_equal(F.r.d.v[0].barrier, bar_of(&F, "CA", false));
	assert_waiting(&F.r.d.v[0], 0);
	assert_int_equal(F.r.d.v[1].barrier, bar_of(&F, "BC", false));
	assert_waiting(&F.r.d.v[1], 1, wf_of(&F, "b"));
	assert_true(bar_of(&F, "CA", false) < bar_of(&F, "BC", false));
	/* a still waits at AB for b, which now fails too. */
	assert_int_equal(state_of(&F, "AB", false), BARRIER_OPEN);
	fail_wf(&F, "b", false, "failed at barrier BC", 4);
	assert_int_equal(F.r.d.n, 3);
	assert_string_equal(F.r.d.v[2].reason, "workflow b failed at barrier BC");
	assert_waiting(&F.r.d.v[2], 1, wf_of(&F, "a"));
	fx_end(&F);
}

/*
 * A workflow waiting for a deadlocked one is deadlocked too: d waits at DA
 * for a, which waits in the a/b cycle; all three barriers break at once
 * and the reason lists d.
 */
static void test_deadlock_with_bystander(void **state)
{
	(void)state;
	struct fx F;
	fx_start(&F, "name: x\n"
		     "stages: [a, {workflow: b, parallel: true}, {workflow: d, parallel: true},"
		     " {workflow: e, parallel: true}]\n"
		     "workflows:\n"
		     "  a: {steps: [{barrier: X}, {barrier: Y}, {barrier: DA}]}\n"
		     "  b: {steps: [{barrier: Y}, {barrier: X}]}\n"
		     "  d: {steps: [{barrier: DA}, {barrier: E}]}\n"
		     "  e: {steps: [{barrier: E}]}\n");
	assert_int_equal(arrive(&F, "DA", false, "d", 1, NULL), ARRIVE_WAIT);
	assert_int_equal(arrive(&F, "E", false, "e", 2, NULL), ARRIVE_WAIT); /* for d */
	assert_int_equal(arrive(&F, "X", false, "a", 3, NULL), ARRIVE_WAIT);
	assert_int_equal(F.r.d.n, 0);
	assert_int_equal(arrive(&F, "Y", false, "b", 4, NULL), ARRIVE_BROKEN);
	assert_int_equal(F.r.d.n, 4);
	static const char reason[] = "deadlock: a waits at X for b; b waits at Y for a; "
				     "d waits at DA for a; e waits at E for d";
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(F.r.d.v[i].barrier, i); /* X, Y, DA, E */
		assert_string_equal(F.r.d.v[i].reason, reason);
	}
	fx_end(&F);
}

/* A withdrawal can complete a deadlock: z was the only party of B that
 * could still move. */
static void test_deadlock_by_withdrawal(void **state)
{
	(void)state;
	struct fx F;
	fx_start(&F, "name: x\n"
		     "stages: [x, {workflow: y, parallel: true}, {workflow: z, parallel: true}]\n"
		     "workflows:\n"
		     "  x: {steps: [{barrier: B}, {barrier: C}]}\n"
		     "  y: {steps: [{barrier: C}, {barrier: B}]}\n"
		     "  z: {steps: [{barrier: B}]}\n");
	assert_int_equal(arrive(&F, "B", false, "x", 1, NULL), ARRIVE_WAIT);
	assert_int_equal(arrive(&F, "C", false, "y", 2, NULL), ARRIVE_WAIT);
	assert_int_equal(F.r.d.n, 0);
	withdraw(&F, "z", false, 3);
	assert_int_equal(F.r.d.n, 2);
	assert_string_equal(F.r.d.v[0].reason,
			    "deadlock: x waits at B for y; y waits at C for x");
	assert_waiting(&F.r.d.v[0], 1, wf_of(&F, "x"));
	assert_waiting(&F.r.d.v[1], 1, wf_of(&F, "y"));
	fx_end(&F);
}

/* ---- withdrawals and rollback barriers (B6, B9) ---- */

static const char rollback_yaml[] =
	"name: x\n"
	"barriers: {RB: {name: Rolled back}}\n"
	"stages: [a, {workflow: b, parallel: true}, {workflow: c, parallel: true}]\n"
	"workflows:\n"
	"  a: {steps: [{barrier: S}], rollback: [{run: undo}, {barrier: RB}]}\n"
	"  b: {steps: [{barrier: S}], rollback: [{barrier: RB}]}\n"
	"  c: {steps: [{id: deploy, run: x}, {barrier: S}], rollback: [{barrier: RB}]}\n";

static void test_rollback_independent(void **state)
{
	(void)state;
	struct fx F;
	fx_start(&F, rollback_yaml);
	assert_int_equal(F.c.nstep_barriers, 1);
	assert_int_equal(F.c.nbarriers, 2);
	assert_int_equal(bar_of(&F, "RB", true), 1);
	assert_int_equal(coord_index(&F.c, 0, true), 1);
	assert_int_equal(coord_index(&F.c, 0, false), 0);

	assert_int_equal(arrive(&F, "S", false, "a", 1, NULL), ARRIVE_WAIT);
	assert_int_equal(arrive(&F, "S", false, "b", 2, NULL), ARRIVE_WAIT);
	fail_wf(&F, "c", false, WHY_DEPLOY, 3);
	assert_int_equal(F.r.d.n, 1);
	assert_int_equal(state_of(&F, "RB", true), BARRIER_OPEN);
	assert_waiting(&F.r.d.v[0], 2, wf_of(&F, "a"), wf_of(&F, "b"));
	fail_wf(&F, "a", false, "failed at barrier S", 4);
	fail_wf(&F, "b", false, "failed at barrier S", 4);
	assert_int_equal(F.r.d.n, 1);

	/* All three roll back and meet at RB. */
	assert_int_equal(arrive(&F, "RB", true, "c", 5, NULL), ARRIVE_WAIT);
	assert_int_equal(arrive(&F, "RB", true, "a", 6, NULL), ARRIVE_WAIT);
	/* Withdrawing from step barriers leaves rollback ones alone. */
	withdraw(&F, "b", false, 7);
	assert_int_equal(F.r.d.n, 1);
	assert_int_equal(arrive(&F, "RB", true, "b", 8, NULL), ARRIVE_PASSED);
	assert_int_equal(F.r.d.v[1].state, BARRIER_PASSED);
	assert_waiting(&F.r.d.v[1], 2, wf_of(&F, "a"), wf_of(&F, "c"));
	fx_end(&F);

	/* And the other way round: a failing rollback leaves step barriers. */
	fx_start(&F, rollback_yaml);
	assert_int_equal(arrive(&F, "S", false, "a", 1, NULL), ARRIVE_WAIT);
	fail_wf(&F, "b", true, "failed at step 'undo' (exit status 3)", 2);
	assert_int_equal(F.r.d.n, 1);
	assert_string_equal(F.r.d.v[0].message, "barrier RB (Rolled back) broken: workflow b "
						"failed at step 'undo' (exit status 3)");
	assert_int_equal(state_of(&F, "S", false), BARRIER_OPEN);
	assert_int_equal(F.c.waiting_at[wf_of(&F, "a")], bar_of(&F, "S", false));
	fx_end(&F);
}

static void test_withdraw_lets_others_pass(void **state)
{
	(void)state;
	struct fx F;
	fx_start(&F, rollback_yaml);
	/* c fails, a and b fail at S; only a and c roll back: b withdraws. */
	assert_int_equal(arrive(&F, "RB", true, "a", 1, NULL), ARRIVE_WAIT);
	assert_int_equal(arrive(&F, "RB", true, "c", 2, NULL), ARRIVE_WAIT);
	withdraw(&F, "b", true, 3);
	assert_int_equal(F.r.d.n, 1);
	assert_int_equal(F.r.d.v[0].barrier, bar_of(&F, "RB", true));
	assert_int_equal(F.r.d.v[0].state, BARRIER_PASSED);
	assert_int_equal(F.r.d.v[0].now, 3);
	assert_waiting(&F.r.d.v[0], 2, wf_of(&F, "a"), wf_of(&F, "c"));
	assert_int_equal(F.c.barriers[1].party[1], PARTY_WITHDRAWN);
	/* Withdrawing again, or from a decided barrier, changes nothing. */
	withdraw(&F, "b", true, 4);
	withdraw(&F, "a", true, 4);
	assert_int_equal(F.r.d.n, 1);
	assert_int_equal(state_of(&F, "S", false), BARRIER_OPEN);
	fx_end(&F);
}

/* Nobody rolls back: every party withdraws, the barrier passes with nobody
 * waiting, recorded once. An arrival before the others withdraw stands. */
static void test_withdraw_all(void **state)
{
	(void)state;
	struct fx F;
	fx_start(&F, rollback_yaml);
	withdraw(&F, "a", true, 1);
	withdraw(&F, "b", true, 2);
	assert_int_equal(F.r.d.n, 0);
	withdraw(&F, "c", true, 3);
	assert_int_equal(F.r.d.n, 1);
	assert_int_equal(F.r.d.v[0].state, BARRIER_PASSED);
	assert_int_equal(F.r.d.v[0].now, 3);
	assert_waiting(&F.r.d.v[0], 0);
	assert_false(F.c.barriers[1].armed);
	assert_int_equal(F.c.barriers[1].narrived, 0);
	coord_abort(&F.c, 4); /* S breaks; RB stays passed */
	coord_assert_valid(&F.c);
	assert_int_equal(F.r.d.n, 2);
	assert_int_equal(state_of(&F, "RB", true), BARRIER_PASSED);
	fx_end(&F);

	/* A waiting workflow that withdraws keeps its arrival. */
	fx_start(&F, rollback_yaml);
	assert_int_equal(arrive(&F, "S", false, "a", 1, NULL), ARRIVE_WAIT);
	withdraw(&F, "a", false, 2);
	withdraw(&F, "b", false, 3);
	assert_int_equal(F.r.d.n, 0);
	withdraw(&F, "c", false, 4);
	assert_int_equal(F.r.d.n, 1);
	assert_waiting(&F.r.d.v[0], 1, wf_of(&F, "a"));
	fx_end(&F);
}

/* ---- robustness and setup ---- */

/* A plan that was not checked may list a workflow twice in a barrier's
 * uses (B4) and use a barrier alone (B2): parties are distinct, and a
 * lone party passes on arrival. */
static void test_init_distinct_parties(void **state)
{
	(void)state;
	struct hand h;
	hand_init(&h, 4, 2, 1);
	const size_t u0[] = { 2, 0, 2, 3, 0 };
	const size_t u1[] = { 1 };
	const size_t r0[] = { 3, 1, 3 };
	hand_barrier(&h, &h.plan.barriers[0], "B0", u0, 5, false);
	hand_barrier(&h, &h.plan.barriers[1], "B1", u1, 1, false);
	hand_barrier(&h, &h.plan.rollback_barriers[0], "R0", r0, 3, true);
	struct recorder r = { 0 };
	struct coord_ops ops = { decided_cb, NULL, &r };
	struct coord c;
	coord_init(&c, &h.plan, &ops);
	r.c = &c;
	coord_assert_valid(&c);
	assert_int_equal(c.barriers[0].nparties, 3);
	assert_int_equal(c.barriers[0].parties[0], 0);
	assert_int_equal(c.barriers[0].parties[1], 2);
	assert_int_equal(c.barriers[0].parties[2], 3);
	assert_int_equal(c.barriers[2].nparties, 2);
	assert_int_equal(c.barriers[2].parties[0], 1);
	assert_int_equal(c.barriers[2].parties[1], 3);

	assert_int_equal(coord_arrive(&c, 1, 1, 5, NULL), ARRIVE_PASSED);
	coord_assert_valid(&c);
	assert_int_equal(coord_arrive(&c, 0, 3, 6, NULL), ARRIVE_WAIT);
	assert_int_equal(coord_arrive(&c, 0, 0, 7, NULL), ARRIVE_WAIT);
	assert_int_equal(coord_arrive(&c, 0, 2, 8, NULL), ARRIVE_PASSED);
	coord_assert_valid(&c);
	assert_int_equal(r.d.n, 2);
	assert_waiting(&r.d.v[1], 2, (size_t)0, (size_t)3);
	/* No ops at all is allowed too. */
	coord_release(&c);
	coord_init(&c, &h.plan, NULL);
	assert_int_equal(coord_arrive(&c, 2, 1, 1, NULL), ARRIVE_WAIT);
	coord_abort(&c, 2);
	coord_assert_valid(&c);
	assert_string_equal(c.barriers[2].message, "barrier R0 broken: run aborted");
	coord_release(&c);
	recorder_release(&r);
	arena_release(&h.plan.arena);
}

static void test_empty_plan(void **state)
{
	(void)state;
	struct hand h;
	hand_init(&h, 0, 0, 0);
	struct coord c;
	coord_init(&c, &h.plan, NULL);
	coord_assert_valid(&c);
	assert_int_equal(coord_next_deadline(&c), UINT64_MAX);
	coord_tick(&c, 100);
	coord_abort(&c, 100);
	coord_assert_valid(&c);
	coord_release(&c);
	arena_release(&h.plan.arena);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_success),
		cmocka_unit_test(test_seed_frontend_fails_before_be),
		cmocka_unit_test(test_seed_frontend_fails_after_be),
		cmocka_unit_test(test_late_arrival),
		cmocka_unit_test(test_fail_while_waiting),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_timeout_texts),
		cmocka_unit_test(test_timeout_order),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_deadlock_swapped),
		cmocka_unit_test(test_deadlock_three_cycle),
		cmocka_unit_test(test_no_deadlock_while_running),
		cmocka_unit_test(test_deadlock_with_bystander),
		cmocka_unit_test(test_deadlock_by_withdrawal),
		cmocka_unit_test(test_rollback_independent),
		cmocka_unit_test(test_withdraw_lets_others_pass),
		cmocka_unit_test(test_withdraw_all),
		cmocka_unit_test(test_init_distinct_parties),
		cmocka_unit_test(test_empty_plan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
