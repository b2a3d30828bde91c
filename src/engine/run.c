#include "engine/run.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/duration.h"
#include "base/invariant.h"
#include "base/xalloc.h"
#include "engine/barrier.h"
#include "engine/run_internal.h"

/*
 * run: the run state machine (see run.h for the diagram): workflows,
 * steps, retries, timeouts, failures, rollbacks and fail-fast; the
 * entry points (run_new, run_start, run_abort, ...) are in run_life.c,
 * the groups in run_group.c. What differs between step kinds is their
 * row in step_kinds.c; every step ends in step_end. Barrier decisions
 * come from the coordinator (barrier.c) through a queue, so that nothing
 * here re-enters the coordinator from its own callback.
 */

/*
 * The loop's clock, brought up to date: uv_now() is cached at the start of
 * each loop iteration, and a deadline counted from a stale arrival time
 * would fire early (B7 asks for 50 ms precision).
 */
uint64_t run_now(const struct run *r)
{
	uv_update_time(r->loop);
	return uv_now(r->loop);
}

/* ---- names ---- */

const char *wf_state_name(enum wf_state s)
{
	static const char *const n[] = {
		"pending", "running", "waiting", "succeeded", "failed", "rolling-back",
		"rolled-back", "rollback-failed", "skipped", "aborted",
	};
	return (size_t)s < sizeof(n) / sizeof(n[0]) ? n[s] : "unknown";
}

const char *step_state_name(enum step_state s)
{
	static const char *const n[] = {
		"pending", "running", "waiting", "succeeded", "failed", "timed-out", "skipped", "aborted",
	};
	return (size_t)s < sizeof(n) / sizeof(n[0]) ? n[s] : "unknown";
}

const char *run_status_name(enum run_status s)
{
	static const char *const n[] = { "running", "succeeded", "failed", "aborted" };
	return (size_t)s < sizeof(n) / sizeof(n[0]) ? n[s] : "unknown";
}

bool wf_terminal(enum wf_state s)
{
	return s == WF_SUCCEEDED || s == WF_FAILED || s == WF_ROLLED_BACK ||
	       s == WF_ROLLBACK_FAILED || s == WF_SKIPPED || s == WF_ABORTED;
}

/* ---- the transition function ---- */

#define TO(s) (1u << (s))
/* The diagram in run.h: the states each state may go to. */
static const unsigned transitions[WF_ABORTED + 1] = {
	[WF_PENDING] = TO(WF_RUNNING) | TO(WF_SKIPPED),
	[WF_RUNNING] = TO(WF_WAITING) | TO(WF_SUCCEEDED) | TO(WF_FAILED) | TO(WF_ABORTED) |
		       TO(WF_ROLLING_BACK),
	[WF_WAITING] = TO(WF_RUNNING) | TO(WF_ROLLING_BACK),
	[WF_ROLLING_BACK] = TO(WF_WAITING) | TO(WF_ROLLED_BACK) | TO(WF_ROLLBACK_FAILED),
	[WF_SUCCEEDED] = TO(WF_ROLLING_BACK),
};

bool wf_transition_allowed(enum wf_state from, enum wf_state to)
{
	return (size_t)from < sizeof(transitions) / sizeof(transitions[0]) && (unsigned)to < 32 &&
	       (transitions[from] & TO(to));
}

/* Waiting goes back to where it came from: running in the steps list, rolling-back in the rollback. */
static bool waits_in_its_list(const struct wf_run *w, enum wf_state from, enum wf_state to)
{
	enum wf_state other = from == WF_WAITING ? to : to == WF_WAITING ? from : WF_WAITING;
	return other == WF_WAITING || other == (w->in_rollback ? WF_ROLLING_BACK : WF_RUNNING);
}

static void emit_wf_finished(struct wf_run *w)
{
	struct event e = { .type = EV_WORKFLOW_FINISHED, .workflow = w->pw->name,
			   .status = wf_state_name(w->state) };
	/* A workflow that succeeded has no reason, unless a failure was ignored. */
	e.reason = w->reason;
	events_emit(w->run->ev, &e);
}

