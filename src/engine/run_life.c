/*
 * run_life: a run as its driver sees it (run.h): run_new, run_start,
 * run_abort (B10: the first signal), run_stop (the second, or a store
 * failure), run_done, run_status and run_free. The state machine they
 * set going is in run.c.
 */
#include "engine/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/xalloc.h"
#include "engine/barrier.h"
#include "engine/proc.h"
#include "engine/run_internal.h"
#include "exec/supervise.h"

void run_prepare_process(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	proc_seal_fds();
	proc_become_subreaper();
}

void run_reap_leftovers(void)
{
	proc_kill_descendants();
}

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

struct executor *run_exec(struct run *r)
{
	if (r->exec)
		return r->exec;
	r->own_exec = !r->opts.executor;
	if (r->opts.executor) {
		r->exec = r->opts.executor;
	} else if (r->opts.supervise_dir) {
		struct buf err = BUF_INIT;
		bool attached;
		r->exec = r->opts.takeover ? exec_supervised_resume(r->loop, r->opts.supervise_dir, r->self_exe,
								    r->opts.secrets, &attached, &err)
					   : exec_supervised_start(r->loop, r->opts.supervise_dir, r->self_exe,
								   r->opts.secrets, &err);
		if (!r->exec) {
			buf_adds(&err, "; the steps run under this process, and die with it");
			r->exec_warning = buf_detach(&err, NULL);
		}
		buf_release(&err);
	}
	if (!r->exec)
		r->exec = exec_local_new(r->loop, r->opts.mask);
	return r->exec;
}

void run_close(struct run *r)
{
	if (r->own_exec && r->exec)
		exec_close(r->exec);
	r->exec = NULL;
	r->own_exec = false;
}

const char *run_exec_warning(const struct run *r)
{
	return r->exec_warning;
}

void run_start(struct run *r, uv_loop_t *loop)
{
	r->loop = loop;
	r->btimer = xcalloc(1, sizeof(*r->btimer));
	uv_timer_init(loop, r->btimer);
	r->btimer->data = r;
	r->open_handles++;
	/* The supervisor exists before anything is recorded: a crash at any
	 * event leaves it there, or nothing to find. */
	run_exec(r);
	struct event e = { .type = EV_RUN_STARTED, .pipeline = r->plan->pipeline->name };
	events_emit(r->ev, &e);
	if (r->plan->ngroups)
		run_start_group(r, 0);
	else
		run_finish(r);
	run_pump(r);
}

/*
 * The first abort, for workflow `w`: the step in progress of its steps
 * list ends aborted (a process once it is gone: SIGTERM, SIGKILL after
 * the grace period), and so does a retry's delay; the workflow fails. A
 * rollback goes on, but for a step that only lets time pass and a
 * retry's delay, which end now: the rollback goes on with its next step.
 * A workflow waiting at a barrier fails when the barrier breaks.
 */
static void abort_first(struct wf_run *w)
{
	if (wf_step_in_progress(w) && w->state != WF_WAITING) {
		if (w->in_rollback && !wf_kind(w)->idle)
			return;
		if (wf_stop_step(w, "run aborted", false) == STOP_LATER)
			return;
		step_end(w, &(struct step_end){ .status = STEP_ABORTED,
						.then = w->in_rollback ? STEP_THEN_NEXT : STEP_THEN_ABORTED });
	} else if (wf_drop_retry(w)) {
		if (w->in_rollback)
			wf_step_done(w);
		else
			wf_fail_aborted(w);
	}
}

/*
 * The second abort, for workflow `w`: the step in progress ends now,
 * a process at once (SIGKILL), and the workflow fails: "aborted at
 * step", or, when it had not started or only let time pass (a wait, a
 * retry's delay), "aborted before it started" and "rollback aborted".
 */
static void abort_hard(struct wf_run *w)
{
	if (wf_step_in_progress(w) && w->state != WF_WAITING) {
		enum step_stop s = wf_stop_step(w, "run aborted", true);
		struct step_end how = { .status = STEP_ABORTED, .then = STEP_THEN_FAIL, .aborted = true };
		if (s == STOP_LATER)
			return;
		if (s == STOP_UNSTARTED) {
			how.reason = "aborted before it started";
			how.why = "was aborted";
		} else if (wf_kind(w)->idle) {
			how.reason = "rollback aborted";
		} else {
			how.then = STEP_THEN_ABORTED;
		}
		step_end(w, &how);
	} else if (wf_drop_retry(w)) {
		wf_fail(w, "rollback aborted", "rollback aborted", true);
	}
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
		for (size_t i = 0; i < r->nwfs; i++)
			abort_hard(&r->wfs[i]);
		coord_abort(&r->coord, run_now(r));
		run_pump(r);
		return;
	}
	run_abort_steps(r);
	run_pump(r);
}

void run_abort_steps(struct run *r)
{
	r->aborting = true;
	for (size_t i = 0; i < r->nwfs; i++)
		abort_first(&r->wfs[i]);
	coord_abort_steps(&r->coord, run_now(r));
}

/*
 * run_stop, for workflow `w`: a check and a step waiting for a process
 * end now; a process, with `kill` (the run was aborting: its rollbacks'
 * processes too), gets SIGTERM and the grace period. A wait runs out: no
 * step follows it.
 */
static void stop_one(struct wf_run *w, bool kill)
{
	if (!wf_step_in_progress(w) || w->state == WF_WAITING || wf_kind(w)->idle)
		return;
	if (w->proc && !kill)
		return;
	enum step_stop s = wf_stop_step(w, "the run is stopping", false);
	if (s == STOP_UNSTARTED)
		step_end(w, &(struct step_end){ .status = STEP_ABORTED, .then = STEP_THEN_FAIL,
						.reason = "aborted before it started", .why = "was aborted",
						.aborted = true });
	else if (s == STOP_NOW)
		step_end(w, &(struct step_end){ .status = STEP_ABORTED, .then = STEP_THEN_ABORTED });
}

void run_stop(struct run *r)
{
	if (r->finished || r->ending)
		return;
	/* Rollback steps may be running after an abort: they stop too, with
	 * their grace period. */
	bool kill = r->aborting;
	r->no_new_steps = true;
	r->opts.no_rollback = true;
	if (!r->aborting)
		run_abort(r);
	for (size_t i = 0; i < r->nwfs; i++)
		stop_one(&r->wfs[i], kill);
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
	run_close(r);
	free(r->exec_warning);
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
