#include "engine/run_internal.h"

/* step_wait: the `wait` step kind, a timer. */

static void wait_done_cb(uv_timer_t *t)
{
	struct wf_run *w = t->data;
	struct run *r = w->run;
	run_timer_drop(r, &w->delay);
	w->delay_kind = TIMER_NONE;
	step_end(w, &(struct step_end){ .status = STEP_SUCCEEDED, .then = STEP_THEN_NEXT });
	run_pump(r);
}

/* Waits `ms` more. */
static void wait_for(struct wf_run *w, uint64_t ms)
{
	w->delay = run_timer_new(w->run, w);
	w->delay_kind = TIMER_WAIT;
	/* +1: the loop counts whole milliseconds; a wait is never short. */
	uv_timer_start(w->delay, wait_done_cb, ms + 1, 0);
}

void step_wait_begin(struct wf_run *w)
{
	wait_for(w, wf_cur_step(w)->src->wait_ms);
}

void step_wait_resume(struct wf_run *w, const struct step_resume *at)
{
	uint64_t ms = wf_cur_step(w)->src->wait_ms;
	wait_for(w, ms > at->spent_ms ? ms - at->spent_ms : 0);
}

enum step_stop step_wait_cancel(struct wf_run *w, const char *why, bool now)
{
	(void)why;
	(void)now;
	run_timer_drop(w->run, &w->delay);
	w->delay_kind = TIMER_NONE;
	return STOP_NOW;
}
