/*
 * barrier: the barrier coordinator (see barrier.h for the state diagram).
 *
 * Three kinds of state change, each in exactly one function:
 *   - barrier_transition(): OPEN -> PASSED | BROKEN, the only place a
 *     barrier's state changes and the only caller of ops.decided;
 *   - party_leave(): PENDING -> ARRIVED | WITHDRAWN of one participant;
 *   - wait_set(): a workflow starts or stops waiting at a barrier.
 * The last two keep the counters (npending, narrived, nfree) exact, which
 * is what makes every decision O(1) to test and deadlock detection linear.
 * coord_assert_valid() recomputes all of it from scratch.
 */
#include "engine/barrier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"
#include "base/invariant.h"
#include "base/xalloc.h"

#define NONE SIZE_MAX

/*
 * API misuse (arriving twice, unknown indexes) would silently corrupt the
 * counters, so it is checked in every build, not only with assert().
 */
#define REQUIRE(cond)                                                                    \
	do {                                                                             \
		if (!(cond))                                                             \
			coord_bug(__FILE__, __LINE__, #cond);                            \
	} while (0)

static _Noreturn void coord_bug(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: barrier coordinator misuse: %s\n", file, line, what);
	abort();
}

static bool is_rollback(const struct coord *c, size_t b)
{
	return b >= c->nstep_barriers;
}

static const char *wf_name(const struct coord *c, size_t wf)
{
	return c->plan->workflows[wf].name;
}

/* Appends the separator before item `i` of `n`: "a", "a and b", "a, b and c". */
static void add_list_sep(struct buf *out, size_t i, size_t n)
{
	if (i)
		buf_adds(out, i + 1 == n ? " and " : ", ");
}

/* ---- setup and teardown ---- */

static const struct plan_barrier *plan_barrier_of(const struct plan *plan, size_t b)
{
	if (b < plan->nbarriers)
		return &plan->barriers[b];
	return &plan->rollback_barriers[b - plan->nbarriers];
}

/* The deadline of a barrier first reached at `first`; saturates, so that
 * a huge timeout means "never" rather than wrapping to the past. */
static uint64_t deadline_of(const struct barrier *bar, uint64_t first)
{
	uint64_t t = bar->plan->timeout_ms;
	return first > UINT64_MAX - t ? UINT64_MAX : first + t;
}

void coord_init(struct coord *c, const struct plan *plan, const struct coord_ops *ops)
{
	memset(c, 0, sizeof(*c));
	c->plan = plan;
	if (ops)
		c->ops = *ops;
	c->nworkflows = plan->nworkflows;
	c->nstep_barriers = plan->nbarriers;
	c->nbarriers = plan->nbarriers + plan->nrollback_barriers;
	c->arriving = NONE;

	/* +1 everywhere: empty plans still get real (freeable) pointers. */
	size_t nw = c->nworkflows, nb = c->nbarriers;
	c->barriers = xcalloc(nb + 1, sizeof(*c->barriers));
	c->waiting_at = xmalloc((nw + 1) * sizeof(*c->waiting_at));
	c->member_first = xcalloc(nw + 2, sizeof(*c->member_first));
	c->scratch_count = xcalloc(nb + 1, sizeof(*c->scratch_count));
	c->scratch_order = xcalloc(nb + 1, sizeof(*c->scratch_order));
	c->scratch_flag = xcalloc(nw + 1, sizeof(*c->scratch_flag));
	c->scratch_queue = xcalloc(nw + 1, sizeof(*c->scratch_queue));
	c->scratch_waiting = xcalloc(nw + 1, sizeof(*c->scratch_waiting));

	/*
	 * Pass 1: count distinct parties per barrier and barriers per
	 * workflow. last[wf] == b marks wf as already seen in barrier b, so a
	 * workflow listed twice in the uses (which B4 forbids, but the plan
	 * may not have been checked) is one party.
	 */
	size_t *last = c->waiting_at; /* borrowed as scratch until pass 3 */
	for (size_t w = 0; w < nw; w++)
		last[w] = NONE;
	size_t total = 0;
	for (size_t b = 0; b < nb; b++) {
		struct barrier *bar = &c->barriers[b];
		bar->plan = plan_barrier_of(plan, b);
		bar->origin = NONE;
		for (size_t u = 0; u < bar->plan->nuses; u++) {
			size_t wf = bar->plan->uses[u].wf;
			REQUIRE(wf < nw);
			if (last[wf] == b)
				continue;
			last[wf] = b;
			bar->nparties++;
			c->member_first[wf + 1]++;
			total++;
		}
	}
	for (size_t w = 0; w < nw; w++)
		c->member_first[w + 1] += c->member_first[w];
	c->members = xcalloc(total + 1, sizeof(*c->members));

	/* Pass 2: each workflow's barriers, ascending (barriers in order). */
	size_t *fill = c->scratch_queue; /* per workflow: members written so far */
	for (size_t w = 0; w < nw; w++)
		last[w] = NONE;
	for (size_t b = 0; b < nb; b++) {
		struct barrier *bar = &c->barriers[b];
		bar->parties = xcalloc(bar->nparties + 1, sizeof(*bar->parties));
		bar->party = xcalloc(bar->nparties + 1, sizeof(*bar->party));
		for (size_t u = 0; u < bar->plan->nuses; u++) {
			size_t wf = bar->plan->uses[u].wf;
			if (last[wf] == b)
				continue;
			last[wf] = b;
			c->members[c->member_first[wf] + fill[wf]++].barrier = b;
		}
	}

	/*
	 * Pass 3: the parties of each barrier, filled workflow by workflow so
	 * they come out ascending, i.e. in plan order, and each member learns
	 * its slot.
	 */
	for (size_t w = 0; w < nw; w++) {
		for (size_t m = c->member_first[w]; m < c->member_first[w + 1]; m++) {
			struct barrier *bar = &c->barriers[c->members[m].barrier];
			size_t slot = bar->npending++;
			bar->parties[slot] = w;
			bar->party[slot] = PARTY_PENDING;
			c->members[m].slot = slot;
		}
		c->waiting_at[w] = NONE;
		fill[w] = 0;
	}
	for (size_t b = 0; b < nb; b++)
		c->barriers[b].nfree = c->barriers[b].npending;
}

void coord_release(struct coord *c)
{
	for (size_t b = 0; b < c->nbarriers; b++) {
		free(c->barriers[b].parties);
		free(c->barriers[b].party);
		free(c->barriers[b].reason);
		free(c->barriers[b].message);
	}
	free(c->barriers);
	free(c->waiting_at);
	free(c->members);
	free(c->member_first);
	free(c->scratch_count);
	free(c->scratch_order);
	free(c->scratch_flag);
	free(c->scratch_queue);
	free(c->scratch_waiting);
	memset(c, 0, sizeof(*c));
}

size_t coord_index(const struct coord *c, size_t plan_index, bool rollback)
{
	if (rollback) {
		REQUIRE(plan_index < c->nbarriers - c->nstep_barriers);
		return c->nstep_barriers + plan_index;
	}
	REQUIRE(plan_index < c->nstep_barriers);
	return plan_index;
}

/* The member entry of workflow `wf` at barrier `b`, or NULL: a binary
 * search, since a workflow's members are sorted by barrier. */
static const struct coord_member *find_member(const struct coord *c, size_t wf, size_t b)
{
	size_t lo = c->member_first[wf], hi = c->member_first[wf + 1];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->members[mid].barrier < b)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < c->member_first[wf + 1] && c->members[lo].barrier == b)
		return &c->members[lo];
	return NULL;
}

