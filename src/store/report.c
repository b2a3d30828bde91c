#include "store/report.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/num.h"
#include "base/suggest.h"
#include "base/xalloc.h"
#include "engine/events.h"
#include "engine/run.h"
#include "pipeline/model.h"

bool report_parse_run_id(const char *s, uint64_t *id)
{
	return num_parse(s, 1, STORE_RUN_ID_MAX, id, NULL) == 0;
}

/* ---- small formatters ---- */

static void fmt_dur(uint64_t ms, char *out, size_t n)
{
	if (ms < 1000)
		snprintf(out, n, "%llums", (unsigned long long)ms);
	else if (ms < 60000)
		snprintf(out, n, "%.1fs", (double)ms / 1000.0);
	else if (ms < 3600000)
		snprintf(out, n, "%llum%02llus", (unsigned long long)(ms / 60000),
			 (unsigned long long)(ms / 1000 % 60));
	else
		snprintf(out, n, "%lluh%02llum", (unsigned long long)(ms / 3600000),
			 (unsigned long long)(ms / 60000 % 60));
}

/* Local time, to the second: what a person compares with a clock. */
static void fmt_local(int64_t ms, char *out, size_t n)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	localtime_r(&secs, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

/* "+1.2s" after the run started. */
static void fmt_rel(const struct store_run *r, int64_t ms, char *out, size_t n)
{
	char d[32];
	fmt_dur(ms > r->info.started_ms ? (uint64_t)(ms - r->info.started_ms) : 0, d, sizeof(d));
	snprintf(out, n, "+%s", d);
}

static bool finished_run(const struct store_run_info *ri)
{
	return ri->finished_ms != 0;
}

/* ---- runs ---- */

void report_runs_text(const struct store_run_list *l, FILE *out)
{
	int wid = 2, wpipe = 8, wstat = 6;
	for (size_t i = 0; i < l->n; i++) {
		char id[32];
		int n = snprintf(id, sizeof(id), "%llu", (unsigned long long)l->v[i].id);
		if (n > wid)
			wid = n;
		if ((int)strlen(l->v[i].pipeline) > wpipe)
			wpipe = (int)strlen(l->v[i].pipeline);
		if ((int)strlen(l->v[i].status) > wstat)
			wstat = (int)strlen(l->v[i].status);
	}
	fprintf(out, "%*s  %-*s  %-*s  %-19s  %s\n", wid, "ID", wpipe, "PIPELINE", wstat, "STATUS", "STARTED",
		"DURATION");
	for (size_t i = 0; i < l->n; i++) {
		const struct store_run_info *ri = &l->v[i];
		char started[64], dur[32] = "-";
		fmt_local(ri->started_ms, started, sizeof(started));
		if (finished_run(ri) && ri->finished_ms >= ri->started_ms)
			fmt_dur((uint64_t)(ri->finished_ms - ri->started_ms), dur, sizeof(dur));
		fprintf(out, "%*llu  %-*s  %-*s  %-19s  %s\n", wid, (unsigned long long)ri->id, wpipe,
			ri->pipeline, wstat, ri->status, started, dur);
	}
}

/* ---- JSON helpers ---- */

/* A JSON string; bytes that are not UTF-8 become '?' (jansson refuses them). */
static json_t *jstr(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	if (j)
		return j;
	char *c = xstrdup(s);
	for (unsigned char *p = (unsigned char *)c; *p; p++)
		if (*p >= 0x80)
			*p = '?';
	j = json_string(c);
	free(c);
	return j ? j : json_null();
}

static json_t *jts(int64_t ms)
{
	if (!ms)
		return json_null();
	char ts[CLOCK_RFC3339_SIZE];
	clock_format_rfc3339(ms, ts);
	return json_string(ts);
}

static json_t *jdur(int64_t from, int64_t to)
{
	if (!from || !to || to < from)
		return json_null();
	return json_integer(to - from);
}

static void set(json_t *o, const char *k, json_t *v)
{
	json_object_set_new(o, k, v);
}

static void dump(json_t *doc, FILE *out)
{
	json_dumpf(doc, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fputc('\n', out);
	json_decref(doc);
}

static void run_info_json(json_t *o, const struct store_run_info *ri)
{
	set(o, "run", json_integer((json_int_t)ri->id));
	set(o, "pipeline", jstr(ri->pipeline));
	set(o, "file", jstr(ri->file));
	set(o, "status", jstr(ri->status));
	set(o, "started", jts(ri->started_ms));
	set(o, "finished", jts(ri->finished_ms));
	set(o, "duration_ms", jdur(ri->started_ms, ri->finished_ms));
	set(o, "events", json_integer((json_int_t)ri->last_seq));
	set(o, "host", jstr(ri->host));
	set(o, "pid", json_integer(ri->pid));
	set(o, "takeovers", json_integer(ri->takeovers));
}

void report_runs_json(const struct store_run_list *l, FILE *out)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < l->n; i++) {
		json_t *o = json_object();
		run_info_json(o, &l->v[i]);
		json_array_append_new(arr, o);
	}
	dump(arr, out);
}

