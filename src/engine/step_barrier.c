#include <stdlib.h>

#include "base/buf.h"
#include "engine/run_internal.h"

/*
 * step_barrier: the `barrier` step kind. The workflow arrives at the
 * barrier through the coordinator (engine/barrier.c), which decides; here
 * the decision becomes the step's outcome.
 */

void step_barrier_begin(struct wf_run *w)
{
	struct run *r = w->run;
	const struct plan_step *ps = wf_cur_step(w);
	size_t b = coord_index(&r->coord, ps->barrier_index, w->in_rollback);
	struct event a = { .type = EV_BARRIER_ARRIVED, .barrier = ps->barrier,
			   .workflow = w->pw->name };
	events_emit(r->ev, &a);
	const char *message = NULL;
	enum arrive_result res = coord_arrive(&r->coord, b, w->index, run_now(r), &message);
	char *msg = message ? xstrdup(message) : NULL;
	/* Decisions first: barrier.passed comes before the steps it ends. */
	run_drain_decisions(r);
	run_arm_barrier_timer(r);
	if (res == ARRIVE_PASSED) {
		run_timer_drop(r, &w->timer);
		step_emit_finished(w, STEP_SUCCEEDED, false, 0);
		wf_step_done(w);
	} else if (res == ARRIVE_WAIT) {
		w->waiting_barrier = b;
		w->step_state = STEP_WAITING;
		wf_set_state(w, WF_WAITING);
	} else {
		run_timer_drop(r, &w->timer);
		step_emit_finished(w, STEP_FAILED, false, 0);
		struct buf why = BUF_INIT;
		buf_addf(&why, "failed at step '%s' (barrier %s broken)", ps->id, ps->barrier);
		wf_fail(w, msg ? msg : why.s, why.s, r->aborting);
		buf_release(&why);
	}
	free(msg);
}