/* ---- the three state changes ---- */

/*
 * Workflow `wf` starts waiting at `b` (b != NONE) or stops waiting
 * (b == NONE). A waiting workflow cannot make progress by itself, so it
 * stops counting as a "free" pending party of its other barriers.
 */
static void wait_set(struct coord *c, size_t wf, size_t b)
{
	bool was_waiting = c->waiting_at[wf] != NONE;
	bool waiting = b != NONE;
	c->waiting_at[wf] = b;
	if (was_waiting == waiting)
		return;
	for (size_t m = c->member_first[wf]; m < c->member_first[wf + 1]; m++) {
		struct barrier *bar = &c->barriers[c->members[m].barrier];
		if (bar->party[c->members[m].slot] != PARTY_PENDING)
			continue;
		if (waiting)
			bar->nfree--;
		else
			bar->nfree++;
	}
}

/* Party `slot` of barrier `b` leaves PENDING for ARRIVED or WITHDRAWN. */
static void party_leave(struct coord *c, size_t b, size_t slot, enum party_state to)
{
	struct barrier *bar = &c->barriers[b];
	REQUIRE(bar->party[slot] == PARTY_PENDING && to != PARTY_PENDING);
	bar->party[slot] = to;
	bar->npending--;
	if (c->waiting_at[bar->parties[slot]] == NONE)
		bar->nfree--;
	if (to == PARTY_ARRIVED)
		bar->narrived++;
}

