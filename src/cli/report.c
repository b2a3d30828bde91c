#include "cli/report.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/duration.h"
#include "base/num.h"
#include "base/xalloc.h"

bool report_parse_run_id(const char *s, uint64_t *id)
{
	return num_parse(s, 1, STORE_RUN_ID_MAX, id, NULL) == 0;
}

/* ---- small formatters ---- */

void report_local_time(int64_t ms, char *out, size_t n)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	localtime_r(&secs, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
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
		report_local_time(ri->started_ms, started, sizeof(started));
		if (finished_run(ri) && ri->finished_ms >= ri->started_ms)
			duration_format_elapsed((uint64_t)(ri->finished_ms - ri->started_ms), dur, sizeof(dur));
		fprintf(out, "%*llu  %-*s  %-*s  %-19s  %s\n", wid, (unsigned long long)ri->id, wpipe,
			ri->pipeline, wstat, ri->status, started, dur);
	}
}

/* ---- JSON helpers ---- */

/* A JSON string; bytes that are not UTF-8 become '?' (jansson refuses them). */
json_t *report_json_str(const char *s)
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

json_t *report_json_ts(int64_t ms)
{
	if (!ms)
		return json_null();
	char ts[CLOCK_RFC3339_SIZE];
	clock_format_rfc3339(ms, ts);
	return json_string(ts);
}

json_t *report_json_duration(int64_t from, int64_t to)
{
	if (!from || !to || to < from)
		return json_null();
	return json_integer(to - from);
}

static void set(json_t *o, const char *k, json_t *v)
{
	json_object_set_new(o, k, v);
}

void report_json_print(json_t *doc, FILE *out)
{
	json_dumpf(doc, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fputc('\n', out);
	json_decref(doc);
}

void report_run_info_json(json_t *o, const struct store_run_info *ri)
{
	set(o, "run", json_integer((json_int_t)ri->id));
	set(o, "pipeline", report_json_str(ri->pipeline));
	set(o, "file", report_json_str(ri->file));
	set(o, "status", report_json_str(ri->status));
	set(o, "started", report_json_ts(ri->started_ms));
	set(o, "finished", report_json_ts(ri->finished_ms));
	set(o, "duration_ms", report_json_duration(ri->started_ms, ri->finished_ms));
	set(o, "events", json_integer((json_int_t)ri->last_seq));
	set(o, "host", report_json_str(ri->host));
	set(o, "pid", json_integer(ri->pid));
	set(o, "takeovers", json_integer(ri->takeovers));
}

void report_runs_json(const struct store_run_list *l, FILE *out)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < l->n; i++) {
		json_t *o = json_object();
		report_run_info_json(o, &l->v[i]);
		json_array_append_new(arr, o);
	}
	report_json_print(arr, out);
}