/* Per-group counts make "is the group done?" O(1) at any width. */
static void count_terminal(struct wf_run *w, enum wf_state from, enum wf_state to)
{
	size_t g = w->pw->group;
	if (!wf_terminal(from) && wf_terminal(to))
		w->run->group_terminal[g]++;
	else if (wf_terminal(from) && !wf_terminal(to))
		w->run->group_terminal[g]--;
}

/*
 * The only place a workflow's state changes. Entering running emits
 * workflow.started, rolling-back emits workflow.rollback, a terminal
 * state emits workflow.finished. waiting <-> running and waiting <->
 * rolling-back are silent here: barrier.arrived and step.finished tell
 * those.
 */
void wf_set_state(struct wf_run *w, enum wf_state to)
{
	enum wf_state from = w->state;
	INVARIANT("wf_set_state", wf_transition_allowed(from, to) && waits_in_its_list(w, from, to),
		  "%s: %s -> %s%s is not in the diagram", w->pw->name, wf_state_name(from),
		  wf_state_name(to), w->in_rollback ? " (in its rollback)" : "");
	w->state = to;
	count_terminal(w, from, to);
	if (to == WF_RUNNING && from == WF_PENDING) {
		struct event e = { .type = EV_WORKFLOW_STARTED, .workflow = w->pw->name };
		events_emit(w->run->ev, &e);
	} else if (to == WF_ROLLING_BACK && from != WF_WAITING) {
		/* Leaving a rollback barrier is not a new rollback. */
		struct event e = { .type = EV_WORKFLOW_ROLLBACK, .workflow = w->pw->name,
				   .reason = w->reason };
		events_emit(w->run->ev, &e);
	} else if (wf_terminal(to)) {
		emit_wf_finished(w);
	}
}

/*
 * A resume rebuilds the state a dead owner had reached, which its events
 * tell: no transition, so no event and any jump.
 */
void wf_restore_state(struct wf_run *w, enum wf_state s)
{
	count_terminal(w, w->state, s);
	w->state = s;
}

/* The workflow is past its steps list (finished, or rolling back). */
void wf_mark_steps_done(struct wf_run *w)
{
	if (w->steps_done)
		return;
	w->steps_done = true;
	w->run->group_steps_done[w->pw->group]++;
}

/* ---- timers ---- */

static void timer_closed_cb(uv_handle_t *h)
{
	struct run *r = h->data;
	free(h);
	r->open_handles--;
}

uv_timer_t *run_timer_new(struct run *r, struct wf_run *w)
{
	uv_timer_t *t = xcalloc(1, sizeof(*t));
	uv_timer_init(r->loop, t);
	t->data = w;
	r->open_handles++;
	return t;
}

void run_timer_drop(struct run *r, uv_timer_t **t)
{
	if (!*t)
		return;
	uv_timer_stop(*t);
	(*t)->data = r;
	uv_close((uv_handle_t *)*t, timer_closed_cb);
	*t = NULL;
}

/* ---- steps ---- */

const struct plan_step *wf_cur_step(const struct wf_run *w)
{
	return w->in_rollback ? &w->pw->rollback[w->step] : &w->pw->steps[w->step];
}

static size_t cur_nsteps(const struct wf_run *w)
{
	return w->in_rollback ? w->pw->nrollback : w->pw->nsteps;
}

void wf_ready(struct wf_run *w)
{
	*VEC_PUSH(w->run->ready) = w->index;
}

bool wf_step_in_progress(const struct wf_run *w)
{
	return w->step_state == STEP_RUNNING || w->step_state == STEP_WAITING;
}

static void advance(struct wf_run *w);

/* ---- how a step ends ---- */

/*
 * "failed at step 'deploy' (exit status 1)" and friends; `detail`, when
 * given, is what goes inside the parentheses (an http-check's last answer).
 */
