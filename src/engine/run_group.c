#include "engine/run.h"

#include <stdlib.h>

#include "base/buf.h"
#include "base/xalloc.h"
#include "engine/run_internal.h"

/*
 * run_group: the run's groups (see run.h): one starts when the one before
 * succeeded; a group that failed has the later ones skipped, and, under
 * the pipeline's on-failure: rollback-all, its succeeded workflows and
 * then the earlier groups' roll back, newest first, each group's
 * completely before the next. The run finishes after the last.
 */

void run_start_group(struct run *r, size_t g)
{
	const struct plan_group *grp = &r->plan->groups[g];
	r->group = g;
	r->group_failed = false;
	free(r->group_failure);
	r->group_failure = NULL;
	const char **names = xcalloc(grp->n + 1, sizeof(*names));
	for (size_t i = 0; i < grp->n; i++)
		names[i] = r->plan->workflows[grp->wfs[i]].name;
	struct event e = { .type = EV_GROUP_STARTED, .group = g, .workflows = names,
			   .nworkflows = grp->n };
	events_emit(r->ev, &e);
	free(names);
	for (size_t i = 0; i < grp->n; i++) {
		struct wf_run *w = &r->wfs[grp->wfs[i]];
		wf_set_state(w, WF_RUNNING);
		wf_ready(w);
	}
}

static void leftovers_killed(int killed, void *arg)
{
	struct run *r = arg;
	(void)killed;
	r->killing_leftovers = false;
	r->leftovers_killed = true;
	run_finish(r);
	run_pump(r);
}

/* run_internal.h */
void run_finish(struct run *r)
{
	if (r->killing_leftovers)
		return;
	/* What ended steps left running goes first (SIGTERM, SIGKILL after
	 * the grace period): run.finished comes once it is gone. */
	if (step_run_stop_leftovers(r, false)) {
		r->ending = true;
		return;
	}
	/* Then whatever is left of the run's processes (daemons the steps
	 * double-forked), wherever the executor has them. */
	if (r->opts.kill_leftovers && !r->leftovers_killed && r->exec) {
		r->ending = true;
		r->killing_leftovers = true;
		exec_kill_leftovers(run_exec(r), leftovers_killed, r);
		return;
	}
	r->ending = false;
	r->finished = true;
	r->status = r->aborting ? RUN_ABORTED : r->failed ? RUN_FAILED : RUN_SUCCEEDED;
	struct event e = { .type = EV_RUN_FINISHED, .status = run_status_name(r->status) };
	events_emit(r->ev, &e);
	if (r->btimer) {
		run_timer_drop(r, &r->btimer);
	}
}

/* Skips the workflows of the groups after `g`. */
static void skip_after(struct run *r, size_t g)
{
	for (size_t k = g + 1; k < r->plan->ngroups; k++) {
		const struct plan_group *grp = &r->plan->groups[k];
		for (size_t i = 0; i < grp->n; i++) {
			struct wf_run *w = &r->wfs[grp->wfs[i]];
			if (w->state != WF_PENDING)
				continue;
			free(w->reason);
			struct buf b = BUF_INIT;
			if (r->aborting)
				buf_adds(&b, "run aborted");
			else
				buf_addf(&b, "group %zu failed", g + 1);
			w->reason = buf_detach(&b, NULL);
			wf_mark_steps_done(w);
			run_withdraw(r, w, false);
			run_withdraw(r, w, true);
			wf_set_state(w, WF_SKIPPED);
		}
	}
}

/* run_internal.h */
void run_group_failure(struct run *r, const struct wf_run *w)
{
	r->group_failed = true;
	if (r->group_failure)
		return;
	struct buf b = BUF_INIT;
	buf_addf(&b, "workflow %s: %s", w->pw->name, w->reason ? w->reason : "failed");
	r->group_failure = buf_detach(&b, NULL);
}

/*
 * Rolls back the succeeded workflows of group `g` (rollback-all). Returns
 * how many started. Their reason (workflow.rollback, LOCKSTEP_FAILURE)
 * names the failure that started it: "group 2 failed (on-failure:
 * rollback-all): workflow check: failed at step 'probe' (exit status 1)",
 * or "the group failed ..." for the failed group's own.
 */
size_t run_rollback_group(struct run *r, size_t g)
{
	const struct plan_group *grp = &r->plan->groups[g];
	size_t started = 0;
	struct buf why = BUF_INIT;
	if (g == r->group)
		buf_adds(&why, "the group failed (on-failure: rollback-all)");
	else
		buf_addf(&why, "group %zu failed (on-failure: rollback-all)", r->group + 1);
	if (r->group_failure)
		buf_addf(&why, ": %s", r->group_failure);
	else if (r->aborting)
		buf_adds(&why, ": run aborted");
	for (size_t i = 0; i < grp->n; i++) {
		struct wf_run *w = &r->wfs[grp->wfs[i]];
		if (w->state != WF_SUCCEEDED)
			continue;
		if (!w->pw->nrollback) {
			run_withdraw(r, w, true);
			continue;
		}
		free(w->reason);
		w->reason = xstrdup(why.s);
		wf_start_rollback(w);
		started++;
	}
	buf_release(&why);
	return started;
}

static bool group_all_terminal(const struct run *r, size_t g)
{
	return r->group_terminal[g] == r->plan->groups[g].n;
}

static bool group_all_steps_done(const struct run *r, size_t g)
{
	return r->group_steps_done[g] == r->plan->groups[g].n;
}

/* run_internal.h */
bool run_check_group(struct run *r)
{
	if (r->finished || r->ending || !r->plan->ngroups)
		return false;
	bool rollback_all = r->plan->pipeline->on_failure == ON_FAILURE_ROLLBACK_ALL &&
			    !r->opts.no_rollback && !r->hard_abort;
	if (r->rolling_back_all) {
		if (!group_all_terminal(r, r->rollback_group))
			return false;
		while (r->rollback_group > 0) {
			r->rollback_group--;
			if (run_rollback_group(r, r->rollback_group))
				return true;
		}
		run_finish(r);
		return true;
	}
	size_t g = r->group;
	if (!group_all_steps_done(r, g))
		return false;
	bool failed = r->group_failed || r->aborting;
	if (failed && rollback_all && r->rb_started_group != g + 1) {
		/* The succeeded workflows of the failed group roll back too. */
		r->rb_started_group = g + 1;
		if (run_rollback_group(r, g))
			return true;
	}
	if (!group_all_terminal(r, g))
		return false;
	if (!failed) {
		if (g + 1 < r->plan->ngroups) {
			run_start_group(r, g + 1);
			return true;
		}
		run_finish(r);
		return true;
	}
	r->failed = true;
	skip_after(r, g);
	if (rollback_all && g > 0) {
		r->rolling_back_all = true;
		r->rollback_group = g;
		return true;
	}
	run_finish(r);
	return true;
}
