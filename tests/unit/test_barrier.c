/*
 * Tests for engine/barrier.c, the barrier coordinator (SPEC §2, B1-B10).
 *
 * The coordinator is pure logic, so it is tested exhaustively: every
 * interleaving of arrivals, failures and withdrawals of two and three
 * parties is checked against an oracle that reads the outcome off the
 * event sequence directly, without simulating the coordinator. Then the
 * spec's scenarios (the backend/frontend seed, timeouts, deadlocks,
 * rollback barriers, abort) with their exact texts, and large plans that
 * would expose anything quadratic per operation. coord_assert_valid() runs
 * after every operation.
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
#include "base/diag.h"
#include "base/xalloc.h"
#include "engine/barrier.h"
#include "pipeline/expand.h"
#include "pipeline/load.h"
#include "pipeline/model.h"

#define NONE SIZE_MAX
#define WHY_DEPLOY "failed at step 'deploy' (exit status 1)"

/* ---- recording decisions ---- */

struct rec_decision {
	size_t barrier;
	enum barrier_state state;
	char *reason;
	char *message;
	size_t origin;
	uint64_t now;
	size_t *waiting;
	size_t nwaiting;
	size_t op;               /* value of recorder.op when it was decided */
};

struct recorder {
	VEC(struct rec_decision) d;
	size_t op;               /* bumped by the test before each operation */
	const char **activity;   /* per workflow, or NULL: appends nothing */
	const struct coord *c;   /* to check the callback sees the new state */
};

static void decided_cb(const struct barrier_decision *d, void *arg)
{
	struct recorder *r = arg;
	struct rec_decision *x = VEC_PUSH(r->d);
	x->barrier = d->barrier;
	x->state = d->state;
	x->reason = d->reason ? xstrdup(d->reason) : NULL;
	x->message = d->message ? xstrdup(d->message) : NULL;
	x->origin = d->origin;
	x->now = d->now_ms;
	x->nwaiting = d->nwaiting;
	x->waiting = xcalloc(d->nwaiting + 1, sizeof(size_t));
	if (d->nwaiting)
		memcpy(x->waiting, d->waiting, d->nwaiting * sizeof(size_t));
	x->op = r->op;
	if (r->c) {
		/* The coordinator is already in its new state. */
		const struct barrier *b = &r->c->barriers[d->barrier];
		assert_int_equal(b->state, d->state);
		for (size_t i = 0; i < d->nwaiting; i++)
			assert_int_not_equal(r->c->waiting_at[d->waiting[i]], d->barrier);
		if (d->state == BARRIER_BROKEN)
			assert_ptr_equal(d->message, b->message);
	}
}

static void activity_cb(size_t wf, struct buf *out, void *arg)
{
	struct recorder *r = arg;
	if (r->activity && r->activity[wf])
		buf_adds(out, r->activity[wf]);
}

static void recorder_release(struct recorder *r)
{
	for (size_t i = 0; i < r->d.n; i++) {
		free(r->d.v[i].reason);
		free(r->d.v[i].message);
		free(r->d.v[i].waiting);
	}
	VEC_FREE(r->d);
}

static void recorder_clear(struct recorder *r)
{
	recorder_release(r);
	memset(&r->d, 0, sizeof(r->d));
}

/* ---- plans from YAML ---- */

static void dump(const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "  %s:%d:%d: %s\n", d->items[i].file ? d->items[i].file : "-",
			d->items[i].line, d->items[i].col, d->items[i].message);
}

struct fx {
	struct diag d;
	struct pipeline *p;
	struct plan *plan;
	struct coord c;
	struct recorder r;
};

/* Loads and expands `text` (not checked: some tests need plans `check`
 * rejects, like the swapped deadlock) and starts a coordinator on it. */
static void fx_start(struct fx *F, const char *text)
{
	memset(F, 0, sizeof(*F));
	F->p = pipeline_load_text("p.yml", text, strlen(text), &F->d);
	if (!F->p) {
		dump(&F->d);
		fail_msg("the pipeline does not load");
	}
	F->plan = plan_build(F->p, NULL, &F->d);
	if (!F->plan) {
		dump(&F->d);
		fail_msg("plan_build failed");
	}
	struct coord_ops ops = { decided_cb, activity_cb, &F->r };
	coord_init(&F->c, F->plan, &ops);
	F->r.c = &F->c;
	coord_assert_valid(&F->c);
}

