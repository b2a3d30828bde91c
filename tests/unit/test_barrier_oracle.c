/*
 * Tests for engine/barrier.c, the barrier coordinator, against oracles.
 *
 * The coordinator is pure logic, so it is tested exhaustively: every
 * interleaving of arrivals, failures and withdrawals of two and three
 * parties is checked against an oracle that reads the outcome off the
 * event sequence directly, without simulating the coordinator. Then
 * thousands of random runs of seven workflows over five barriers check
 * every deadlock break against a naive oracle that computes the deadlocked
 * set the slow way. coord_assert_valid() runs after every operation.
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
#include "base/buf.h"
#include "engine/barrier.h"
#include "pipeline/model.h"
#include "support/barrier_fixture.h"

/* ---- exhaustive interleavings against an oracle ---- */

enum ev_kind { EV_ARRIVE, EV_FAIL, EV_WITHDRAW };
/* What one party does: arrive; fail before arriving; withdraw (ignored
 * failure or skipped); arrive, then fail while waiting (aborted). */
enum script { SC_ARRIVE, SC_FAIL, SC_WITHDRAW, SC_ARRIVE_FAIL, SC_COUNT };

struct ev {
	size_t wf;
	enum ev_kind kind;
};

#define MAXP 3
#define MAXEV (2 * MAXP)

struct exh {
	size_t n;                /* parties */
	bool rollback;           /* interleave on the rollback barrier R, else B */
	struct fx F;
	size_t cases;
};

/*
 * The oracle. With the whole sequence known, the outcome follows from two
 * times: t_done, the first event after which every party has arrived or
 * withdrawn, and t_fail, the first failure. The barrier passes at t_done
 * unless a failure came first; then it breaks at t_fail with the failing
 * workflow as origin.
 */
struct oracle {
	size_t t_done, t_fail, t_dec;
	enum barrier_state state;
	size_t origin;
};

static struct oracle oracle_of(const struct ev *evs, size_t nev, size_t n)
{
	struct oracle o = { NONE, NONE, NONE, BARRIER_OPEN, NONE };
	bool done[MAXP] = { false };
	size_t ndone = 0;
	for (size_t t = 0; t < nev; t++) {
		if (evs[t].kind == EV_FAIL && o.t_fail == NONE)
			o.t_fail = t;
		if (evs[t].kind != EV_FAIL && !done[evs[t].wf]) {
			done[evs[t].wf] = true;
			if (++ndone == n && o.t_done == NONE)
				o.t_done = t;
		}
	}
	if (o.t_fail != NONE && (o.t_done == NONE || o.t_fail < o.t_done)) {
		o.state = BARRIER_BROKEN;
		o.t_dec = o.t_fail;
		o.origin = evs[o.t_fail].wf;
	} else {
		o.state = BARRIER_PASSED;
		o.t_dec = o.t_done;
	}
	return o;
}

static void describe(char *out, size_t outsz, const struct ev *evs, size_t nev)
{
	static const char *const k[] = { "arrive", "fail", "withdraw" };
	size_t len = 0;
	for (size_t t = 0; t < nev && len < outsz; t++)
		len += (size_t)snprintf(out + len, outsz - len, "%sw%zu:%s", t ? ", " : "",
					evs[t].wf, k[evs[t].kind]);
}

