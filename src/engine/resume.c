/*
 * resume: takes over a run whose owner died (`lockstep resume`,
 * `lockstep abort`), from the events it recorded.
 *
 * The events are replayed into a fresh run, in seq order, without
 * running anything: they rebuild each workflow's state and place (which
 * list, which step, which attempt), the barriers' arrivals and decisions,
 * and the group the run was in. What the store holds normally ends where
 * the engine had finished reacting to something; after a burst of more
 * than a batch of events it may end half-way (events.h), and the replay
 * then completes the reaction: a step that failed for good fails its
 * workflow (with the reason the engine would have given), a barrier
 * whose last arrival is recorded passes, workflows of a started group
 * start, rollback-all finishes starting a group's rollbacks, workflows
 * released by a recorded decision move on, participants of a broken
 * fail-fast barrier stop. Then the run continues, each step in progress
 * as its kind's row says (step_kind_ops.resume):
 *
 *   - a run step that was running when the owner died is over (its
 *     process group was killed before the resume): it fails with reason
 *     "interrupted", which is retried when it has retries left; so do
 *     the Kubernetes steps, which run as processes too (their records
 *     of what they changed are files, and stay for a k8s-rollback);
 *   - a wait step waits for what was left of it, a barrier step waits at
 *     its barrier again, and their timeouts keep their deadlines (counted
 *     from the recorded start: time spent dead counts);
 *   - an http-check step starts its check over (a fresh `within`; its
 *     step timeout keeps its deadline), adding to the attempt's log;
 *   - a retry that was waiting for its delay starts at once;
 *   - steps that finished keep their results and never run again.
 *
 * From there the normal rules apply. With `abort`, the run is aborted
 * right after it is rebuilt (B10: waiting barriers break, rollbacks run);
 * a run that was being aborted goes on being aborted. A step that ended
 * `aborted` is a trace of that abort unless fail-fast stopped it (a
 * fail-fast barrier ahead of it had broken).
 */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/map.h"
#include "base/xalloc.h"
#include "engine/run_internal.h"

/* What the events say about one workflow. */
struct rwf {
	enum wf_state state;
	bool in_rollback;
	bool has_step;             /* a step of the current list has started */
	size_t step;
	int attempt;
	bool in_flight;            /* step.started without its step.finished */
	bool arrived;              /* at the current (barrier) step's barrier */
	size_t barrier;            /* that barrier (coordinator index) */
	const char *last_status;   /* of the current step's last step.finished */
	bool last_has_exit;
	int last_exit;
	int64_t started_wall;      /* of the current step's last attempt */
	const char *reason;
	bool rolled_back_after_success; /* rollback-all rolled it back */
};

struct replay {
	struct run *r;
	struct rwf *w;
	struct map wf_index;
	struct map step_barrier, rollback_barrier;
	bool group_started;
	size_t group;
	bool aborted;              /* the run was being aborted (B10) when it died */
	int64_t now_wall;
	uint64_t now_mono;
	struct buf *err;
};

/* A recorded wall-clock time on the loop's clock. */
static uint64_t mono_of(const struct replay *rp, int64_t wall)
{
	if (wall >= rp->now_wall)
		return rp->now_mono;
	uint64_t ago = (uint64_t)(rp->now_wall - wall);
	return ago < rp->now_mono ? rp->now_mono - ago : 0;
}

/* Milliseconds since a recorded wall-clock time. */
static uint64_t since(const struct replay *rp, int64_t wall)
{
	return wall < rp->now_wall ? (uint64_t)(rp->now_wall - wall) : 0;
}

static bool wf_of(struct replay *rp, const struct event *ev, size_t *out)
{
	if (ev->workflow && map_find(&rp->wf_index, ev->workflow, out))
		return true;
	buf_addf(rp->err, "event %llu (%s) names workflow '%s', which the pipeline does not have",
		 (unsigned long long)ev->seq, event_type_name(ev->type), ev->workflow ? ev->workflow : "");
	return false;
}

static bool parse_wf_state(const char *s, enum wf_state *out)
{
	for (int k = WF_PENDING; k <= WF_ABORTED; k++) {
		if (s && !strcmp(s, wf_state_name((enum wf_state)k))) {
			*out = (enum wf_state)k;
			return true;
		}
	}
	return false;
}