static void fx_end(struct fx *F)
{
	coord_release(&F->c);
	recorder_release(&F->r);
	plan_free(F->plan);
	pipeline_free(F->p);
	diag_release(&F->d);
}

static size_t wf_of(const struct fx *F, const char *name)
{
	for (size_t i = 0; i < F->plan->nworkflows; i++)
		if (!strcmp(F->plan->workflows[i].name, name))
			return i;
	fail_msg("no workflow %s", name);
	return NONE;
}

static size_t bar_of(const struct fx *F, const char *id, bool rollback)
{
	const struct plan_barrier *bs = rollback ? F->plan->rollback_barriers : F->plan->barriers;
	size_t n = rollback ? F->plan->nrollback_barriers : F->plan->nbarriers;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(bs[i].id, id))
			return coord_index(&F->c, i, rollback);
	fail_msg("no %sbarrier %s", rollback ? "rollback " : "", id);
	return NONE;
}

/* Each operation bumps r.op and re-checks the invariants. */
static enum arrive_result arrive(struct fx *F, const char *b, bool rollback, const char *wf,
				 uint64_t now, const char **msg)
{
	F->r.op++;
	enum arrive_result res = coord_arrive(&F->c, bar_of(F, b, rollback), wf_of(F, wf), now, msg);
	coord_assert_valid(&F->c);
	return res;
}

static void fail_wf(struct fx *F, const char *wf, bool rollback, const char *why, uint64_t now)
{
	F->r.op++;
	coord_fail(&F->c, wf_of(F, wf), rollback, why, now);
	coord_assert_valid(&F->c);
}

static void withdraw(struct fx *F, const char *wf, bool rollback, uint64_t now)
{
	F->r.op++;
	coord_withdraw(&F->c, wf_of(F, wf), rollback, now);
	coord_assert_valid(&F->c);
}

static void tick(struct fx *F, uint64_t now)
{
	F->r.op++;
	coord_tick(&F->c, now);
	coord_assert_valid(&F->c);
}

static enum barrier_state state_of(const struct fx *F, const char *b, bool rollback)
{
	return F->c.barriers[bar_of(F, b, rollback)].state;
}

static void assert_waiting(const struct rec_decision *d, size_t n, ...)
{
	va_list ap;
	assert_int_equal(d->nwaiting, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(d->waiting[i], va_arg(ap, size_t));
	va_end(ap);
}

/* ---- plans by hand (large sizes) ---- */

struct hand {
	struct plan plan;
};

/* A plan with `nwf` workflows named w0, w1, ... and no barriers yet. */
static void hand_init(struct hand *h, size_t nwf, size_t nbarriers, size_t nrollback)
{
	memset(h, 0, sizeof(*h));
	struct plan *p = &h->plan;
	p->nworkflows = nwf;
	p->workflows = arena_array(&p->arena, nwf + 1, sizeof(*p->workflows));
	for (size_t i = 0; i < nwf; i++)
		p->workflows[i].name = arena_printf(&p->arena, "w%zu", i);
	p->nbarriers = nbarriers;
	p->barriers = arena_array(&p->arena, nbarriers + 1, sizeof(*p->barriers));
	p->nrollback_barriers = nrollback;
	p->rollback_barriers = arena_array(&p->arena, nrollback + 1, sizeof(*p->rollback_barriers));
}

/* Sets barrier `pb` (id B<i> or R<i>) to the `n` workflows given. */
static void hand_barrier(struct hand *h, struct plan_barrier *pb, const char *id, const size_t *wfs,
			 size_t n, bool rollback)
{
	pb->id = arena_strdup(&h->plan.arena, id);
	pb->timeout_ms = DEFAULT_BARRIER_TIMEOUT_MS;
	pb->rollback = rollback;
	pb->nuses = n;
	pb->uses = arena_array(&h->plan.arena, n + 1, sizeof(*pb->uses));
	for (size_t i = 0; i < n; i++)
		pb->uses[i].wf = wfs[i];
}

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

/* ---- the seed scenario (SPEC §2 example) ---- */

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
		cmocka_unit_test(test_exhaustive_two),
		cmocka_unit_test(test_exhaustive_three),
		cmocka_unit_test(test_exhaustive_three_rollback),
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
		cmocka_unit_test(test_random_runs),
		cmocka_unit_test(test_big_barrier),
		cmocka_unit_test(test_big_chain),
		cmocka_unit_test(test_big_ring_deadlock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
