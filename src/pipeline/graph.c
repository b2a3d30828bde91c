/*
 * graph: the plan rendered as text, Graphviz dot, mermaid or JSON.
 *
 * Every renderer walks the plan in the plan's own order (groups, workflow
 * instances, steps, barriers), so the output depends on nothing but the
 * plan: no pointers, no clocks, no hash order. Two runs of `lockstep plan`
 * on one file print the same bytes, which is what makes the output
 * diffable in review and testable.
 *
 * Names come from the pipeline file and may hold anything a YAML string
 * can: quotes, backslashes, newlines, brackets. Each format has its own
 * escaper below, and every one of them also replaces bytes that are not
 * valid UTF-8 with U+FFFD. The loader already refuses such files, but a
 * renderer that emits a file Graphviz warns about or jansson refuses would
 * turn a loader bug into a confusing second failure.
 *
 * Group numbers: the text, dot and mermaid forms count groups from 1, as a
 * person reads them ("group 1"); the JSON form counts from 0, like the
 * `group` field of the run events (SPEC §5), because tools join the two.
 */
#include "pipeline/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/duration.h"
#include "base/xalloc.h"

/* ---- UTF-8 and escaping ---- */

/*
 * Returns the length (1-4) of the valid UTF-8 sequence `p` starts with, or
 * 0 when it starts an invalid one (stray continuation byte, overlong form,
 * surrogate, beyond U+10FFFF, cut short). The check is as strict as
 * jansson's, so whatever passes here json_string() accepts. Reading stops
 * at the terminator, which is never a continuation byte.
 */
static size_t utf8_seq(const unsigned char *p)
{
	unsigned c = p[0];
	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	size_t n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xf0 && p[1] < 0x90))
		return 0; /* overlong */
	if (c == 0xed && p[1] > 0x9f)
		return 0; /* UTF-16 surrogate */
	if (c == 0xf4 && p[1] > 0x8f)
		return 0; /* beyond U+10FFFF */
	return n;
}

#define REPLACEMENT_CHAR "\xef\xbf\xbd"

enum esc { ESC_TEXT, ESC_DOT, ESC_MERMAID };

/*
 * Appends `s` (NULL reads as "") escaped for `style`:
 *   text     control characters as \n, \t, \xNN, so a name cannot move
 *            the cursor or recolour a terminal
 *   dot      the inside of a double-quoted ID: \" and \\ (a lone backslash
 *            would start a dot escape such as \N or \G), newlines as \n
 *   mermaid  the inside of a "quoted" label: characters mermaid or the
 *            HTML it renders into would read as syntax become entity
 *            codes (#quot; and friends), newlines become <br/>
 */
static void put_esc(struct buf *out, const char *s, enum esc style)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	while (*p) {
		size_t n = utf8_seq(p);
		if (!n) {
			buf_adds(out, REPLACEMENT_CHAR);
			p++;
			continue;
		}
		unsigned char c = *p;
		if (n > 1 || (c >= 0x20 && c != 0x7f)) {
			const char *rep = NULL;
			if (style == ESC_DOT && c == '"')
				rep = "\\\"";
			else if (style == ESC_DOT && c == '\\')
				rep = "\\\\";
			else if (style == ESC_MERMAID && c == '"')
				rep = "#quot;";
			else if (style == ESC_MERMAID && c == '#')
				rep = "#35;";
			else if (style == ESC_MERMAID && c == '&')
				rep = "#amp;";
			else if (style == ESC_MERMAID && c == '<')
				rep = "#lt;";
			else if (style == ESC_MERMAID && c == '>')
				rep = "#gt;";
			else if (style == ESC_MERMAID && c == '`')
				rep = "#96;"; /* a leading backtick starts a markdown label */
			if (rep)
				buf_adds(out, rep);
			else
				buf_add(out, p, n);
			p += n;
			continue;
		}
		/* A control character. */
		if (c == '\n') {
			buf_adds(out, style == ESC_MERMAID ? "<br/>" : "\\n");
		} else if (style == ESC_TEXT) {
			if (c == '\t')
				buf_adds(out, "\\t");
			else
				buf_addf(out, "\\x%02x", c);
		} else if (c != '\r') {
			buf_addc(out, ' ');
		}
		p++;
	}
}

