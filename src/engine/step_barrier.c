#include <stdlib.h>

#include "base/buf.h"
#include "engine/run_internal.h"

/*
 * step_barrier: the `barrier` step kind. The workflow arrives at the
 * barrier through the coordinator (engine/barrier.c), which decides; here
 * the decision becomes the step's outcome.
 */

/* The coordinator index of the barrier of the current step. */
static size_t barrier_of(const struct wf_run *w)
{
	return coord_index(&w->run->coord, wf_cur_step(w)->barrier_index, w->in_rollback);
}

bool step_barrier_own_failure(const struct wf_run *w, struct buf *reason, struct buf *why)
{
	const struct plan_step *ps = wf_cur_step(w);
	const struct barrier *b = &w->run->coord.barriers[barrier_of(w)];
	if (b->state != BARRIER_BROKEN)
		return false;
	buf_addf(why, "failed at step '%s' (barrier %s broken)", ps->id, ps->barrier);
	buf_adds(reason, b->message ? b->message : why->s);
	return true;
}

void step_barrier_decided(struct wf_run *w, enum barrier_state st, enum step_state broken)
{
	if (st == BARRIER_PASSED) {
		step_end(w, &(struct step_end){ .status = STEP_SUCCEEDED, .then = STEP_THEN_NEXT });
		return;
	}
	struct buf reason = BUF_INIT, why = BUF_INIT;
	step_barrier_own_failure(w, &reason, &why);
	step_end(w, &(struct step_end){ .status = broken, .then = STEP_THEN_FAIL, .reason = reason.s,
					.why = why.s, .aborted = w->run->aborting });
	buf_release(&reason);
	buf_release(&why);
}

void step_barrier_begin(struct wf_run *w)
{
	struct run *r = w->run;
	const struct plan_step *ps = wf_cur_step(w);
	size_t b = barrier_of(w);
	struct event a = { .type = EV_BARRIER_ARRIVED, .barrier = ps->barrier,
			   .workflow = w->pw->name };
	events_emit(r->ev, &a);
	enum arrive_result res = coord_arrive(&r->coord, b, w->index, run_now(r), NULL);
	/* Decisions first: barrier.passed comes before the steps it ends. */
	run_drain_decisions(r);
	run_arm_barrier_timer(r);
	if (res == ARRIVE_WAIT) {
		w->waiting_barrier = b;
		w->step_state = STEP_WAITING;
		wf_set_state(w, WF_WAITING);
		return;
	}
	step_barrier_decided(w, res == ARRIVE_PASSED ? BARRIER_PASSED : BARRIER_BROKEN, STEP_FAILED);
}

void step_barrier_resume(struct wf_run *w, const struct step_resume *at)
{
	const struct barrier *b = &w->run->coord.barriers[barrier_of(w)];
	if (w->waiting_barrier != SIZE_MAX)
		return; /* waiting again (resume.c): its decision ends the step */
	if (!at->arrived)
		step_barrier_begin(w); /* started but not yet there: it arrives now */
	else if (b->state != BARRIER_OPEN)
		step_barrier_decided(w, b->state, w->run->aborting ? STEP_ABORTED : STEP_FAILED);
}

enum step_stop step_barrier_cancel(struct wf_run *w, const char *why, bool now)
{
	(void)why;
	(void)now;
	/* Waiting: its end leaves the barrier (step_end), and its workflow's
	 * failure tells the coordinator. Not yet there: the arrival under way
	 * ends it. */
	return w->waiting_barrier != SIZE_MAX ? STOP_NOW : STOP_LATER;
}
