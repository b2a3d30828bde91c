#include "cli/output.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/map.h"
#include "base/xalloc.h"

/* A partial output line is shown anyway past this size. */
#define MAX_PARTIAL_LINE 8192

struct output_wf {
	const char *name;
	struct buf partial;
	uint64_t started, finished;
	bool has_started, has_finished;
	char *status;
	char *reason;
	char *failed_step;         /* the step whose failure started it, if any */
	int exit_code;
	bool has_exit;
};

struct output_barrier {
	char *id;
	bool passed, broken;
	uint64_t at;
	char *reason;
	char *origin;
	char **participants;       /* of barrier.passed */
	size_t nparticipants;
};

static size_t wf_index(const struct output *o, const char *name)
{
	size_t i;
	return map_find(&o->index, name, &i) ? i : SIZE_MAX;
}

void output_init(struct output *o, struct outq *q, bool color, const struct plan *plan)
{
	memset(o, 0, sizeof(*o));
	o->q = q;
	o->color = color;
	o->plan = plan;
	o->nwfs = plan->nworkflows;
	o->wfs = xcalloc(o->nwfs + 1, sizeof(*o->wfs));
	for (size_t i = 0; i < o->nwfs; i++) {
		o->wfs[i].name = plan->workflows[i].name;
		buf_init(&o->wfs[i].partial);
		map_add(&o->index, o->wfs[i].name, i, NULL);
	}
}

void output_release(struct output *o)
{
	for (size_t i = 0; i < o->nwfs; i++) {
		buf_release(&o->wfs[i].partial);
		free(o->wfs[i].status);
		free(o->wfs[i].reason);
		free(o->wfs[i].failed_step);
	}
	free(o->wfs);
	map_release(&o->index);
	for (size_t i = 0; i < o->nbarriers; i++) {
		free(o->barriers[i].id);
		free(o->barriers[i].reason);
		free(o->barriers[i].origin);
		for (size_t k = 0; k < o->barriers[i].nparticipants; k++)
			free(o->barriers[i].participants[k]);
		free(o->barriers[i].participants);
	}
	free(o->barriers);
	free(o->status);
}

static struct output_barrier *barrier_rec(struct output *o, const char *id)
{
	for (size_t i = 0; i < o->nbarriers; i++)
		if (!strcmp(o->barriers[i].id, id))
			return &o->barriers[i];
	if (o->nbarriers == o->capbarriers) {
		o->capbarriers = o->capbarriers ? o->capbarriers * 2 : 8;
		o->barriers = xreallocarray(o->barriers, o->capbarriers, sizeof(*o->barriers));
	}
	struct output_barrier *b = &o->barriers[o->nbarriers++];
	memset(b, 0, sizeof(*b));
	b->id = xstrdup(id);
	return b;
}

static void set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = s ? xstrdup(s) : NULL;
}

void output_record_sink(const struct event *ev, void *arg)
{
	struct output *o = arg;
	size_t w = ev->workflow ? wf_index(o, ev->workflow) : SIZE_MAX;
	switch (ev->type) {
	case EV_RUN_STARTED:
		o->start_mono = ev->mono_ms;
		o->run = ev->run;
		break;
	case EV_WORKFLOW_STARTED:
		if (w != SIZE_MAX) {
			o->wfs[w].started = ev->mono_ms;
			o->wfs[w].has_started = true;
		}
		break;
	case EV_STEP_FINISHED:
		/* The last failed step is the one that failed the workflow (an
		 * earlier one may have been continue-on-error). */
		if (w != SIZE_MAX && strcmp(ev->status, "succeeded") && !ev->rollback) {
			set_str(&o->wfs[w].failed_step, ev->step);
			o->wfs[w].has_exit = ev->has_exit_code;
			o->wfs[w].exit_code = ev->exit_code;
		}
		break;
	case EV_WORKFLOW_FINISHED:
		if (w != SIZE_MAX) {
			o->wfs[w].finished = ev->mono_ms;
			o->wfs[w].has_finished = true;
			set_str(&o->wfs[w].status, ev->status);
			set_str(&o->wfs[w].reason, ev->reason);
		}
		break;
	case EV_BARRIER_PASSED: {
		struct output_barrier *b = barrier_rec(o, ev->barrier);
		b->passed = true;
		b->at = ev->mono_ms;
		for (size_t i = 0; i < b->nparticipants; i++)
			free(b->participants[i]);
		free(b->participants);
		b->participants = xcalloc(ev->nparticipants + 1, sizeof(char *));
		for (size_t i = 0; i < ev->nparticipants; i++)
			b->participants[i] = xstrdup(ev->participants[i]);
		b->nparticipants = ev->nparticipants;
		break;
	}
	case EV_BARRIER_BROKEN: {
		struct output_barrier *b = barrier_rec(o, ev->barrier);
		b->broken = true;
		b->at = ev->mono_ms;
		set_str(&b->reason, ev->reason);
		set_str(&b->origin, ev->origin);
		break;
	}
	case EV_RUN_FINISHED:
		o->end_mono = ev->mono_ms;
		set_str(&o->status, ev->status);
		break;
	default:
		break;
	}
}