void wf_describe_failure(const struct wf_run *w, const struct proc_status *st, const char *detail,
			 struct buf *why)
{
	const struct plan_step *ps = wf_cur_step(w);
	buf_addf(why, "failed at step '%s' (", ps->id);
	if (w->timed_out) {
		char d[32];
		duration_format(ps->src->timeout_ms, d, sizeof(d));
		buf_addf(why, "timed out after %s", d);
	} else if (detail) {
		buf_adds(why, detail);
	} else if (st && !st->spawned) {
		buf_adds(why, st->error);
	} else if (st && st->term_signal) {
		buf_addf(why, "killed by signal %d", st->term_signal);
	} else if (st) {
		buf_addf(why, "exit status %d", st->exit_code);
	} else {
		buf_adds(why, "failed");
	}
	buf_addc(why, ')');
}

void wf_failure(const struct wf_run *w, const struct proc_status *st, const char *detail,
		struct buf *reason, struct buf *why)
{
	const struct step_kind_ops *k = wf_kind(w);
	if (k->own_failure && k->own_failure(w, reason, why))
		return;
	wf_describe_failure(w, st, detail, why);
	buf_adds(reason, why->s);
}

/* The step succeeded: on to the next one (from the run_pump, not from here). */
void wf_step_done(struct wf_run *w)
{
	/* A step that fail-fast was stopping but that ended well: the next
	 * step is where fail-fast looks again (advance). */
	w->stopped_by = SIZE_MAX;
	w->step++;
	w->attempt = 0;
	wf_ready(w);
}

/* The retry delay is over: the same step again, next attempt. */
static void retry_cb(uv_timer_t *t)
{
	struct wf_run *w = t->data;
	struct run *r = w->run;
	run_timer_drop(r, &w->delay);
	w->delay_kind = TIMER_NONE;
	/* Through advance(): an abort or run_stop since the failure means no
	 * new attempt starts. */
	advance(w);
	run_pump(r);
}

bool wf_drop_retry(struct wf_run *w)
{
	if (w->delay_kind != TIMER_RETRY)
		return false;
	run_timer_drop(w->run, &w->delay);
	w->delay_kind = TIMER_NONE;
	return true;
}

/* A step attempt failed: retry it, go on (continue-on-error), or fail the workflow. */
static void step_failed(struct wf_run *w, const struct proc_status *st, const char *detail)
{
	struct run *r = w->run;
	const struct plan_step *ps = wf_cur_step(w);
	bool retryable = wf_kind(w)->retryable;
	if (r->aborting && (!w->in_rollback || r->hard_abort)) {
		wf_fail_aborted(w);
		return;
	}
	if (w->stopped_by != SIZE_MAX) {
		/* Stopped by fail-fast: no retry, no continue-on-error. */
		wf_fail_fast_fail(w, w->stopped_by, "stopped");
		return;
	}
	if (retryable && w->attempt <= ps->src->retries) {
		w->delay = run_timer_new(r, w);
		w->delay_kind = TIMER_RETRY;
		uv_timer_start(w->delay, retry_cb, ps->src->retry_delay_ms, 0);
		return;
	}
	if (retryable && ps->src->continue_on_error) {
		wf_step_done(w);
		return;
	}
	struct buf reason = BUF_INIT, why = BUF_INIT;
	wf_failure(w, st, detail, &reason, &why);
	wf_fail(w, reason.s, why.s, false);
	buf_release(&reason);
	buf_release(&why);
}

static void emit_step_finished(struct wf_run *w, const struct step_end *how)
{
	struct event e = {
		.type = EV_STEP_FINISHED, .workflow = w->pw->name, .step = wf_cur_step(w)->id,
		.status = step_state_name(how->status), .has_exit_code = how->has_exit_code,
		.exit_code = how->exit_code, .duration_ms = how->duration_ms ? how->duration_ms : run_now(w->run) - w->step_started_ms,
		.rollback = w->in_rollback,
	};
	events_emit(w->run->ev, &e);
}

