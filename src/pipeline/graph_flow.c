/* graph_flow: the plan as a Graphviz dot or Mermaid flowchart. */
#include <stdio.h>
#include <stdlib.h>

#include "base/xalloc.h"
#include "pipeline/graph_internal.h"

/* ---- dot and mermaid ---- */

/*
 * Both graph formats draw the same shape: one lane per workflow instance
 * with its steps chained in order (and its rollback steps in a nested
 * lane), one shared node per barrier joined by the steps that cross it,
 * and edges that order the groups. `style` picks the syntax.
 *
 * Node ids are generated: the steps of workflow w are n(first[w]) .. in
 * order, its rollback steps follow; barriers are b1.., rollback barriers
 * rb1.., group joins j1... Names only ever appear inside escaped labels,
 * so no name can break the syntax or collide with an id.
 */
struct flow {
	const struct plan *plan;
	size_t *first; /* per workflow: the number of its first step node; owned */
	enum esc style; /* ESC_DOT or ESC_MERMAID */
	struct buf *out;
};

static void flow_init(struct flow *f, const struct plan *plan, enum esc style, struct buf *out)
{
	f->plan = plan;
	f->style = style;
	f->out = out;
	f->first = xcalloc(plan->nworkflows ? plan->nworkflows : 1, sizeof(*f->first));
	size_t next = 1;
	for (size_t w = 0; w < plan->nworkflows; w++) {
		f->first[w] = next;
		next += plan->workflows[w].nsteps + plan->workflows[w].nrollback;
	}
}

static void flow_release(struct flow *f)
{
	free(f->first);
}

static void flow_label(const struct flow *f, const char *raw)
{
	gr_put_esc(f->out, raw, f->style);
}

/* ", environment NAME" in a lane's label, when the instance has one. */
static void flow_environment(const struct flow *f, const struct plan_workflow *wf)
{
	if (!wf->environment)
		return;
	buf_adds(f->out, ", environment ");
	flow_label(f, wf->environment->name);
}

/* The label of a step node, lines separated by '\n', not yet escaped. */
static void step_label(const struct plan_step *ps, struct buf *b)
{
	struct buf d = BUF_INIT;
	gr_step_details(ps, true, &d);
	buf_addf(b, "%s\n%s: %s", ps->name ? ps->name : "", ps->id ? ps->id : "", d.s);
	buf_release(&d);
}

/* Step nodes numbered from `first`, chained in order. */
static void flow_steps(const struct flow *f, const struct plan_step *v, size_t n, size_t first,
		       const char *indent)
{
	/* dot styles and mermaid shapes per kind: box, bold/stadium, dotted/slanted,
	 * dashed/hexagon, filled/subroutine (Kubernetes). */
	static const char *const dot_style[STEP_KIND_COUNT] = {
		[STEP_RUN] = "rounded",
		[STEP_BARRIER] = "rounded,bold",
		[STEP_WAIT] = "rounded,dotted",
		[STEP_HTTP_CHECK] = "rounded,dashed",
		[STEP_K8S_ROLLING] = "rounded,filled",
		[STEP_K8S_ROLLBACK] = "rounded,filled,dashed",
	};
	static const char *const mm_open[STEP_KIND_COUNT] = {
		[STEP_RUN] = "[",
		[STEP_BARRIER] = "([",
		[STEP_WAIT] = "[/",
		[STEP_HTTP_CHECK] = "{{",
		[STEP_K8S_ROLLING] = "[[",
		[STEP_K8S_ROLLBACK] = "[[",
	};
	static const char *const mm_close[STEP_KIND_COUNT] = {
		[STEP_RUN] = "]",
		[STEP_BARRIER] = "])",
		[STEP_WAIT] = "/]",
		[STEP_HTTP_CHECK] = "}}",
		[STEP_K8S_ROLLING] = "]]",
		[STEP_K8S_ROLLBACK] = "]]",
	};
	struct buf lab = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		enum step_kind k = v[i].src->kind;
		if ((unsigned)k >= STEP_KIND_COUNT || !dot_style[k])
			k = STEP_RUN;
		buf_reset(&lab);
		step_label(&v[i], &lab);
		if (f->style == ESC_DOT)
			buf_addf(f->out, "%sn%zu [style=\"%s\", label=\"", indent, first + i,
				 dot_style[k]);
		else
			buf_addf(f->out, "%sn%zu%s\"", indent, first + i, mm_open[k]);
		flow_label(f, lab.s);
		buf_addf(f->out, "\"%s\n", f->style == ESC_DOT ? "];" : mm_close[k]);
	}
	for (size_t i = 0; i + 1 < n; i++)
		buf_addf(f->out, f->style == ESC_DOT ? "%sn%zu -> n%zu;\n" : "%sn%zu --> n%zu\n",
			 indent, first + i, first + i + 1);
	buf_release(&lab);
}

