/*
 * run_life: a run as its driver sees it (run.h): run_new, run_start,
 * run_abort (B10: the first signal), run_stop (the second, or a store
 * failure), run_done, run_status and run_free. The state machine they
 * set going is in run.c.
 */
#include "engine/run.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/buf.h"
#include "base/xalloc.h"
#include "engine/barrier.h"
#include "engine/run_internal.h"

struct run *run_new(const struct plan *plan, const struct run_opts *o, struct events *ev)
{
	struct run *r = xcalloc(1, sizeof(*r));
	r->plan = plan;
	r->opts = *o;
	if (!r->opts.max_log_bytes)
		r->opts.max_log_bytes = 64ULL << 20;
	if (!r->opts.base_dir)
		r->opts.base_dir = ".";
	r->ev = ev;
	r->self_exe = step_k8s_self_exe(o->self_exe);
	r->nwfs = plan->nworkflows;
	r->wfs = xcalloc(r->nwfs + 1, sizeof(*r->wfs));
	for (size_t i = 0; i < r->nwfs; i++) {
		struct wf_run *w = &r->wfs[i];
		w->run = r;
		w->index = i;
		w->pw = &plan->workflows[i];
		w->state = WF_PENDING;
		w->waiting_barrier = SIZE_MAX;
		w->stopped_by = SIZE_MAX;
	}
	/* Each running step holds four descriptors, and an ended step's close
	 * a loop iteration later (or when its leftovers let go of its pipes):
	 * leave room for both, and for lockstep. */
	struct rlimit rl;
	r->max_procs = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		r->max_procs = rl.rlim_cur > 256 ? (size_t)(rl.rlim_cur - 128) / 6 : 32;
	else if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		r->max_procs = 100000;
	r->max_parallel = o->max_parallel ? o->max_parallel : SIZE_MAX;
	r->group_steps_done = xcalloc(plan->ngroups + 1, sizeof(size_t));
	r->group_terminal = xcalloc(plan->ngroups + 1, sizeof(size_t));
	run_init_coord(r);
	r->status = RUN_RUNNING;
	const char *chk = getenv("LOCKSTEP_CHECK_INVARIANTS");
	r->check_invariants = chk && *chk && strcmp(chk, "0") != 0;
	step_secrets_init(r);
	return r;
}

void run_start(struct run *r, uv_loop_t *loop)
{
	r->loop = loop;
	r->btimer = xcalloc(1, sizeof(*r->btimer));
	uv_timer_init(loop, r->btimer);
	r->btimer->data = r;
	r->open_handles++;
	struct event e = { .type = EV_RUN_STARTED, .pipeline = r->plan->pipeline->name };
	events_emit(r->ev, &e);
	if (r->plan->ngroups)
		run_start_group(r, 0);
	else
		run_finish(r);
	run_pump(r);
}

