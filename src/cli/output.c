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
	char *participants;
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
		struct buf p = BUF_INIT;
		for (size_t i = 0; i < ev->nparticipants; i++)
			buf_addf(&p, "%s%s", i ? ", " : "", ev->participants[i]);
		free(b->participants);
		b->participants = buf_detach(&p, NULL);
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
		buf_addf(f, "[%s] %s%s started%s\n", ev->workflow, ev->rollback ? "rollback " : "",
			ev->step, ev->attempt > 1 ? " (retry)" : "");
		break;
	case EV_STEP_FINISHED:
		fmt_secs(ev->duration_ms, d, sizeof(d));
		if (ev->has_exit_code && strcmp(ev->status, "succeeded"))
			buf_addf(f, "[%s] %s%s %s (exit %d) in %s\n", ev->workflow,
				ev->rollback ? "rollback " : "", ev->step, ev->status, ev->exit_code, d);
		else
			buf_addf(f, "[%s] %s%s %s in %s\n", ev->workflow, ev->rollback ? "rollback " : "",
				ev->step, ev->status, d);
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

void output_summary(struct output *o, FILE *f)
{
	char d[32];
	fmt_secs(o->end_mono - o->start_mono, d, sizeof(d));
	fprintf(f, "\nrun %llu %s in %s\n", (unsigned long long)o->run, o->status ? o->status : "?", d);
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
		fprintf(f, "  %-*s  %-15s %7s", (int)width, w->name, w->status ? w->status : "pending", t);
		if (w->reason)
			fprintf(f, "  %s", w->reason);
		fputc('\n', f);
	}
	if (o->nbarriers) {
		fprintf(f, "barriers:\n");
		for (size_t i = 0; i < o->nbarriers; i++) {
			const struct output_barrier *b = &o->barriers[i];
			fmt_secs(b->at - o->start_mono, d, sizeof(d));
			/* Everyone may have withdrawn (ignored failures, skips):
			 * then nobody passed it, and the summary says so. */
			if (b->passed && b->participants && *b->participants)
				fprintf(f, "  %s  passed at +%s (%s)\n", b->id, d, b->participants);
			else if (b->passed)
				fprintf(f, "  %s  passed at +%s (every participant withdrew)\n", b->id, d);
			else if (b->broken)
				fprintf(f, "  %s  broken at +%s: %s\n", b->id, d, b->reason ? b->reason : "");
		}
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
			for (size_t j = 0; j < o->nwfs; j++) {
				const struct output_wf *x = &o->wfs[j];
				if (j == i || !x->reason || !x->status)
					continue;
				char prefix[512];
				snprintf(prefix, sizeof(prefix), "barrier %s ", b->id);
				if (!strncmp(x->reason, prefix, strlen(prefix)))
					fprintf(f, " -> %s %s", x->name, x->status);
			}
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
