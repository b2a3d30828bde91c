#include "cli/show.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/duration.h"
#include "base/xalloc.h"
#include "cli/report.h"

/* ---- text ---- */

/* "+1.2s" after the run started. */
static void fmt_rel(const struct store_run_info *ri, int64_t ms, char *out, size_t n)
{
	char d[32];
	duration_format_elapsed(ms > ri->started_ms ? (uint64_t)(ms - ri->started_ms) : 0, d, sizeof(d));
	snprintf(out, n, "+%s", d);
}

static void run_text(const struct store_run_info *ri, FILE *out)
{
	char t[64], d[32];
	fprintf(out, "run %llu of %s: %s\n", (unsigned long long)ri->id, ri->pipeline, ri->status);
	fprintf(out, "  file      %s\n", ri->file);
	report_local_time(ri->started_ms, t, sizeof(t));
	fprintf(out, "  started   %s\n", t);
	if (ri->finished_ms) {
		report_local_time(ri->finished_ms, t, sizeof(t));
		duration_format_elapsed(
			ri->finished_ms >= ri->started_ms ? (uint64_t)(ri->finished_ms - ri->started_ms) : 0, d,
			sizeof(d));
		fprintf(out, "  finished  %s (%s)\n", t, d);
	}
	fprintf(out, "  owner     pid %d on %s%s\n", ri->pid, ri->host,
		strcmp(ri->status, "interrupted") ? "" : " (gone)");
	if (ri->takeovers > 0)
		fprintf(out, "  resumed   %d time%s: its lockstep died and 'lockstep resume' or 'abort' took it over\n",
			ri->takeovers, ri->takeovers == 1 ? "" : "s");
	if (!strcmp(ri->status, "interrupted"))
		fprintf(out, "  next      its lockstep died: 'lockstep resume %llu' finishes the run, "
			     "'lockstep abort %llu' rolls it back\n",
			(unsigned long long)ri->id, (unsigned long long)ri->id);
}

static void step_text(const struct view_step *s, FILE *out, int wid)
{
	char d[32] = "", code[32] = "";
	if (s->has_duration)
		duration_format_elapsed(s->duration_ms, d, sizeof(d));
	if (s->has_exit_code)
		snprintf(code, sizeof(code), "exit %d", s->exit_code);
	fprintf(out, "    %-*s  %-12s %-10s %-8s %7s", wid, s->id, s->kind, s->status, code, d);
	if (s->attempts > 1)
		fprintf(out, "  %d attempts", s->attempts);
	/* In flight (or in flight when its lockstep died): which process. */
	if (!strcmp(s->status, "running") && s->natt && s->att[s->natt - 1].pid > 0)
		fprintf(out, "  pid %d", s->att[s->natt - 1].pid);
	if (s->rollback)
		fputs("  (rollback)", out);
	if (strcmp(s->name, s->id))
		fprintf(out, "  %s", s->name);
	fputc('\n', out);
}

static void workflows_text(const struct run_view *v, int wname, FILE *out)
{
	int wstep = 4;
	for (size_t i = 0; i < v->nwfs; i++)
		for (size_t k = 0; k < v->wfs[i].nsteps; k++)
			if ((int)strlen(v->wfs[i].steps[k].id) > wstep)
				wstep = (int)strlen(v->wfs[i].steps[k].id);
	fprintf(out, "\nworkflows:\n");
	for (size_t i = 0; i < v->nwfs; i++) {
		const struct view_workflow *w = &v->wfs[i];
		char wd[32] = "-";
		if (w->started.wall_ms && w->finished.wall_ms >= w->started.wall_ms)
			duration_format_elapsed((uint64_t)(w->finished.wall_ms - w->started.wall_ms), wd,
						sizeof(wd));
		fprintf(out, "  %-*s  %-15s %7s  group %zu", wname, w->name, w->status, wd, (size_t)w->group + 1);
		if (w->reason)
			fprintf(out, "  %s", w->reason);
		else if (w->rollback_reason)
			fprintf(out, "  %s", w->rollback_reason);
		fputc('\n', out);
		for (size_t k = 0; k < w->nsteps; k++)
			step_text(&w->steps[k], out, wstep);
	}
}