/* ---- show ---- */

static const struct store_workflow *find_wf(const struct store_run *r, const char *name)
{
	for (size_t i = 0; i < r->nwfs; i++)
		if (!strcmp(r->wfs[i].name, name))
			return &r->wfs[i];
	return NULL;
}

static bool starts_with(const char *s, const char *prefix)
{
	return s && !strncmp(s, prefix, strlen(prefix));
}

/* A workflow that failed by itself, not at a barrier someone else broke. */
static bool root_failure(const struct store_workflow *w)
{
	static const char *const failed[] = { "failed", "rolled-back", "rollback-failed", "aborted" };
	bool bad = false;
	for (size_t i = 0; i < sizeof(failed) / sizeof(failed[0]); i++)
		if (!strcmp(w->status, failed[i]))
			bad = true;
	return bad && w->reason && !starts_with(w->reason, "barrier ");
}

static void step_text(const struct store_step *s, FILE *out, int wid)
{
	char d[32] = "", code[32] = "";
	if (s->has_duration)
		fmt_dur(s->duration_ms, d, sizeof(d));
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

/*
 * The run's step.warning events (a step log that could not be written):
 * they changed no result, so nothing else shows them.
 */
static void warnings_text(const struct store_run *r, FILE *out)
{
	if (!r->nwarnings)
		return;
	fprintf(out, "\nwarnings:\n");
	struct arena a = ARENA_INIT;
	struct buf line = BUF_INIT;
	for (size_t i = 0; i < r->nwarnings; i++) {
		struct event ev;
		if (store_event_decode(&r->warnings[i], &ev, &a) < 0)
			continue;
		buf_reset(&line);
		event_warning_text(&ev, &line);
		fprintf(out, "  %s\n", line.s);
	}
	buf_release(&line);
	arena_release(&a);
}

static json_t *warnings_json(const struct store_run *r)
{
	json_t *arr = json_array();
	struct arena a = ARENA_INIT;
	for (size_t i = 0; i < r->nwarnings; i++) {
		struct event ev;
		if (store_event_decode(&r->warnings[i], &ev, &a) < 0)
			continue;
		json_t *o = json_object();
		set(o, "ts", jts(r->warnings[i].ts_ms));
		set(o, "workflow", jstr(ev.workflow));
		set(o, "step", jstr(ev.step));
		set(o, "attempt", json_integer(ev.attempt));
		set(o, "rollback", json_boolean(ev.rollback));
		set(o, "message", jstr(ev.message));
		json_array_append_new(arr, o);
	}
	arena_release(&a);
	return arr;
}

void report_run_text(const struct store_run *r, FILE *out)
{
	const struct store_run_info *ri = &r->info;
	char t[64], d[32];
	fprintf(out, "run %llu of %s: %s\n", (unsigned long long)ri->id, ri->pipeline, ri->status);
	fprintf(out, "  file      %s\n", ri->file);
	fmt_local(ri->started_ms, t, sizeof(t));
	fprintf(out, "  started   %s\n", t);
	if (finished_run(ri)) {
		fmt_local(ri->finished_ms, t, sizeof(t));
		fmt_dur(ri->finished_ms >= ri->started_ms ? (uint64_t)(ri->finished_ms - ri->started_ms) : 0,
			d, sizeof(d));
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

	int wname = 8, wstep = 4;
	for (size_t i = 0; i < r->nwfs; i++) {
		if ((int)strlen(r->wfs[i].name) > wname)
			wname = (int)strlen(r->wfs[i].name);
		for (size_t k = 0; k < r->wfs[i].nsteps; k++)
			if ((int)strlen(r->wfs[i].steps[k].id) > wstep)
				wstep = (int)strlen(r->wfs[i].steps[k].id);
	}
	fprintf(out, "\nworkflows:\n");
	for (size_t i = 0; i < r->nwfs; i++) {
		const struct store_workflow *w = &r->wfs[i];
		char wd[32] = "-";
		if (w->started_ms && w->finished_ms >= w->started_ms)
			fmt_dur((uint64_t)(w->finished_ms - w->started_ms), wd, sizeof(wd));
		fprintf(out, "  %-*s  %-15s %7s  group %zu", wname, w->name, w->status, wd, w->group + 1);
		if (w->reason)
			fprintf(out, "  %s", w->reason);
		else if (w->rollback_reason)
			fprintf(out, "  %s", w->rollback_reason);
		fputc('\n', out);
		for (size_t k = 0; k < w->nsteps; k++)
			step_text(&w->steps[k], out, wstep);
	}

	if (r->nbarriers)
		fprintf(out, "\nbarriers:\n");
	for (size_t i = 0; i < r->nbarriers; i++) {
		const struct store_barrier *b = &r->barriers[i];
		fprintf(out, "  %s", b->id);
		if (b->title)
			fprintf(out, " (%s)", b->title);
		if (b->rollback)
			fputs(" [rollback]", out);
		if (b->decided_ms) {
			fmt_rel(r, b->decided_ms, t, sizeof(t));
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
			const struct store_member *mb = &b->members[m];
			fprintf(out, "    %-*s  ", wname, mb->workflow);
			if (mb->arrived) {
				fmt_rel(r, mb->arrived_ms, t, sizeof(t));
				fprintf(out, "arrived at %s", t);
			} else {
				/* A barrier passes without those who withdrew (B6, B9). */
				fputs(passed ? "did not arrive (withdrew)" : "did not arrive", out);
			}
			if (b->origin && !strcmp(b->origin, mb->workflow))
				fputs("  (broke it)", out);
			fputc('\n', out);
		}
	}

	/* The failure chain: who failed by itself, which barriers that
	 * broke, and who failed there. */
	bool header = false;
	for (size_t i = 0; i < r->nwfs; i++) {
		const struct store_workflow *w = &r->wfs[i];
		if (!root_failure(w))
			continue;
		if (!header)
			fprintf(out, "\nfailures:\n");
		header = true;
		fprintf(out, "  %s %s: %s\n", w->name, w->status, w->reason);
		for (size_t k = 0; k < r->nbarriers; k++) {
			const struct store_barrier *b = &r->barriers[k];
			if (strcmp(b->status, "broken") || !b->origin || strcmp(b->origin, w->name))
				continue;
			fprintf(out, "    -> barrier %s broken", b->id);
			char prefix[512];
			snprintf(prefix, sizeof(prefix), "barrier %s ", b->id);
			for (size_t j = 0; j < r->nwfs; j++)
				if (j != i && starts_with(r->wfs[j].reason, prefix))
					fprintf(out, " -> %s %s", r->wfs[j].name, r->wfs[j].status);
			fputc('\n', out);
		}
	}
	for (size_t k = 0; k < r->nbarriers; k++) {
		const struct store_barrier *b = &r->barriers[k];
		if (strcmp(b->status, "broken") || (b->origin && find_wf(r, b->origin) &&
						    root_failure(find_wf(r, b->origin))))
			continue;
		if (!header)
			fprintf(out, "\nfailures:\n");
		header = true;
		fprintf(out, "  barrier %s broken: %s\n", b->id, b->reason ? b->reason : "");
	}
	warnings_text(r, out);
}

static json_t *step_json(const struct store_step *s)
{
	json_t *o = json_object();
	set(o, "step", jstr(s->id));
	set(o, "name", jstr(s->name));
	set(o, "kind", jstr(s->kind));
	set(o, "rollback", json_boolean(s->rollback));
	set(o, "status", jstr(s->status));
	set(o, "exit_code", s->has_exit_code ? json_integer(s->exit_code) : json_null());
	set(o, "duration_ms", s->has_duration ? json_integer((json_int_t)s->duration_ms) : json_null());
	set(o, "started", jts(s->started_ms));
	set(o, "finished", jts(s->finished_ms));
	json_t *att = json_array();
	for (size_t i = 0; i < s->natt; i++) {
		const struct store_attempt *a = &s->att[i];
		json_t *x = json_object();
		set(x, "attempt", json_integer(a->attempt));
		set(x, "status", jstr(a->status));
		set(x, "exit_code", a->has_exit_code ? json_integer(a->exit_code) : json_null());
		set(x, "duration_ms", a->finished ? json_integer((json_int_t)a->duration_ms) : json_null());
		set(x, "started", jts(a->started_ms));
		set(x, "finished", jts(a->finished_ms));
		set(x, "pid", a->pid > 0 ? json_integer(a->pid) : json_null());
		json_array_append_new(att, x);
	}
	set(o, "attempts", att);
	return o;
}

static json_t *barrier_json(const struct store_barrier *b)
{
	json_t *o = json_object();
	set(o, "barrier", jstr(b->id));
	set(o, "name", jstr(b->title));
	set(o, "rollback", json_boolean(b->rollback));
	set(o, "timeout_ms", json_integer((json_int_t)b->timeout_ms));
	set(o, "status", jstr(b->status));
	json_t *parts = json_array();
	for (size_t i = 0; i < b->nmembers; i++)
		json_array_append_new(parts, jstr(b->members[i].workflow));
	set(o, "participants", parts);
	/* Arrivals in the order they happened. */
	json_t *arr = json_array();
	bool *done = xcalloc(b->nmembers + 1, sizeof(bool));
	for (;;) {
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < b->nmembers; i++)
			if (b->members[i].arrived && !done[i] &&
			    (best == SIZE_MAX || b->members[i].arrived_seq < b->members[best].arrived_seq))
				best = i;
		if (best == SIZE_MAX)
			break;
		done[best] = true;
		json_t *x = json_object();
		set(x, "workflow", jstr(b->members[best].workflow));
		set(x, "ts", jts(b->members[best].arrived_ms));
		json_array_append_new(arr, x);
	}
	free(done);
	set(o, "arrivals", arr);
	if (!strcmp(b->status, "passed")) {
		json_t *p = json_object();
		set(p, "ts", jts(b->decided_ms));
		json_t *who = json_array();
		for (size_t i = 0; i < b->npassed; i++)
			json_array_append_new(who, jstr(b->passed_by[i]));
		set(p, "participants", who);
		set(o, "passed", p);
	} else {
		set(o, "passed", json_null());
	}
	if (!strcmp(b->status, "broken")) {
		json_t *p = json_object();
		set(p, "ts", jts(b->decided_ms));
		set(p, "reason", jstr(b->reason));
		set(p, "origin", jstr(b->origin));
		set(o, "broken", p);
	} else {
		set(o, "broken", json_null());
	}
	return o;
}

void report_run_json(const struct store_run *r, FILE *out)
{
	json_t *doc = json_object();
	run_info_json(doc, &r->info);
	json_t *wfs = json_array();
	for (size_t i = 0; i < r->nwfs; i++) {
		const struct store_workflow *w = &r->wfs[i];
		json_t *o = json_object();
		set(o, "workflow", jstr(w->name));
		set(o, "group", json_integer((json_int_t)w->group));
		set(o, "status", jstr(w->status));
		set(o, "reason", jstr(w->reason));
		set(o, "rollback_reason", jstr(w->rollback_reason));
		set(o, "started", jts(w->started_ms));
		set(o, "finished", jts(w->finished_ms));
		set(o, "duration_ms", jdur(w->started_ms, w->finished_ms));
		json_t *steps = json_array();
		for (size_t k = 0; k < w->nsteps; k++)
			json_array_append_new(steps, step_json(&w->steps[k]));
		set(o, "steps", steps);
		json_array_append_new(wfs, o);
	}
	set(doc, "workflows", wfs);
	json_t *bars = json_array();
	for (size_t i = 0; i < r->nbarriers; i++)
		json_array_append_new(bars, barrier_json(&r->barriers[i]));
	set(doc, "barriers", bars);
	set(doc, "warnings", warnings_json(r));
	json_t *evs = json_array();
	for (size_t i = 0; i < r->nevents; i++) {
		json_t *e = json_loads(r->events[i].json, 0, NULL);
		json_array_append_new(evs, e ? e : jstr(r->events[i].json));
	}
	set(doc, "events", evs);
	dump(doc, out);
}

/* ---- logs ---- */

/* Start order: step.started's seq; workflow, step and attempt break ties. */
static int attempt_cmp(const void *a, const void *b)
{
	const struct report_attempt *x = a, *y = b;
	if (x->att->seq != y->att->seq)
		return x->att->seq < y->att->seq ? -1 : 1;
	if (x->wf != y->wf)
		return x->wf < y->wf ? -1 : 1;
	if (x->step != y->step)
		return x->step < y->step ? -1 : 1;
	return (x->att->attempt > y->att->attempt) - (x->att->attempt < y->att->attempt);
}

size_t report_attempts(const struct store_run *r, const struct store_workflow *wf,
		       const struct store_step *step, struct report_attempt **out)
{
	VEC(struct report_attempt) v = { 0 };
	for (size_t i = 0; i < r->nwfs; i++) {
		const struct store_workflow *w = &r->wfs[i];
		if (wf && w != wf)
			continue;
		for (size_t k = 0; k < w->nsteps; k++) {
			const struct store_step *s = &w->steps[k];
			if (step && s != step)
				continue;
			/* Only run, http-check and Kubernetes steps write
			 * logs; a barrier or wait step has no output. */
			if (!step && !report_kind_has_log(s->kind))
				continue;
			for (size_t a = 0; a < s->natt; a++)
				*VEC_PUSH(v) = (struct report_attempt){ w, s, &s->att[a] };
		}
	}
	if (v.n) /* v.v is NULL otherwise, which qsort must not get */
		qsort(v.v, v.n, sizeof(*v.v), attempt_cmp);
	*out = v.v;
	return v.n;
}

void report_attempt_footer(const struct report_attempt *x, bool found, int last, const char *path,
			   FILE *out)
{
	if (!found && !report_kind_has_log(x->step->kind))
		fputs("(a barrier or wait step: no output)\n", out);
	else if (!found)
		fprintf(out, "(no log file: %s)\n", path);
	else if (last >= 0 && last != '\n')
		fputc('\n', out);
}

/*
 * True when matrix instance name `inst` ("test[env=qa,java=17]") is an
 * instance of `sel`: a workflow name ("test") or an instance name that
 * gives some of the matrix values, in any order ("test[env=qa]"). Names
 * and values cannot hold '[', ']', ',' or '=' (docs/pipeline-format.md).
 */
static bool instance_of(const char *inst, const char *sel)
{
	const char *ib = strchr(inst, '['), *sb = strchr(sel, '[');
	size_t ilen = ib ? (size_t)(ib - inst) : strlen(inst), slen = sb ? (size_t)(sb - sel) : strlen(sel);
	if (!ib || ilen != slen || strncmp(inst, sel, ilen))
		return false;
	if (!sb)
		return true;
	size_t send = strlen(sel);
	if (send < 2 || sel[send - 1] != ']')
		return false;
	/* Each KEY=VALUE of `sel` is one of `inst`'s. */
	const char *p = sb + 1, *end = sel + send - 1;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
		bool found = false;
		for (const char *q = ib + 1; *q && *q != ']';) {
			size_t m = strcspn(q, ",]");
			if (m == n && !strncmp(q, p, n))
				found = true;
			q += m + (q[m] == ',');
		}
		if (!n || !found)
			return false;
		p += n + 1;
	}
	return true;
}