static void run_case(struct exh *X, const struct ev *evs, size_t nev)
{
	struct fx *F = &X->F;
	struct coord *c = &F->c;
	const bool rb = X->rollback;
	const char *bid = rb ? "R" : "B", *other = rb ? "B" : "R";
	const size_t b = bar_of(F, bid, rb), ob = bar_of(F, other, !rb);
	char what[256];
	describe(what, sizeof(what), evs, nev);
	struct oracle o = oracle_of(evs, nev, X->n);
	X->cases++;

	/* A fresh coordinator on the same plan. */
	coord_release(c);
	recorder_clear(&F->r);
	F->r.op = 0;
	struct coord_ops ops = { decided_cb, activity_cb, &F->r };
	coord_init(c, F->plan, &ops);

	char cause[128] = "", message[256] = "";
	if (o.state == BARRIER_BROKEN) {
		snprintf(cause, sizeof(cause), "workflow w%zu " WHY_DEPLOY, o.origin);
		snprintf(message, sizeof(message), "barrier %s (%s) broken: %s", bid,
			 rb ? "Rolled back" : "Both ready", cause);
	}

	for (size_t t = 0; t < nev; t++) {
		F->r.op = t;
		size_t wf = evs[t].wf;
		uint64_t now = 1000 + 10 * t;
		switch (evs[t].kind) {
		case EV_ARRIVE: {
			const char *msg = NULL;
			enum arrive_result res = coord_arrive(c, b, wf, now, &msg);
			enum arrive_result want = ARRIVE_WAIT;
			if (o.state == BARRIER_BROKEN && t > o.t_fail)
				want = ARRIVE_BROKEN;
			else if (o.state == BARRIER_PASSED && t == o.t_done)
				want = ARRIVE_PASSED;
			if (res != want)
				fail_msg("%s: event %zu: arrive returned %d, want %d", what, t, res, want);
			if (want == ARRIVE_BROKEN)
				assert_string_equal(msg, message);
			else
				assert_null(msg);
			break;
		}
		case EV_FAIL:
			coord_fail(c, wf, rb, WHY_DEPLOY, now);
			break;
		case EV_WITHDRAW:
			coord_withdraw(c, wf, rb, now);
			break;
		}
		coord_assert_valid(c);
		/* The timeout runs from the first arrival at an open barrier. */
		size_t first_arrival = NONE;
		for (size_t u = 0; u <= t && u <= o.t_dec; u++)
			if (evs[u].kind == EV_ARRIVE) {
				first_arrival = u;
				break;
			}
		if (first_arrival != NONE) {
			assert_true(c->barriers[b].armed);
			assert_int_equal(c->barriers[b].first_arrival_ms, 1000 + 10 * first_arrival);
		}
		if (c->barriers[b].state == BARRIER_OPEN)
			assert_int_equal(coord_next_deadline(c),
					 first_arrival == NONE ? UINT64_MAX
							       : 1000 + 10 * first_arrival +
									 DEFAULT_BARRIER_TIMEOUT_MS);
		else
			assert_int_equal(coord_next_deadline(c), UINT64_MAX);
	}

	/* Exactly one decision, when the oracle says, with its facts. */
	if (F->r.d.n != 1)
		fail_msg("%s: %zu decisions", what, F->r.d.n);
	const struct rec_decision *d = &F->r.d.v[0];
	if (d->op != o.t_dec || d->state != o.state)
		fail_msg("%s: decided %d at event %zu, want %d at %zu", what, d->state, d->op,
			 o.state, o.t_dec);
	assert_int_equal(d->barrier, b);
	assert_int_equal(d->now, 1000 + 10 * o.t_dec);
	assert_int_equal(c->barriers[b].decided_ms, 1000 + 10 * o.t_dec);
	assert_int_equal(d->origin, o.origin);
	assert_int_equal(c->barriers[b].origin, o.origin);
	if (o.state == BARRIER_BROKEN) {
		assert_string_equal(d->reason, cause);
		assert_string_equal(d->message, message);
		assert_string_equal(c->barriers[b].reason, cause);
	} else {
		assert_null(d->reason);
		assert_null(d->message);
		assert_null(c->barriers[b].reason);
	}

	/* Released: those that arrived before the decision, in plan order;
	 * never the origin, which stopped waiting when it failed. */
	size_t want_waiting[MAXP], nw = 0;
	for (size_t w = 0; w < X->n; w++)
		for (size_t u = 0; u < o.t_dec; u++)
			if (evs[u].wf == w && evs[u].kind == EV_ARRIVE && w != o.origin)
				want_waiting[nw++] = w;
	if (d->nwaiting != nw)
		fail_msg("%s: %zu released, want %zu", what, d->nwaiting, nw);
	for (size_t i = 0; i < nw; i++)
		assert_int_equal(d->waiting[i], want_waiting[i]);

	/* Party states: arrivals always count (late ones too); withdrawals
	 * only while the barrier was open; failing leaves a party PENDING. */
	for (size_t w = 0; w < X->n; w++) {
		enum party_state want = PARTY_PENDING;
		for (size_t u = 0; u < nev; u++) {
			if (evs[u].wf != w)
				continue;
			if (evs[u].kind == EV_ARRIVE)
				want = PARTY_ARRIVED;
			else if (evs[u].kind == EV_WITHDRAW && u <= o.t_dec)
				want = PARTY_WITHDRAWN;
		}
		assert_int_equal(c->barriers[b].party[w], want);
		assert_int_equal(c->waiting_at[w], NONE);
	}

	/* The other kind of barrier never moved. */
	assert_int_equal(c->barriers[ob].state, BARRIER_OPEN);
	assert_int_equal(c->barriers[ob].npending, X->n);
	assert_false(c->barriers[ob].armed);
}