static const struct plan_step *rwf_step(const struct run *r, size_t i, const struct rwf *w)
{
	const struct plan_workflow *pw = &r->plan->workflows[i];
	return w->in_rollback ? &pw->rollback[w->step] : &pw->steps[w->step];
}

/* The OPEN barrier called `id`: a step barrier first, then a rollback one. */
static bool open_barrier(struct replay *rp, const char *id, size_t *out)
{
	struct coord *c = &rp->r->coord;
	size_t b;
	if (id && map_find(&rp->step_barrier, id, &b) && c->barriers[b].state == BARRIER_OPEN) {
		*out = b;
		return true;
	}
	if (id && map_find(&rp->rollback_barrier, id, &b) && c->barriers[b].state == BARRIER_OPEN) {
		*out = b;
		return true;
	}
	return false;
}

/*
 * A step of workflow `i` that ended aborted was stopped by fail-fast (a
 * fail-fast barrier ahead of it in its steps list has broken), not by an
 * abort of the run.
 */
static bool stopped_by_fail_fast(const struct replay *rp, size_t i)
{
	const struct rwf *w = &rp->w[i];
	return !w->in_rollback &&
	       run_fail_fast_ahead(rp->r, &rp->r->plan->workflows[i], w->step) != SIZE_MAX;
}

static bool replay_one(struct replay *rp, const struct event *ev)
{
	struct run *r = rp->r;
	size_t i;
	switch (ev->type) {
	case EV_GROUP_STARTED:
		if (ev->group >= r->plan->ngroups) {
			buf_addf(rp->err, "event %llu starts group %zu; the pipeline has %zu",
				 (unsigned long long)ev->seq, ev->group + 1, r->plan->ngroups);
			return false;
		}
		rp->group_started = true;
		rp->group = ev->group;
		return true;
	case EV_WORKFLOW_STARTED:
		if (!wf_of(rp, ev, &i))
			return false;
		rp->w[i].state = WF_RUNNING;
		return true;
	case EV_STEP_STARTED: {
		if (!wf_of(rp, ev, &i))
			return false;
		const struct plan_workflow *pw = &r->plan->workflows[i];
		const struct plan_step *list = ev->rollback ? pw->rollback : pw->steps;
		size_t n = ev->rollback ? pw->nrollback : pw->nsteps, k;
		for (k = 0; k < n && strcmp(list[k].id, ev->step ? ev->step : ""); k++)
			;
		if (k == n) {
			buf_addf(rp->err, "event %llu starts step '%s' of %s, which the pipeline does not have",
				 (unsigned long long)ev->seq, ev->step ? ev->step : "", pw->name);
			return false;
		}
		struct rwf *w = &rp->w[i];
		w->in_rollback = ev->rollback;
		w->has_step = true;
		w->step = k;
		w->attempt = ev->attempt;
		w->in_flight = true;
		w->arrived = false;
		w->last_status = NULL;
		w->started_wall = ev->ts_ms;
		return true;
	}
	case EV_STEP_FINISHED:
		if (!wf_of(rp, ev, &i))
			return false;
		rp->w[i].in_flight = false;
		rp->w[i].last_status = ev->status;
		rp->w[i].last_has_exit = ev->has_exit_code;
		rp->w[i].last_exit = ev->exit_code;
		if (ev->status && !strcmp(ev->status, "aborted") && !stopped_by_fail_fast(rp, i))
			rp->aborted = true;
		if (rp->w[i].state == WF_WAITING)
			rp->w[i].state = rp->w[i].in_rollback ? WF_ROLLING_BACK : WF_RUNNING;
		return true;
	case EV_BARRIER_ARRIVED: {
		if (!wf_of(rp, ev, &i))
			return false;
		struct rwf *w = &rp->w[i];
		const struct plan_step *ps = w->has_step ? rwf_step(r, i, w) : NULL;
		if (!ps || ps->src->kind != STEP_BARRIER || strcmp(ps->barrier, ev->barrier ? ev->barrier : "")) {
			buf_addf(rp->err, "event %llu: %s arrives at barrier %s outside a step that waits there",
				 (unsigned long long)ev->seq, ev->workflow, ev->barrier ? ev->barrier : "");
			return false;
		}
		size_t b = coord_index(&r->coord, ps->barrier_index, w->in_rollback);
		coord_restore_arrival(&r->coord, b, i, mono_of(rp, ev->ts_ms));
		w->arrived = true;
		w->barrier = b;
		if (r->coord.barriers[b].state == BARRIER_OPEN)
			w->state = WF_WAITING;
		return true;
	}
	case EV_BARRIER_PASSED:
	case EV_BARRIER_BROKEN: {
		size_t b, origin = SIZE_MAX;
		if (!open_barrier(rp, ev->barrier, &b)) {
			buf_addf(rp->err, "event %llu decides barrier %s, which is not open",
				 (unsigned long long)ev->seq, ev->barrier ? ev->barrier : "");
			return false;
		}
		if (ev->origin && !map_find(&rp->wf_index, ev->origin, &origin))
			origin = SIZE_MAX;
		if (ev->type == EV_BARRIER_BROKEN && ev->reason && !strcmp(ev->reason, "run aborted"))
			rp->aborted = true;
		coord_restore_decision(&r->coord, b,
				       ev->type == EV_BARRIER_PASSED ? BARRIER_PASSED : BARRIER_BROKEN,
				       ev->reason, origin, mono_of(rp, ev->ts_ms));
		return true;
	}
	case EV_WORKFLOW_ROLLBACK: {
		if (!wf_of(rp, ev, &i))
			return false;
		struct rwf *w = &rp->w[i];
		if (w->in_rollback && (w->state == WF_WAITING || w->state == WF_ROLLING_BACK) && w->has_step) {
			/* Recorded by an older lockstep when a rollback barrier
			 * released it: not a new rollback. */
			w->state = WF_ROLLING_BACK;
			return true;
		}
		if (w->state == WF_SUCCEEDED)
			w->rolled_back_after_success = true;
		w->state = WF_ROLLING_BACK;
		w->in_rollback = true;
		w->has_step = w->in_flight = w->arrived = false;
		w->step = 0;
		w->attempt = 0;
		w->reason = ev->reason;
		return true;
	}
	case EV_WORKFLOW_FINISHED:
		if (!wf_of(rp, ev, &i))
			return false;
		if (!parse_wf_state(ev->status, &rp->w[i].state)) {
			buf_addf(rp->err, "event %llu: unknown workflow status '%s'", (unsigned long long)ev->seq,
				 ev->status ? ev->status : "");
			return false;
		}
		rp->w[i].in_flight = false;
		rp->w[i].reason = ev->reason;
		if (rp->w[i].state == WF_ABORTED)
			rp->aborted = true;
		return true;
	case EV_RUN_FINISHED:
		buf_addf(rp->err, "the run has finished (%s)", ev->status ? ev->status : "?");
		return false;
	case EV_RUN_RESUMED:
		if (ev->mode && !strcmp(ev->mode, "abort"))
			rp->aborted = true;
		return true;
	case EV_RUN_STARTED:
	case EV_STEP_WARNING:
	case EV_STEP_PROCESS:
	case EV_TYPE_COUNT:
		return true;
	}
	return true;
}