/* Instances listed in a "did you mean", at most. */
#define SUGGEST_INSTANCES 5

/*
 * A selection that names a matrix workflow, or some of an instance's
 * values (`test[env=qa]` for `test[env=qa,java=17]`), is answered with
 * the instances it fits, each followed by `step` ("/STEP" or ""). Returns
 * false when it fits none.
 */
static bool suggest_instances(const struct store_run *r, const char *select, const char *step,
			      struct buf *err)
{
	size_t n = 0;
	const char *first = NULL;
	for (size_t i = 0; i < r->nwfs; i++) {
		if (!instance_of(r->wfs[i].name, select))
			continue;
		if (!n++)
			first = r->wfs[i].name;
	}
	if (n == 1) {
		buf_addf(err, "; did you mean '%s%s'?", first, step);
		return true;
	}
	if (!n)
		return false;
	buf_addf(err, "; it fits %zu instances: ", n);
	size_t k = 0;
	for (size_t i = 0; i < r->nwfs && k < SUGGEST_INSTANCES; i++)
		if (instance_of(r->wfs[i].name, select))
			buf_addf(err, "%s'%s%s'", k++ ? ", " : "", r->wfs[i].name, step);
	if (n > k)
		buf_addf(err, " and %zu more", n - k);
	return true;
}