void run_abort(struct run *r)
{
	if (r->finished)
		return;
	if (r->ending) {
		/* Everything is over but the leftovers, on their way out:
		 * hurry them, the run's outcome stays. */
		step_run_stop_leftovers(r, true);
		return;
	}
	if (r->aborting) {
		r->hard_abort = true;
		step_run_stop_leftovers(r, true);
		for (size_t i = 0; i < r->nwfs; i++) {
			struct wf_run *w = &r->wfs[i];
			if (w->proc) {
				proc_kill_now(w->proc);
			} else if (w->check) {
				/* A rollback's check (the steps' ended at the first abort). */
				step_http_cancel(w, "run aborted");
				run_timer_drop(r, &w->timer);
				step_emit_finished(w, STEP_ABORTED, false, 0);
				wf_step_failed(w, NULL);
			} else if (w->spawn_pending) {
				step_run_cancel_pending(w);
				run_timer_drop(r, &w->timer);
				step_emit_finished(w, STEP_ABORTED, false, 0);
				wf_fail(w, "aborted before it started", "was aborted", true);
			} else if (w->delay) {
				/* A rollback's wait step or retry delay ends now too. */
				enum timer_kind kind = w->delay_kind;
				run_timer_drop(r, &w->delay);
				run_timer_drop(r, &w->timer);
				w->delay_kind = TIMER_NONE;
				if (kind == TIMER_WAIT)
					step_emit_finished(w, STEP_ABORTED, false, 0);
				wf_fail(w, "rollback aborted", "rollback aborted", true);
			}
		}
		coord_abort(&r->coord, run_now(r));
		run_pump(r);
		return;
	}
	r->aborting = true;
	for (size_t i = 0; i < r->nwfs; i++) {
		struct wf_run *w = &r->wfs[i];
		if (w->proc && !w->in_rollback) {
			proc_kill(w->proc);
		} else if (w->spawn_pending && !w->in_rollback) {
			/* Queued for a process slot: it ends before it starts. */
			step_run_cancel_pending(w);
			run_timer_drop(r, &w->timer);
			step_emit_finished(w, STEP_ABORTED, false, 0);
			wf_fail_aborted(w);
		} else if (w->check && !w->in_rollback) {
			/* An http-check ends at once; a rollback's goes on, like a
			 * rollback's run step, until a second abort. */
			step_http_cancel(w, "run aborted");
			run_timer_drop(r, &w->timer);
			step_emit_finished(w, STEP_ABORTED, false, 0);
			wf_fail_aborted(w);
		} else if (w->delay) {
			/* A retry delay or a wait step: the step ends now. */
			run_timer_drop(r, &w->delay);
			run_timer_drop(r, &w->timer);
			if (w->delay_kind == TIMER_WAIT)
				step_emit_finished(w, STEP_ABORTED, false, 0);
			w->delay_kind = TIMER_NONE;
			if (!w->in_rollback) {
				wf_fail_aborted(w);
			} else {
				wf_step_done(w);
			}
		}
	}
	coord_abort_steps(&r->coord, run_now(r));
	run_pump(r);
}

void run_stop(struct run *r)
{
	if (r->finished || r->ending)
		return;
	r->no_new_steps = true;
	r->opts.no_rollback = true;
	if (r->aborting) {
		/* Rollback steps may be running: let their grace period apply. */
		for (size_t i = 0; i < r->nwfs; i++)
			if (r->wfs[i].proc)
				proc_kill(r->wfs[i].proc);
	} else {
		run_abort(r);
	}
	/* Rollback steps that were about to start never will; checks of
	 * rollbacks end now (a check has no grace period). */
	for (size_t i = 0; i < r->nwfs; i++) {
		struct wf_run *w = &r->wfs[i];
		if (w->check) {
			step_http_cancel(w, "the run is stopping");
			run_timer_drop(r, &w->timer);
			step_emit_finished(w, STEP_ABORTED, false, 0);
			wf_fail_aborted(w);
			continue;
		}
		if (!w->spawn_pending)
			continue;
		step_run_cancel_pending(w);
		run_timer_drop(r, &w->timer);
		step_emit_finished(w, STEP_ABORTED, false, 0);
		wf_fail(w, "aborted before it started", "was aborted", true);
	}
	run_pump(r);
}

bool run_done(const struct run *r)
{
	if (!r->finished)
		return false;
	for (size_t i = 0; i < r->nwfs; i++)
		if (r->wfs[i].proc)
			return false;
	return !r->leftovers && r->open_handles == 0;
}

enum run_status run_status(const struct run *r)
{
	return r->status;
}

void run_free(struct run *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nwfs; i++) {
		free(r->wfs[i].reason);
		free(r->wfs[i].k8s_result);
	}
	free(r->self_exe);
	free(r->wfs);
	coord_release(&r->coord);
	VEC_FREE(r->decisions);
	VEC_FREE(r->ready);
	VEC_FREE(r->spawn_wait);
	VEC_FREE(r->commit_wait);
	free(r->group_failure);
	free(r->group_steps_done);
	free(r->group_terminal);
	free(r);
}