/*
 * The transition function: barrier `b` leaves OPEN for `to`, once. BROKEN
 * takes the cause (copied) and its origin. The workflows waiting there
 * stop waiting before the engine hears of the decision, so the callback
 * sees the coordinator in its new state.
 */
static void barrier_transition(struct coord *c, size_t b, enum barrier_state to,
			       const char *cause, size_t origin, uint64_t now)
{
	struct barrier *bar = &c->barriers[b];
	REQUIRE(bar->state == BARRIER_OPEN && to != BARRIER_OPEN);
	REQUIRE((to == BARRIER_BROKEN) == (cause != NULL));
	bar->state = to;
	bar->decided_ms = now;
	if (to == BARRIER_BROKEN) {
		struct buf msg = BUF_INIT;
		if (bar->plan->title)
			buf_addf(&msg, "barrier %s (%s) broken: %s", bar->plan->id, bar->plan->title,
				 cause);
		else
			buf_addf(&msg, "barrier %s broken: %s", bar->plan->id, cause);
		bar->reason = xstrdup(cause);
		bar->message = buf_detach(&msg, NULL);
		bar->origin = origin;
	}

	size_t nwaiting = 0;
	for (size_t i = 0; i < bar->nparties; i++) {
		size_t wf = bar->parties[i];
		if (c->waiting_at[wf] != b)
			continue;
		wait_set(c, wf, NONE);
		if (wf != c->arriving)
			c->scratch_waiting[nwaiting++] = wf;
	}

	if (c->ops.decided) {
		struct barrier_decision d = {
			.barrier = b,
			.state = to,
			.reason = bar->reason,
			.message = bar->message,
			.origin = bar->origin,
			.now_ms = now,
			.waiting = c->scratch_waiting,
			.nwaiting = nwaiting,
		};
		c->ops.decided(&d, c->ops.arg);
	}
}

/* ---- restoring (see barrier.h) ---- */

void coord_restore_arrival(struct coord *c, size_t b, size_t wf, uint64_t at)
{
	REQUIRE(b < c->nbarriers && wf < c->nworkflows);
	const struct coord_member *m = find_member(c, wf, b);
	REQUIRE(m != NULL);
	struct barrier *bar = &c->barriers[b];
	if (bar->party[m->slot] != PARTY_PENDING)
		return;
	party_leave(c, b, m->slot, PARTY_ARRIVED);
	if (!bar->armed && bar->state == BARRIER_OPEN) {
		bar->armed = true;
		bar->first_arrival_ms = at;
		bar->deadline_ms = deadline_of(bar, at);
	}
}

void coord_restore_decision(struct coord *c, size_t b, enum barrier_state to, const char *cause,
			    size_t origin, uint64_t at)
{
	REQUIRE(b < c->nbarriers && c->barriers[b].state == BARRIER_OPEN);
	struct barrier *bar = &c->barriers[b];
	/* A barrier passes only when nobody is PENDING: whoever did not
	 * arrive had withdrawn (withdrawals are not recorded events). */
	if (to == BARRIER_PASSED)
		for (size_t i = 0; i < bar->nparties; i++)
			if (bar->party[i] == PARTY_PENDING)
				party_leave(c, b, i, PARTY_WITHDRAWN);
	/* No callback: the decision was reported when it was taken. */
	struct coord_ops ops = c->ops;
	c->ops.decided = NULL;
	barrier_transition(c, b, to, to == BARRIER_BROKEN ? (cause ? cause : "broken") : NULL, origin,
			   at);
	c->ops = ops;
}