/* Puts the replayed state into the run: states, places, reasons, counters. */
static void apply_workflows(struct replay *rp)
{
	struct run *r = rp->r;
	for (size_t i = 0; i < r->nwfs; i++) {
		struct wf_run *w = &r->wfs[i];
		const struct rwf *x = &rp->w[i];
		wf_restore_state(w, x->state);
		w->in_rollback = x->in_rollback;
		w->step = x->has_step ? x->step : 0;
		w->attempt = x->has_step ? x->attempt : 0;
		free(w->reason);
		w->reason = x->reason ? xstrdup(x->reason) : NULL;
		if (wf_terminal(w->state) || w->in_rollback)
			wf_mark_steps_done(w);
	}
}

/* The group the run is in, and where rollback-all had got to. */
static void apply_groups(struct replay *rp)
{
	struct run *r = rp->r;
	r->group = rp->group;
	size_t first_rb = SIZE_MAX;
	const struct wf_run *origin = NULL; /* the group's failure rollback-all names */
	for (size_t i = 0; i < r->nwfs; i++) {
		const struct wf_run *w = &r->wfs[i];
		size_t g = w->pw->group;
		if (g == r->group && (w->in_rollback || w->state == WF_FAILED || w->state == WF_ABORTED)) {
			r->group_failed = true;
			/* Which failed first is not recorded in the state: prefer
			 * one that failed by itself to one a barrier failed. */
			if (!rp->w[i].rolled_back_after_success &&
			    (!origin || (origin->reason && !strncmp(origin->reason, "barrier ", 8) &&
					 w->reason && strncmp(w->reason, "barrier ", 8))))
				origin = w;
		}
		if (rp->w[i].rolled_back_after_success) {
			if (g == r->group)
				r->rb_started_group = g + 1;
			else if (g < r->group && g < first_rb)
				first_rb = g;
		}
	}
	if (origin)
		run_group_failure(r, origin);
	if (first_rb != SIZE_MAX) {
		/* Earlier groups were rolling back: the run had failed. */
		r->failed = true;
		r->rolling_back_all = true;
		r->rollback_group = first_rb;
	}
}