/* Every interleaving of the parties' scripts, recursively. */
static void interleave(struct exh *X, const enum script *sc, size_t *pos, struct ev *evs,
		       size_t nev)
{
	bool any = false;
	for (size_t w = 0; w < X->n; w++) {
		size_t len = sc[w] == SC_ARRIVE_FAIL ? 2 : 1;
		if (pos[w] == len)
			continue;
		any = true;
		enum ev_kind k = sc[w] == SC_FAIL ? EV_FAIL
				 : sc[w] == SC_WITHDRAW ? EV_WITHDRAW
				 : pos[w] == 0 ? EV_ARRIVE
					       : EV_FAIL;
		evs[nev] = (struct ev){ w, k };
		pos[w]++;
		interleave(X, sc, pos, evs, nev + 1);
		pos[w]--;
	}
	if (!any)
		run_case(X, evs, nev);
}

static void exhaustive(size_t n, bool rollback, size_t want_cases)
{
	struct exh X = { .n = n, .rollback = rollback };
	struct buf y = BUF_INIT;
	buf_adds(&y, "name: x\nbarriers:\n  B: {name: Both ready}\n  R: {name: Rolled back}\nstages:\n");
	for (size_t w = 0; w < n; w++)
		buf_addf(&y, "  - {workflow: w%zu, parallel: %s}\n", w, w ? "true" : "false");
	buf_adds(&y, "workflows:\n");
	for (size_t w = 0; w < n; w++)
		buf_addf(&y, "  w%zu: {steps: [{run: 'true'}, {barrier: B}], rollback: [{barrier: R}]}\n",
			 w);
	fx_start(&X.F, y.s);
	buf_release(&y);
	assert_int_equal(X.F.c.nbarriers, 2);

	enum script sc[MAXP];
	size_t ncombos = 1;
	for (size_t i = 0; i < n; i++)
		ncombos *= SC_COUNT;
	for (size_t combo = 0; combo < ncombos; combo++) {
		size_t k = combo;
		for (size_t w = 0; w < n; w++, k /= SC_COUNT)
			sc[w] = (enum script)(k % SC_COUNT);
		size_t pos[MAXP] = { 0 };
		struct ev evs[MAXEV];
		interleave(&X, sc, pos, evs, 0);
	}
	assert_int_equal(X.cases, want_cases);
	fx_end(&X.F);
}

/*
 * Case counts: per party, scripts of length 1 (three of them) or 2
 * (arrive+fail); the interleavings of lengths l1..ln number
 * (sum l)! / prod(l!). n = 2: 9*2 + 2*3*3 + 1*6 = 42.
 * n = 3: 27*6 + 3*9*12 + 3*3*30 + 90 = 846.
 */
