#include "events/view.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

/*
 * Grows array `*v` of `*cap` elements of `size` bytes to hold `n`. New
 * elements are not cleared: what is not used is never touched, so a
 * view does not cost memory it does not use.
 */
static void grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n <= *cap)
		return;
	size_t c = *cap ? *cap * 2 : 4;
	while (c < n)
		c *= 2;
	*v = xreallocarray(*v, c, size);
	*cap = c;
}

/* Makes room for exactly `n` elements, when the skeleton knows how many there are. */
static void reserve(void **v, size_t *cap, size_t n, size_t size)
{
	if (n > *cap) {
		*v = xreallocarray(*v, n, size);
		*cap = n;
	}
}

/*
 * The view's copy of `s` (NULL stays NULL), one per distinct string:
 * statuses, step ids and the reasons that thousands of workflows waiting
 * at one barrier share are kept once.
 */
static const char *intern(struct run_view *v, const char *s)
{
	if (!s)
		return NULL;
	size_t i;
	if (map_find(&v->strings, s, &i))
		return v->stringv[i];
	grow((void **)&v->stringv, &v->capstrings, v->nstrings + 1, sizeof(*v->stringv));
	const char *c = arena_strdup(&v->arena, s);
	v->stringv[v->nstrings] = c;
	map_add(&v->strings, c, v->nstrings, NULL);
	v->nstrings++;
	return c;
}

struct run_view *view_new(unsigned flags)
{
	struct run_view *v = xcalloc(1, sizeof(*v));
	v->flags = flags;
	return v;
}

struct run_view *view_new_plan(const struct plan *plan, unsigned flags)
{
	struct run_view *v = view_new(flags);
	reserve((void **)&v->wfs, &v->capwfs, plan->nworkflows, sizeof(*v->wfs));
	reserve((void **)&v->barriers, &v->capbarriers, plan->nbarriers + plan->nrollback_barriers,
		sizeof(*v->barriers));
	for (size_t i = 0; i < plan->nworkflows; i++) {
		const struct plan_workflow *pw = &plan->workflows[i];
		view_add_workflow(v, pw->name, pw->group);
		if (flags & VIEW_DETAIL) {
			size_t cap = 0;
			reserve((void **)&v->wfs[i].steps, &cap, pw->nsteps + pw->nrollback, sizeof(*v->wfs[i].steps));
			v->wfs[i].capsteps = (uint32_t)cap;
		}
		for (int rb = 0; rb < 2; rb++) {
			const struct plan_step *list = rb ? pw->rollback : pw->steps;
			size_t n = rb ? pw->nrollback : pw->nsteps;
			for (size_t k = 0; k < n; k++)
				view_add_step(v, i, list[k].id, list[k].name, step_kind_name(list[k].src->kind), rb);
		}
	}
	for (int rb = 0; rb < 2; rb++) {
		const struct plan_barrier *list = rb ? plan->rollback_barriers : plan->barriers;
		size_t n = rb ? plan->nrollback_barriers : plan->nbarriers;
		for (size_t k = 0; k < n; k++) {
			const struct plan_barrier *pb = &list[k];
			size_t b = view_add_barrier(v, pb->id, pb->title, rb, pb->timeout_ms);
			struct view_barrier *vb = &v->barriers[b];
			reserve((void **)&vb->members, &vb->capmembers, pb->nuses, sizeof(*vb->members));
			if (flags & VIEW_DETAIL)
				vb->arrivals = xcalloc(pb->nuses + 1, sizeof(*vb->arrivals));
			for (size_t u = 0; u < pb->nuses; u++)
				view_add_participant(v, b, pb->uses[u].wf);
		}
	}
	/* The board counts the plan's groups: "group 2 of 3". */
	if (plan->ngroups > v->ngroups)
		v->ngroups = plan->ngroups;
	return v;
}

void view_free(struct run_view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nwfs; i++) {
		for (size_t k = 0; k < v->wfs[i].nsteps; k++)
			free(v->wfs[i].steps[k].att);
		free(v->wfs[i].steps);
	}
	free(v->wfs);
	for (size_t i = 0; i < v->nbarriers; i++) {
		free(v->barriers[i].members);
		free(v->barriers[i].arrivals);
		free(v->barriers[i].passed_by);
	}
	free(v->barriers);
	for (size_t i = 0; i < v->nwarnings; i++)
		event_free(v->warnings[i]);
	free(v->warnings);
	map_release(&v->wf_index);
	map_release(&v->barrier_index);
	map_release(&v->strings);
	free(v->stringv);
	arena_release(&v->arena);
	free(v);
}