/* Withdraws, as the live run had, whoever will never arrive any more. */
static void apply_withdrawals(struct replay *rp)
{
	struct run *r = rp->r;
	bool rollback_all = r->plan->pipeline->on_failure == ON_FAILURE_ROLLBACK_ALL && !r->opts.no_rollback;
	for (size_t i = 0; i < r->nwfs; i++) {
		struct wf_run *w = &r->wfs[i];
		if (w->state == WF_SUCCEEDED) {
			bool ignored = w->reason && !strncmp(w->reason, "failure ignored", 15);
			run_withdraw(r, w, false);
			if (!rollback_all || ignored)
				run_withdraw(r, w, true);
		} else if (wf_terminal(w->state)) {
			run_withdraw(r, w, false);
			run_withdraw(r, w, true);
		} else if (w->in_rollback) {
			run_withdraw(r, w, false);
		}
	}
}

/*
 * Steps in progress get their start time back, and workflows that were
 * waiting at an open barrier wait there again (before any withdrawal can
 * decide that barrier: it must find them waiting).
 */
static void restore_waiting(struct replay *rp)
{
	struct run *r = rp->r;
	for (size_t i = 0; i < r->nwfs; i++) {
		struct wf_run *w = &r->wfs[i];
		const struct rwf *x = &rp->w[i];
		if (wf_terminal(w->state) || !x->in_flight)
			continue;
		w->step_started_ms = mono_of(rp, x->started_wall);
		w->step_state = STEP_RUNNING;
		if (w->state == WF_WAITING && x->arrived &&
		    r->coord.barriers[x->barrier].state == BARRIER_OPEN) {
			coord_restore_waiting(&r->coord, i, x->barrier);
			w->waiting_barrier = x->barrier;
			w->step_state = STEP_WAITING;
		} else if (w->state == WF_WAITING) {
			/* Its barrier was decided: the decision ends its step. */
			wf_restore_state(w, w->in_rollback ? WF_ROLLING_BACK : WF_RUNNING);
		}
	}
}

/*
 * Still at the step the events left it at: restoring one workflow can move
 * others (a barrier breaks, they roll back), and those are past it.
 */
static bool still_there(const struct wf_run *w, const struct rwf *x)
{
	return !wf_terminal(w->state) && x->in_flight && w->in_rollback == x->in_rollback &&
	       w->step == x->step && w->attempt == x->attempt && !w->proc && !w->delay && !w->check;
}

/*
 * Steps in progress when the owner died go on, as their kinds say
 * (step_kind_ops.resume), their timeouts keeping their deadlines
 * (counted from the recorded start: time spent dead counts). Those of
 * the kinds that hold a process (`process`) were interrupted; they are
 * resumed after an abort that goes on, which must not see them stopped
 * before the barriers it breaks (as when their processes get SIGTERM).
 */
static void resume_steps(struct replay *rp, bool process)
{
	struct run *r = rp->r;
	for (size_t i = 0; i < r->nwfs; i++) {
		struct wf_run *w = &r->wfs[i];
		const struct rwf *x = &rp->w[i];
		if (!still_there(w, x) || wf_kind(w)->holds_process != process)
			continue; /* done with, or moved on by a decision of the restore */
		const struct plan_step *ps = wf_cur_step(w);
		struct step_resume at = { .spent_ms = since(rp, x->started_wall), .arrived = x->arrived };
		if (ps->src->timeout_ms)
			wf_arm_timeout(w, ps->src->timeout_ms > at.spent_ms ? ps->src->timeout_ms - at.spent_ms : 0);
		wf_kind(w)->resume(w, &at);
	}
}