int report_select(const struct store_run *r, const char *select, const struct store_workflow **wf,
		  const struct store_step **step, struct buf *err)
{
	*wf = NULL;
	*step = NULL;
	if (!select)
		return 0;
	if ((*wf = find_wf(r, select)))
		return 0;
	const char *slash = strrchr(select, '/');
	if (slash) {
		char *name = xstrndup(select, (size_t)(slash - select));
		*wf = find_wf(r, name);
		free(name);
		if (*wf) {
			for (size_t k = 0; k < (*wf)->nsteps; k++)
				if (!strcmp((*wf)->steps[k].id, slash + 1))
					*step = &(*wf)->steps[k];
			if (*step)
				return 0;
			buf_addf(err, "workflow %s of run %llu has no step '%s'", (*wf)->name,
				 (unsigned long long)r->info.id, slash + 1);
			const char **ids = xcalloc((*wf)->nsteps + 1, sizeof(char *));
			for (size_t k = 0; k < (*wf)->nsteps; k++)
				ids[k] = (*wf)->steps[k].id;
			const char *s = suggest_closest(slash + 1, ids, (*wf)->nsteps);
			free(ids);
			if (s)
				buf_addf(err, "; did you mean '%s'?", s);
			return STORE_ENOTFOUND;
		}
	}
	buf_addf(err, "run %llu has no workflow '%.*s'", (unsigned long long)r->info.id,
		 slash ? (int)(slash - select) : (int)strlen(select), select);
	char *wfpart = xstrndup(select, slash ? (size_t)(slash - select) : strlen(select));
	bool told = suggest_instances(r, wfpart, slash ? slash : "", err) ||
		    (slash && suggest_instances(r, select, "", err));
	free(wfpart);
	if (told)
		return STORE_ENOTFOUND;
	const char **names = xcalloc(r->nwfs + 1, sizeof(char *));
	for (size_t i = 0; i < r->nwfs; i++)
		names[i] = r->wfs[i].name;
	const char *s = suggest_closest(select, names, r->nwfs);
	free(names);
	if (s)
		buf_addf(err, "; did you mean '%s'?", s);
	return STORE_ENOTFOUND;
}