void coord_restore_waiting(struct coord *c, size_t wf, size_t b)
{
	REQUIRE(b < c->nbarriers && wf < c->nworkflows);
	const struct coord_member *m = find_member(c, wf, b);
	REQUIRE(m != NULL && c->barriers[b].party[m->slot] == PARTY_ARRIVED &&
		c->barriers[b].state == BARRIER_OPEN && c->waiting_at[wf] == NONE);
	wait_set(c, wf, b);
}

void coord_restore_settle(struct coord *c, uint64_t now)
{
	for (size_t b = 0; b < c->nbarriers; b++)
		if (c->barriers[b].state == BARRIER_OPEN && c->barriers[b].npending == 0)
			barrier_transition(c, b, BARRIER_PASSED, NULL, NONE, now);
}

/* ---- deadlock detection (B8) ---- */

/*
 * Finds the deadlocked workflows: the largest set D of waiting workflows
 * such that every PENDING party of the barrier each one waits at is in D.
 * Such workflows can never move again: each waits for parties that
 * themselves wait inside D.
 *
 * Peeling, linear in the participants: a waiting workflow is free when its
 * barrier has a PENDING party that is not waiting (the barrier's nfree) or
 * that is free. scratch_count[b] counts the PENDING parties of b that are
 * not waiting or are free; a barrier whose count becomes non-zero frees
 * every workflow waiting at it, once, and each freed workflow bumps the
 * counts of the barriers where it is PENDING. What is never freed is D.
 *
 * On return scratch_flag[w] is true for free or non-waiting workflows;
 * returns |D|. Only scratch space is written.
 */
static size_t find_deadlocked(const struct coord *c)
{
	size_t *count = c->scratch_count, *queue = c->scratch_queue;
	bool *freed = c->scratch_flag;
	size_t head = 0, tail = 0, nwaiting = 0;

	for (size_t b = 0; b < c->nbarriers; b++)
		count[b] = c->barriers[b].nfree;
	for (size_t w = 0; w < c->nworkflows; w++) {
		size_t b = c->waiting_at[w];
		freed[w] = b == NONE || count[b] > 0;
		if (b == NONE)
			continue;
		nwaiting++;
		if (freed[w])
			queue[tail++] = w;
	}
	while (head < tail) {
		size_t w = queue[head++];
		for (size_t m = c->member_first[w]; m < c->member_first[w + 1]; m++) {
			size_t b = c->members[m].barrier;
			const struct barrier *bar = &c->barriers[b];
			if (bar->party[c->members[m].slot] != PARTY_PENDING || count[b]++ > 0)
				continue;
			/* b just became able to move: everyone waiting there is free. */
			for (size_t i = 0; i < bar->nparties; i++) {
				size_t p = bar->parties[i];
				if (c->waiting_at[p] == b && !freed[p]) {
					freed[p] = true;
					queue[tail++] = p;
				}
			}
		}
	}
	return nwaiting - tail;
}

/*
 * Breaks, at once, every barrier a deadlocked workflow waits at, with one
 * reason naming each deadlocked workflow in plan order:
 * "deadlock: A waits at FE for B; B waits at BE for A".
 */
static void break_deadlocks(struct coord *c, uint64_t now)
{
	if (!find_deadlocked(c))
		return;
	bool *freed = c->scratch_flag;
	struct buf why = BUF_INIT;
	size_t nbroken = 0;
	for (size_t w = 0; w < c->nworkflows; w++) {
		if (freed[w])
			continue;
		size_t b = c->waiting_at[w];
		const struct barrier *bar = &c->barriers[b];
		buf_adds(&why, why.len ? "; " : "deadlock: ");
		buf_addf(&why, "%s waits at %s for ", wf_name(c, w), bar->plan->id);
		for (size_t i = 0, k = 0; i < bar->nparties; i++) {
			if (bar->party[i] != PARTY_PENDING)
				continue;
			add_list_sep(&why, k++, bar->npending);
			buf_adds(&why, wf_name(c, bar->parties[i]));
		}
		/* scratch_count is free again: mark the barrier to break. */
		if (c->scratch_count[b] != NONE) {
			c->scratch_count[b] = NONE;
			nbroken++;
		}
	}
	/* Collect first: each transition releases waiters, which changes the
	 * counters find_deadlocked() used. */
	size_t n = 0;
	for (size_t b = 0; b < c->nbarriers && n < nbroken; b++)
		if (c->scratch_count[b] == NONE)
			c->scratch_order[n++] = b;
	for (size_t i = 0; i < n; i++)
		barrier_transition(c, c->scratch_order[i], BARRIER_BROKEN, why.s, NONE, now);
	buf_release(&why);
}

