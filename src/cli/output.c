#include "cli/output.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/duration.h"
#include "base/xalloc.h"

/* A partial output line is shown anyway past this size. */
#define MAX_PARTIAL_LINE 8192

void output_init(struct output *o, struct outq *q, const struct plan *plan, const struct run_view *view)
{
	memset(o, 0, sizeof(*o));
	o->q = q;
	o->plan = plan;
	o->view = view;
	o->partial = xcalloc(view->nwfs + 1, sizeof(*o->partial));
	for (size_t i = 0; i < view->nwfs; i++)
		buf_init(&o->partial[i]);
}

void output_release(struct output *o)
{
	for (size_t i = 0; i < o->view->nwfs; i++)
		buf_release(&o->partial[i]);
	free(o->partial);
}

void output_step_label(const struct plan *plan, size_t wf, const char *step, bool rollback, struct buf *out)
{
	const struct plan_step *ps = NULL;
	if (wf < plan->nworkflows) {
		const struct plan_workflow *pw = &plan->workflows[wf];
		const struct plan_step *v = rollback ? pw->rollback : pw->steps;
		size_t n = rollback ? pw->nrollback : pw->nsteps;
		for (size_t i = 0; i < n && !ps; i++)
			if (!strcmp(v[i].id, step))
				ps = &v[i];
	}
	if (rollback)
		buf_adds(out, "rollback ");
	if (ps && ps->src->name_explicit && ps->name && strcmp(ps->name, step))
		buf_addf(out, "%s (%s)", ps->name, step);
	else
		buf_adds(out, step);
}

void output_plain_sink(const struct event *ev, void *arg)
{
	struct output *o = arg;
	struct buf line = BUF_INIT;
	struct buf *f = &line;
	char d[32];
	switch (ev->type) {
	case EV_RUN_STARTED:
		buf_addf(f, "lockstep: run %llu of %s started\n", (unsigned long long)ev->run, ev->pipeline);
		break;
	case EV_GROUP_STARTED:
		buf_addf(f, "lockstep: group %zu started:", ev->group + 1);
		for (size_t i = 0; i < ev->nworkflows; i++)
			buf_addf(f, " %s", ev->workflows[i]);
		buf_addc(f, '\n');
		break;
	case EV_STEP_STARTED:
		buf_addf(f, "[%s] ", ev->workflow);
		output_step_label(o->plan, view_workflow_index(o->view, ev->workflow), ev->step, ev->rollback, f);
		buf_addf(f, " started%s\n", ev->attempt > 1 ? " (retry)" : "");
		break;
	case EV_STEP_FINISHED:
		duration_format_elapsed(ev->duration_ms, d, sizeof(d));
		buf_addf(f, "[%s] ", ev->workflow);
		output_step_label(o->plan, view_workflow_index(o->view, ev->workflow), ev->step, ev->rollback, f);
		if (ev->has_exit_code && strcmp(ev->status, "succeeded"))
			buf_addf(f, " %s (exit %d) in %s\n", ev->status, ev->exit_code, d);
		else
			buf_addf(f, " %s in %s\n", ev->status, d);
		break;
	case EV_BARRIER_ARRIVED:
		buf_addf(f, "[%s] arrived at barrier %s\n", ev->workflow, ev->barrier);
		break;
	case EV_BARRIER_PASSED:
		buf_addf(f, "lockstep: barrier %s passed\n", ev->barrier);
		break;
	case EV_BARRIER_BROKEN:
		buf_addf(f, "lockstep: barrier %s broken: %s\n", ev->barrier, ev->reason);
		break;
	case EV_WORKFLOW_ROLLBACK:
		buf_addf(f, "[%s] rolling back: %s\n", ev->workflow, ev->reason ? ev->reason : "");
		break;
	case EV_WORKFLOW_FINISHED:
		if (ev->reason)
			buf_addf(f, "[%s] %s: %s\n", ev->workflow, ev->status, ev->reason);
		else
			buf_addf(f, "[%s] %s\n", ev->workflow, ev->status);
		break;
	case EV_RUN_RESUMED:
		buf_addf(f, "lockstep: run %llu taken over (%s) after its owner died\n",
			(unsigned long long)ev->run, ev->mode ? ev->mode : "resume");
		break;
	default:
		break;
	}
	if (line.len)
		outq_put_lines(o->q, line.s, line.len, OUTPUT_EVENT_LIMIT);
	buf_release(&line);
}

static void add_line(struct buf *out, const char *workflow, const char *s, size_t len)
{
	buf_addf(out, "[%s] %.*s\n", workflow, (int)len, s);
}