static void barriers_text(const struct store_run_info *ri, const struct run_view *v, int wname, FILE *out)
{
	char t[64];
	if (v->nbarriers)
		fprintf(out, "\nbarriers:\n");
	for (size_t i = 0; i < v->nbarriers; i++) {
		const struct view_barrier *b = &v->barriers[i];
		fprintf(out, "  %s", b->id);
		if (b->title)
			fprintf(out, " (%s)", b->title);
		if (b->rollback)
			fputs(" [rollback]", out);
		if (b->decided.wall_ms) {
			fmt_rel(ri, b->decided.wall_ms, t, sizeof(t));
			fprintf(out, ": %s at %s", b->status, t);
		} else {
			fprintf(out, ": %s", b->status);
		}
		bool passed = !strcmp(b->status, "passed");
		if (b->reason)
			fprintf(out, ": %s", b->reason);
		else if (passed && !b->npassed)
			fputs(" (every participant withdrew)", out);
		fputc('\n', out);
		for (size_t m = 0; m < b->nmembers; m++) {
			const char *name = v->wfs[b->members[m].wf].name;
			fprintf(out, "    %-*s  ", wname, name);
			if (b->members[m].arrived) {
				fmt_rel(ri, b->arrivals[m].ms, t, sizeof(t));
				fprintf(out, "arrived at %s", t);
			} else {
				/* A barrier passes without those who withdrew (B6, B9). */
				fputs(passed ? "did not arrive (withdrew)" : "did not arrive", out);
			}
			if (b->origin && !strcmp(b->origin, name))
				fputs("  (broke it)", out);
			fputc('\n', out);
		}
	}
}

/* Who failed by itself, which barriers that broke, and who failed there. */
static void failures_text(const struct run_view *v, FILE *out)
{
	struct view_chain c;
	view_failure_chain(v, &c);
	if (c.nroots || c.nothers)
		fprintf(out, "\nfailures:\n");
	for (size_t i = 0; i < c.nroots; i++) {
		const struct view_root *r = &c.roots[i];
		const struct view_workflow *w = &v->wfs[r->wf];
		fprintf(out, "  %s %s: %s\n", w->name, w->status, w->reason);
		for (size_t k = 0; k < r->nbroken; k++) {
			const struct view_broken *b = &r->broken[k];
			fprintf(out, "    -> barrier %s broken", v->barriers[b->barrier].id);
			for (size_t j = 0; j < b->nfailed; j++)
				fprintf(out, " -> %s %s", v->wfs[b->failed[j]].name, v->wfs[b->failed[j]].status);
			fputc('\n', out);
		}
	}
	for (size_t k = 0; k < c.nothers; k++) {
		const struct view_barrier *b = &v->barriers[c.others[k]];
		fprintf(out, "  barrier %s broken: %s\n", b->id, b->reason ? b->reason : "");
	}
	view_chain_release(&c);
}

/*
 * The run's step.warning events (a step log that could not be written):
 * they changed no result, so nothing else shows them.
 */
static void warnings_text(const struct run_view *v, FILE *out)
{
	if (!v->nwarnings)
		return;
	struct buf lines = BUF_INIT;
	view_warnings_text(v, &lines);
	fprintf(out, "\nwarnings:\n%s", lines.s);
	buf_release(&lines);
}

void show_text(const struct store_run_info *ri, const struct run_view *v, FILE *out)
{
	run_text(ri, out);
	int wname = 8;
	for (size_t i = 0; i < v->nwfs; i++)
		if ((int)strlen(v->wfs[i].name) > wname)
			wname = (int)strlen(v->wfs[i].name);
	workflows_text(v, wname, out);
	barriers_text(ri, v, wname, out);
	failures_text(v, out);
	warnings_text(v, out);
}

/* ---- JSON ---- */

static void set(json_t *o, const char *k, json_t *v)
{
	json_object_set_new(o, k, v);
}

static json_t *step_json(const struct view_step *s)
{
	json_t *o = json_object();
	set(o, "step", report_json_str(s->id));
	set(o, "name", report_json_str(s->name));
	set(o, "kind", report_json_str(s->kind));
	set(o, "rollback", json_boolean(s->rollback));
	set(o, "status", report_json_str(s->status));
	set(o, "exit_code", s->has_exit_code ? json_integer(s->exit_code) : json_null());
	set(o, "duration_ms", s->has_duration ? json_integer((json_int_t)s->duration_ms) : json_null());
	set(o, "started", report_json_ts(s->started_ms));
	set(o, "finished", report_json_ts(s->finished_ms));
	json_t *att = json_array();
	for (size_t i = 0; i < s->natt; i++) {
		const struct view_attempt *a = &s->att[i];
		json_t *x = json_object();
		set(x, "attempt", json_integer(a->attempt));
		set(x, "status", report_json_str(a->status));
		set(x, "exit_code", a->has_exit_code ? json_integer(a->exit_code) : json_null());
		set(x, "duration_ms", a->finished ? json_integer((json_int_t)a->duration_ms) : json_null());
		set(x, "started", report_json_ts(a->started_ms));
		set(x, "finished", report_json_ts(a->finished_ms));
		set(x, "pid", a->pid > 0 ? json_integer(a->pid) : json_null());
		json_array_append_new(att, x);
	}
	set(o, "attempts", att);
	return o;
}

