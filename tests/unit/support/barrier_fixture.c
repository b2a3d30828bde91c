/*
 * barrier_fixture: recorder, YAML fixture and hand-built plans for the
 * unit tests of engine/barrier.c. See barrier_fixture.h.
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

#include "barrier_fixture.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/diag.h"
#include "base/xalloc.h"
#include "engine/barrier.h"
#include "pipeline/expand.h"
#include "pipeline/load.h"
#include "pipeline/model.h"

/* ---- recording decisions ---- */

void decided_cb(const struct barrier_decision *d, void *arg)
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

void activity_cb(size_t wf, struct buf *out, void *arg)
{
	struct recorder *r = arg;
	if (r->activity && r->activity[wf])
		buf_adds(out, r->activity[wf]);
}

void recorder_release(struct recorder *r)
{
	for (size_t i = 0; i < r->d.n; i++) {
		free(r->d.v[i].reason);
		free(r->d.v[i].message);
		free(r->d.v[i].waiting);
	}
	VEC_FREE(r->d);
}

void recorder_clear(struct recorder *r)
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

/* Loads and expands `text` (not checked: some tests need plans `check`
 * rejects, like the swapped deadlock) and starts a coordinator on it. */
void fx_start(struct fx *F, const char *text)
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

void fx_end(struct fx *F)
{
	coord_release(&F->c);
	recorder_release(&F->r);
	plan_free(F->plan);
	pipeline_free(F->p);
	diag_release(&F->d);
}

size_t wf_of(const struct fx *F, const char *name)
{
	for (size_t i = 0; i < F->plan->nworkflows; i++)
		if (!strcmp(F->plan->workflows[i].name, name))
			return i;
	fail_msg("no workflow %s", name);
	return NONE;
}

size_t bar_of(const struct fx *F, const char *id, bool rollback)
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
enum arrive_result arrive(struct fx *F, const char *b, bool rollback, const char *wf,
			  uint64_t now, const char **msg)
{
	F->r.op++;
	enum arrive_result res = coord_arrive(&F->c, bar_of(F, b, rollback), wf_of(F, wf), now, msg);
	coord_assert_valid(&F->c);
	return res;
}

void fail_wf(struct fx *F, const char *wf, bool rollback, const char *why, uint64_t now)
{
	F->r.op++;
	coord_fail(&F->c, wf_of(F, wf), rollback, why, now);
	coord_assert_valid(&F->c);
}

void withdraw(struct fx *F, const char *wf, bool rollback, uint64_t now)
{
	F->r.op++;
	coord_withdraw(&F->c, wf_of(F, wf), rollback, now);
	coord_assert_valid(&F->c);
}

void tick(struct fx *F, uint64_t now)
{
	F->r.op++;
	coord_tick(&F->c, now);
	coord_assert_valid(&F->c);
}

enum barrier_state state_of(const struct fx *F, const char *b, bool rollback)
{
	return F->c.barriers[bar_of(F, b, rollback)].state;
}

void assert_waiting(const struct rec_decision *d, size_t n, ...)
{
	va_list ap;
	assert_int_equal(d->nwaiting, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(d->waiting[i], va_arg(ap, size_t));
	va_end(ap);
}

/* ---- plans by hand (unchecked shapes, large sizes) ---- */

/* A plan with `nwf` workflows named w0, w1, ... and no barriers yet. */
void hand_init(struct hand *h, size_t nwf, size_t nbarriers, size_t nrollback)
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
void hand_barrier(struct hand *h, struct plan_barrier *pb, const char *id, const size_t *wfs,
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
