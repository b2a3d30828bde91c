#include "cli/recorded.h"

#include "events/codec.h"

struct run_view *recorded_view_new(const struct store_run *r)
{
	struct run_view *v = view_new(VIEW_DETAIL);
	for (size_t i = 0; i < r->nwfs; i++) {
		const struct store_workflow *w = &r->wfs[i];
		size_t wi = view_add_workflow(v, w->name, w->group);
		for (size_t k = 0; k < w->nsteps; k++) {
			const struct store_step *s = &w->steps[k];
			view_add_step(v, wi, s->id, s->name, s->kind, s->rollback);
		}
	}
	for (size_t i = 0; i < r->nbarriers; i++) {
		const struct store_barrier *b = &r->barriers[i];
		size_t bi = view_add_barrier(v, b->id, b->title, b->rollback, b->timeout_ms);
		for (size_t m = 0; m < b->nmembers; m++) {
			size_t wi = view_workflow_index(v, b->members[m].workflow);
			if (wi != VIEW_NONE)
				view_add_participant(v, bi, wi);
		}
	}
	return v;
}

int recorded_view_apply(struct run_view *v, const struct store_event *se)
{
	struct arena a = ARENA_INIT;
	struct event ev;
	int r = event_decode(se->type, se->json, &ev, &a);
	if (r == 0)
		view_apply(v, &ev);
	arena_release(&a);
	return r;
}

void recorded_view_pids(struct run_view *v, const struct store_run *r)
{
	for (size_t i = 0; i < r->nwfs; i++) {
		const struct store_workflow *w = &r->wfs[i];
		for (size_t k = 0; k < w->nsteps; k++) {
			const struct store_step *s = &w->steps[k];
			for (size_t n = 0; n < s->natt; n++) {
				if (s->att[n].pid <= 0)
					continue;
				struct event ev = { .type = EV_STEP_PROCESS, .workflow = w->name, .step = s->id,
						    .attempt = s->att[n].attempt, .pid = s->att[n].pid,
						    .pid_start = s->att[n].pid_start };
				view_apply(v, &ev);
			}
		}
	}
}

struct run_view *recorded_view_load(const struct store_run *r)
{
	struct run_view *v = recorded_view_new(r);
	for (size_t i = 0; i < r->nevents; i++)
		recorded_view_apply(v, &r->events[i]);
	recorded_view_pids(v, r);
	return v;
}