void step_end(struct wf_run *w, const struct step_end *how)
{
	struct run *r = w->run;
	INVARIANT("step_end", wf_step_in_progress(w) && how->status >= STEP_SUCCEEDED,
		  "%s/%s: a step in progress ends with a final status (%s, it is %s)", w->pw->name,
		  wf_cur_step(w)->id, step_state_name(how->status), step_state_name(w->step_state));
	run_timer_drop(r, &w->timer);
	if (w->state == WF_WAITING) {
		w->waiting_barrier = SIZE_MAX;
		wf_set_state(w, w->in_rollback ? WF_ROLLING_BACK : WF_RUNNING);
	}
	w->step_state = how->status;
	emit_step_finished(w, how);
	/* Its slot goes to the next step waiting, before what follows. */
	if (wf_kind(w)->holds_process)
		step_run_slot_free(r);
	switch (how->then) {
	case STEP_THEN_NEXT: wf_step_done(w); break;
	case STEP_THEN_FAILED: step_failed(w, how->proc, how->detail); break;
	case STEP_THEN_FAIL:
		wf_fail(w, how->reason, how->why ? how->why : how->reason, how->aborted);
		break;
	case STEP_THEN_ABORTED: wf_fail_aborted(w); break;
	}
}

enum step_stop wf_stop_step(struct wf_run *w, const char *why, bool now)
{
	INVARIANT("wf_stop_step", wf_step_in_progress(w), "%s: no step in progress to stop", w->pw->name);
	return wf_kind(w)->cancel(w, why, now);
}

/* ---- fail-fast ---- */

/*
 * Why a participant fails when fail-fast barrier `b` broke while it was
 * on its way: the barrier's message and what became of its step ("step
 * 'ID' WHAT") (`reason`), and "was stopped ..." (`why`).
 */
static void fail_fast_why(const struct wf_run *w, size_t b, const char *what, struct buf *reason,
			  struct buf *why)
{
	const struct barrier *cb = &w->run->coord.barriers[b];
	buf_addf(reason, "%s (fail-fast: step '%s' %s)", cb->message, wf_cur_step(w)->id, what);
	buf_addf(why, "was stopped (fail-fast: barrier %s broken)", cb->plan->id);
}

/* run_internal.h */
void wf_fail_fast_fail(struct wf_run *w, size_t b, const char *what)
{
	struct buf reason = BUF_INIT, why = BUF_INIT;
	fail_fast_why(w, b, what, &reason, &why);
	w->stopped_by = SIZE_MAX;
	wf_fail(w, reason.s, why.s, false);
	buf_release(&reason);
	buf_release(&why);
}

/*
 * Fail-fast barrier `b` broke: participant `w` stops the step in
 * progress (a process gets SIGTERM, then SIGKILL after the grace period;
 * its exit fails the workflow), or gives up its retry, and fails with
 * the barrier's reason.
 */
static void fail_fast_stop_one(struct wf_run *w, size_t b)
{
	if (wf_drop_retry(w)) {
		wf_fail_fast_fail(w, b, "stopped before its retry");
		return;
	}
	if (!wf_step_in_progress(w))
		return;
	enum step_stop s = wf_stop_step(w, "a fail-fast barrier broke", false);
	if (s == STOP_LATER) {
		if (wf_kind(w)->holds_process)
			w->stopped_by = b; /* its exit ends it (step_failed), or its resume */
		return;
	}
	struct buf reason = BUF_INIT, why = BUF_INIT;
	fail_fast_why(w, b, "stopped", &reason, &why);
	step_end(w, &(struct step_end){ .status = STEP_ABORTED, .then = STEP_THEN_FAIL,
					.reason = reason.s, .why = why.s });
	buf_release(&reason);
	buf_release(&why);
}

/*
 * Fail-fast barrier `b` broke: every participant still on its way stops
 * the step it is running now instead of finishing it, and fails with the
 * barrier's reason. A participant waiting at another barrier holds no
 * process and is left there (stopping it would break that barrier too,
 * for workflows this break does not concern); like one queued for its
 * next step, it fails before it starts any further step (advance).
 * Rollbacks are never cut short.
 */
void run_fail_fast_stop(struct run *r, size_t b)
{
	const struct barrier *cb = &r->coord.barriers[b];
	for (size_t k = 0; k < cb->nparties; k++) {
		if (cb->party[k] != PARTY_PENDING)
			continue;
		struct wf_run *w = &r->wfs[cb->parties[k]];
		if (wf_terminal(w->state) || w->state == WF_PENDING || w->state == WF_WAITING ||
		    w->in_rollback || w->stopped_by != SIZE_MAX)
			continue;
		fail_fast_stop_one(w, b);
	}
}