/* ---- operations ---- */

enum arrive_result coord_arrive(struct coord *c, size_t b, size_t wf, uint64_t now,
				const char **message)
{
	REQUIRE(b < c->nbarriers && wf < c->nworkflows);
	REQUIRE(c->waiting_at[wf] == NONE);
	const struct coord_member *m = find_member(c, wf, b);
	REQUIRE(m != NULL);
	struct barrier *bar = &c->barriers[b];
	party_leave(c, b, m->slot, PARTY_ARRIVED);

	if (bar->state == BARRIER_BROKEN) {
		if (message)
			*message = bar->message;
		return ARRIVE_BROKEN;
	}
	REQUIRE(bar->state == BARRIER_OPEN);
	if (!bar->armed) {
		bar->armed = true;
		bar->first_arrival_ms = now;
		bar->deadline_ms = deadline_of(bar, now);
	}
	if (bar->npending == 0) {
		barrier_transition(c, b, BARRIER_PASSED, NULL, NONE, now);
		return ARRIVE_PASSED;
	}

	wait_set(c, wf, b);
	/*
	 * Before this arrival there was no deadlock, so any deadlock now
	 * contains wf (a deadlocked set without wf would have been one before:
	 * only b lost a pending party). wf is stuck only if every missing
	 * party of b waits too; nfree > 0 settles it without a full search.
	 */
	if (bar->nfree == 0) {
		c->arriving = wf;
		break_deadlocks(c, now);
		c->arriving = NONE;
	}
	if (bar->state == BARRIER_BROKEN) {
		if (message)
			*message = bar->message;
		return ARRIVE_BROKEN;
	}
	return ARRIVE_WAIT;
}

void coord_fail(struct coord *c, size_t wf, bool rollback, const char *why, uint64_t now)
{
	REQUIRE(wf < c->nworkflows && why != NULL);
	size_t waited = c->waiting_at[wf];
	if (waited != NONE && is_rollback(c, waited) == rollback &&
	    c->barriers[waited].state == BARRIER_OPEN)
		wait_set(c, wf, NONE);
	else
		waited = NONE;

	struct buf cause = BUF_INIT;
	buf_addf(&cause, "workflow %s %s", wf_name(c, wf), why);
	for (size_t m = c->member_first[wf]; m < c->member_first[wf + 1]; m++) {
		size_t b = c->members[m].barrier;
		const struct barrier *bar = &c->barriers[b];
		if (is_rollback(c, b) != rollback || bar->state != BARRIER_OPEN)
			continue;
		if (bar->party[c->members[m].slot] == PARTY_PENDING || b == waited)
			barrier_transition(c, b, BARRIER_BROKEN, cause.s, wf, now);
	}
	buf_release(&cause);
}

void coord_withdraw(struct coord *c, size_t wf, bool rollback, uint64_t now)
{
	REQUIRE(wf < c->nworkflows);
	for (size_t m = c->member_first[wf]; m < c->member_first[wf + 1]; m++) {
		size_t b = c->members[m].barrier;
		if (is_rollback(c, b) != rollback || c->barriers[b].state != BARRIER_OPEN ||
		    c->barriers[b].party[c->members[m].slot] != PARTY_PENDING)
			continue;
		party_leave(c, b, c->members[m].slot, PARTY_WITHDRAWN);
		if (c->barriers[b].npending == 0)
			barrier_transition(c, b, BARRIER_PASSED, NULL, NONE, now);
	}
	/*
	 * A withdrawal can create a deadlock: x waits at B for y and z, y
	 * waits at C for x; when z withdraws, x and y wait for each other.
	 */
	break_deadlocks(c, now);
}