/* Returns `s` when it is valid UTF-8, else a cleaned copy held in `tmp`. */
static const char *utf8_clean(const char *s, struct buf *tmp)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;
	while (*p && (n = utf8_seq(p)))
		p += n;
	if (!*p)
		return s;
	buf_reset(tmp);
	for (p = (const unsigned char *)s; *p; p += n ? n : 1) {
		n = utf8_seq(p);
		if (n)
			buf_add(tmp, p, n);
		else
			buf_adds(tmp, REPLACEMENT_CHAR);
	}
	return tmp->s;
}

/* Columns `s` takes on a terminal: one per code point, wide glyphs aside. */
static size_t text_width(const char *s)
{
	size_t w = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) != 0x80)
			w++;
	return w;
}

static void put_text(struct buf *out, const char *s)
{
	put_esc(out, s, ESC_TEXT);
}

/* Appends ", " unless `b` is empty: for "a, b, c" lists built piecewise. */
static void put_sep(struct buf *b, const char *sep)
{
	if (b->len)
		buf_adds(b, sep);
}

static void put_pos(struct buf *b, const char *file, struct pos pos)
{
	if (pos.line <= 0)
		return;
	if (file)
		buf_addf(b, "%s:", file);
	buf_addf(b, "%d:%d", pos.line, pos.col);
}

static void put_kvlist(struct buf *b, const struct kvlist *kv)
{
	for (size_t i = 0; i < kv->n; i++) {
		put_sep(b, ", ");
		buf_addf(b, "%s=%s", kv->v[i].key, kv->v[i].val);
	}
}