/* One node per barrier, then an edge from every step that crosses it. */
static void flow_barriers(const struct flow *f, bool rollback)
{
	const struct plan *plan = f->plan;
	const struct plan_barrier *v = rollback ? plan->rollback_barriers : plan->barriers;
	size_t n = rollback ? plan->nrollback_barriers : plan->nbarriers;
	const char *pre = rollback ? "rb" : "b";
	const char *ind = f->style == ESC_DOT ? "\t" : "  ";
	struct buf lab = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		buf_reset(&lab);
		buf_addf(&lab, "%s%s", rollback ? "rollback barrier " : "", v[i].id ? v[i].id : "");
		if (v[i].title)
			buf_addf(&lab, "\n%s", v[i].title);
		buf_adds(&lab, "\ntimeout ");
		gr_put_duration(&lab, v[i].timeout_ms);
		if (f->style == ESC_DOT)
			buf_addf(f->out,
				 "\t%s%zu [shape=octagon, style=\"%s\", color=\"#b03060\", "
				 "label=\"",
				 pre, i + 1, rollback ? "dashed" : "bold");
		else
			buf_addf(f->out, "  %s%zu{{\"", pre, i + 1);
		flow_label(f, lab.s);
		buf_adds(f->out, f->style == ESC_DOT ? "\"];\n" : "\"}}\n");
	}
	/* Edges per workflow in step order, so they read in lane order. */
	for (size_t w = 0; w < plan->nworkflows; w++) {
		const struct plan_workflow *wf = &plan->workflows[w];
		const struct plan_step *list = rollback ? wf->rollback : wf->steps;
		size_t nlist = rollback ? wf->nrollback : wf->nsteps;
		size_t base = f->first[w] + (rollback ? wf->nsteps : 0);
		for (size_t s = 0; s < nlist; s++) {
			const struct plan_barrier *b = gr_step_barrier(plan, &list[s], rollback);
			if (!b)
				continue;
			buf_addf(f->out, "%sn%zu %s %s%zu%s\n", ind, base + s,
				 f->style == ESC_DOT ? "->" : "-.->", pre, (size_t)(b - v) + 1,
				 f->style == ESC_DOT ? " [style=dashed, color=\"#b03060\"];" : "");
		}
	}
	buf_release(&lab);
}

/* An ordering edge; `from` or `to` 0 means join node j`join`. */
static void flow_group_edge(const struct flow *f, size_t from, size_t to, size_t join)
{
	bool dot = f->style == ESC_DOT;
	buf_addf(f->out, "%s%c%zu %s %c%zu%s\n", dot ? "\t" : "  ", from ? 'n' : 'j',
		 from ? from : join, dot ? "->" : "-->", to ? 'n' : 'j', to ? to : join,
		 !dot ? ""
		 : to ? " [color=\"gray40\"];"
		      : " [color=\"gray40\", arrowhead=none];");
}

/*
 * Group k+1 starts when group k has succeeded: edges from the last step
 * of each workflow of group k to the first step of each workflow of group
 * k+1. When that takes more edges than going through one join node
 * (n*m > n+m), they go through join node j(k+1) instead, so a 100 x 100
 * matrix hand-over stays 200 edges, not 10,000.
 */
static void flow_group_order(const struct flow *f)
{
	const struct plan *plan = f->plan;
	for (size_t g = 0; g + 1 < plan->ngroups; g++) {
		const struct plan_group *a = &plan->groups[g], *b = &plan->groups[g + 1];
		size_t na = 0, nb = 0;
		for (size_t i = 0; i < a->n; i++)
			na += plan->workflows[a->wfs[i]].nsteps > 0;
		for (size_t i = 0; i < b->n; i++)
			nb += plan->workflows[b->wfs[i]].nsteps > 0;
		if (!na || !nb)
			continue;
		bool join = na * nb > na + nb;
		if (join && f->style == ESC_DOT)
			buf_addf(f->out,
				 "\tj%zu [shape=point, width=0.12, tooltip=\"group %zu\"];\n",
				 g + 1, g + 2);
		else if (join)
			buf_addf(f->out, "  j%zu((\"group %zu\"))\n", g + 1, g + 2);
		for (size_t i = 0; i < a->n; i++) {
			const struct plan_workflow *wa = &plan->workflows[a->wfs[i]];
			if (!wa->nsteps)
				continue;
			size_t last = f->first[a->wfs[i]] + wa->nsteps - 1;
			if (join) {
				flow_group_edge(f, last, 0, g + 1);
				continue;
			}
			for (size_t k = 0; k < b->n; k++)
				if (plan->workflows[b->wfs[k]].nsteps)
					flow_group_edge(f, last, f->first[b->wfs[k]], 0);
		}
		for (size_t k = 0; join && k < b->n; k++)
			if (plan->workflows[b->wfs[k]].nsteps)
				flow_group_edge(f, 0, f->first[b->wfs[k]], g + 1);
	}
}