void output_lines(struct buf *partial, const char *data, size_t len,
		  void (*line)(const char *s, size_t n, void *arg), void *arg)
{
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		if (nl && !partial->len) {
			line(data, n, arg);
		} else {
			buf_add(partial, data, n);
			if (nl || partial->len > MAX_PARTIAL_LINE) {
				line(partial->s, partial->len, arg);
				buf_reset(partial);
			}
		}
		if (!nl)
			break;
		data += n + 1;
		len -= n + 1;
	}
}

struct line_ctx {
	struct buf *out;
	const char *workflow;
};

static void print_line(const char *s, size_t n, void *arg)
{
	struct line_ctx *c = arg;
	add_line(c->out, c->workflow, s, n);
}

void output_step_output(const char *workflow, const char *step, enum run_stream s,
			const char *data, size_t len, void *arg)
{
	struct output *o = arg;
	(void)step;
	(void)s;
	size_t i = view_workflow_index(o->view, workflow);
	if (i == VIEW_NONE)
		return;
	struct buf lines = BUF_INIT;
	struct line_ctx c = { &lines, o->view->wfs[i].name };
	output_lines(&o->partial[i], data, len, print_line, &c);
	if (lines.len)
		outq_put_lines(o->q, lines.s, lines.len, OUTPUT_STEP_LIMIT);
	buf_release(&lines);
}

void output_flush_partial(struct output *o)
{
	struct buf lines = BUF_INIT;
	for (size_t i = 0; i < o->view->nwfs; i++) {
		if (o->partial[i].len) {
			add_line(&lines, o->view->wfs[i].name, o->partial[i].s, o->partial[i].len);
			buf_reset(&o->partial[i]);
		}
	}
	if (lines.len)
		outq_put_lines(o->q, lines.s, lines.len, OUTPUT_STEP_LIMIT);
	buf_release(&lines);
}

const char *output_status_color(const char *status)
{
	static const struct {
		const char *status, *color;
	} colors[] = {
		{ "running", "\033[36m" },        /* cyan: under way */
		{ "waiting", "\033[34m" },        /* blue: at a barrier */
		{ "succeeded", "\033[32m" },      /* green */
		{ "passed", "\033[32m" },
		{ "rolling-back", "\033[35m" },   /* magenta: undoing */
		{ "rolled-back", "\033[33m" },    /* yellow: it failed, and was undone */
		{ "failed", "\033[31m" },         /* red */
		{ "broken", "\033[31m" },
		{ "timed-out", "\033[31m" },
		{ "aborted", "\033[31m" },
		{ "rollback-failed", "\033[1;31m" }, /* bold red: failed, and still deployed */
	};
	for (size_t i = 0; status && i < sizeof(colors) / sizeof(colors[0]); i++)
		if (!strcmp(status, colors[i].status))
			return colors[i].color;
	return "\033[2m"; /* dim: pending, skipped, what has not happened */
}

/* `s` padded to `width` columns, in its status colour when `color`. */
static void put_status(FILE *f, bool color, const char *s, int width)
{
	if (color)
		fprintf(f, "%s%-*s\033[0m", output_status_color(s), width, s);
	else
		fprintf(f, "%-*s", width, s);
}

/* A barrier's participants listed in the summary, at most; past that, how many more. */
#define SUMMARY_NAMES 3

/* "(a, b)", or "(1000 participants: a, b, c and 997 more)". */
static void put_participants(FILE *f, const struct run_view *v, const struct view_barrier *b)
{
	size_t n = b->npassed;
	fputc('(', f);
	if (n > SUMMARY_NAMES + 1)
		fprintf(f, "%zu participants: ", n);
	for (size_t i = 0; i < n; i++) {
		if (n > SUMMARY_NAMES + 1 && i == SUMMARY_NAMES) {
			fprintf(f, " and %zu more", n - i);
			break;
		}
		fprintf(f, "%s%s", i ? ", " : "", v->wfs[b->passed_by[i]].name);
	}
	fputc(')', f);
}

/* "passed at +1.2s" or "broken at +1.2s:", the barrier's column of the summary. */
static void barrier_head(const struct run_view *v, const struct view_barrier *b, char *out, size_t n)
{
	char d[32];
	bool passed = !strcmp(b->status, "passed");
	duration_format_elapsed(view_elapsed(v->started, b->decided), d, sizeof(d));
	snprintf(out, n, "%s at +%s%s", passed ? "passed" : "broken", d, passed ? "" : ":");
}