static int cmp_deadline(const void *a, const void *b, void *arg)
{
	const struct coord *c = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	uint64_t dx = c->barriers[x].deadline_ms, dy = c->barriers[y].deadline_ms;
	if (dx != dy)
		return dx < dy ? -1 : 1;
	return x < y ? -1 : x > y;
}

void coord_tick(struct coord *c, uint64_t now)
{
	size_t n = 0;
	for (size_t b = 0; b < c->nbarriers; b++) {
		const struct barrier *bar = &c->barriers[b];
		if (bar->state == BARRIER_OPEN && bar->armed && bar->deadline_ms <= now)
			c->scratch_order[n++] = b;
	}
	qsort_r(c->scratch_order, n, sizeof(*c->scratch_order), cmp_deadline, c);

	struct buf why = BUF_INIT, act = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		size_t b = c->scratch_order[i];
		const struct barrier *bar = &c->barriers[b];
		char dur[32];
		duration_format(bar->plan->timeout_ms, dur, sizeof(dur));
		buf_reset(&why);
		buf_addf(&why, "timed out after %s waiting for ", dur);
		for (size_t p = 0, k = 0; p < bar->nparties; p++) {
			if (bar->party[p] != PARTY_PENDING)
				continue;
			add_list_sep(&why, k++, bar->npending);
			buf_adds(&why, wf_name(c, bar->parties[p]));
			if (!c->ops.activity)
				continue;
			buf_reset(&act);
			c->ops.activity(bar->parties[p], &act, c->ops.arg);
			if (act.len)
				buf_addf(&why, " (%s)", act.s);
		}
		barrier_transition(c, b, BARRIER_BROKEN, why.s, NONE, now);
	}
	buf_release(&why);
	buf_release(&act);
}

uint64_t coord_next_deadline(const struct coord *c)
{
	uint64_t next = UINT64_MAX;
	for (size_t b = 0; b < c->nbarriers; b++) {
		const struct barrier *bar = &c->barriers[b];
		if (bar->state == BARRIER_OPEN && bar->armed && bar->deadline_ms < next)
			next = bar->deadline_ms;
	}
	return next;
}

void coord_abort(struct coord *c, uint64_t now)
{
	for (size_t b = 0; b < c->nbarriers; b++)
		if (c->barriers[b].state == BARRIER_OPEN)
			barrier_transition(c, b, BARRIER_BROKEN, "run aborted", NONE, now);
}

void coord_abort_steps(struct coord *c, uint64_t now)
{
	for (size_t b = 0; b < c->nstep_barriers; b++)
		if (c->barriers[b].state == BARRIER_OPEN)
			barrier_transition(c, b, BARRIER_BROKEN, "run aborted", NONE, now);
}

/* ---- invariants ---- */

#define CHECK(cond, ...) INVARIANT("coord_assert_valid", cond, __VA_ARGS__)