void gr_render_dot(const struct plan *plan, struct buf *out)
{
	struct flow f;
	flow_init(&f, plan, ESC_DOT, out);
	buf_adds(out, "digraph lockstep {\n");
	buf_adds(out, "\tgraph [rankdir=LR, fontname=\"Helvetica\", labelloc=t, labeljust=l, "
		      "label=\"pipeline ");
	flow_label(&f, gr_pl(plan)->name);
	buf_adds(out, "\"];\n");
	buf_adds(out, "\tnode [shape=box, fontname=\"Helvetica\", fontsize=10];\n");
	buf_adds(out, "\tedge [fontname=\"Helvetica\", fontsize=9];\n");

	for (size_t w = 0; w < plan->nworkflows; w++) {
		const struct plan_workflow *wf = &plan->workflows[w];
		buf_addf(out, "\n\tsubgraph cluster_%zu {\n\t\tlabel=\"", w + 1);
		flow_label(&f, wf->name);
		buf_addf(out, " (group %zu", wf->group + 1);
		flow_environment(&f, wf);
		buf_adds(out, ")\";\n\t\tstyle=rounded;\n\t\tcolor=\"gray50\";\n");
		flow_steps(&f, wf->steps, wf->nsteps, f.first[w], "\t\t");
		if (wf->nrollback) {
			size_t rb = f.first[w] + wf->nsteps;
			buf_addf(out,
				 "\t\tsubgraph cluster_%zu_rollback {\n\t\t\tlabel=\"rollback\";\n"
				 "\t\t\tstyle=\"rounded,dashed\";\n\t\t\tcolor=\"#b03060\";\n",
				 w + 1);
			flow_steps(&f, wf->rollback, wf->nrollback, rb, "\t\t\t");
			buf_adds(out, "\t\t}\n");
			/*
			 * Without an anchor the rollback row would start at the
			 * graph's first rank and stretch every later lane; an
			 * invisible edge from the first step keeps it under its
			 * own lane.
			 */
			if (wf->nsteps)
				buf_addf(out, "\t\tn%zu -> n%zu [style=invis];\n", f.first[w], rb);
		}
		buf_adds(out, "\t}\n");
	}
	/* Outside every cluster: a node first named in a cluster joins it. */
	buf_adds(out, "\n");
	flow_barriers(&f, false);
	flow_barriers(&f, true);
	buf_adds(out, "\n");
	flow_group_order(&f);
	buf_adds(out, "}\n");
	flow_release(&f);
}

void gr_render_mermaid(const struct plan *plan, struct buf *out)
{
	struct flow f;
	flow_init(&f, plan, ESC_MERMAID, out);
	buf_adds(out, "flowchart LR\n  %% pipeline ");
	gr_put_text(out, gr_pl(plan)->name);
	buf_addc(out, '\n');
	/*
	 * Mermaid puts a node in the subgraph that mentions it first, so the
	 * lanes come first and every edge that leaves a lane comes after them.
	 */
	for (size_t w = 0; w < plan->nworkflows; w++) {
		const struct plan_workflow *wf = &plan->workflows[w];
		buf_addf(out, "  subgraph w%zu[\"", w + 1);
		flow_label(&f, wf->name);
		buf_addf(out, " (group %zu", wf->group + 1);
		flow_environment(&f, wf);
		buf_adds(out, ")\"]\n    direction LR\n");
		flow_steps(&f, wf->steps, wf->nsteps, f.first[w], "    ");
		if (wf->nrollback) {
			buf_addf(out, "    subgraph w%zur[\"rollback\"]\n      direction LR\n",
				 w + 1);
			flow_steps(&f, wf->rollback, wf->nrollback, f.first[w] + wf->nsteps,
				   "      ");
			buf_adds(out, "    end\n");
		}
		buf_adds(out, "  end\n");
	}
	flow_barriers(&f, false);
	flow_barriers(&f, true);
	flow_group_order(&f);
	flow_release(&f);
}

