/*
 * run_fixture: a plan run on a real loop, its events recorded as lines,
 * for the unit tests of the run state machine. See run_fixture.h.
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
#include <unistd.h>

#include "run_fixture.h"

#include "base/buf.h"
#include "base/diag.h"
#include "base/xalloc.h"
#include "engine/proc.h"
#include "engine/run.h"
#include "engine/run_internal.h"
#include "events/events.h"
#include "pipeline/compile.h"

#define GUARD_MS 20000

unsigned rfx_seen[RFX_NSTATES][RFX_NSTATES];

/* ---- events as lines ---- */

static void add_step(struct buf *b, const struct event *e)
{
	buf_addf(b, " %s/%s", e->workflow, e->step);
}

static void add_reason(struct buf *b, const char *reason)
{
	if (reason)
		buf_addf(b, ": %s", reason);
}

static void event_line(const struct event *e, struct buf *b)
{
	buf_adds(b, event_type_name(e->type));
	switch (e->type) {
	case EV_GROUP_STARTED: buf_addf(b, " %zu", e->group + 1); break;
	case EV_WORKFLOW_STARTED: buf_addf(b, " %s", e->workflow); break;
	case EV_STEP_STARTED:
		add_step(b, e);
		buf_addf(b, " #%d%s", e->attempt, e->rollback ? " rollback" : "");
		break;
	case EV_STEP_FINISHED:
		add_step(b, e);
		buf_addf(b, " %s", e->status);
		if (e->has_exit_code)
			buf_addf(b, " exit %d", e->exit_code);
		if (e->rollback)
			buf_adds(b, " rollback");
		break;
	case EV_BARRIER_ARRIVED: buf_addf(b, " %s %s", e->workflow, e->barrier); break;
	case EV_BARRIER_PASSED: buf_addf(b, " %s", e->barrier); break;
	case EV_BARRIER_BROKEN:
		buf_addf(b, " %s", e->barrier);
		add_reason(b, e->reason);
		break;
	case EV_WORKFLOW_ROLLBACK:
		buf_addf(b, " %s", e->workflow);
		add_reason(b, e->reason);
		break;
	case EV_WORKFLOW_FINISHED:
		buf_addf(b, " %s %s", e->workflow, e->status);
		add_reason(b, e->reason);
		break;
	case EV_RUN_FINISHED: buf_addf(b, " %s", e->status); break;
	case EV_RUN_RESUMED: buf_addf(b, " %s", e->mode); break;
	case EV_STEP_WARNING:
		add_step(b, e);
		add_reason(b, e->message);
		break;
	default: break;
	}
}

/* ---- tracking the workflows' states ---- */

static void track(struct rfx *F)
{
	if (!F->track || !F->r)
		return;
	for (size_t i = 0; i < F->r->nwfs; i++) {
		enum wf_state now = F->r->wfs[i].state;
		if (now != F->state[i])
			rfx_seen[F->state[i]][now]++;
		F->state[i] = now;
	}
}

static void check_cb(uv_check_t *c)
{
	track(c->data);
}

/* ---- the recording sink and triggers ---- */

static void trigger_cb(uv_timer_t *t)
{
	struct rfx_trigger *x = t->data;
	x->act(x->F);
}

static void record_sink(const struct event *e, void *arg)
{
	struct rfx *F = arg;
	track(F);
	struct buf b = BUF_INIT;
	event_line(e, &b);
	for (size_t k = 0; k < RFX_MAX_TRIGGERS; k++) {
		struct rfx_trigger *x = &F->trig[k];
		if (x->prefix && !x->fired && !strncmp(b.s, x->prefix, strlen(x->prefix))) {
			x->fired = true;
			uv_timer_start(&x->timer, trigger_cb, 0, 0);
		}
	}
	*VEC_PUSH(F->lines) = buf_detach(&b, NULL);
	*VEC_PUSH(F->evs) = event_dup(e);
}

void rfx_on(struct rfx *F, const char *prefix, void (*act)(struct rfx *F))
{
	for (size_t k = 0; k < RFX_MAX_TRIGGERS; k++) {
		if (!F->trig[k].prefix) {
			F->trig[k].prefix = prefix;
			F->trig[k].act = act;
			return;
		}
	}
	fail_msg("more than %d triggers", RFX_MAX_TRIGGERS);
}

void rfx_abort(struct rfx *F)
{
	run_abort(F->r);
}

void rfx_stop(struct rfx *F)
{
	run_stop(F->r);
}

/* ---- setting up, running, ending ---- */

int rfx_group_setup(void **state)
{
	(void)state;
	return proc_become_subreaper() == 0 ? 0 : -1;
}

static void dump_diag(const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "  %d:%d: %s\n", d->items[i].line, d->items[i].col, d->items[i].message);
}

void rfx_load(struct rfx *F, const char *yaml)
{
	memset(F, 0, sizeof(*F));
	setenv("LOCKSTEP_CHECK_INVARIANTS", "1", 1);
	struct compile_opts co = { .no_resources = true };
	F->plan = pipeline_compile_opts("p.yml", yaml, strlen(yaml), &co, &F->d);
	if (!F->plan) {
		dump_diag(&F->d);
		fail_msg("the pipeline does not compile");
	}
	snprintf(F->dir, sizeof(F->dir), "/tmp/lockstep-test-run.XXXXXX");
	assert_non_null(mkdtemp(F->dir));
	F->o = (struct run_opts){ .run_id = 1, .base_dir = F->dir, .kill_grace_ms = 1000 };
	assert_int_equal(uv_loop_init(&F->loop), 0);
	events_init(&F->ev, 1);
	events_add_sink(&F->ev, record_sink, F);
	for (size_t k = 0; k < RFX_MAX_TRIGGERS; k++) {
		F->trig[k].F = F;
		uv_timer_init(&F->loop, &F->trig[k].timer);
		F->trig[k].timer.data = &F->trig[k];
	}
	F->state = xcalloc(F->plan->nworkflows + 1, sizeof(*F->state));
}