void coord_assert_valid(const struct coord *c)
{
	const struct plan *plan = c->plan;
	CHECK(c->nworkflows == plan->nworkflows, "workflow count");
	CHECK(c->nstep_barriers == plan->nbarriers, "step barrier count");
	CHECK(c->nbarriers == plan->nbarriers + plan->nrollback_barriers, "barrier count");
	CHECK(c->arriving == NONE, "no operation in progress");
	CHECK(c->member_first[0] == 0, "members start at 0");

	/* Every member entry points back at its workflow. */
	for (size_t w = 0; w < c->nworkflows; w++) {
		CHECK(c->member_first[w] <= c->member_first[w + 1], "workflow %zu members", w);
		for (size_t m = c->member_first[w]; m < c->member_first[w + 1]; m++) {
			const struct coord_member *cm = &c->members[m];
			CHECK(cm->barrier < c->nbarriers, "workflow %zu member %zu", w, m);
			CHECK(m == c->member_first[w] || c->members[m - 1].barrier < cm->barrier,
			      "workflow %zu members ascending", w);
			CHECK(cm->slot < c->barriers[cm->barrier].nparties &&
				      c->barriers[cm->barrier].parties[cm->slot] == w,
			      "workflow %zu slot at barrier %zu", w, cm->barrier);
		}
	}

	size_t nmembers = 0;
	for (size_t b = 0; b < c->nbarriers; b++) {
		const struct barrier *bar = &c->barriers[b];
		CHECK(bar->plan == plan_barrier_of(plan, b), "barrier %zu plan", b);
		size_t pending = 0, arrived = 0, nfree = 0;
		for (size_t i = 0; i < bar->nparties; i++) {
			size_t w = bar->parties[i];
			CHECK(w < c->nworkflows, "barrier %zu party %zu", b, i);
			CHECK(i == 0 || bar->parties[i - 1] < w, "barrier %zu parties ascending", b);
			CHECK(find_member(c, w, b) && find_member(c, w, b)->slot == i,
			      "barrier %zu party %zu has a member entry", b, i);
			switch (bar->party[i]) {
			case PARTY_PENDING:
				pending++;
				nfree += c->waiting_at[w] == NONE;
				break;
			case PARTY_ARRIVED:
				arrived++;
				break;
			case PARTY_WITHDRAWN:
				break;
			default:
				CHECK(0, "barrier %zu party %zu state %d", b, i, (int)bar->party[i]);
			}
		}
		nmembers += bar->nparties;
		CHECK(bar->npending == pending, "barrier %zu: npending %zu, counted %zu", b,
		      bar->npending, pending);
		CHECK(bar->narrived == arrived, "barrier %zu: narrived %zu, counted %zu", b,
		      bar->narrived, arrived);
		CHECK(bar->nfree == nfree, "barrier %zu: nfree %zu, counted %zu", b, bar->nfree,
		      nfree);
		CHECK(!bar->armed || bar->deadline_ms == deadline_of(bar, bar->first_arrival_ms),
		      "barrier %zu deadline", b);
		switch (bar->state) {
		case BARRIER_OPEN:
			/* A barrier without parties (never built by plan_build) has
			 * nobody to decide it but an abort. */
			CHECK(pending > 0 || bar->nparties == 0,
			      "open barrier %zu has a pending party (else it passed)", b);
			CHECK(bar->armed == (arrived > 0), "barrier %zu armed iff arrivals", b);
			CHECK(!bar->reason && !bar->message && bar->origin == NONE &&
				      bar->decided_ms == 0,
			      "open barrier %zu has no decision", b);
			break;
		case BARRIER_PASSED:
			CHECK(pending == 0, "passed barrier %zu has no pending party", b);
			CHECK(bar->armed == (arrived > 0), "barrier %zu armed iff arrivals", b);
			CHECK(!bar->reason && !bar->message && bar->origin == NONE,
			      "passed barrier %zu has no reason", b);
			CHECK(!bar->armed || bar->decided_ms >= bar->first_arrival_ms,
			      "barrier %zu decided after its first arrival", b);
			break;
		case BARRIER_BROKEN:
			CHECK(bar->reason && bar->message, "broken barrier %zu has a reason", b);
			CHECK(strstr(bar->message, bar->reason) &&
				      !strncmp(bar->message, "barrier ", 8),
			      "barrier %zu message \"%s\"", b, bar->message);
			CHECK(bar->origin == NONE || bar->origin < c->nworkflows,
			      "barrier %zu origin", b);
			break;
		default:
			CHECK(0, "barrier %zu state %d", b, (int)bar->state);
		}
	}
	CHECK(nmembers == c->member_first[c->nworkflows], "members match parties");

	/* A waiting workflow arrived at an OPEN barrier that still misses someone. */
	for (size_t w = 0; w < c->nworkflows; w++) {
		size_t b = c->waiting_at[w];
		if (b == NONE)
			continue;
		CHECK(b < c->nbarriers, "workflow %zu waits at %zu", w, b);
		const struct coord_member *m = find_member(c, w, b);
		CHECK(m && c->barriers[b].party[m->slot] == PARTY_ARRIVED,
		      "workflow %zu arrived where it waits", w);
		CHECK(c->barriers[b].state == BARRIER_OPEN, "workflow %zu waits at an open barrier",
		      w);
	}

	/* Deadlocks are broken as soon as they form. */
	CHECK(find_deadlocked(c) == 0, "no deadlock is left standing");
}