/* ---- the skeleton ---- */

size_t view_add_workflow(struct run_view *v, const char *name, size_t group)
{
	size_t i;
	if (map_find(&v->wf_index, name, &i))
		return i;
	grow((void **)&v->wfs, &v->capwfs, v->nwfs + 1, sizeof(*v->wfs));
	struct view_workflow *w = &v->wfs[v->nwfs];
	memset(w, 0, sizeof(*w));
	w->name = name;
	w->group = (uint32_t)group;
	w->status = "pending";
	map_add(&v->wf_index, name, v->nwfs, NULL);
	if (group + 1 > v->ngroups)
		v->ngroups = group + 1;
	return v->nwfs++;
}

void view_add_step(struct run_view *v, size_t wf, const char *id, const char *name, const char *kind,
		   bool rollback)
{
	if (wf >= v->nwfs)
		return;
	struct view_workflow *w = &v->wfs[wf];
	if (!rollback) {
		w->nmain++;
		v->nmain++;
	}
	if (!(v->flags & VIEW_DETAIL) || view_find_step(w, id))
		return;
	size_t cap = w->capsteps;
	grow((void **)&w->steps, &cap, w->nsteps + 1, sizeof(*w->steps));
	w->capsteps = (uint32_t)cap;
	struct view_step *s = &w->steps[w->nsteps++];
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->name = name;
	s->kind = kind;
	s->rollback = rollback;
	s->status = "pending";
}

size_t view_add_barrier(struct run_view *v, const char *id, const char *title, bool rollback,
			uint64_t timeout_ms)
{
	size_t i;
	if (map_find(&v->barrier_index, id, &i))
		return i;
	grow((void **)&v->barriers, &v->capbarriers, v->nbarriers + 1, sizeof(*v->barriers));
	struct view_barrier *b = &v->barriers[v->nbarriers];
	memset(b, 0, sizeof(*b));
	b->id = id;
	b->title = title;
	b->rollback = rollback;
	b->timeout_ms = timeout_ms;
	b->status = "pending";
	map_add(&v->barrier_index, id, v->nbarriers, NULL);
	return v->nbarriers++;
}

void view_add_participant(struct run_view *v, size_t bi, size_t wf)
{
	if (bi >= v->nbarriers || wf >= v->nwfs)
		return;
	struct view_barrier *b = &v->barriers[bi];
	size_t cap = b->capmembers;
	grow((void **)&b->members, &b->capmembers, b->nmembers + 1, sizeof(*b->members));
	if (v->flags & VIEW_DETAIL && (cap != b->capmembers || !b->arrivals)) {
		b->arrivals = xreallocarray(b->arrivals, b->capmembers, sizeof(*b->arrivals));
		memset(&b->arrivals[b->nmembers], 0, (b->capmembers - b->nmembers) * sizeof(*b->arrivals));
	}
	b->members[b->nmembers++] = (struct view_member){ .wf = (uint32_t)wf };
}

/* ---- lookups ---- */

size_t view_workflow_index(const struct run_view *v, const char *name)
{
	size_t i;
	return name && map_find(&v->wf_index, name, &i) ? i : VIEW_NONE;
}

const struct view_workflow *view_find_workflow(const struct run_view *v, const char *name)
{
	size_t i = view_workflow_index(v, name);
	return i == VIEW_NONE ? NULL : &v->wfs[i];
}

const struct view_step *view_find_step(const struct view_workflow *w, const char *id)
{
	for (size_t k = 0; id && k < w->nsteps; k++)
		if (!strcmp(w->steps[k].id, id))
			return &w->steps[k];
	return NULL;
}

static size_t barrier_index(const struct run_view *v, const char *id)
{
	size_t i;
	return id && map_find(&v->barrier_index, id, &i) ? i : VIEW_NONE;
}

const struct view_barrier *view_find_barrier(const struct run_view *v, const char *id)
{
	size_t i = barrier_index(v, id);
	return i == VIEW_NONE ? NULL : &v->barriers[i];
}