static json_t *workflow_json(const struct view_workflow *w)
{
	json_t *o = json_object();
	set(o, "workflow", report_json_str(w->name));
	set(o, "group", json_integer((json_int_t)w->group));
	set(o, "status", report_json_str(w->status));
	set(o, "reason", report_json_str(w->reason));
	set(o, "rollback_reason", report_json_str(w->rollback_reason));
	set(o, "started", report_json_ts(w->started.wall_ms));
	set(o, "finished", report_json_ts(w->finished.wall_ms));
	set(o, "duration_ms", report_json_duration(w->started.wall_ms, w->finished.wall_ms));
	json_t *steps = json_array();
	for (size_t k = 0; k < w->nsteps; k++)
		json_array_append_new(steps, step_json(&w->steps[k]));
	set(o, "steps", steps);
	return o;
}

/* Its arrivals in the order they happened. */
static json_t *arrivals_json(const struct run_view *v, const struct view_barrier *b)
{
	json_t *arr = json_array();
	bool *done = xcalloc(b->nmembers + 1, sizeof(bool));
	for (;;) {
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < b->nmembers; i++)
			if (b->members[i].arrived && !done[i] &&
			    (best == SIZE_MAX || b->arrivals[i].seq < b->arrivals[best].seq))
				best = i;
		if (best == SIZE_MAX)
			break;
		done[best] = true;
		json_t *x = json_object();
		set(x, "workflow", report_json_str(v->wfs[b->members[best].wf].name));
		set(x, "ts", report_json_ts(b->arrivals[best].ms));
		json_array_append_new(arr, x);
	}
	free(done);
	return arr;
}

static json_t *barrier_json(const struct run_view *v, const struct view_barrier *b)
{
	json_t *o = json_object();
	set(o, "barrier", report_json_str(b->id));
	set(o, "name", report_json_str(b->title));
	set(o, "rollback", json_boolean(b->rollback));
	set(o, "timeout_ms", json_integer((json_int_t)b->timeout_ms));
	set(o, "status", report_json_str(b->status));
	json_t *parts = json_array();
	for (size_t i = 0; i < b->nmembers; i++)
		json_array_append_new(parts, report_json_str(v->wfs[b->members[i].wf].name));
	set(o, "participants", parts);
	set(o, "arrivals", arrivals_json(v, b));
	if (!strcmp(b->status, "passed")) {
		json_t *p = json_object();
		set(p, "ts", report_json_ts(b->decided.wall_ms));
		json_t *who = json_array();
		for (size_t i = 0; i < b->npassed; i++)
			json_array_append_new(who, report_json_str(v->wfs[b->passed_by[i]].name));
		set(p, "participants", who);
		set(o, "passed", p);
	} else {
		set(o, "passed", json_null());
	}
	if (!strcmp(b->status, "broken")) {
		json_t *p = json_object();
		set(p, "ts", report_json_ts(b->decided.wall_ms));
		set(p, "reason", report_json_str(b->reason));
		set(p, "origin", report_json_str(b->origin));
		set(o, "broken", p);
	} else {
		set(o, "broken", json_null());
	}
	return o;
}

static json_t *warnings_json(const struct run_view *v)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < v->nwarnings; i++) {
		const struct event *ev = v->warnings[i];
		json_t *o = json_object();
		set(o, "ts", report_json_ts(ev->ts_ms));
		set(o, "workflow", report_json_str(ev->workflow));
		set(o, "step", report_json_str(ev->step));
		set(o, "attempt", json_integer(ev->attempt));
		set(o, "rollback", json_boolean(ev->rollback));
		set(o, "message", report_json_str(ev->message));
		json_array_append_new(arr, o);
	}
	return arr;
}

void show_json(const struct store_run *r, const struct run_view *v, FILE *out)
{
	json_t *doc = json_object();
	report_run_info_json(doc, &r->info);
	json_t *wfs = json_array();
	for (size_t i = 0; i < v->nwfs; i++)
		json_array_append_new(wfs, workflow_json(&v->wfs[i]));
	set(doc, "workflows", wfs);
	json_t *bars = json_array();
	for (size_t i = 0; i < v->nbarriers; i++)
		json_array_append_new(bars, barrier_json(v, &v->barriers[i]));
	set(doc, "barriers", bars);
	set(doc, "warnings", warnings_json(v));
	json_t *evs = json_array();
	for (size_t i = 0; i < r->nevents; i++) {
		json_t *e = json_loads(r->events[i].json, 0, NULL);
		json_array_append_new(evs, e ? e : report_json_str(r->events[i].json));
	}
	set(doc, "events", evs);
	report_json_print(doc, out);
}