size_t run_fail_fast_ahead(const struct run *r, const struct plan_workflow *pw, size_t from)
{
	for (size_t i = from; i < pw->nsteps; i++) {
		const struct plan_step *ps = &pw->steps[i];
		if (ps->src->kind != STEP_BARRIER)
			continue;
		size_t b = coord_index(&r->coord, ps->barrier_index, false);
		const struct barrier *cb = &r->coord.barriers[b];
		if (cb->state == BARRIER_BROKEN && cb->plan->fail_fast)
			return b;
	}
	return SIZE_MAX;
}

/* The same for workflow `w`, looked for only once some fail-fast barrier broke. */
static size_t fail_fast_ahead(const struct wf_run *w)
{
	if (!w->run->fail_fast_broken || w->in_rollback)
		return SIZE_MAX;
	return run_fail_fast_ahead(w->run, w->pw, w->step);
}

/* ---- starting a step ---- */

/*
 * The step's timeout: the step stops, and ends timed out (a process once
 * it is gone: its exit ends it).
 */
static void timeout_cb(uv_timer_t *t)
{
	struct wf_run *w = t->data;
	struct run *r = w->run;
	w->timed_out = true;
	if (wf_stop_step(w, "the step's timeout expired", false) == STOP_LATER)
		return;
	step_end(w, &(struct step_end){ .status = STEP_TIMED_OUT, .then = STEP_THEN_FAILED });
	run_pump(r);
}

void wf_arm_timeout(struct wf_run *w, uint64_t ms)
{
	w->timer = run_timer_new(w->run, w);
	/* +1: never early, see run_arm_barrier_timer. */
	uv_timer_start(w->timer, timeout_cb, ms + 1, 0);
}

void wf_begin_step(struct wf_run *w)
{
	struct run *r = w->run;
	const struct plan_step *ps = wf_cur_step(w);
	w->attempt++;
	w->timed_out = false;
	w->step_state = STEP_RUNNING;
	w->step_started_ms = run_now(r);
	struct event e = { .type = EV_STEP_STARTED, .workflow = w->pw->name, .step = ps->id,
			   .attempt = w->attempt, .rollback = w->in_rollback };
	events_emit(r->ev, &e);
	if (ps->src->timeout_ms)
		wf_arm_timeout(w, ps->src->timeout_ms);
	wf_kind(w)->begin(w);
}

/* The workflow will never arrive at its remaining barriers of that kind. */
void run_withdraw(struct run *r, struct wf_run *w, bool rollback)
{
	coord_withdraw(&r->coord, w->index, rollback, run_now(r));
	run_drain_decisions(r);
}

/* Moves a workflow on: the step at w->step, or the end of its list. */
static void advance(struct wf_run *w)
{
	struct run *r = w->run;
	if (wf_terminal(w->state))
		return;
	if (w->step < cur_nsteps(w)) {
		if (r->aborting && !w->in_rollback) {
			/* No new step starts after an abort; the workflow rolls back. */
			const struct plan_step *ps = wf_cur_step(w);
			struct buf why = BUF_INIT;
			buf_addf(&why, "aborted before step '%s'", ps->id);
			wf_fail(w, why.s, why.s, true);
			buf_release(&why);
			return;
		}
		if ((r->hard_abort || r->no_new_steps) && w->in_rollback) {
			wf_fail(w, "rollback aborted", "rollback aborted", true);
			return;
		}
		/* A fail-fast barrier ahead broke: no more work on the way to it
		 * (a barrier step still arrives, and fails or waits there). */
		size_t ff = wf_cur_step(w)->src->kind == STEP_BARRIER ? SIZE_MAX : fail_fast_ahead(w);
		if (ff != SIZE_MAX) {
			w->stopped_by = SIZE_MAX;
			wf_fail_fast_fail(w, ff, "not started");
			return;
		}
		wf_begin_step(w);
		return;
	}
	wf_mark_steps_done(w);
	if (w->in_rollback) {
		wf_set_state(w, WF_ROLLED_BACK);
		return;
	}
	wf_set_state(w, WF_SUCCEEDED);
	/* Under on-failure: stop it can never roll back: nobody waits for it. */
	if (r->plan->pipeline->on_failure != ON_FAILURE_ROLLBACK_ALL || r->opts.no_rollback)
		run_withdraw(r, w, true);
}