const char *view_workflow_state(const struct view_workflow *w)
{
	return w->waiting ? "waiting" : w->status;
}

uint64_t view_elapsed(struct view_time from, struct view_time to)
{
	if (!from.wall_ms || !to.wall_ms)
		return 0;
	if (from.mono_ms && to.mono_ms)
		return to.mono_ms > from.mono_ms ? to.mono_ms - from.mono_ms : 0;
	return to.wall_ms > from.wall_ms ? (uint64_t)(to.wall_ms - from.wall_ms) : 0;
}

/* ---- folding ---- */

static struct view_time when(const struct event *ev)
{
	return (struct view_time){ ev->ts_ms, ev->mono_ms };
}

static struct view_step *step_of(struct view_workflow *w, const char *id)
{
	return (struct view_step *)view_find_step(w, id);
}

static struct view_attempt *attempt_of(struct view_step *s, int n)
{
	for (size_t i = 0; i < s->natt; i++)
		if (s->att[i].attempt == n)
			return &s->att[i];
	return NULL;
}

static void step_started(struct run_view *v, struct view_workflow *w, const struct event *ev)
{
	w->step = intern(v, ev->step);
	w->step_rollback = ev->rollback;
	struct view_step *s = step_of(w, ev->step);
	if (!s)
		return;
	s->status = "running";
	s->attempts = ev->attempt;
	if (!s->started_ms)
		s->started_ms = ev->ts_ms;
	s->has_exit_code = s->has_duration = false;
	s->finished_ms = 0;
	/* An attempt started again (a resumed check) starts over. */
	struct view_attempt *a = attempt_of(s, ev->attempt);
	if (!a) {
		grow((void **)&s->att, &s->capatt, s->natt + 1, sizeof(*s->att));
		a = &s->att[s->natt++];
	}
	*a = (struct view_attempt){ .attempt = ev->attempt, .status = "running", .started_ms = ev->ts_ms,
				    .seq = ev->seq };
}

static void step_finished(struct run_view *v, struct view_workflow *w, const struct event *ev)
{
	const char *status = intern(v, ev->status);
	/* Its barrier step, if it was at one, is over: it is on its way again. */
	w->waiting = false;
	if (!ev->rollback) {
		const char *id = intern(v, ev->step);
		/* A step finishes once per attempt, its attempts one after
		 * the other: a new id is one more step done. */
		if (id != w->last_done) {
			w->last_done = id;
			w->steps_done++;
		}
		if (status && strcmp(status, "succeeded")) {
			w->failed_step = id;
			w->failed_has_exit = ev->has_exit_code;
			w->failed_exit = ev->exit_code;
		}
	}
	struct view_step *s = step_of(w, ev->step);
	if (!s)
		return;
	/* The attempt that ends is the last one started. */
	struct view_attempt *a = attempt_of(s, s->attempts);
	if (a) {
		a->finished = true;
		a->status = status;
		a->has_exit_code = ev->has_exit_code;
		a->exit_code = ev->exit_code;
		a->duration_ms = ev->duration_ms;
		a->finished_ms = ev->ts_ms;
	}
	s->status = status;
	s->has_exit_code = ev->has_exit_code;
	s->exit_code = ev->exit_code;
	s->has_duration = true;
	s->duration_ms = ev->duration_ms;
	s->finished_ms = ev->ts_ms;
}

static void step_process(struct view_workflow *w, const struct event *ev)
{
	struct view_step *s = step_of(w, ev->step);
	struct view_attempt *a = s ? attempt_of(s, ev->attempt) : NULL;
	if (a)
		a->pid = ev->pid;
}

static void arrived(struct run_view *v, struct view_workflow *w, size_t wi, const struct event *ev)
{
	size_t bi = barrier_index(v, ev->barrier);
	if (bi == VIEW_NONE)
		return;
	struct view_barrier *b = &v->barriers[bi];
	for (size_t m = 0; m < b->nmembers; m++) {
		if (b->members[m].wf != wi)
			continue;
		if (!b->members[m].arrived)
			b->narrived++;
		b->members[m].arrived = true;
		if (b->arrivals)
			b->arrivals[m] = (struct view_arrival){ ev->ts_ms, ev->seq };
	}
	bool decided = !strcmp(b->status, "passed") || !strcmp(b->status, "broken");
	if (!decided) {
		b->status = "waiting";
		w->waiting_at = (uint32_t)bi;
		w->waiting = true;
	}
}

