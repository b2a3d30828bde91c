/* graph_text: the plan as text for people (lockstep plan --format text). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "pipeline/graph_internal.h"

/* ---- aligned text tables ---- */

#define TABLE_MAX_COLS 6

/*
 * Rows of cells printed with each column padded to its widest cell. Cells
 * are escaped when added, so widths are those of what gets printed.
 */
struct table {
	size_t ncols;
	VEC(char *) cells; /* row-major, ncols per row; owned */
	size_t width[TABLE_MAX_COLS];
};

static void table_init(struct table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

/* Adds one row of t->ncols cells; NULL cells are empty. */
static void table_add(struct table *t, const char *const *cells)
{
	for (size_t c = 0; c < t->ncols; c++) {
		struct buf b = BUF_INIT;
		gr_put_text(&b, cells[c]);
		size_t w = gr_text_width(b.s);
		if (w > t->width[c])
			t->width[c] = w;
		*VEC_PUSH(t->cells) = buf_detach(&b, NULL);
	}
}

/*
 * Prints rows [from, to), two spaces between columns and none at line
 * ends. A range lets two lists share one table and so one set of widths.
 */
static void table_print_rows(const struct table *t, struct buf *out, int indent, size_t from,
			     size_t to)
{
	for (size_t r = from * t->ncols; r < to * t->ncols && r < t->cells.n; r += t->ncols) {
		char *const *row = t->cells.v + r;
		size_t last = 0;
		for (size_t c = 0; c < t->ncols; c++)
			if (row[c][0])
				last = c;
		buf_addf(out, "%*s", indent, "");
		for (size_t c = 0; c <= last; c++) {
			buf_adds(out, row[c]);
			if (c < last)
				buf_addf(out, "%*s", (int)(t->width[c] - gr_text_width(row[c]) + 2),
					 "");
		}
		buf_addc(out, '\n');
	}
}

static void table_print(const struct table *t, struct buf *out, int indent)
{
	table_print_rows(t, out, indent, 0, SIZE_MAX / TABLE_MAX_COLS);
}

static void table_release(struct table *t)
{
	for (size_t i = 0; i < t->cells.n; i++)
		free(t->cells.v[i]);
	VEC_FREE(t->cells);
}

/* ---- text ---- */

/* Most workflow rows the rollback order lists for earlier groups in full. */
#define TEXT_ROLLBACK_MAX_ROWS 500

static void text_steps(const struct plan_step *v, size_t n, struct table *t)
{
	for (size_t i = 0; i < n; i++) {
		char num[32];
		struct buf d = BUF_INIT;
		snprintf(num, sizeof(num), "%zu", i + 1);
		gr_step_details(&v[i], false, &d);
		table_add(t, (const char *[]){ num, v[i].id, step_kind_name(v[i].src->kind),
					       v[i].name, d.s });
		buf_release(&d);
	}
}

static void text_workflow(const struct plan *plan, const struct plan_workflow *w, struct buf *out)
{
	buf_adds(out, "  workflow ");
	gr_put_text(out, w->name);
	buf_addc(out, '\n');

	struct table kv;
	struct buf b = BUF_INIT;
	table_init(&kv, 2);
	if (w->src->name && strcmp(w->src->name, w->name) != 0)
		table_add(&kv, (const char *[]){ "instance of", w->src->name });
	if (w->matrix.n) {
		gr_put_kvlist(&b, &w->matrix);
		table_add(&kv, (const char *[]){ "matrix", b.s });
		buf_reset(&b);
	}
	if (w->inputs.n) {
		gr_put_kvlist(&b, &w->inputs);
		table_add(&kv, (const char *[]){ "inputs", b.s });
		buf_reset(&b);
	}
	if (w->environment) {
		gr_put_environment(&b, w->environment);
		table_add(&kv, (const char *[]){ "environment", b.s });
		buf_reset(&b);
	}
	table_add(&kv, (const char *[]){ "on-failure", on_failure_name(w->src->on_failure) });
	table_print(&kv, out, 4);
	table_release(&kv);
	buf_release(&b);

	/* One table for both lists, so steps and rollback steps line up. */
	struct table st;
	table_init(&st, 5);
	text_steps(w->steps, w->nsteps, &st);
	text_steps(w->rollback, w->nrollback, &st);
	buf_adds(out, w->nsteps ? "    steps\n" : "    steps: none\n");
	table_print_rows(&st, out, 6, 0, w->nsteps);
	if (w->nrollback) {
		buf_adds(out, "    rollback\n");
		table_print_rows(&st, out, 6, w->nsteps, w->nsteps + w->nrollback);
	} else {
		buf_adds(out, "    rollback: none\n");
	}
	table_release(&st);
}

static void text_barriers(const struct plan *plan, const struct plan_barrier *v, size_t n,
			  const char *heading, struct buf *out)
{
	buf_addf(out, "%s", heading);
	if (!n) {
		buf_adds(out, ": none\n");
		return;
	}
	buf_addc(out, '\n');
	const char *file = gr_pl(plan)->file;
	for (size_t i = 0; i < n; i++) {
		const struct plan_barrier *b = &v[i];
		struct buf s = BUF_INIT;
		if (i)
			buf_addc(out, '\n');
		buf_adds(out, "  ");
		gr_put_text(out, b->id);
		if (b->title) {
			buf_adds(out, "  ");
			gr_put_text(out, b->title);
		}
		buf_addc(out, '\n');

		struct table kv;
		table_init(&kv, 2);
		gr_put_duration(&s, b->timeout_ms);
		if (!b->decl)
			buf_adds(&s, " (not declared: default)");
		table_add(&kv, (const char *[]){ "timeout", s.s });
		buf_reset(&s);
		if (b->fail_fast)
			table_add(&kv, (const char *[]){ "fail-fast", "yes: participants on their way stop at once" });
		if (b->decl && b->decl->pos.line > 0) {
			gr_put_pos(&s, file, b->decl->pos);
			table_add(&kv, (const char *[]){ "declared", s.s });
			buf_reset(&s);
		}
		buf_addf(&s, "%zu", b->group + 1);
		table_add(&kv, (const char *[]){ "group", s.s });
		buf_reset(&s);
		for (size_t u = 0; u < b->nuses; u++) {
			gr_put_sep(&s, ", ");
			const size_t wf = b->uses[u].wf;
			buf_adds(&s, wf < plan->nworkflows ? plan->workflows[wf].name : "?");
		}
		table_add(&kv, (const char *[]){ "participants", s.s });
		table_print(&kv, out, 4);
		table_release(&kv);

		struct table pt;
		table_init(&pt, 2);
		for (size_t u = 0; u < b->nuses; u++) {
			size_t nlist = 0;
			const struct plan_step *ps = gr_use_step(plan, b, &b->uses[u], &nlist);
			if (!ps)
				continue;
			buf_reset(&s);
			buf_addf(&s, "%sstep %zu of %zu", b->rollback ? "rollback " : "",
				 b->uses[u].step + 1, nlist);
			if (ps->src->pos.line > 0) {
				buf_adds(&s, " (");
				gr_put_pos(&s, file, ps->src->pos);
				buf_addc(&s, ')');
			}
			table_add(&pt,
				  (const char *[]){ plan->workflows[b->uses[u].wf].name, s.s });
		}
		table_print(&pt, out, 6);
		table_release(&pt);
		buf_release(&s);
	}
}

/* The workflows of group `g` and what each one's rollback would do. */
static void text_rollback_phase(const struct plan *plan, size_t g, bool failed_group, size_t phase,
				struct buf *out)
{
	const struct plan_group *grp = &plan->groups[g];
	buf_addf(out, "    %zu. %sgroup %zu%s%s\n", phase, phase > 1 ? "then " : "", g + 1,
		 grp->n > 1 ? ", in parallel" : "", failed_group ? "" : " (rollback-all)");
	struct table t;
	struct buf s = BUF_INIT;
	table_init(&t, 2);
	for (size_t i = 0; i < grp->n; i++) {
		const struct plan_workflow *w = &plan->workflows[grp->wfs[i]];
		enum rb_when when = gr_rollback_when(plan, w, failed_group);
		buf_reset(&s);
		if (when == RB_NEVER) {
			buf_addf(&s, "no rollback (%s)", gr_rb_never_reason(plan, w, failed_group));
		} else {
			if (when == RB_IF_FAILED)
				buf_adds(&s, "if it fails: ");
			else if (when == RB_IF_SUCCEEDED)
				buf_adds(&s,
					 "if it succeeded (failing, it stops without rollback): ");
			for (size_t k = 0; k < w->nrollback; k++)
				buf_addf(&s, "%s%s", k ? ", " : "", w->rollback[k].id);
		}
		table_add(&t, (const char *[]){ w->name, s.s });
	}
	table_print(&t, out, 7);
	table_release(&t);

	for (size_t i = 0; i < plan->nrollback_barriers; i++) {
		const struct plan_barrier *b = &plan->rollback_barriers[i];
		if (b->group != g)
			continue;
		buf_reset(&s);
		for (size_t u = 0; u < b->nuses; u++) {
			size_t nlist = 0;
			const struct plan_step *ps = gr_use_step(plan, b, &b->uses[u], &nlist);
			if (!ps)
				continue;
			gr_put_sep(&s, ", ");
			buf_addf(&s, "%s at %s", plan->workflows[b->uses[u].wf].name, ps->id);
		}
		buf_adds(out, "       ordered by ");
		gr_put_text(out, b->id);
		buf_adds(out, ": ");
		gr_put_text(out, s.s);
		buf_addc(out, '\n');
	}
	buf_release(&s);
}

static void text_rollback_order(const struct plan *plan, struct buf *out)
{
	bool all = gr_rollback_all(plan);
	buf_adds(out, "rollback order\n");
	static const char intro[] =
		"  A failed workflow runs its rollback list when its on-failure is rollback.\n"
		"  The workflows of the failed group roll back in parallel, ordered among\n"
		"  themselves only by rollback barriers; a workflow that does not roll back\n"
		"  withdraws from them.\n";
	static const char intro_all[] =
		"  Pipeline on-failure is rollback-all: the succeeded workflows of the failed\n"
		"  group roll back too, then every earlier group, newest group first.\n";
	static const char intro_stop[] =
		"  Pipeline on-failure is stop: earlier groups stay deployed.\n";
	buf_adds(out, intro);
	buf_adds(out, all ? intro_all : intro_stop);
	/*
	 * Listing every earlier group under every failing group grows with
	 * the square of the number of groups. Past a screenful nobody reads
	 * it, and a file with thousands of stages must not make `plan` print
	 * gigabytes: then the earlier groups get one line each failure, which
	 * says the same (every workflow with rollback steps runs them), and
	 * the lists themselves are in the workflow sections above.
	 */
	size_t rows = 0;
	for (size_t g = 0; all && g < plan->ngroups && rows <= TEXT_ROLLBACK_MAX_ROWS; g++)
		for (size_t e = 0; e < g; e++)
			rows += plan->groups[e].n;
	bool expand = rows <= TEXT_ROLLBACK_MAX_ROWS;
	for (size_t g = 0; g < plan->ngroups; g++) {
		buf_addf(out, "\n  if group %zu fails:\n", g + 1);
		text_rollback_phase(plan, g, true, 1, out);
		if (!all || !g)
			continue;
		if (expand) {
			for (size_t e = g; e-- > 0;)
				text_rollback_phase(plan, e, false, g - e + 1, out);
		} else {
			if (g > 1)
				buf_addf(out, "    2. then groups %zu to 1, newest first:", g);
			else
				buf_adds(out, "    2. then group 1:");
			buf_adds(out,
				 " every workflow with rollback steps rolls back (rollback-all)\n");
		}
	}
}

void gr_render_text(const struct plan *plan, struct buf *out)
{
	const struct pipeline *p = gr_pl(plan);
	buf_adds(out, "pipeline ");
	gr_put_text(out, p->name);
	if (p->file) {
		buf_adds(out, " (");
		gr_put_text(out, p->file);
		buf_addc(out, ')');
	}
	buf_addc(out, '\n');
	if (p->description) {
		buf_adds(out, "  ");
		gr_put_text(out, p->description);
		buf_addc(out, '\n');
	}
	struct table kv;
	struct buf s = BUF_INIT;
	table_init(&kv, 2);
	table_add(&kv, (const char *[]){ "on-failure", on_failure_name(p->on_failure) });
	if (plan->vars.n) {
		gr_put_kvlist(&s, &plan->vars);
		table_add(&kv, (const char *[]){ "vars", s.s });
	}
	table_print(&kv, out, 2);
	table_release(&kv);
	buf_release(&s);

	for (size_t g = 0; g < plan->ngroups; g++) {
		const struct plan_group *grp = &plan->groups[g];
		buf_addf(out, "\ngroup %zu: ", g + 1);
		for (size_t i = 0; i < grp->n; i++) {
			if (i)
				buf_adds(out, ", ");
			gr_put_text(out, plan->workflows[grp->wfs[i]].name);
		}
		buf_adds(out, grp->n > 1 ? " (parallel)\n" : "\n");
		for (size_t i = 0; i < grp->n; i++) {
			buf_addc(out, '\n');
			text_workflow(plan, &plan->workflows[grp->wfs[i]], out);
		}
	}
	buf_addc(out, '\n');
	text_barriers(plan, plan->barriers, plan->nbarriers, "barriers", out);
	buf_addc(out, '\n');
	text_barriers(plan, plan->rollback_barriers, plan->nrollback_barriers, "rollback barriers",
		      out);
	buf_addc(out, '\n');
	text_rollback_order(plan, out);
}