static void test_exhaustive_two(void **state)
{
	(void)state;
	exhaustive(2, false, 42);
}

static void test_exhaustive_three(void **state)
{
	(void)state;
	exhaustive(3, false, 846);
}

static void test_exhaustive_three_rollback(void **state)
{
	(void)state;
	exhaustive(3, true, 846);
}

/* ---- random runs against a naive deadlock oracle ---- */

#define RW 7 /* workflows */
#define RB 5 /* step barriers */

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* What the coordinator's tables say, copied, to replay an operation on. */
struct snap {
	size_t waiting_at[RW];
	enum party_state party[RB][RW]; /* by workflow; PARTY_WITHDRAWN if not a party */
	bool is_party[RB][RW];
	enum barrier_state state[RB];
};

static void snap_take(struct snap *S, const struct coord *c)
{
	memset(S, 0, sizeof(*S));
	for (size_t w = 0; w < RW; w++)
		S->waiting_at[w] = c->waiting_at[w];
	for (size_t b = 0; b < RB; b++) {
		S->state[b] = c->barriers[b].state;
		for (size_t i = 0; i < c->barriers[b].nparties; i++) {
			S->is_party[b][c->barriers[b].parties[i]] = true;
			S->party[b][c->barriers[b].parties[i]] = c->barriers[b].party[i];
		}
	}
}

/*
 * The brief's definition, computed the slow way: drop from the waiting set
 * every workflow whose barrier has a PENDING party outside the set, until
 * nothing changes. Returns the reason the coordinator must give, or ""
 * when there is no deadlock; `broken[b]` marks the barriers to break.
 */
static void naive_deadlock(const struct snap *S, const struct plan *plan, char *out, size_t outsz,
			   bool *broken)
{
	bool in[RW];
	for (size_t w = 0; w < RW; w++)
		in[w] = S->waiting_at[w] != NONE;
	for (bool changed = true; changed;) {
		changed = false;
		for (size_t w = 0; w < RW; w++) {
			if (!in[w])
				continue;
			size_t b = S->waiting_at[w];
			for (size_t p = 0; p < RW; p++)
				if (S->is_party[b][p] && S->party[b][p] == PARTY_PENDING && !in[p]) {
					in[w] = false;
					changed = true;
					break;
				}
		}
	}
	size_t len = 0;
	out[0] = '\0';
	memset(broken, 0, RB * sizeof(*broken));
	for (size_t w = 0; w < RW; w++) {
		if (!in[w])
			continue;
		size_t b = S->waiting_at[w];
		broken[b] = true;
		len += (size_t)snprintf(out + len, outsz - len, "%s%s waits at %s for ",
					len ? "; " : "deadlock: ", plan->workflows[w].name,
					plan->barriers[b].id);
		size_t npend = 0, k = 0;
		for (size_t p = 0; p < RW; p++)
			npend += S->is_party[b][p] && S->party[b][p] == PARTY_PENDING;
		for (size_t p = 0; p < RW; p++)
			if (S->is_party[b][p] && S->party[b][p] == PARTY_PENDING)
				len += (size_t)snprintf(out + len, outsz - len, "%s%s",
							k++ ? (k == npend ? " and " : ", ") : "",
							plan->workflows[p].name);
	}
}

/* Drops the waiters of a barrier that passes in the replay. */
static void snap_pass(struct snap *S, size_t b)
{
	S->state[b] = BARRIER_PASSED;
	for (size_t w = 0; w < RW; w++)
		if (S->waiting_at[w] == b)
			S->waiting_at[w] = NONE;
}

enum rstate { R_RUNNING, R_WAITING, R_FAILED, R_DONE };

struct rrun {
	struct coord c;
	struct recorder r;
	const struct plan *plan;
	size_t seq[RW][RB], nseq[RW], pos[RW];
	enum rstate st[RW];
	size_t fail_queue[4 * RW], nqueue;
	uint64_t now;
	size_t seen;             /* decisions already handled */
};

