#include "engine/run_internal.h"

/* step_wait: the `wait` step kind, a timer. */

static void wait_done_cb(uv_timer_t *t)
{
	struct wf_run *w = t->data;
	struct run *r = w->run;
	run_timer_drop(r, &w->delay);
	w->delay_kind = TIMER_NONE;
	run_timer_drop(r, &w->timer);
	step_emit_finished(w, STEP_SUCCEEDED, false, 0);
	wf_step_done(w);
	run_pump(r);
}

void step_wait_continue(struct wf_run *w, uint64_t ms)
{
	w->delay = run_timer_new(w->run, w);
	w->delay_kind = TIMER_WAIT;
	/* +1: the loop counts whole milliseconds; a wait is never short. */
	uv_timer_start(w->delay, wait_done_cb, ms + 1, 0);
}

void step_wait_begin(struct wf_run *w)
{
	step_wait_continue(w, wf_cur_step(w)->src->wait_ms);
}
