#include "pipeline/check.h"

#include <stdint.h>
#include <stdlib.h>

#include "base/buf.h"
#include "base/map.h"
#include "base/suggest.h"
#include "base/xalloc.h"

/* Steps explored while listing the cycles of one plan before giving up
 * on listing and reporting whole strongly connected sets instead. */
#define CYCLE_SEARCH_BUDGET 2000000

struct checker {
	const struct plan *plan;
	struct diag *d;
	const char *file;
	size_t errors;
};

static void error_at(struct checker *C, struct pos p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void error_at(struct checker *C, struct pos p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_vadd(C->d, DIAG_ERROR, C->file, p.line, p.col, fmt, ap);
	va_end(ap);
	C->errors++;
}

static void note_at(struct checker *C, struct pos p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note_at(struct checker *C, struct pos p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_vadd(C->d, DIAG_NOTE, C->file, p.line, p.col, fmt, ap);
	va_end(ap);
}

static const struct plan_step *use_step(const struct plan *plan, const struct plan_barrier *b,
					const struct plan_barrier_use *u)
{
	const struct plan_workflow *w = &plan->workflows[u->wf];
	return b->rollback ? &w->rollback[u->step] : &w->steps[u->step];
}

static struct pos use_pos(const struct plan *plan, const struct plan_barrier *b,
			  const struct plan_barrier_use *u)
{
	return use_step(plan, b, u)->src->pos;
}

/* ---- B4: once per workflow; never in both steps and rollback ---- */

static void check_once(struct checker *C, const struct plan_barrier *b, bool *bad)
{
	const struct plan *plan = C->plan;
	/* Uses are in workflow order, then step order: duplicates are adjacent. */
	size_t first = 0;
	for (size_t i = 1; i < b->nuses; i++) {
		const struct plan_barrier_use *u = &b->uses[i], *prev = &b->uses[first];
		if (u->wf != prev->wf) {
			first = i;
			continue;
		}
		const struct plan_workflow *w = &plan->workflows[u->wf];
		struct pos first_pos = use_pos(plan, b, prev);
		error_at(C, use_pos(plan, b, u),
			 "workflow %s crosses %sbarrier %s twice (first at line %d); a workflow crosses a barrier at most once",
			 w->name, b->rollback ? "rollback " : "", b->id, first_pos.line);
		*bad = true;
	}
}

static void check_steps_and_rollback(struct checker *C, bool *bad, bool *rbad)
{
	const struct plan *plan = C->plan;
	struct map ids = MAP_INIT;
	for (size_t i = 0; i < plan->nbarriers; i++)
		map_add(&ids, plan->barriers[i].id, i, NULL);
	for (size_t r = 0; r < plan->nrollback_barriers; r++) {
		const struct plan_barrier *rb = &plan->rollback_barriers[r];
		size_t i;
		if (!map_find(&ids, rb->id, &i))
			continue;
		const struct plan_barrier *b = &plan->barriers[i];
		bad[i] = true;
		rbad[r] = true;
		/* Prefer naming a workflow that does both. */
		const struct plan_barrier_use *ru = &rb->uses[0], *su = &b->uses[0];
		for (size_t x = 0; x < rb->nuses; x++)
			for (size_t y = 0; y < b->nuses; y++)
				if (rb->uses[x].wf == b->uses[y].wf) {
					ru = &rb->uses[x];
					su = &b->uses[y];
					x = rb->nuses;
					break;
				}
		struct pos sp = use_pos(plan, b, su);
		if (ru->wf == su->wf)
			error_at(C, use_pos(plan, rb, ru),
				 "workflow %s uses barrier %s in rollback and in steps (line %d); a barrier id is either a step barrier or a rollback barrier",
				 plan->workflows[ru->wf].name, rb->id, sp.line);
		else
			error_at(C, use_pos(plan, rb, ru),
				 "barrier %s is used in the rollback of %s and in the steps of %s (line %d); a barrier id is either a step barrier or a rollback barrier",
				 rb->id, plan->workflows[ru->wf].name, plan->workflows[su->wf].name, sp.line);
	}
	map_release(&ids);
}

/* ---- B2 and B3 ---- */

/* Adds the ids of the barriers workflow `w` crosses (in steps or rollback) to `out`. */
static void crossed_ids(const struct plan_workflow *w, bool rollback, struct map *out)
{
	const struct plan_step *steps = rollback ? w->rollback : w->steps;
	size_t n = rollback ? w->nrollback : w->nsteps;
	for (size_t i = 0; i < n; i++)
		if (steps[i].barrier)
			map_add(out, steps[i].barrier, i, NULL);
}

static size_t distinct_participants(const struct plan_barrier *b)
{
	size_t n = 0;
	for (size_t i = 0; i < b->nuses; i++)
		if (i == 0 || b->uses[i].wf != b->uses[i - 1].wf)
			n++;
	return n;
}

static void check_participants(struct checker *C, const struct plan_barrier *bs, size_t nb,
			       bool *bad)
{
	const struct plan *plan = C->plan;
	const struct pipeline *p = plan->pipeline;
	/*
	 * Candidates for "did you mean": every id in use, and the declared
	 * ones. A lonely barrier is a candidate for the others: `ready` in
	 * one workflow and `Ready` in another are one barrier misspelt, the
	 * commonest typo of a two-service pipeline, and each must point at
	 * the other. The lone workflow's own barriers are left out below.
	 */
	const char **all = xmalloc((nb + p->nbarriers + 1) * sizeof(*all));
	const char **cands = xmalloc((nb + p->nbarriers + 1) * sizeof(*cands));
	size_t nall = 0, suggested = 0;
	for (size_t i = 0; i < nb; i++)
		all[nall++] = bs[i].id;
	for (size_t i = 0; i < p->nbarriers; i++)
		all[nall++] = p->barriers[i].id;

	for (size_t i = 0; i < nb; i++) {
		const struct plan_barrier *b = &bs[i];
		const char *kind = b->rollback ? "rollback barrier" : "barrier";
		if (distinct_participants(b) < 2) {
			const struct plan_workflow *w = &plan->workflows[b->uses[0].wf];
			/* The lone workflow cannot have meant a barrier it already
			 * crosses. Suggestions are bounded: a file with thousands of
			 * lonely barriers must still be checked quickly. */
			const char *s = NULL;
			if (suggested++ < 100) {
				struct map crossed = MAP_INIT;
				crossed_ids(w, b->rollback, &crossed);
				size_t nc = 0;
				for (size_t c = 0; c < nall; c++)
					if (!map_find(&crossed, all[c], NULL))
						cands[nc++] = all[c];
				map_release(&crossed);
				s = suggest_closest(b->id, cands, nc);
			}
			struct buf msg = BUF_INIT;
			buf_addf(&msg, "%s %s has only one participant (%s)", kind, b->id, w->name);
			if (b->rollback)
				buf_adds(&msg, "; a rollback barrier orders the rollbacks of at least two workflows");
			else
				buf_adds(&msg, "; a barrier holds at least two workflows until all arrive");
			if (s)
				buf_addf(&msg, "; did you mean '%s'?", s);
			error_at(C, use_pos(plan, b, &b->uses[0]), "%s", msg.s);
			buf_release(&msg);
			bad[i] = true;
			continue;
		}
		size_t g0 = plan->workflows[b->uses[0].wf].group;
		for (size_t u = 1; u < b->nuses; u++) {
			const struct plan_workflow *w = &plan->workflows[b->uses[u].wf];
			if (w->group == g0)
				continue;
			const struct plan_workflow *w0 = &plan->workflows[b->uses[0].wf];
			error_at(C, use_pos(plan, b, &b->uses[u]),
				 "%s %s joins workflows of different parallel groups (%s in group %zu, %s in group %zu): they never run at the same time, so it can never pass; put them in one group with parallel: true",
				 kind, b->id, w0->name, w0->group + 1, w->name, w->group + 1);
			bad[i] = true;
			break;
		}
	}
	free(cands);
	free(all);
}

/* ---- B8: cycles in the barrier order graph ---- */

struct edge {
	size_t to;
	size_t wf;                  /* the first workflow that crosses from before to */
	struct pos from_pos, to_pos;
};

struct graph {
	size_t n;
	VEC(struct edge) *out;      /* per node */
};

static void build_graph(const struct plan *plan, const struct plan_barrier *bs, size_t nb,
			bool rollback, const bool *bad, struct graph *g)
{
	g->n = nb;
	g->out = xcalloc(nb ? nb : 1, sizeof(*g->out));
	struct map seen = MAP_INIT;
	struct buf key = BUF_INIT;
	VEC(char *) keys = { 0 };
	for (size_t w = 0; w < plan->nworkflows; w++) {
		const struct plan_workflow *pw = &plan->workflows[w];
		const struct plan_step *steps = rollback ? pw->rollback : pw->steps;
		size_t n = rollback ? pw->nrollback : pw->nsteps;
		const struct plan_step *prev = NULL;
		for (size_t s = 0; s < n; s++) {
			const struct plan_step *st = &steps[s];
			if (st->src->kind != STEP_BARRIER || !st->barrier || bad[st->barrier_index])
				continue;
			if (prev && prev->barrier_index != st->barrier_index) {
				buf_reset(&key);
				buf_addf(&key, "%zu>%zu", prev->barrier_index, st->barrier_index);
				char *k = xstrdup(key.s);
				if (map_add(&seen, k, 0, NULL)) {
					*VEC_PUSH(keys) = k;
					struct edge *e = VEC_PUSH(g->out[prev->barrier_index]);
					e->to = st->barrier_index;
					e->wf = w;
					e->from_pos = prev->src->pos;
					e->to_pos = st->src->pos;
				} else {
					free(k);
				}
			}
			prev = st;
		}
	}
	for (size_t i = 0; i < keys.n; i++)
		free(keys.v[i]);
	VEC_FREE(keys);
	buf_release(&key);
	map_release(&seen);
}

static void free_graph(struct graph *g)
{
	for (size_t i = 0; i < g->n; i++)
		VEC_FREE(g->out[i]);
	free(g->out);
}

/* Tarjan's algorithm, iterative so that long chains cannot overflow the stack. */
static size_t *strongly_connected(const struct graph *g, size_t *ncomp)
{
	size_t n = g->n;
	size_t *index = xmalloc((n + 1) * sizeof(size_t)), *low = xmalloc((n + 1) * sizeof(size_t));
	size_t *comp = xmalloc((n + 1) * sizeof(size_t));
	bool *on = xcalloc(n + 1, sizeof(bool));
	size_t *stack = xmalloc((n + 1) * sizeof(size_t)), sp = 0;
	size_t *cs_node = xmalloc((n + 1) * sizeof(size_t)), *cs_edge = xmalloc((n + 1) * sizeof(size_t));
	size_t next = 0, nc = 0;
	for (size_t i = 0; i < n; i++)
		index[i] = SIZE_MAX;
	for (size_t root = 0; root < n; root++) {
		if (index[root] != SIZE_MAX)
			continue;
		size_t csp = 0;
		cs_node[csp] = root;
		cs_edge[csp++] = 0;
		index[root] = low[root] = next++;
		stack[sp++] = root;
		on[root] = true;
		while (csp) {
			size_t v = cs_node[csp - 1];
			size_t *ei = &cs_edge[csp - 1];
			if (*ei < g->out[v].n) {
				size_t w = g->out[v].v[(*ei)++].to;
				if (index[w] == SIZE_MAX) {
					index[w] = low[w] = next++;
					stack[sp++] = w;
					on[w] = true;
					cs_node[csp] = w;
					cs_edge[csp++] = 0;
				} else if (on[w] && index[w] < low[v]) {
					low[v] = index[w];
				}
				continue;
			}
			if (low[v] == index[v]) {
				size_t w;
				do {
					w = stack[--sp];
					on[w] = false;
					comp[w] = nc;
				} while (w != v);
				nc++;
			}
			csp--;
			if (csp) {
				size_t u = cs_node[csp - 1];
				if (low[v] < low[u])
					low[u] = low[v];
			}
		}
	}
	free(index);
	free(low);
	free(on);
	free(stack);
	free(cs_node);
	free(cs_edge);
	*ncomp = nc;
	return comp;
}

struct cycles {
	struct checker *C;
	const struct plan_barrier *bs;
	const struct graph *g;
	const size_t *comp;
	size_t start;
	size_t *path_node;          /* nodes of the current path */
	const struct edge **path_edge;
	bool *in_path;
	size_t len;
	size_t found;
	size_t budget;
	bool exhausted;
	size_t reported_limit;
	size_t suppressed;
};

static void report_cycle(struct cycles *Y)
{
	struct checker *C = Y->C;
	const struct plan *plan = C->plan;
	size_t n = Y->len;
	if (Y->found >= Y->reported_limit) {
		Y->suppressed++;
		return;
	}
	/* Start the sentence at the edge of the earliest workflow in the plan. */
	size_t first = 0;
	for (size_t i = 1; i < n; i++)
		if (Y->path_edge[i]->wf < Y->path_edge[first]->wf)
			first = i;
	struct buf msg = BUF_INIT;
	buf_adds(&msg, "barrier deadlock: ");
	for (size_t k = 0; k < n; k++) {
		size_t i = (first + k) % n;
		const struct edge *e = Y->path_edge[i];
		size_t from = Y->path_node[i];
		if (k)
			buf_adds(&msg, ", ");
		buf_addf(&msg, "%s crosses %s before %s", plan->workflows[e->wf].name, Y->bs[from].id,
			 Y->bs[e->to].id);
	}
	const struct edge *e0 = Y->path_edge[first];
	error_at(C, e0->from_pos, "%s", msg.s);
	buf_release(&msg);
	for (size_t k = 0; k < n; k++) {
		size_t i = (first + k) % n;
		const struct edge *e = Y->path_edge[i];
		const char *wname = plan->workflows[e->wf].name;
		note_at(C, e->from_pos, "%s crosses %s here", wname, Y->bs[Y->path_node[i]].id);
		note_at(C, e->to_pos, "then %s waits at %s here", wname, Y->bs[e->to].id);
	}
	Y->found++;
}

/*
 * Lists the elementary cycles through `start` whose other nodes all come
 * after `start` and lie in its component: each cycle is found exactly once,
 * from its smallest node.
 */
static void find_cycles(struct cycles *Y, size_t v)
{
	if (Y->exhausted)
		return;
	for (size_t i = 0; i < Y->g->out[v].n; i++) {
		if (Y->budget-- == 0) {
			Y->exhausted = true;
			return;
		}
		const struct edge *e = &Y->g->out[v].v[i];
		size_t w = e->to;
		if (Y->comp[w] != Y->comp[Y->start] || w < Y->start)
			continue;
		Y->path_edge[Y->len - 1] = e;
		if (w == Y->start) {
			report_cycle(Y);
			continue;
		}
		if (Y->in_path[w])
			continue;
		Y->in_path[w] = true;
		Y->path_node[Y->len++] = w;
		find_cycles(Y, w);
		Y->len--;
		Y->in_path[w] = false;
		if (Y->exhausted)
			return;
	}
}

static void check_deadlocks(struct checker *C, const struct plan_barrier *bs, size_t nb,
			    bool rollback, const bool *bad)
{
	if (nb < 2)
		return;
	struct graph g;
	build_graph(C->plan, bs, nb, rollback, bad, &g);
	size_t ncomp;
	size_t *comp = strongly_connected(&g, &ncomp);
	size_t *compsize = xcalloc(ncomp + 1, sizeof(size_t));
	for (size_t i = 0; i < nb; i++)
		compsize[comp[i]]++;

	struct cycles Y = {
		.C = C, .bs = bs, .g = &g, .comp = comp,
		.path_node = xmalloc(nb * sizeof(size_t)),
		.path_edge = xmalloc(nb * sizeof(struct edge *)),
		.in_path = xcalloc(nb, sizeof(bool)),
		.budget = CYCLE_SEARCH_BUDGET,
		.reported_limit = CHECK_MAX_CYCLES,
	};
	/* The recursion depth is bounded by the component size; components
	 * larger than this are reported as a whole rather than walked. */
	const size_t max_walk = 2000;
	bool *reported_comp = xcalloc(ncomp + 1, sizeof(bool));
	for (size_t s = 0; s < nb; s++) {
		if (compsize[comp[s]] < 2)
			continue;
		if (compsize[comp[s]] <= max_walk && !Y.exhausted) {
			Y.start = s;
			Y.len = 1;
			Y.path_node[0] = s;
			Y.in_path[s] = true;
			find_cycles(&Y, s);
			Y.in_path[s] = false;
			if (!Y.exhausted)
				continue;
		}
		if (reported_comp[comp[s]])
			continue;
		reported_comp[comp[s]] = true;
		struct buf ids = BUF_INIT;
		size_t listed = 0;
		for (size_t i = 0; i < nb; i++) {
			if (comp[i] != comp[s])
				continue;
			if (listed++ < 20)
				buf_addf(&ids, "%s%s", ids.len ? ", " : "", bs[i].id);
		}
		if (listed > 20)
			buf_addf(&ids, " and %zu more", listed - 20);
		error_at(C, use_pos(C->plan, &bs[s], &bs[s].uses[0]),
			 "barrier deadlock among %s: the workflows crossing them wait for each other in a cycle (too many cycles to list one by one)",
			 ids.s);
		buf_release(&ids);
	}
	if (Y.suppressed)
		error_at(C, (struct pos){ 0, 0 }, "%s%zu more barrier deadlock cycles not listed",
			 Y.exhausted ? "at least " : "", Y.suppressed);
	free(reported_comp);
	free(Y.path_node);
	free(Y.path_edge);
	free(Y.in_path);
	free(compsize);
	free(comp);
	free_graph(&g);
}

/* ---- declarations ---- */

static void check_declarations(struct checker *C)
{
	const struct plan *plan = C->plan;
	const struct pipeline *p = plan->pipeline;
	for (size_t i = 0; i < p->nbarriers; i++) {
		const struct barrier_decl *d = &p->barriers[i];
		bool used = false;
		for (size_t j = 0; j < plan->nbarriers && !used; j++)
			used = plan->barriers[j].decl == d;
		for (size_t j = 0; j < plan->nrollback_barriers && !used; j++)
			used = plan->rollback_barriers[j].decl == d;
		if (!used)
			diag_add(C->d, DIAG_WARNING, C->file, d->pos.line, d->pos.col,
				 "barrier %s is declared but no step uses it", d->id);
	}
}

/* ---- environments and Kubernetes steps ---- */

/*
 * The namespace of a k8s-rolling step comes from the step, else from its
 * environment; an environment that has kubernetes but no namespace leaves
 * a step without one of its own an error, at the step. `k8s_used` marks
 * the environments a k8s-rolling step runs in.
 */
static void check_k8s_steps(struct checker *C, bool *k8s_used)
{
	const struct plan *plan = C->plan;
	for (size_t w = 0; w < plan->nworkflows; w++) {
		const struct plan_workflow *pw = &plan->workflows[w];
		const struct plan_environment *pe = pw->environment;
		bool rolling = false;
		for (size_t s = 0; s < pw->nsteps; s++)
			rolling = rolling || pw->steps[s].src->kind == STEP_K8S_ROLLING;
		for (int list = 0; list < 2; list++) {
			const struct plan_step *v = list ? pw->rollback : pw->steps;
			size_t n = list ? pw->nrollback : pw->nsteps;
			for (size_t s = 0; s < n; s++) {
				const struct plan_step *ps = &v[s];
				if (ps->src->kind == STEP_K8S_ROLLBACK && !rolling && !ps->src->implicit)
					diag_add(C->d, DIAG_WARNING, C->file, ps->src->pos.line,
						 ps->src->pos.col,
						 "k8s-rollback in workflow %s has nothing to undo: the workflow has no k8s-rolling step",
						 pw->src->name);
				if (ps->src->kind != STEP_K8S_ROLLING || !ps->k8s)
					continue;
				if (pe)
					k8s_used[pe - plan->environments] = true;
				if (ps->k8s->kube_namespace || !pe || !pe->src->has_kubernetes)
					continue;
				error_at(C, ps->src->pos,
					 "k8s-rolling step '%s' of workflow %s has no namespace: environment %s has kubernetes but no namespace (give the step a namespace:, or the environment kubernetes.namespace)",
					 ps->id, pw->name, pe->name);
			}
		}
	}
}

static void check_environments(struct checker *C, const bool *k8s_used)
{
	const struct plan *plan = C->plan;
	bool *used = xcalloc(plan->nenvironments + 1, sizeof(bool));
	for (size_t w = 0; w < plan->nworkflows; w++)
		if (plan->workflows[w].environment)
			used[plan->workflows[w].environment - plan->environments] = true;
	for (size_t i = 0; i < plan->nenvironments; i++) {
		const struct plan_environment *pe = &plan->environments[i];
		const struct environment *env = pe->src;
		if (!used[i])
			diag_add(C->d, DIAG_WARNING, C->file, env->pos.line, env->pos.col,
				 "environment %s is declared but no workflow runs in it", env->name);
		/* Where k8s-rolling steps run in it, they were judged one by one
		 * (check_k8s_steps); for other uses, a warning. */
		if (env->has_kubernetes && !env->kube_namespace && !k8s_used[i])
			diag_add(C->d, DIAG_WARNING, C->file, env->kubernetes_pos.line,
				 env->kubernetes_pos.col,
				 "environment %s has kubernetes but no namespace: Kubernetes steps using it must give one",
				 env->name);
	}
	free(used);
}

size_t plan_check(const struct plan *plan, struct diag *d)
{
	struct checker C = { plan, d, plan->pipeline->file, 0 };
	bool *bad = xcalloc(plan->nbarriers + 1, sizeof(bool));
	bool *rbad = xcalloc(plan->nrollback_barriers + 1, sizeof(bool));
	for (size_t i = 0; i < plan->nbarriers; i++)
		check_once(&C, &plan->barriers[i], &bad[i]);
	for (size_t i = 0; i < plan->nrollback_barriers; i++)
		check_once(&C, &plan->rollback_barriers[i], &rbad[i]);
	check_steps_and_rollback(&C, bad, rbad);
	check_participants(&C, plan->barriers, plan->nbarriers, bad);
	check_participants(&C, plan->rollback_barriers, plan->nrollback_barriers, rbad);
	check_deadlocks(&C, plan->barriers, plan->nbarriers, false, bad);
	check_deadlocks(&C, plan->rollback_barriers, plan->nrollback_barriers, true, rbad);
	check_declarations(&C);
	bool *k8s_used = xcalloc(plan->nenvironments + 1, sizeof(bool));
	check_k8s_steps(&C, k8s_used);
	check_environments(&C, k8s_used);
	free(k8s_used);
	free(bad);
	free(rbad);
	return C.errors;
}