/* Handles new decisions like the engine: released workflows continue or
 * fail, and a failed workflow breaks its remaining barriers. */
static void rrun_settle(struct rrun *R)
{
	for (;;) {
		for (; R->seen < R->r.d.n; R->seen++) {
			const struct rec_decision *d = &R->r.d.v[R->seen];
			for (size_t i = 0; i < d->nwaiting; i++) {
				size_t w = d->waiting[i];
				assert_int_equal(R->st[w], R_WAITING);
				if (d->state == BARRIER_PASSED) {
					R->st[w] = R_RUNNING;
					R->pos[w]++;
				} else {
					R->st[w] = R_FAILED;
					R->fail_queue[R->nqueue++] = w;
				}
			}
		}
		if (!R->nqueue)
			return;
		size_t w = R->fail_queue[--R->nqueue];
		R->r.op++;
		coord_fail(&R->c, w, false, "failed at a barrier", R->now);
		coord_assert_valid(&R->c);
	}
}

/* Checks that the deadlock breaks of the last operation are exactly those
 * the naive oracle finds after replaying it on `S`. */
static void rrun_check_deadlock(struct rrun *R, const struct snap *S, size_t first)
{
	char want[1024];
	bool broken[RB];
	naive_deadlock(S, R->plan, want, sizeof(want), broken);
	bool got[RB] = { false };
	for (size_t i = first; i < R->r.d.n; i++) {
		const struct rec_decision *d = &R->r.d.v[i];
		if (d->state != BARRIER_BROKEN || strncmp(d->reason, "deadlock: ", 10))
			continue;
		assert_string_equal(d->reason, want);
		got[d->barrier] = true;
	}
	for (size_t b = 0; b < RB; b++)
		if (got[b] != broken[b])
			fail_msg("barrier %zu: deadlock break %d, oracle %d (%s)", b, got[b], broken[b],
				 want);
}

