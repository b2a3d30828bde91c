/*
 * codec: events to JSON and back (events/codec.h). The store keeps each
 * event exactly as `run --json` printed it (event_to_json); event_decode
 * is the inverse, for every field that function writes.
 */
#include "events/codec.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"

static void add_str_field(struct buf *b, const char *name, const char *v)
{
	buf_addf(b, ",\"%s\":", name);
	if (v)
		buf_add_json_str(b, v);
	else
		buf_adds(b, "null");
}

static void add_str_array(struct buf *b, const char *name, const char *const *v, size_t n)
{
	buf_addf(b, ",\"%s\":[", name);
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(b, ',');
		buf_add_json_str(b, v[i]);
	}
	buf_addc(b, ']');
}

void event_to_json(const struct event *ev, struct buf *b)
{
	char ts[CLOCK_RFC3339_SIZE];
	clock_format_rfc3339(ev->ts_ms, ts);
	buf_addf(b, "{\"ts\":\"%s\",\"seq\":%llu,\"run\":%llu,\"event\":\"%s\"", ts,
		 (unsigned long long)ev->seq, (unsigned long long)ev->run, event_type_name(ev->type));
	switch (ev->type) {
	case EV_RUN_STARTED:
		add_str_field(b, "pipeline", ev->pipeline);
		break;
	case EV_GROUP_STARTED:
		buf_addf(b, ",\"group\":%zu", ev->group);
		add_str_array(b, "workflows", ev->workflows, ev->nworkflows);
		break;
	case EV_WORKFLOW_STARTED:
		add_str_field(b, "workflow", ev->workflow);
		break;
	case EV_STEP_STARTED:
		add_str_field(b, "workflow", ev->workflow);
		add_str_field(b, "step", ev->step);
		buf_addf(b, ",\"attempt\":%d", ev->attempt);
		if (ev->rollback)
			buf_adds(b, ",\"rollback\":true");
		break;
	case EV_STEP_FINISHED:
		add_str_field(b, "workflow", ev->workflow);
		add_str_field(b, "step", ev->step);
		add_str_field(b, "status", ev->status);
		if (ev->has_exit_code)
			buf_addf(b, ",\"exit_code\":%d", ev->exit_code);
		else
			buf_adds(b, ",\"exit_code\":null");
		buf_addf(b, ",\"duration_ms\":%llu", (unsigned long long)ev->duration_ms);
		if (ev->rollback)
			buf_adds(b, ",\"rollback\":true");
		break;
	case EV_BARRIER_ARRIVED:
		add_str_field(b, "barrier", ev->barrier);
		add_str_field(b, "workflow", ev->workflow);
		break;
	case EV_BARRIER_PASSED:
		add_str_field(b, "barrier", ev->barrier);
		add_str_array(b, "participants", ev->participants, ev->nparticipants);
		break;
	case EV_BARRIER_BROKEN:
		add_str_field(b, "barrier", ev->barrier);
		add_str_field(b, "reason", ev->reason);
		add_str_field(b, "origin", ev->origin);
		break;
	case EV_WORKFLOW_ROLLBACK:
		add_str_field(b, "workflow", ev->workflow);
		add_str_field(b, "reason", ev->reason);
		break;
	case EV_WORKFLOW_FINISHED:
		add_str_field(b, "workflow", ev->workflow);
		add_str_field(b, "status", ev->status);
		add_str_field(b, "reason", ev->reason);
		break;
	case EV_RUN_FINISHED:
		add_str_field(b, "status", ev->status);
		break;
	case EV_RUN_RESUMED:
		add_str_field(b, "mode", ev->mode);
		break;
	case EV_STEP_WARNING:
		add_str_field(b, "workflow", ev->workflow);
		add_str_field(b, "step", ev->step);
		buf_addf(b, ",\"attempt\":%d", ev->attempt);
		add_str_field(b, "message", ev->message);
		if (ev->rollback)
			buf_adds(b, ",\"rollback\":true");
		break;
	case EV_STEP_PROCESS:
		add_str_field(b, "workflow", ev->workflow);
		add_str_field(b, "step", ev->step);
		buf_addf(b, ",\"attempt\":%d,\"pid\":%d,\"pid_start\":%llu", ev->attempt, ev->pid,
			 (unsigned long long)ev->pid_start);
		break;
	case EV_TYPE_COUNT:
		break;
	}
	buf_addc(b, '}');
}

/* ---- decoding ---- */

static const char *str_field(json_t *o, const char *name, struct arena *a)
{
	json_t *v = json_object_get(o, name);
	return json_is_string(v) ? arena_strdup(a, json_string_value(v)) : NULL;
}

static const char *const *str_array(json_t *o, const char *name, size_t *n, struct arena *a)
{
	json_t *v = json_object_get(o, name);
	*n = 0;
	if (!json_is_array(v))
		return NULL;
	size_t count = json_array_size(v);
	const char **out = arena_array(a, count + 1, sizeof(*out));
	for (size_t i = 0; i < count; i++) {
		json_t *s = json_array_get(v, i);
		if (json_is_string(s))
			out[(*n)++] = arena_strdup(a, json_string_value(s));
	}
	return out;
}

int event_decode(const char *type, const char *json, struct event *out, struct arena *a)
{
	memset(out, 0, sizeof(*out));
	enum event_type t;
	for (t = 0; t < EV_TYPE_COUNT && strcmp(event_type_name(t), type ? type : ""); t++)
		;
	if (t == EV_TYPE_COUNT)
		return -1;
	json_error_t jerr;
	json_t *o = json_loads(json ? json : "", 0, &jerr);
	if (!json_is_object(o)) {
		json_decref(o);
		return -1;
	}
	out->type = t;
	json_t *v = json_object_get(o, "seq");
	out->seq = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
	v = json_object_get(o, "ts");
	out->ts_ms = clock_parse_rfc3339(json_string_value(v));
	v = json_object_get(o, "run");
	out->run = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
	out->pipeline = str_field(o, "pipeline", a);
	out->workflow = str_field(o, "workflow", a);
	out->step = str_field(o, "step", a);
	out->status = str_field(o, "status", a);
	out->barrier = str_field(o, "barrier", a);
	out->reason = str_field(o, "reason", a);
	out->origin = str_field(o, "origin", a);
	out->mode = str_field(o, "mode", a);
	out->message = str_field(o, "message", a);
	out->workflows = str_array(o, "workflows", &out->nworkflows, a);
	out->participants = str_array(o, "participants", &out->nparticipants, a);
	if (json_is_integer(v = json_object_get(o, "group")))
		out->group = (size_t)json_integer_value(v);
	if (json_is_integer(v = json_object_get(o, "attempt")))
		out->attempt = (int)json_integer_value(v);
	if (json_is_integer(v = json_object_get(o, "exit_code"))) {
		out->has_exit_code = true;
		out->exit_code = (int)json_integer_value(v);
	}
	if (json_is_integer(v = json_object_get(o, "duration_ms")))
		out->duration_ms = (uint64_t)json_integer_value(v);
	if (json_is_integer(v = json_object_get(o, "pid")))
		out->pid = (int)json_integer_value(v);
	if (json_is_integer(v = json_object_get(o, "pid_start")))
		out->pid_start = (uint64_t)json_integer_value(v);
	out->rollback = json_is_true(json_object_get(o, "rollback"));
	json_decref(o);
	return 0;
}