/*
 * The record ends right after a step failed for good, before what that
 * caused (a batch boundary inside one engine callback): fail the workflow
 * now, with the reason the engine would have given.
 */
static void fail_recorded(struct wf_run *w, const struct rwf *x)
{
	bool aborted = x->last_status && !strcmp(x->last_status, "aborted");
	size_t ff = aborted && !w->in_rollback ? run_fail_fast_ahead(w->run, w->pw, w->step) : SIZE_MAX;
	struct buf reason = BUF_INIT, why = BUF_INIT;
	if (wf_kind(w)->own_failure && wf_kind(w)->own_failure(w, &reason, &why)) {
		wf_fail(w, reason.s, why.s, aborted);
	} else if (ff != SIZE_MAX) {
		wf_fail_fast_fail(w, ff, "stopped");
	} else if (aborted) {
		wf_fail_aborted(w);
	} else {
		/* As the live run says it: its exit status, time-out or status. */
		struct proc_status st = { .spawned = true, .exit_code = x->last_exit };
		w->timed_out = x->last_status && !strcmp(x->last_status, "timed-out");
		wf_failure(w, x->last_has_exit ? &st : NULL, x->last_has_exit ? NULL : x->last_status,
			   &reason, &why);
		wf_fail(w, reason.s, why.s, false);
	}
	buf_release(&reason);
	buf_release(&why);
}

/*
 * What the record shows begun but not finished at the level of groups:
 * workflows of a started group that had not started yet, and rollback-all
 * rolling back part of a group.
 */
static void continue_groups(struct replay *rp)
{
	struct run *r = rp->r;
	if (!rp->group_started)
		return;
	for (size_t i = 0; i < r->nwfs; i++) {
		struct wf_run *w = &r->wfs[i];
		if (w->state == WF_PENDING && w->pw->group <= r->group) {
			wf_set_state(w, WF_RUNNING);
			wf_ready(w);
		}
	}
	if (r->rb_started_group == r->group + 1)
		run_rollback_group(r, r->group);
	if (r->rolling_back_all)
		run_rollback_group(r, r->rollback_group);
}

/* What a workflow between two steps does next (continue_between_steps). */
enum between { BETWEEN_NOT, BETWEEN_START, BETWEEN_NEXT, BETWEEN_RETRY, BETWEEN_FAIL };

static enum between between_steps(const struct wf_run *w, const struct rwf *x)
{
	if (wf_terminal(w->state) || w->state == WF_PENDING || x->in_flight ||
	    w->in_rollback != x->in_rollback || w->step != (x->has_step ? x->step : 0) ||
	    w->attempt != (x->has_step ? x->attempt : 0) || w->delay || w->proc || w->check)
		return BETWEEN_NOT; /* not between steps, or moved by the restore */
	if (!x->has_step)
		return BETWEEN_START;
	const struct plan_step *ps = wf_cur_step(w);
	bool ok = x->last_status && !strcmp(x->last_status, "succeeded");
	bool retryable = wf_kind(w)->retryable;
	if (ok || (retryable && w->attempt > ps->src->retries && ps->src->continue_on_error))
		return BETWEEN_NEXT;
	if (retryable && w->attempt <= ps->src->retries)
		return BETWEEN_RETRY;
	return BETWEEN_FAIL; /* its failure was recorded, what it caused was not */
}

/*
 * Workflows between steps (a finished step, a pending retry, a new list)
 * move on. With `failures`, only what the record shows failed goes on
 * (before an abort that goes on, as it came first): a step's failure,
 * and a retry that a broken fail-fast barrier gives up.
 */
static void continue_between_steps(struct replay *rp, bool failures)
{
	struct run *r = rp->r;
	for (size_t i = 0; i < r->nwfs; i++) {
		struct wf_run *w = &r->wfs[i];
		enum between next = between_steps(w, &rp->w[i]);
		size_t ff = next == BETWEEN_RETRY && !w->in_rollback
				    ? run_fail_fast_ahead(r, w->pw, w->step) : SIZE_MAX;
		if (failures && next == BETWEEN_FAIL) {
			fail_recorded(w, &rp->w[i]);
		} else if (failures && ff != SIZE_MAX) {
			wf_fail_fast_fail(w, ff, "stopped before its retry");
		} else if (!failures && next == BETWEEN_NEXT) {
			wf_step_done(w);
		} else if (!failures && (next == BETWEEN_START || next == BETWEEN_RETRY)) {
			wf_ready(w); /* its list's first step, or the next attempt, at once */
		}
	}
}