static void random_run(struct hand *h)
{
	struct rrun R;
	memset(&R, 0, sizeof(R));
	R.plan = &h->plan;
	/* Each workflow crosses a random subset of the barriers in a random
	 * order; the parties follow. */
	size_t uses[RB][RW], nuses[RB] = { 0 };
	for (size_t w = 0; w < RW; w++) {
		size_t order[RB];
		for (size_t b = 0; b < RB; b++)
			order[b] = b;
		for (size_t b = RB; b > 1; b--) {
			size_t j = rnd() % b, t = order[b - 1];
			order[b - 1] = order[j];
			order[j] = t;
		}
		for (size_t b = 0; b < RB; b++)
			if (rnd() % 2) {
				R.seq[w][R.nseq[w]++] = order[b];
				uses[order[b]][nuses[order[b]]++] = w;
			}
	}
	for (size_t b = 0; b < RB; b++) {
		h->plan.barriers[b].nuses = nuses[b];
		for (size_t i = 0; i < nuses[b]; i++)
			h->plan.barriers[b].uses[i].wf = uses[b][i];
	}
	struct coord_ops ops = { decided_cb, NULL, &R.r };
	coord_init(&R.c, &h->plan, &ops);
	R.r.c = &R.c;

	for (size_t steps = 0; steps < 200; steps++) {
		size_t running[RW], nrun = 0, waiting[RW], nwait = 0;
		for (size_t w = 0; w < RW; w++) {
			if (R.st[w] == R_RUNNING)
				running[nrun++] = w;
			if (R.st[w] == R_WAITING)
				waiting[nwait++] = w;
		}
		/* Liveness: somebody waits only while somebody can still move. */
		if (!nrun) {
			assert_int_equal(nwait, 0);
			break;
		}
		R.now += rnd() % 3;
		unsigned dice = (unsigned)(rnd() % 100);
		size_t w = running[rnd() % nrun];
		struct snap S;
		snap_take(&S, &R.c);
		size_t first = R.r.d.n;
		R.r.op++;
		if (dice < 8 && nwait) {
			/* A waiting workflow is aborted. */
			size_t v = waiting[rnd() % nwait];
			R.st[v] = R_FAILED;
			coord_fail(&R.c, v, false, "was aborted", R.now);
		} else if (dice < 16) {
			R.st[w] = R_FAILED;
			coord_fail(&R.c, w, false, WHY_DEPLOY, R.now);
		} else if (dice < 24) {
			/* Its failure is ignored: it withdraws. */
			R.st[w] = R_DONE;
			coord_withdraw(&R.c, w, false, R.now);
			for (size_t b = 0; b < RB; b++)
				if (S.state[b] == BARRIER_OPEN && S.is_party[b][w] &&
				    S.party[b][w] == PARTY_PENDING) {
					S.party[b][w] = PARTY_WITHDRAWN;
					bool any = false;
					for (size_t p = 0; p < RW; p++)
						any |= S.is_party[b][p] && S.party[b][p] == PARTY_PENDING;
					if (!any)
						snap_pass(&S, b);
				}
			rrun_check_deadlock(&R, &S, first);
		} else if (dice < 26) {
			coord_withdraw(&R.c, w, true, R.now); /* no rollback barriers: nothing */
			assert_int_equal(R.r.d.n, first);
		} else if (R.pos[w] == R.nseq[w]) {
			R.st[w] = R_DONE;
		} else {
			size_t b = R.seq[w][R.pos[w]];
			enum arrive_result res = coord_arrive(&R.c, b, w, R.now, NULL);
			if (S.state[b] == BARRIER_OPEN) {
				S.party[b][w] = PARTY_ARRIVED;
				bool any = false;
				for (size_t p = 0; p < RW; p++)
					any |= S.is_party[b][p] && S.party[b][p] == PARTY_PENDING;
				if (any)
					S.waiting_at[w] = b;
				else
					snap_pass(&S, b);
				rrun_check_deadlock(&R, &S, first);
			}
			if (res == ARRIVE_PASSED) {
				R.pos[w]++;
			} else if (res == ARRIVE_WAIT) {
				R.st[w] = R_WAITING;
			} else {
				R.st[w] = R_FAILED;
				R.fail_queue[R.nqueue++] = w;
			}
		}
		coord_assert_valid(&R.c);
		rrun_settle(&R);
		/* Nothing deadlocked is left standing, by the naive count. */
		snap_take(&S, &R.c);
		char left[1024];
		bool broken[RB];
		naive_deadlock(&S, R.plan, left, sizeof(left), broken);
		assert_string_equal(left, "");
	}
	/* Every barrier was decided at most once, and each decided one once. */
	size_t count[RB] = { 0 };
	for (size_t i = 0; i < R.r.d.n; i++)
		count[R.r.d.v[i].barrier]++;
	for (size_t b = 0; b < RB; b++)
		assert_int_equal(count[b], R.c.barriers[b].state != BARRIER_OPEN);
	coord_release(&R.c);
	recorder_release(&R.r);
}

static void test_random_runs(void **state)
{
	(void)state;
	struct hand h;
	hand_init(&h, RW, RB, 0);
	size_t all[RW];
	for (size_t w = 0; w < RW; w++)
		all[w] = w;
	for (size_t b = 0; b < RB; b++) {
		char id[8];
		snprintf(id, sizeof(id), "B%zu", b);
		hand_barrier(&h, &h.plan.barriers[b], id, all, RW, false);
	}
	rnd_state = 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < 3000; i++)
		random_run(&h);
	arena_release(&h.plan.arena);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exhaustive_two),
		cmocka_unit_test(test_exhaustive_three),
		cmocka_unit_test(test_exhaustive_three_rollback),
		cmocka_unit_test(test_random_runs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