static void put_duration(struct buf *b, uint64_t ms)
{
	char d[64];
	duration_format(ms, d, sizeof(d));
	buf_adds(b, d);
}

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
		put_text(&b, cells[c]);
		size_t w = text_width(b.s);
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
				buf_addf(out, "%*s", (int)(t->width[c] - text_width(row[c]) + 2),
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

/* ---- facts shared by the renderers ---- */

static const struct pipeline *pl(const struct plan *plan)
{
	return plan->pipeline;
}

static bool rollback_all(const struct plan *plan)
{
	return pl(plan)->on_failure == ON_FAILURE_ROLLBACK_ALL;
}

/*
 * The barrier a barrier step crosses: plan.barriers for `steps`,
 * plan.rollback_barriers for `rollback`. barrier_index says which; the id
 * is compared too, and looked up when it does not match, so a plan built
 * by hand with a stale index still renders its real shape.
 */
static const struct plan_barrier *step_barrier(const struct plan *plan, const struct plan_step *ps,
					       bool in_rollback)
{
	if (!ps->src || ps->src->kind != STEP_BARRIER || !ps->barrier)
		return NULL;
	const struct plan_barrier *v = in_rollback ? plan->rollback_barriers : plan->barriers;
	size_t n = in_rollback ? plan->nrollback_barriers : plan->nbarriers;
	if (ps->barrier_index < n && v[ps->barrier_index].id &&
	    strcmp(v[ps->barrier_index].id, ps->barrier) == 0)
		return &v[ps->barrier_index];
	for (size_t i = 0; i < n; i++)
		if (v[i].id && strcmp(v[i].id, ps->barrier) == 0)
			return &v[i];
	return NULL;
}

static const struct plan_step *use_step(const struct plan *plan, const struct plan_barrier *b,
					const struct plan_barrier_use *u, size_t *nlist)
{
	if (u->wf >= plan->nworkflows)
		return NULL;
	const struct plan_workflow *w = &plan->workflows[u->wf];
	const struct plan_step *list = b->rollback ? w->rollback : w->steps;
	*nlist = b->rollback ? w->nrollback : w->nsteps;
	return u->step < *nlist ? &list[u->step] : NULL;
}

/* "kind, barrier BE, timeout 5m, 2 retries 1s apart, continue on error" */
static void step_details(const struct plan_step *ps, bool with_kind, struct buf *b)
{
	const struct step *s = ps->src;
	if (with_kind)
		buf_adds(b, step_kind_name(s->kind));
	/*
	 * What the step does, unless its name already says exactly that (the
	 * derived names "barrier BE" and "wait 30s"): "barrier BE  barrier BE"
	 * reads like a mistake.
	 */
	struct buf what = BUF_INIT;
	if (s->kind == STEP_BARRIER) {
		buf_addf(&what, "barrier %s", ps->barrier ? ps->barrier : "?");
	} else if (s->kind == STEP_WAIT) {
		buf_adds(&what, "wait ");
		put_duration(&what, s->wait_ms);
	}
	if (what.len && (!ps->name || strcmp(what.s, ps->name) != 0)) {
		put_sep(b, ", ");
		buf_adds(b, what.s);
	}
	buf_release(&what);
	if (s->kind == STEP_RUN && s->shell == SHELL_BASH) {
		put_sep(b, ", ");
		buf_adds(b, "bash");
	}
	if (ps->dir) {
		put_sep(b, ", ");
		buf_addf(b, "in %s", ps->dir);
	}
	if (s->timeout_ms) {
		put_sep(b, ", ");
		buf_adds(b, "timeout ");
		put_duration(b, s->timeout_ms);
	}
	if (s->retries > 0) {
		put_sep(b, ", ");
		buf_addf(b, "%d %s ", s->retries, s->retries == 1 ? "retry" : "retries");
		put_duration(b, s->retry_delay_ms);
		buf_adds(b, " apart");
	}
	if (s->continue_on_error) {
		put_sep(b, ", ");
		buf_adds(b, "continue on error");
	}
}

/*
 * When a workflow's rollback list runs, for the group whose failure is
 * being explained (`failed_group`) or an earlier one (rolled back only by
 * rollback-all). This is the one place the rollback rules of SPEC §3 are
 * read, so text and JSON cannot disagree:
 *   - a failed workflow rolls back when its on-failure is rollback;
 *     stop fails without rollback; ignore counts as succeeded;
 *   - with pipeline rollback-all, every succeeded workflow of the failed
 *     group and of all earlier groups rolls back too ("all" means the
 *     pipeline ends as it started). A workflow's own on-failure decides
 *     only what its own failure does.
 */
enum rb_when { RB_NEVER, RB_IF_FAILED, RB_IF_SUCCEEDED, RB_ALWAYS };

static enum rb_when rollback_when(const struct plan *plan, const struct plan_workflow *w,
				  bool failed_group)
{
	bool all = rollback_all(plan);
	if (!w->nrollback)
		return RB_NEVER;
	if (!failed_group)
		return all ? RB_ALWAYS : RB_NEVER;
	switch (w->src->on_failure) {
	case ON_FAILURE_ROLLBACK:
	case ON_FAILURE_ROLLBACK_ALL: return all ? RB_ALWAYS : RB_IF_FAILED;
	case ON_FAILURE_STOP: return all ? RB_IF_SUCCEEDED : RB_NEVER;
	case ON_FAILURE_IGNORE: return all ? RB_ALWAYS : RB_NEVER;
	}
	return RB_NEVER;
}

static const char *rb_when_name(enum rb_when when)
{
	switch (when) {
	case RB_IF_FAILED: return "if-failed";
	case RB_IF_SUCCEEDED: return "if-succeeded";
	case RB_ALWAYS: return "always";
	case RB_NEVER: break;
	}
	return "never";
}

/* Why a workflow does not roll back, for RB_NEVER. */
static const char *rb_never_reason(const struct plan *plan, const struct plan_workflow *w,
				   bool failed_group)
{
	if (!w->nrollback)
		return "no rollback steps";
	if (!failed_group && !rollback_all(plan))
		return "pipeline on-failure: stop";
	if (w->src->on_failure == ON_FAILURE_STOP)
		return "on-failure: stop";
	if (w->src->on_failure == ON_FAILURE_IGNORE)
		return "on-failure: ignore";
	return "not rolled back";
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
		step_details(&v[i], false, &d);
		table_add(t, (const char *[]){ num, v[i].id, step_kind_name(v[i].src->kind),
					       v[i].name, d.s });
		buf_release(&d);
	}
}