/*
 * Fail-fast barriers that broke: counted, as the run counts them, and
 * their participants still on their way are stopped now, unless the
 * run was aborting (the abort stops them), as the live run would have
 * when the barrier broke.
 */
static void restore_fail_fast(struct replay *rp)
{
	struct run *r = rp->r;
	for (size_t b = 0; b < r->coord.nbarriers; b++)
		if (r->coord.barriers[b].state == BARRIER_BROKEN && r->coord.barriers[b].plan->fail_fast)
			r->fail_fast_broken++;
	for (size_t b = 0; b < r->coord.nbarriers && !r->aborting; b++)
		if (r->coord.barriers[b].state == BARRIER_BROKEN && r->coord.barriers[b].plan->fail_fast)
			run_fail_fast_stop(r, b);
}

int run_resume(struct run *r, uv_loop_t *loop, const struct event *const *evs, size_t n, bool abort_run,
	       struct buf *err)
{
	struct replay rp = { .r = r, .err = err, .now_wall = clock_wall_ms(), .wf_index = MAP_INIT,
			     .step_barrier = MAP_INIT, .rollback_barrier = MAP_INIT };
	rp.w = xcalloc(r->nwfs + 1, sizeof(*rp.w));
	for (size_t i = 0; i < r->nwfs; i++) {
		map_add(&rp.wf_index, r->plan->workflows[i].name, i, NULL);
		rp.w[i].state = WF_PENDING;
	}
	for (size_t b = 0; b < r->plan->nbarriers; b++)
		map_add(&rp.step_barrier, r->plan->barriers[b].id, coord_index(&r->coord, b, false), NULL);
	for (size_t b = 0; b < r->plan->nrollback_barriers; b++)
		map_add(&rp.rollback_barrier, r->plan->rollback_barriers[b].id,
			coord_index(&r->coord, b, true), NULL);

	r->loop = loop;
	rp.now_mono = run_now(r);
	bool ok = true;
	for (size_t k = 0; k < n && ok; k++)
		ok = replay_one(&rp, evs[k]);
	if (ok && !rp.group_started && n && r->plan->ngroups == 0) {
		buf_adds(err, "the run has no groups to resume");
		ok = false;
	}
	if (!ok) {
		r->loop = NULL;
		map_release(&rp.wf_index);
		map_release(&rp.step_barrier);
		map_release(&rp.rollback_barrier);
		free(rp.w);
		return -1;
	}

	r->btimer = xcalloc(1, sizeof(*r->btimer));
	uv_timer_init(loop, r->btimer);
	r->btimer->data = r;
	r->open_handles++;
	/* Its supervisor, attached to (or a new one), before anything moves. */
	run_exec(r);
	struct event e = { .type = EV_RUN_RESUMED, .mode = abort_run ? "abort" : "resume" };
	events_emit(r->ev, &e);

	/* Nothing moves until everything is in place. */
	r->pumping = true;
	/*
	 * An abort goes on where it was (its traces: run aborted, aborted
	 * steps and workflows, an earlier `lockstep abort`): what happens
	 * until its steps are stopped (below) happens under it, and the run
	 * ends aborted, as it would have.
	 */
	r->aborting = rp.aborted;
	apply_workflows(&rp);
	restore_waiting(&rp);
	/* Before any withdrawal: a barrier everybody reached is not a deadlock. */
	coord_restore_settle(&r->coord, rp.now_mono);
	apply_groups(&rp);
	apply_withdrawals(&rp);
	resume_steps(&rp, false);
	restore_fail_fast(&rp);
	/* What the record shows failed came before the abort. */
	continue_between_steps(&rp, true);
	if (abort_run || rp.aborted)
		run_abort_steps(r);
	resume_steps(&rp, true);
	continue_between_steps(&rp, false);
	continue_groups(&rp);
	if (!rp.group_started)
		run_start_group(r, 0);
	r->pumping = false;
	run_pump(r);

	map_release(&rp.wf_index);
	map_release(&rp.step_barrier);
	map_release(&rp.rollback_barrier);
	free(rp.w);
	return 0;
}