void wf_start_rollback(struct wf_run *w)
{
	w->in_rollback = true;
	w->step = 0;
	w->attempt = 0;
	wf_set_state(w, WF_ROLLING_BACK);
	wf_ready(w);
}

/*
 * The workflow failed (or was aborted) with `reason` (its failure reason,
 * shown and given to rollback steps as LOCKSTEP_FAILURE); `why` completes
 * "workflow NAME ..." in the reasons of barriers it breaks.
 */
void wf_fail(struct wf_run *w, const char *reason, const char *why, bool aborted)
{
	struct run *r = w->run;
	uint64_t now = run_now(r);
	aborted = aborted || r->aborting;
	if (w->in_rollback) {
		/* Keep why the workflow rolled back: both facts matter. */
		struct buf b = BUF_INIT;
		buf_addf(&b, "rollback %s", reason);
		if (w->reason)
			buf_addf(&b, "; it was rolling back because: %s", w->reason);
		free(w->reason);
		w->reason = buf_detach(&b, NULL);
		coord_fail(&r->coord, w->index, true, why, now);
		run_drain_decisions(r);
		wf_mark_steps_done(w);
		wf_set_state(w, WF_ROLLBACK_FAILED);
		return;
	}
	free(w->reason);
	w->reason = xstrdup(reason);
	wf_mark_steps_done(w);
	if (w->state == WF_WAITING)
		wf_set_state(w, WF_RUNNING);
	if (w->pw->src->on_failure == ON_FAILURE_IGNORE && !aborted) {
		/* B6: an ignored failure withdraws instead of breaking barriers. */
		run_withdraw(r, w, false);
		run_withdraw(r, w, true);
		char *ignored = xstrdup(w->reason);
		free(w->reason);
		struct buf b = BUF_INIT;
		buf_addf(&b, "failure ignored: %s", ignored);
		w->reason = buf_detach(&b, NULL);
		free(ignored);
		wf_set_state(w, WF_SUCCEEDED);
		return;
	}
	/* Before the barriers it breaks fail the workflows waiting there:
	 * rollback-all names the failure that came first. */
	run_group_failure(r, w);
	coord_fail(&r->coord, w->index, false, why, now);
	/* The barriers it broke were decided before what happens to it next. */
	run_drain_decisions(r);
	if (w->pw->src->on_failure == ON_FAILURE_ROLLBACK && w->pw->nrollback && !r->opts.no_rollback &&
	    !r->hard_abort) {
		wf_start_rollback(w);
		return;
	}
	run_withdraw(r, w, true);
	wf_set_state(w, aborted ? WF_ABORTED : WF_FAILED);
}

/* run_internal.h */
void wf_fail_aborted(struct wf_run *w)
{
	struct buf why = BUF_INIT;
	buf_addf(&why, "aborted at step '%s'", wf_cur_step(w)->id);
	wf_fail(w, why.s, why.s, true);
	buf_release(&why);
}

/* ---- barrier decisions ---- */

static void decided_cb(const struct barrier_decision *d, void *arg)
{
	struct run *r = arg;
	struct decision *q = VEC_PUSH(r->decisions);
	q->barrier = d->barrier;
	q->state = d->state;
}

static void activity_cb(size_t wf, struct buf *out, void *arg)
{
	struct run *r = arg;
	const struct wf_run *w = &r->wfs[wf];
	switch (w->state) {
	case WF_PENDING: buf_adds(out, "not started"); break;
	case WF_RUNNING:
	case WF_ROLLING_BACK:
		if (w->step < cur_nsteps(w))
			buf_addf(out, "%s step '%s'", w->in_rollback ? "rolling back at" : "running",
				 wf_cur_step(w)->id);
		else
			buf_adds(out, "finishing");
		break;
	case WF_WAITING:
		if (w->waiting_barrier != SIZE_MAX)
			buf_addf(out, "waiting at %s", r->coord.barriers[w->waiting_barrier].plan->id);
		else
			buf_adds(out, "waiting");
		break;
	default:
		buf_adds(out, wf_state_name(w->state));
	}
}