static struct view_barrier *decided(struct run_view *v, const struct event *ev, const char *status)
{
	size_t bi = barrier_index(v, ev->barrier);
	if (bi == VIEW_NONE)
		return NULL;
	struct view_barrier *b = &v->barriers[bi];
	b->status = status;
	b->decided = when(ev);
	if (!b->decided_order)
		b->decided_order = ++v->ndecided;
	return b;
}

static void passed(struct run_view *v, const struct event *ev)
{
	struct view_barrier *b = decided(v, ev, "passed");
	if (!b)
		return;
	free(b->passed_by);
	b->passed_by = xcalloc(ev->nparticipants + 1, sizeof(*b->passed_by));
	b->npassed = 0;
	for (size_t i = 0; i < ev->nparticipants; i++) {
		size_t wi = view_workflow_index(v, ev->participants[i]);
		if (wi != VIEW_NONE)
			b->passed_by[b->npassed++] = (uint32_t)wi;
	}
}

static void broken(struct run_view *v, const struct event *ev)
{
	struct view_barrier *b = decided(v, ev, "broken");
	if (!b)
		return;
	b->reason = intern(v, ev->reason);
	b->origin = intern(v, ev->origin);
}

static void warning(struct run_view *v, const struct event *ev)
{
	grow((void **)&v->warnings, &v->capwarnings, v->nwarnings + 1, sizeof(*v->warnings));
	v->warnings[v->nwarnings++] = event_dup(ev);
}

void view_apply(struct run_view *v, const struct event *ev)
{
	if (ev->seq > v->last_seq)
		v->last_seq = ev->seq;
	size_t wi = view_workflow_index(v, ev->workflow);
	struct view_workflow *w = wi == VIEW_NONE ? NULL : &v->wfs[wi];
	switch (ev->type) {
	case EV_RUN_STARTED:
		v->run = ev->run;
		v->pipeline = intern(v, ev->pipeline);
		v->started = when(ev);
		break;
	case EV_GROUP_STARTED:
		v->group = ev->group + 1;
		break;
	case EV_WORKFLOW_STARTED:
		if (w) {
			w->status = "running";
			if (!w->started.wall_ms)
				w->started = when(ev);
		}
		break;
	case EV_STEP_STARTED:
		if (w)
			step_started(v, w, ev);
		break;
	case EV_STEP_FINISHED:
		if (w)
			step_finished(v, w, ev);
		break;
	case EV_STEP_PROCESS:
		if (w)
			step_process(w, ev);
		break;
	case EV_BARRIER_ARRIVED:
		if (w)
			arrived(v, w, wi, ev);
		break;
	case EV_BARRIER_PASSED:
		passed(v, ev);
		break;
	case EV_BARRIER_BROKEN:
		broken(v, ev);
		break;
	case EV_WORKFLOW_ROLLBACK:
		if (w) {
			w->status = "rolling-back";
			w->rollback_reason = intern(v, ev->reason);
			w->step_rollback = true;
			w->waiting = false;
		}
		break;
	case EV_WORKFLOW_FINISHED:
		if (w) {
			w->status = intern(v, ev->status);
			w->reason = intern(v, ev->reason);
			w->finished = when(ev);
			w->waiting = false;
		}
		break;
	case EV_RUN_FINISHED:
		v->status = intern(v, ev->status);
		v->finished = when(ev);
		break;
	case EV_STEP_WARNING:
		warning(v, ev);
		break;
	case EV_RUN_RESUMED:
	case EV_TYPE_COUNT:
		break;
	}
}

void view_sink(const struct event *ev, void *arg)
{
	view_apply(arg, ev);
}

struct decision_rank {
	uint64_t order;
	size_t barrier;
};

static int rank_cmp(const void *a, const void *b)
{
	const struct decision_rank *x = a, *y = b;
	return (x->order > y->order) - (x->order < y->order);
}