static void fmt_secs(uint64_t ms, char *out, size_t n)
{
	if (ms < 1000)
		snprintf(out, n, "%llums", (unsigned long long)ms);
	else if (ms < 60000)
		snprintf(out, n, "%.1fs", (double)ms / 1000.0);
	else
		snprintf(out, n, "%llum%02llus", (unsigned long long)(ms / 60000),
			 (unsigned long long)(ms / 1000 % 60));
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
		output_step_label(o->plan, wf_index(o, ev->workflow), ev->step, ev->rollback, f);
		buf_addf(f, " started%s\n", ev->attempt > 1 ? " (retry)" : "");
		break;
	case EV_STEP_FINISHED:
		fmt_secs(ev->duration_ms, d, sizeof(d));
		buf_addf(f, "[%s] ", ev->workflow);
		output_step_label(o->plan, wf_index(o, ev->workflow), ev->step, ev->rollback, f);
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

static void add_line(struct buf *out, const struct output_wf *w, const char *s, size_t len)
{
	buf_addf(out, "[%s] %.*s\n", w->name, (int)len, s);
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
	struct output_wf *w;
};

static void print_line(const char *s, size_t n, void *arg)
{
	struct line_ctx *c = arg;
	add_line(c->out, c->w, s, n);
}

void output_step_output(const char *workflow, const char *step, enum proc_stream s,
			const char *data, size_t len, void *arg)
{
	struct output *o = arg;
	(void)step;
	(void)s;
	size_t i = wf_index(o, workflow);
	if (i == SIZE_MAX)
		return;
	struct buf lines = BUF_INIT;
	struct line_ctx c = { &lines, &o->wfs[i] };
	output_lines(&o->wfs[i].partial, data, len, print_line, &c);
	if (lines.len)
		outq_put_lines(o->q, lines.s, lines.len, OUTPUT_STEP_LIMIT);
	buf_release(&lines);
}

void output_flush_partial(struct output *o)
{
	struct buf lines = BUF_INIT;
	for (size_t i = 0; i < o->nwfs; i++) {
		if (o->wfs[i].partial.len) {
			add_line(&lines, &o->wfs[i], o->wfs[i].partial.s, o->wfs[i].partial.len);
			buf_reset(&o->wfs[i].partial);
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
static void put_participants(FILE *f, char *const *v, size_t n)
{
	fputc('(', f);
	if (n > SUMMARY_NAMES + 1)
		fprintf(f, "%zu participants: ", n);
	for (size_t i = 0; i < n; i++) {
		if (n > SUMMARY_NAMES + 1 && i == SUMMARY_NAMES) {
			fprintf(f, " and %zu more", n - i);
			break;
		}
		fprintf(f, "%s%s", i ? ", " : "", v[i]);
	}
	fputc(')', f);
}

/* "passed at +1.2s" or "broken at +1.2s:", the barrier's column of the summary. */
static void barrier_head(const struct output *o, const struct output_barrier *b, char *out, size_t n)
{
	char d[32];
	fmt_secs(b->at - o->start_mono, d, sizeof(d));
	snprintf(out, n, "%s at +%s%s", b->passed ? "passed" : "broken", d, b->passed ? "" : ":");
}

void output_summary(struct output *o, FILE *f)
{
	char d[32];
	bool color = o->color;
	fmt_secs(o->end_mono - o->start_mono, d, sizeof(d));
	fprintf(f, "\nrun %llu ", (unsigned long long)o->run);
	put_status(f, color, o->status ? o->status : "?", 0);
	fprintf(f, " in %s\n", d);
	size_t width = 8;
	for (size_t i = 0; i < o->nwfs; i++)
		if (strlen(o->wfs[i].name) > width)
			width = strlen(o->wfs[i].name);
	fprintf(f, "workflows:\n");
	for (size_t i = 0; i < o->nwfs; i++) {
		const struct output_wf *w = &o->wfs[i];
		char t[32] = "-";
		if (w->has_started && w->has_finished)
			fmt_secs(w->finished - w->started, t, sizeof(t));
		fprintf(f, "  %-*s  ", (int)width, w->name);
		put_status(f, color, w->status ? w->status : "pending", 15);
		fprintf(f, " %7s", t);
		if (w->reason)
			fprintf(f, "  %s", w->reason);
		fputc('\n', f);
	}
	/* One column for the ids, one for "passed at +T", then the rest. */
	size_t idw = 0, headw = 0, shown = 0;
	char head[64];
	for (size_t i = 0; i < o->nbarriers; i++) {
		const struct output_barrier *b = &o->barriers[i];
		if (!b->passed && !b->broken)
			continue;
		shown++;
		if (strlen(b->id) > idw)
			idw = strlen(b->id);
		barrier_head(o, b, head, sizeof(head));
		if (strlen(head) > headw)
			headw = strlen(head);
	}
	if (shown)
		fprintf(f, "barriers:\n");
	for (size_t i = 0; i < o->nbarriers; i++) {
		const struct output_barrier *b = &o->barriers[i];
		if (!b->passed && !b->broken)
			continue;
		barrier_head(o, b, head, sizeof(head));
		fprintf(f, "  %-*s  ", (int)idw, b->id);
		if (color)
			fprintf(f, "%s%.6s\033[0m%s", output_status_color(b->passed ? "passed" : "broken"), head,
				head + 6);
		else
			fputs(head, f);
		fprintf(f, "%*s  ", (int)(headw - strlen(head)), "");
		/* Everyone may have withdrawn (ignored failures, skips):
		 * then nobody passed it, and the summary says so. */
		if (b->passed && b->nparticipants)
			put_participants(f, b->participants, b->nparticipants);
		else if (b->passed)
			fputs("(every participant withdrew)", f);
		else
			fputs(b->reason ? b->reason : "", f);
		fputc('\n', f);
	}
	/* The failure chain: the workflows that failed on their own, the
	 * barriers their failures broke, and what that did to the others. */
	for (size_t i = 0; i < o->nwfs; i++) {
		const struct output_wf *w = &o->wfs[i];
		/* Aborted workflows did not fail: the abort is the story. */
		if (!w->failed_step || !w->reason || !strncmp(w->reason, "barrier ", 8) ||
		    !strncmp(w->reason, "failure ignored", 15) ||
		    (w->status && !strcmp(w->status, "aborted")) || !strncmp(w->reason, "aborted", 7))
			continue;
		fprintf(f, "failure: %s failed at '%s'", w->name, w->failed_step);
		if (w->has_exit && w->exit_code != 0)
			fprintf(f, " (exit %d)", w->exit_code);
		if (w->status && strcmp(w->status, "failed"))
			fprintf(f, ", %s", w->status);
		for (size_t k = 0; k < o->nbarriers; k++) {
			const struct output_barrier *b = &o->barriers[k];
			if (!b->broken || !b->origin || strcmp(b->origin, w->name))
				continue;
			fprintf(f, " -> barrier %s broken", b->id);
			char prefix[512];
			snprintf(prefix, sizeof(prefix), "barrier %s ", b->id);
			size_t hit = 0, named = 0;
			for (size_t j = 0; j < o->nwfs; j++) {
				const struct output_wf *x = &o->wfs[j];
				if (j == i || !x->reason || !x->status || strncmp(x->reason, prefix, strlen(prefix)))
					continue;
				hit++;
				if (named < SUMMARY_NAMES) {
					fprintf(f, " -> %s %s", x->name, x->status);
					named++;
				}
			}
			/* A wide matrix: the first few, then how many more. */
			if (hit > named)
				fprintf(f, " -> and %zu more", hit - named);
		}
		fputc('\n', f);
	}
	fflush(f);
}

/* ---- warnings ---- */

void output_warnings_init(struct output_warnings *w)
{
	buf_init(&w->lines);
	w->n = 0;
}

void output_warnings_release(struct output_warnings *w)
{
	buf_release(&w->lines);
}

void output_warnings_sink(const struct event *ev, void *arg)
{
	struct output_warnings *w = arg;
	if (ev->type != EV_STEP_WARNING)
		return;
	buf_adds(&w->lines, "  ");
	event_warning_text(ev, &w->lines);
	buf_addc(&w->lines, '\n');
	w->n++;
}

void output_warnings_summary(const struct output_warnings *w, FILE *out)
{
	if (!w->n)
		return;
	fprintf(out, "warnings:\n%s", w->lines.s);
	fflush(out);
}