/* run_internal.h */
void run_init_coord(struct run *r)
{
	struct coord_ops ops = { decided_cb, activity_cb, r };
	coord_init(&r->coord, r->plan, &ops);
}

static void handle_decision(struct run *r, const struct decision *d)
{
	const struct barrier *b = &r->coord.barriers[d->barrier];
	if (d->state == BARRIER_PASSED) {
		VEC(const char *) names = { 0 };
		for (size_t i = 0; i < b->nparties; i++)
			if (b->party[i] == PARTY_ARRIVED)
				*VEC_PUSH(names) = r->plan->workflows[b->parties[i]].name;
		struct event e = { .type = EV_BARRIER_PASSED, .barrier = b->plan->id,
				   .participants = names.v, .nparticipants = names.n };
		events_emit(r->ev, &e);
		VEC_FREE(names);
	} else {
		struct event e = { .type = EV_BARRIER_BROKEN, .barrier = b->plan->id,
				   .reason = b->reason,
				   .origin = b->origin != SIZE_MAX ? r->plan->workflows[b->origin].name : NULL };
		events_emit(r->ev, &e);
		if (b->plan->fail_fast)
			r->fail_fast_broken++;
	}
	/* Only participants can be waiting there. */
	for (size_t k = 0; k < b->nparties; k++) {
		struct wf_run *w = &r->wfs[b->parties[k]];
		if (w->waiting_barrier != d->barrier)
			continue;
		step_barrier_decided(w, d->state, r->aborting ? STEP_ABORTED : STEP_FAILED);
	}
	/* An abort stops everyone anyway, with its own reason. */
	if (d->state == BARRIER_BROKEN && b->plan->fail_fast && !r->aborting)
		run_fail_fast_stop(r, d->barrier);
}

/* ---- barrier timeouts ---- */

/* Handles the queued barrier decisions now, in the order they were taken. */
void run_drain_decisions(struct run *r)
{
	while (r->decisions.n) {
		struct decision d = r->decisions.v[0];
		memmove(r->decisions.v, r->decisions.v + 1,
			(r->decisions.n - 1) * sizeof(*r->decisions.v));
		r->decisions.n--;
		handle_decision(r, &d);
	}
}

static void barrier_timer_cb(uv_timer_t *t)
{
	struct run *r = t->data;
	coord_tick(&r->coord, run_now(r));
	run_pump(r);
	run_arm_barrier_timer(r);
}

/* One timer serves every barrier: it fires at the earliest deadline. */
void run_arm_barrier_timer(struct run *r)
{
	if (!r->btimer)
		return;
	uint64_t next = coord_next_deadline(&r->coord);
	uv_timer_stop(r->btimer);
	if (next == UINT64_MAX || r->finished)
		return;
	uint64_t now = run_now(r);
	/* +1: the loop's clock counts whole milliseconds, so a deadline taken
	 * from it can be up to 1 ms behind the real arrival; a timeout must
	 * never fire early. */
	uv_timer_start(r->btimer, barrier_timer_cb, (next > now ? next - now : 0) + 1, 0);
}

/*
 * Runs everything that became ready: barrier decisions first (in the order
 * they were taken), then workflows to advance, then group transitions.
 * Handlers only queue work, so nothing here recurses without bound.
 */
void run_pump(struct run *r)
{
	if (r->pumping)
		return;
	r->pumping = true;
	for (;;) {
		if (r->decisions.n) {
			run_drain_decisions(r);
			continue;
		}
		if (r->ready_head < r->ready.n) {
			size_t wf = r->ready.v[r->ready_head++];
			if (r->ready_head == r->ready.n)
				r->ready.n = r->ready_head = 0;
			advance(&r->wfs[wf]);
			continue;
		}
		if (run_check_group(r))
			continue;
		break;
	}
	r->pumping = false;
	run_arm_barrier_timer(r);
	if (r->check_invariants)
		run_assert_valid(r);
}