size_t view_decided_barriers(const struct run_view *v, size_t **out)
{
	struct decision_rank *rank = xcalloc(v->nbarriers + 1, sizeof(*rank));
	size_t n = 0;
	for (size_t i = 0; i < v->nbarriers; i++)
		if (v->barriers[i].decided_order)
			rank[n++] = (struct decision_rank){ v->barriers[i].decided_order, i };
	qsort(rank, n, sizeof(*rank), rank_cmp);
	*out = xcalloc(n + 1, sizeof(**out));
	for (size_t i = 0; i < n; i++)
		(*out)[i] = rank[i].barrier;
	free(rank);
	return n;
}

void view_warnings_text(const struct run_view *v, struct buf *out)
{
	for (size_t i = 0; i < v->nwarnings; i++) {
		buf_adds(out, "  ");
		event_warning_text(v->warnings[i], out);
		buf_addc(out, '\n');
	}
}

/* ---- the failure chain ---- */

static bool starts_with(const char *s, const char *prefix)
{
	return s && !strncmp(s, prefix, strlen(prefix));
}

/* See view.h: a workflow that failed by itself. */
static bool root_failure(const struct view_workflow *w)
{
	static const char *const failed[] = { "failed", "rolled-back", "rollback-failed" };
	bool bad = false;
	for (size_t i = 0; i < sizeof(failed) / sizeof(failed[0]); i++)
		if (!strcmp(w->status, failed[i]))
			bad = true;
	return bad && w->failed_step && w->reason && !starts_with(w->reason, "barrier ") &&
	       !starts_with(w->reason, "aborted");
}

/* The workflows other than `root` that failed at barrier `b`. */
static void failed_at(const struct run_view *v, size_t root, size_t b, struct view_broken *out)
{
	char *prefix = xmalloc(strlen(v->barriers[b].id) + 10);
	strcpy(prefix, "barrier ");
	strcat(prefix, v->barriers[b].id);
	strcat(prefix, " ");
	out->barrier = b;
	out->failed = NULL;
	out->nfailed = 0;
	size_t cap = 0;
	for (size_t j = 0; j < v->nwfs; j++) {
		if (j == root || !starts_with(v->wfs[j].reason, prefix))
			continue;
		grow((void **)&out->failed, &cap, out->nfailed + 1, sizeof(*out->failed));
		out->failed[out->nfailed++] = j;
	}
	free(prefix);
}

void view_failure_chain(const struct run_view *v, struct view_chain *out)
{
	memset(out, 0, sizeof(*out));
	/* The broken barriers, in the order they broke. */
	size_t *order;
	size_t ndecided = view_decided_barriers(v, &order), nbroken = 0;
	for (size_t k = 0; k < ndecided; k++)
		if (!strcmp(v->barriers[order[k]].status, "broken"))
			order[nbroken++] = order[k];
	bool *claimed = xcalloc(nbroken + 1, sizeof(bool));
	size_t caproots = 0;
	for (size_t i = 0; i < v->nwfs; i++) {
		const struct view_workflow *w = &v->wfs[i];
		if (!root_failure(w))
			continue;
		grow((void **)&out->roots, &caproots, out->nroots + 1, sizeof(*out->roots));
		struct view_root *r = &out->roots[out->nroots++];
		*r = (struct view_root){ .wf = i };
		size_t capb = 0;
		for (size_t k = 0; k < nbroken; k++) {
			const struct view_barrier *b = &v->barriers[order[k]];
			if (!b->origin || strcmp(b->origin, w->name))
				continue;
			claimed[k] = true;
			grow((void **)&r->broken, &capb, r->nbroken + 1, sizeof(*r->broken));
			failed_at(v, i, order[k], &r->broken[r->nbroken++]);
		}
	}
	out->others = xcalloc(nbroken + 1, sizeof(*out->others));
	for (size_t k = 0; k < nbroken; k++)
		if (!claimed[k])
			out->others[out->nothers++] = order[k];
	free(claimed);
	free(order);
}

void view_chain_release(struct view_chain *c)
{
	for (size_t i = 0; i < c->nroots; i++) {
		for (size_t k = 0; k < c->roots[i].nbroken; k++)
			free(c->roots[i].broken[k].failed);
		free(c->roots[i].broken);
	}
	free(c->roots);
	free(c->others);
	memset(c, 0, sizeof(*c));
}