static void barriers_summary(const struct run_view *v, bool color, FILE *f)
{
	/* One column for the ids, one for "passed at +T", then the rest. */
	size_t *order;
	size_t n = view_decided_barriers(v, &order);
	size_t idw = 0, headw = 0;
	char head[64];
	for (size_t k = 0; k < n; k++) {
		const struct view_barrier *b = &v->barriers[order[k]];
		if (strlen(b->id) > idw)
			idw = strlen(b->id);
		barrier_head(v, b, head, sizeof(head));
		if (strlen(head) > headw)
			headw = strlen(head);
	}
	if (n)
		fprintf(f, "barriers:\n");
	for (size_t k = 0; k < n; k++) {
		const struct view_barrier *b = &v->barriers[order[k]];
		bool passed = !strcmp(b->status, "passed");
		barrier_head(v, b, head, sizeof(head));
		fprintf(f, "  %-*s  ", (int)idw, b->id);
		if (color)
			fprintf(f, "%s%.6s\033[0m%s", output_status_color(b->status), head, head + 6);
		else
			fputs(head, f);
		fprintf(f, "%*s  ", (int)(headw - strlen(head)), "");
		/* Everyone may have withdrawn (ignored failures, skips):
		 * then nobody passed it, and the summary says so. */
		if (passed && b->npassed)
			put_participants(f, v, b);
		else if (passed)
			fputs("(every participant withdrew)", f);
		else
			fputs(b->reason ? b->reason : "", f);
		fputc('\n', f);
	}
	free(order);
}

/*
 * The failure chain, one line per workflow that failed by itself: the
 * step that failed it, the barriers that broke, and what that did to the
 * others (the first few of a wide matrix, then how many more).
 */
static void failures_summary(const struct run_view *v, FILE *f)
{
	struct view_chain c;
	view_failure_chain(v, &c);
	for (size_t i = 0; i < c.nroots; i++) {
		const struct view_workflow *w = &v->wfs[c.roots[i].wf];
		fprintf(f, "failure: %s failed at '%s'", w->name, w->failed_step);
		if (w->failed_has_exit && w->failed_exit != 0)
			fprintf(f, " (exit %d)", w->failed_exit);
		if (strcmp(w->status, "failed"))
			fprintf(f, ", %s", w->status);
		for (size_t k = 0; k < c.roots[i].nbroken; k++) {
			const struct view_broken *b = &c.roots[i].broken[k];
			fprintf(f, " -> barrier %s broken", v->barriers[b->barrier].id);
			size_t named = b->nfailed < SUMMARY_NAMES ? b->nfailed : SUMMARY_NAMES;
			for (size_t j = 0; j < named; j++)
				fprintf(f, " -> %s %s", v->wfs[b->failed[j]].name, v->wfs[b->failed[j]].status);
			if (b->nfailed > named)
				fprintf(f, " -> and %zu more", b->nfailed - named);
		}
		fputc('\n', f);
	}
	view_chain_release(&c);
}

/* Warnings change no result, so nothing else in the summary shows them. */
static void warnings_summary(const struct run_view *v, FILE *f)
{
	if (!v->nwarnings)
		return;
	struct buf lines = BUF_INIT;
	view_warnings_text(v, &lines);
	fprintf(f, "warnings:\n%s", lines.s);
	buf_release(&lines);
}

void output_summary(const struct run_view *v, bool color, FILE *f)
{
	char d[32];
	duration_format_elapsed(view_elapsed(v->started, v->finished), d, sizeof(d));
	fprintf(f, "\nrun %llu ", (unsigned long long)v->run);
	put_status(f, color, v->status ? v->status : "?", 0);
	fprintf(f, " in %s\n", d);
	size_t width = 8;
	for (size_t i = 0; i < v->nwfs; i++)
		if (strlen(v->wfs[i].name) > width)
			width = strlen(v->wfs[i].name);
	fprintf(f, "workflows:\n");
	for (size_t i = 0; i < v->nwfs; i++) {
		const struct view_workflow *w = &v->wfs[i];
		char t[32] = "-";
		if (w->started.wall_ms && w->finished.wall_ms)
			duration_format_elapsed(view_elapsed(w->started, w->finished), t, sizeof(t));
		fprintf(f, "  %-*s  ", (int)width, w->name);
		put_status(f, color, w->status, 15);
		fprintf(f, " %7s", t);
		if (w->reason)
			fprintf(f, "  %s", w->reason);
		fputc('\n', f);
	}
	barriers_summary(v, color, f);
	failures_summary(v, f);
	warnings_summary(v, f);
	fflush(f);
}