static void text_workflow(const struct plan *plan, const struct plan_workflow *w, struct buf *out)
{
	buf_adds(out, "  workflow ");
	put_text(out, w->name);
	buf_addc(out, '\n');

	struct table kv;
	struct buf b = BUF_INIT;
	table_init(&kv, 2);
	if (w->src->name && strcmp(w->src->name, w->name) != 0)
		table_add(&kv, (const char *[]){ "instance of", w->src->name });
	if (w->matrix.n) {
		put_kvlist(&b, &w->matrix);
		table_add(&kv, (const char *[]){ "matrix", b.s });
		buf_reset(&b);
	}
	if (w->inputs.n) {
		put_kvlist(&b, &w->inputs);
		table_add(&kv, (const char *[]){ "inputs", b.s });
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
	const char *file = pl(plan)->file;
	for (size_t i = 0; i < n; i++) {
		const struct plan_barrier *b = &v[i];
		struct buf s = BUF_INIT;
		if (i)
			buf_addc(out, '\n');
		buf_adds(out, "  ");
		put_text(out, b->id);
		if (b->title) {
			buf_adds(out, "  ");
			put_text(out, b->title);
		}
		buf_addc(out, '\n');

		struct table kv;
		table_init(&kv, 2);
		put_duration(&s, b->timeout_ms);
		if (!b->decl)
			buf_adds(&s, " (not declared: default)");
		table_add(&kv, (const char *[]){ "timeout", s.s });
		buf_reset(&s);
		if (b->decl && b->decl->pos.line > 0) {
			put_pos(&s, file, b->decl->pos);
			table_add(&kv, (const char *[]){ "declared", s.s });
			buf_reset(&s);
		}
		buf_addf(&s, "%zu", b->group + 1);
		table_add(&kv, (const char *[]){ "group", s.s });
		buf_reset(&s);
		for (size_t u = 0; u < b->nuses; u++) {
			put_sep(&s, ", ");
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
			const struct plan_step *ps = use_step(plan, b, &b->uses[u], &nlist);
			if (!ps)
				continue;
			buf_reset(&s);
			buf_addf(&s, "%sstep %zu of %zu", b->rollback ? "rollback " : "",
				 b->uses[u].step + 1, nlist);
			if (ps->src->pos.line > 0) {
				buf_adds(&s, " (");
				put_pos(&s, file, ps->src->pos);
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
		enum rb_when when = rollback_when(plan, w, failed_group);
		buf_reset(&s);
		if (when == RB_NEVER) {
			buf_addf(&s, "no rollback (%s)", rb_never_reason(plan, w, failed_group));
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
			const struct plan_step *ps = use_step(plan, b, &b->uses[u], &nlist);
			if (!ps)
				continue;
			put_sep(&s, ", ");
			buf_addf(&s, "%s at %s", plan->workflows[b->uses[u].wf].name, ps->id);
		}
		buf_adds(out, "       ordered by ");
		put_text(out, b->id);
		buf_adds(out, ": ");
		put_text(out, s.s);
		buf_addc(out, '\n');
	}
	buf_release(&s);
}

static void text_rollback_order(const struct plan *plan, struct buf *out)
{
	bool all = rollback_all(plan);
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

static void render_text(const struct plan *plan, struct buf *out)
{
	const struct pipeline *p = pl(plan);
	buf_adds(out, "pipeline ");
	put_text(out, p->name);
	if (p->file) {
		buf_adds(out, " (");
		put_text(out, p->file);
		buf_addc(out, ')');
	}
	buf_addc(out, '\n');
	if (p->description) {
		buf_adds(out, "  ");
		put_text(out, p->description);
		buf_addc(out, '\n');
	}
	struct table kv;
	struct buf s = BUF_INIT;
	table_init(&kv, 2);
	table_add(&kv, (const char *[]){ "on-failure", on_failure_name(p->on_failure) });
	if (plan->vars.n) {
		put_kvlist(&s, &plan->vars);
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
			put_text(out, plan->workflows[grp->wfs[i]].name);
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
	put_esc(f->out, raw, f->style);
}

/* The label of a step node, lines separated by '\n', not yet escaped. */
static void step_label(const struct plan_step *ps, struct buf *b)
{
	struct buf d = BUF_INIT;
	step_details(ps, true, &d);
	buf_addf(b, "%s\n%s: %s", ps->name ? ps->name : "", ps->id ? ps->id : "", d.s);
	buf_release(&d);
}

/* Step nodes numbered from `first`, chained in order. */
static void flow_steps(const struct flow *f, const struct plan_step *v, size_t n, size_t first,
		       const char *indent)
{
	/* dot styles and mermaid shapes per kind: box, bold/stadium, dotted/slanted. */
	static const char *const dot_style[STEP_KIND_COUNT] = {
		[STEP_RUN] = "rounded",
		[STEP_BARRIER] = "rounded,bold",
		[STEP_WAIT] = "rounded,dotted",
	};
	static const char *const mm_open[STEP_KIND_COUNT] = {
		[STEP_RUN] = "[",
		[STEP_BARRIER] = "([",
		[STEP_WAIT] = "[/",
	};
	static const char *const mm_close[STEP_KIND_COUNT] = {
		[STEP_RUN] = "]",
		[STEP_BARRIER] = "])",
		[STEP_WAIT] = "/]",
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
		put_duration(&lab, v[i].timeout_ms);
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
			const struct plan_barrier *b = step_barrier(plan, &list[s], rollback);
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

static void render_dot(const struct plan *plan, struct buf *out)
{
	struct flow f;
	flow_init(&f, plan, ESC_DOT, out);
	buf_adds(out, "digraph lockstep {\n");
	buf_adds(out, "\tgraph [rankdir=LR, fontname=\"Helvetica\", labelloc=t, labeljust=l, "
		      "label=\"pipeline ");
	flow_label(&f, pl(plan)->name);
	buf_adds(out, "\"];\n");
	buf_adds(out, "\tnode [shape=box, fontname=\"Helvetica\", fontsize=10];\n");
	buf_adds(out, "\tedge [fontname=\"Helvetica\", fontsize=9];\n");

	for (size_t w = 0; w < plan->nworkflows; w++) {
		const struct plan_workflow *wf = &plan->workflows[w];
		buf_addf(out, "\n\tsubgraph cluster_%zu {\n\t\tlabel=\"", w + 1);
		flow_label(&f, wf->name);
		buf_addf(out, " (group %zu)\";\n\t\tstyle=rounded;\n\t\tcolor=\"gray50\";\n",
			 wf->group + 1);
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

static void render_mermaid(const struct plan *plan, struct buf *out)
{
	struct flow f;
	flow_init(&f, plan, ESC_MERMAID, out);
	buf_adds(out, "flowchart LR\n  %% pipeline ");
	put_text(out, pl(plan)->name);
	buf_addc(out, '\n');
	/*
	 * Mermaid puts a node in the subgraph that mentions it first, so the
	 * lanes come first and every edge that leaves a lane comes after them.
	 */
	for (size_t w = 0; w < plan->nworkflows; w++) {
		const struct plan_workflow *wf = &plan->workflows[w];
		buf_addf(out, "  subgraph w%zu[\"", w + 1);
		flow_label(&f, wf->name);
		buf_addf(out, " (group %zu)\"]\n    direction LR\n", wf->group + 1);
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

/* ---- json ---- */

/* jansson reports out-of-memory as NULL; lockstep treats it as fatal. */
static json_t *jnew(json_t *j)
{
	if (!j)
		xalloc_die();
	return j;
}

static json_t *jstr(const char *s)
{
	if (!s)
		return jnew(json_null());
	struct buf tmp = BUF_INIT;
	json_t *j = jnew(json_string(utf8_clean(s, &tmp)));
	buf_release(&tmp);
	return j;
}

static json_t *jint(uint64_t v)
{
	return jnew(json_integer((json_int_t)v));
}

/* Sets obj[key] = val, taking val. Keys that came from the file are cleaned. */
static void jset(json_t *obj, const char *key, json_t *val)
{
	struct buf tmp = BUF_INIT;
	if (json_object_set_new(obj, utf8_clean(key ? key : "", &tmp), val) != 0)
		xalloc_die();
	buf_release(&tmp);
}

static void jpush(json_t *arr, json_t *val)
{
	if (json_array_append_new(arr, val) != 0)
		xalloc_die();
}

static json_t *json_kvlist(const struct kvlist *kv)
{
	json_t *o = jnew(json_object());
	for (size_t i = 0; i < kv->n; i++)
		jset(o, kv->v[i].key, jstr(kv->v[i].val));
	return o;
}

static json_t *json_steps(const struct plan_step *v, size_t n)
{
	json_t *arr = jnew(json_array());
	for (size_t i = 0; i < n; i++) {
		const struct plan_step *ps = &v[i];
		const struct step *s = ps->src;
		json_t *o = jnew(json_object());
		jset(o, "id", jstr(ps->id));
		jset(o, "name", jstr(ps->name));
		jset(o, "kind", jstr(step_kind_name(s->kind)));
		if (s->kind == STEP_RUN) {
			jset(o, "run", jstr(ps->run));
			jset(o, "shell", jstr(s->shell == SHELL_BASH ? "bash" : "sh"));
			if (ps->dir)
				jset(o, "dir", jstr(ps->dir));
		}
		if (s->kind == STEP_BARRIER)
			jset(o, "barrier", jstr(ps->barrier));
		if (s->kind == STEP_WAIT)
			jset(o, "wait_ms", jint(s->wait_ms));
		if (s->timeout_ms)
			jset(o, "timeout_ms", jint(s->timeout_ms));
		jset(o, "retries", jnew(json_integer(s->retries)));
		if (s->retries > 0)
			jset(o, "retry_delay_ms", jint(s->retry_delay_ms));
		jset(o, "continue_on_error", jnew(json_boolean(s->continue_on_error)));
		jset(o, "line", jnew(json_integer(s->pos.line)));
		jset(o, "col", jnew(json_integer(s->pos.col)));
		jpush(arr, o);
	}
	return arr;
}

static json_t *json_barriers(const struct plan *plan, const struct plan_barrier *v, size_t n)
{
	json_t *arr = jnew(json_array());
	for (size_t i = 0; i < n; i++) {
		const struct plan_barrier *b = &v[i];
		json_t *o = jnew(json_object());
		jset(o, "id", jstr(b->id));
		jset(o, "title", jstr(b->title));
		jset(o, "declared", jnew(json_boolean(b->decl != NULL)));
		jset(o, "timeout_ms", jint(b->timeout_ms));
		jset(o, "group", jint(b->group));
		json_t *parts = jnew(json_array());
		for (size_t u = 0; u < b->nuses; u++) {
			size_t nlist = 0;
			const struct plan_step *ps = use_step(plan, b, &b->uses[u], &nlist);
			if (!ps)
				continue;
			json_t *p = jnew(json_object());
			jset(p, "workflow", jstr(plan->workflows[b->uses[u].wf].name));
			jset(p, "step", jstr(ps->id));
			jset(p, "line", jnew(json_integer(ps->src->pos.line)));
			jset(p, "col", jnew(json_integer(ps->src->pos.col)));
			jpush(parts, p);
		}
		jset(o, "participants", parts);
		jpush(arr, o);
	}
	return arr;
}

/* What each workflow of group `g` does when that group or a later one fails. */
static json_t *json_rollback_list(const struct plan *plan, size_t g, bool failed_group)
{
	const struct plan_group *grp = &plan->groups[g];
	json_t *wfs = jnew(json_array());
	for (size_t i = 0; i < grp->n; i++) {
		const struct plan_workflow *w = &plan->workflows[grp->wfs[i]];
		enum rb_when when = rollback_when(plan, w, failed_group);
		json_t *o = jnew(json_object());
		jset(o, "workflow", jstr(w->name));
		jset(o, "when", jstr(rb_when_name(when)));
		if (when == RB_NEVER)
			jset(o, "reason", jstr(rb_never_reason(plan, w, failed_group)));
		json_t *steps = jnew(json_array());
		for (size_t k = 0; when != RB_NEVER && k < w->nrollback; k++)
			jpush(steps, jstr(w->rollback[k].id));
		jset(o, "steps", steps);
		jpush(wfs, o);
	}
	return wfs;
}

/*
 * rollback_order: if group k fails, the workflows of group k roll back in
 * parallel as its `if_this_group_fails` says; then, when
 * `earlier_groups_roll_back`, groups k-1 down to 0 follow one after the
 * other, each as its `if_a_later_group_fails` says. Within a group only
 * its `rollback_barriers` order the workflows. The document states each
 * group's part once instead of spelling out every (failed, earlier) pair,
 * which would grow with the square of the number of groups.
 */
static json_t *json_rollback_order(const struct plan *plan)
{
	json_t *o = jnew(json_object());
	jset(o, "earlier_groups_roll_back", jnew(json_boolean(rollback_all(plan))));
	json_t *arr = jnew(json_array());
	for (size_t g = 0; g < plan->ngroups; g++) {
		json_t *grp = jnew(json_object());
		jset(grp, "group", jint(g));
		jset(grp, "if_this_group_fails", json_rollback_list(plan, g, true));
		jset(grp, "if_a_later_group_fails", json_rollback_list(plan, g, false));
		json_t *rbs = jnew(json_array());
		for (size_t i = 0; i < plan->nrollback_barriers; i++)
			if (plan->rollback_barriers[i].group == g)
				jpush(rbs, jstr(plan->rollback_barriers[i].id));
		jset(grp, "rollback_barriers", rbs);
		jpush(arr, grp);
	}
	jset(o, "groups", arr);
	return o;
}

static void render_json(const struct plan *plan, struct buf *out)
{
	const struct pipeline *p = pl(plan);
	json_t *root = jnew(json_object());
	jset(root, "pipeline", jstr(p->name));
	jset(root, "file", jstr(p->file));
	if (p->description)
		jset(root, "description", jstr(p->description));
	jset(root, "on_failure", jstr(on_failure_name(p->on_failure)));
	jset(root, "vars", json_kvlist(&plan->vars));

	json_t *groups = jnew(json_array());
	for (size_t g = 0; g < plan->ngroups; g++) {
		json_t *o = jnew(json_object());
		json_t *names = jnew(json_array());
		jset(o, "index", jint(g));
		for (size_t i = 0; i < plan->groups[g].n; i++)
			jpush(names, jstr(plan->workflows[plan->groups[g].wfs[i]].name));
		jset(o, "workflows", names);
		jpush(groups, o);
	}
	jset(root, "groups", groups);

	json_t *wfs = jnew(json_array());
	for (size_t w = 0; w < plan->nworkflows; w++) {
		const struct plan_workflow *wf = &plan->workflows[w];
		json_t *o = jnew(json_object());
		jset(o, "name", jstr(wf->name));
		jset(o, "workflow", jstr(wf->src->name));
		jset(o, "group", jint(wf->group));
		jset(o, "matrix", json_kvlist(&wf->matrix));
		jset(o, "inputs", json_kvlist(&wf->inputs));
		jset(o, "on_failure", jstr(on_failure_name(wf->src->on_failure)));
		jset(o, "steps", json_steps(wf->steps, wf->nsteps));
		jset(o, "rollback", json_steps(wf->rollback, wf->nrollback));
		jpush(wfs, o);
	}
	jset(root, "workflows", wfs);
	jset(root, "barriers", json_barriers(plan, plan->barriers, plan->nbarriers));
	jset(root, "rollback_barriers",
	     json_barriers(plan, plan->rollback_barriers, plan->nrollback_barriers));
	jset(root, "rollback_order", json_rollback_order(plan));

	char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!s)
		xalloc_die();
	buf_adds(out, s);
	buf_addc(out, '\n');
	free(s);
	json_decref(root);
}

/* ---- entry points ---- */

int plan_format_parse(const char *s, enum plan_format *out)
{
	static const struct {
		const char *name;
		enum plan_format fmt;
	} formats[] = {
		{ "text", PLAN_FORMAT_TEXT },
		{ "dot", PLAN_FORMAT_DOT },
		{ "mermaid", PLAN_FORMAT_MERMAID },
		{ "json", PLAN_FORMAT_JSON },
	};
	for (size_t i = 0; s && i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (strcmp(s, formats[i].name) == 0) {
			*out = formats[i].fmt;
			return 0;
		}
	}
	return -1;
}

void plan_render(const struct plan *plan, enum plan_format fmt, struct buf *out)
{
	switch (fmt) {
	case PLAN_FORMAT_TEXT: render_text(plan, out); break;
	case PLAN_FORMAT_DOT: render_dot(plan, out); break;
	case PLAN_FORMAT_MERMAID: render_mermaid(plan, out); break;
	case PLAN_FORMAT_JSON: render_json(plan, out); break;
	}
}