/* ---- invariants ---- */

#define CHECK(cond, ...) INVARIANT("run_assert_valid", cond, __VA_ARGS__)

void run_assert_valid(const struct run *r)
{
	for (size_t i = 0; i < r->nwfs; i++) {
		const struct wf_run *w = &r->wfs[i];
		const char *n = w->pw->name;
		CHECK((w->waiting_barrier != SIZE_MAX) == (w->state == WF_WAITING),
		      "%s: waiting at a barrier exactly when in state waiting (%s)", n,
		      wf_state_name(w->state));
		if (w->waiting_barrier != SIZE_MAX)
			CHECK(r->coord.waiting_at[i] == w->waiting_barrier,
			      "%s: the coordinator agrees where it waits", n);
		if (wf_terminal(w->state)) {
			CHECK(!w->proc && !w->timer && !w->delay && !w->check,
			      "%s: nothing runs for a finished workflow", n);
			CHECK(w->steps_done, "%s: a finished workflow is past its steps", n);
		}
		CHECK(wf_step_in_progress(w) == (w->proc || w->check || w->spawn_pending || w->timer ||
						 w->delay_kind == TIMER_WAIT || w->waiting_barrier != SIZE_MAX),
		      "%s: a step is in progress (%s) exactly while something of it runs", n,
		      step_state_name(w->step_state));
		CHECK(w->delay_kind != TIMER_RETRY || !wf_step_in_progress(w),
		      "%s: a retry waits between two attempts", n);
		if (w->proc)
			CHECK(w->state == WF_RUNNING || w->state == WF_ROLLING_BACK,
			      "%s: a process runs only for a running or rolling-back workflow", n);
		if (w->stopped_by != SIZE_MAX)
			CHECK(w->proc && !w->in_rollback &&
			      r->coord.barriers[w->stopped_by].state == BARRIER_BROKEN &&
			      r->coord.barriers[w->stopped_by].plan->fail_fast,
			      "%s: fail-fast stops only a step process of its steps, for a broken fail-fast barrier", n);
		if (w->check) {
			CHECK(w->state == WF_RUNNING || w->state == WF_ROLLING_BACK,
			      "%s: an http-check runs only for a running or rolling-back workflow", n);
			CHECK(!w->proc && !w->delay && !w->spawn_pending,
			      "%s: an http-check is the only thing its step does", n);
			CHECK(wf_cur_step(w)->src->kind == STEP_HTTP_CHECK,
			      "%s: an http-check runs only for an http-check step", n);
		}
		if (w->in_rollback)
			CHECK(w->state == WF_ROLLING_BACK || w->state == WF_WAITING ||
			      w->state == WF_ROLLED_BACK || w->state == WF_ROLLBACK_FAILED ||
			      w->state == WF_ABORTED,
			      "%s: in its rollback list but %s", n, wf_state_name(w->state));
		if (w->state == WF_PENDING)
			CHECK(r->plan->workflows[i].group > r->group || (r->group == 0 && !r->loop),
			      "%s: pending in a group that has started", n);
		if (r->finished)
			CHECK(wf_terminal(w->state), "%s: the run finished but it is %s", n,
			      wf_state_name(w->state));
	}
	CHECK(!r->finished || r->status != RUN_RUNNING, "a finished run has its status");
	CHECK(!r->ending || !r->finished, "a run stops its leftovers before it finishes");
	step_run_assert_valid(r);
	for (size_t g = 0; g < r->plan->ngroups; g++) {
		size_t done = 0, terminal = 0;
		const struct plan_group *grp = &r->plan->groups[g];
		for (size_t i = 0; i < grp->n; i++) {
			done += r->wfs[grp->wfs[i]].steps_done;
			terminal += wf_terminal(r->wfs[grp->wfs[i]].state);
		}
		CHECK(done == r->group_steps_done[g], "group %zu: %zu past their steps, counted %zu", g,
		      done, r->group_steps_done[g]);
		CHECK(terminal == r->group_terminal[g], "group %zu: %zu finished, counted %zu", g,
		      terminal, r->group_terminal[g]);
	}
	coord_assert_valid(&r->coord);
}