/* Copies the file at `path` to `out`; returns the last byte written, or -1. */
static int copy_file(const char *path, FILE *out, bool *found)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	*found = fd >= 0;
	if (fd < 0)
		return -1;
	char buf[65536];
	int last = -1;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		fwrite(buf, 1, (size_t)n, out);
		last = (unsigned char)buf[n - 1];
	}
	close(fd);
	return last;
}

int report_logs(const struct store_run *r, const char *state_dir, const char *select, FILE *out,
		struct buf *err)
{
	const struct store_workflow *swf;
	const struct store_step *sstep;
	int ret = report_select(r, select, &swf, &sstep, err);
	if (ret < 0)
		return ret;
	struct report_attempt *refs;
	size_t n = report_attempts(r, swf, sstep, &refs);
	struct buf path = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		const struct report_attempt *x = &refs[i];
		report_attempt_header(x->wf, x->step, x->att, out);
		buf_reset(&path);
		store_log_path(state_dir, r->info.id, x->wf->name, x->step->id, x->att->attempt, &path);
		bool found;
		int last = copy_file(path.s, out, &found);
		report_attempt_footer(x, found, last, path.s, out);
	}
	if (!n && sstep)
		fprintf(out, "(%s/%s has not started)\n", swf->name, sstep->id);
	buf_release(&path);
	free(refs);
	return 0;
}

bool report_kind_has_log(const char *kind)
{
	enum step_kind k;
	return step_kind_parse(kind, &k) && step_kind_writes_log(k);
}

void report_attempt_header(const struct store_workflow *w, const struct store_step *s,
			   const struct store_attempt *a, FILE *out)
{
	fprintf(out, "==> %s/%s attempt %d", w->name, s->id, a->attempt);
	if (s->rollback)
		fputs(" (rollback)", out);
	if (a->finished) {
		char d[32];
		fmt_dur(a->duration_ms, d, sizeof(d));
		fprintf(out, ": %s", a->status);
		if (a->has_exit_code)
			fprintf(out, ", exit %d", a->exit_code);
		fprintf(out, ", %s", d);
	} else {
		fputs(": running", out);
	}
	fputs(" <==\n", out);
}