static void guard_cb(uv_timer_t *t)
{
	struct rfx *F = t->data;
	F->guard_fired = true;
	uv_stop(&F->loop);
}

static void new_run(struct rfx *F)
{
	F->r = run_new(F->plan, &F->o, &F->ev);
	uv_timer_init(&F->loop, &F->guard);
	F->guard.data = F;
	uv_timer_start(&F->guard, guard_cb, GUARD_MS, 0);
	uv_check_init(&F->loop, &F->check);
	F->check.data = F;
	uv_check_start(&F->check, check_cb);
	uv_unref((uv_handle_t *)&F->check);
}

/* Runs the loop until the run is done, then closes it. */
static void finish(struct rfx *F)
{
	while (!run_done(F->r) && !F->guard_fired)
		uv_run(&F->loop, UV_RUN_ONCE);
	track(F);
	if (getenv("RFX_DUMP"))
		rfx_dump(F);
	if (F->guard_fired) {
		rfx_dump(F);
		fail_msg("the run did not end within %d ms", GUARD_MS);
	}
	uv_close((uv_handle_t *)&F->guard, NULL);
	uv_close((uv_handle_t *)&F->check, NULL);
	for (size_t k = 0; k < RFX_MAX_TRIGGERS; k++)
		uv_close((uv_handle_t *)&F->trig[k].timer, NULL);
	uv_run(&F->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&F->loop), 0);
}

void rfx_run(struct rfx *F)
{
	new_run(F);
	F->track = true;
	run_start(F->r, &F->loop);
	finish(F);
}

void rfx_resume(struct rfx *F, struct event *const *evs, size_t n, bool abort_run)
{
	events_continue(&F->ev, n ? evs[n - 1]->seq : 0);
	new_run(F);
	struct buf err = BUF_INIT;
	int rc = run_resume(F->r, &F->loop, (const struct event *const *)evs, n, abort_run, &err);
	if (rc < 0)
		fail_msg("run_resume after %zu events: %s", n, err.s);
	buf_release(&err);
	for (size_t i = 0; i < F->r->nwfs; i++)
		F->state[i] = F->r->wfs[i].state;
	F->track = true;
	finish(F);
}

void rfx_end(struct rfx *F)
{
	run_free(F->r);
	events_release(&F->ev);
	for (size_t i = 0; i < F->lines.n; i++) {
		free(F->lines.v[i]);
		event_free(F->evs.v[i]);
	}
	VEC_FREE(F->lines);
	VEC_FREE(F->evs);
	free(F->state);
	compile_free(F->plan);
	diag_release(&F->d);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F->dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- looking at the lines ---- */

void rfx_dump(const struct rfx *F)
{
	for (size_t i = 0; i < F->lines.n; i++)
		fprintf(stderr, "  %2zu %s\n", i, F->lines.v[i]);
}

int rfx_find(const struct rfx *F, int from, const char *prefix)
{
	for (size_t i = (size_t)from; i < F->lines.n; i++)
		if (!strncmp(F->lines.v[i], prefix, strlen(prefix)))
			return (int)i;
	return -1;
}

int rfx_has(const struct rfx *F, const char *prefix)
{
	int at = rfx_find(F, 0, prefix);
	if (at < 0) {
		rfx_dump(F);
		fail_msg("no event line starts with \"%s\"", prefix);
	}
	return at;
}

void rfx_lacks(const struct rfx *F, const char *prefix)
{
	if (rfx_find(F, 0, prefix) >= 0) {
		rfx_dump(F);
		fail_msg("an event line starts with \"%s\"", prefix);
	}
}

size_t rfx_count(const struct rfx *F, const char *prefix)
{
	size_t n = 0;
	for (int at = rfx_find(F, 0, prefix); at >= 0; at = rfx_find(F, at + 1, prefix))
		n++;
	return n;
}

void rfx_order(const struct rfx *F, ...)
{
	va_list ap;
	va_start(ap, F);
	int at = 0;
	for (const char *p = va_arg(ap, const char *); p; p = va_arg(ap, const char *)) {
		int next = rfx_find(F, at, p);
		if (next < 0) {
			va_end(ap);
			rfx_dump(F);
			fail_msg("no \"%s\" after line %d", p, at - 1);
		}
		at = next + 1;
	}
	va_end(ap);
}

void rfx_exactly(const struct rfx *F, ...)
{
	va_list ap;
	va_start(ap, F);
	size_t i = 0;
	for (const char *p = va_arg(ap, const char *); p; p = va_arg(ap, const char *), i++) {
		if (i >= F->lines.n || strcmp(F->lines.v[i], p) != 0) {
			va_end(ap);
			rfx_dump(F);
			fail_msg("line %zu: expected \"%s\"", i, p);
		}
	}
	va_end(ap);
	if (i != F->lines.n) {
		rfx_dump(F);
		fail_msg("%zu lines, expected %zu", F->lines.n, i);
	}
}
