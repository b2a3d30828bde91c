/*
 * Tests for engine/barrier.c, the barrier coordinator, on large plans:
 * 2,000 parties at one barrier and chains and rings of 2,000 workflows,
 * which would expose anything quadratic per operation (an arrival costs
 * the arriving workflow's barriers, not the whole plan).
 *
 * The documented scenarios are in test_barrier.c; the fixture is
 * support/barrier_fixture.h.
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
#include "base/xalloc.h"
#include "engine/barrier.h"
#include "pipeline/model.h"
#include "support/barrier_fixture.h"

/* ---- sizes ---- */

#define BIG 2000

/* One barrier of 2,000 parties: each arrival costs the arriving workflow's
 * barriers, not the whole barrier; the last releases 1,999. */
static void test_big_barrier(void **state)
{
	(void)state;
	struct hand h;
	hand_init(&h, BIG, 1, 0);
	size_t *all = xmalloc(BIG * sizeof(*all));
	for (size_t i = 0; i < BIG; i++)
		all[BIG - 1 - i] = i;
	hand_barrier(&h, &h.plan.barriers[0], "B", all, BIG, false);
	struct recorder r = { 0 };
	struct coord_ops ops = { decided_cb, activity_cb, &r };
	struct coord c;
	coord_init(&c, &h.plan, &ops);
	r.c = &c;
	for (size_t i = 0; i + 1 < BIG; i++) {
		assert_int_equal(coord_arrive(&c, 0, (i * 7) % BIG, i, NULL), ARRIVE_WAIT);
		if (i % 100 == 0)
			coord_assert_valid(&c);
	}
	coord_assert_valid(&c);
	assert_int_equal(r.d.n, 0);
	assert_int_equal(coord_arrive(&c, 0, ((BIG - 1) * 7) % BIG, BIG, NULL), ARRIVE_PASSED);
	coord_assert_valid(&c);
	assert_int_equal(r.d.n, 1);
	assert_int_equal(r.d.v[0].nwaiting, BIG - 1);
	for (size_t i = 1; i < r.d.v[0].nwaiting; i++)
		assert_true(r.d.v[0].waiting[i - 1] < r.d.v[0].waiting[i]);
	coord_release(&c);
	recorder_release(&r);

	/* The same barrier times out listing the one missing party. */
	r = (struct recorder){ 0 };
	coord_init(&c, &h.plan, &ops);
	r.c = &c;
	for (size_t i = 1; i < BIG; i++)
		assert_int_equal(coord_arrive(&c, 0, i, 0, NULL), ARRIVE_WAIT);
	coord_tick(&c, DEFAULT_BARRIER_TIMEOUT_MS);
	coord_assert_valid(&c);
	assert_string_equal(r.d.v[0].reason, "timed out after 10m waiting for w0");
	assert_int_equal(r.d.v[0].nwaiting, BIG - 1);
	coord_release(&c);
	recorder_release(&r);
	free(all);
	arena_release(&h.plan.arena);
}

/*
 * 2,000 workflows in a chain: w(i) waits at B(i) for w(i+1). Arriving from
 * the end makes every arrival search the whole chain down to the last
 * workflow, still running: no deadlock. Then the last arrives and the
 * passes cascade. With the ring closed (w(n-1) also waits for w0 first),
 * the last arrival finds the 2,000-workflow deadlock.
 */
static void chain(bool ring)
{
	const size_t n = BIG;
	struct hand h;
	hand_init(&h, n, ring ? n : n - 1, 0);
	for (size_t i = 0; i < h.plan.nbarriers; i++) {
		size_t pair[2] = { i, (i + 1) % n };
		char id[32];
		snprintf(id, sizeof(id), "B%zu", i);
		hand_barrier(&h, &h.plan.barriers[i], id, pair, 2, false);
	}
	struct recorder r = { 0 };
	struct coord_ops ops = { decided_cb, activity_cb, &r };
	struct coord c;
	coord_init(&c, &h.plan, &ops);
	r.c = &c;
	coord_assert_valid(&c);

	/* w(i) arrives at B(i), for i = n-2 down to 0. */
	for (size_t k = 0; k + 1 < n; k++) {
		size_t i = n - 2 - k;
		assert_int_equal(coord_arrive(&c, i, i, k, NULL), ARRIVE_WAIT);
		if (k % 250 == 0)
			coord_assert_valid(&c);
	}
	coord_assert_valid(&c);
	assert_int_equal(r.d.n, 0);

	if (!ring) {
		/* w(n-1) arrives at B(n-2): passes; each released w(i+1)
		 * then arrives at B(i) and passes it. */
		assert_int_equal(coord_arrive(&c, n - 2, n - 1, n, NULL), ARRIVE_PASSED);
		for (size_t i = n - 2; i-- > 0;)
			assert_int_equal(coord_arrive(&c, i, i + 1, n, NULL), ARRIVE_PASSED);
		coord_assert_valid(&c);
		assert_int_equal(r.d.n, n - 1);
		for (size_t i = 0; i < n - 1; i++)
			assert_int_equal(r.d.v[i].state, BARRIER_PASSED);
	} else {
		const char *msg = NULL;
		assert_int_equal(coord_arrive(&c, n - 1, n - 1, n, &msg), ARRIVE_BROKEN);
		coord_assert_valid(&c);
		assert_int_equal(r.d.n, n);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(r.d.v[i].barrier, i);
			assert_int_equal(r.d.v[i].state, BARRIER_BROKEN);
			assert_int_equal(r.d.v[i].nwaiting, i == n - 1 ? 0 : 1);
		}
		const char *why = r.d.v[0].reason;
		static const char head[] = "deadlock: w0 waits at B0 for w1; w1 waits at B1 for w2; ";
		assert_true(!strncmp(why, head, strlen(head)));
		char tail[64];
		snprintf(tail, sizeof(tail), "; w%zu waits at B%zu for w0", n - 1, n - 1);
		assert_string_equal(why + strlen(why) - strlen(tail), tail);
		assert_non_null(strstr(msg, tail));
	}
	coord_release(&c);
	recorder_release(&r);
	arena_release(&h.plan.arena);
}

static void test_big_chain(void **state)
{
	(void)state;
	chain(false);
}

static void test_big_ring_deadlock(void **state)
{
	(void)state;
	chain(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_big_barrier),
		cmocka_unit_test(test_big_chain),
		cmocka_unit_test(test_big_ring_deadlock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
