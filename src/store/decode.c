/*
 * decode: recorded events back into struct event, for resume. The store
 * keeps each event exactly as `run --json` printed it (event_to_json);
 * this is the inverse, for every field that function writes.
 */
#include <jansson.h>
#include <string.h>

#include "store/store.h"

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

int store_event_decode(const struct store_event *se, struct event *out, struct arena *a)
{
	memset(out, 0, sizeof(*out));
	enum event_type t;
	for (t = 0; t < EV_TYPE_COUNT && strcmp(event_type_name(t), se->type ? se->type : ""); t++)
		;
	if (t == EV_TYPE_COUNT)
		return -1;
	json_error_t jerr;
	json_t *o = json_loads(se->json ? se->json : "", 0, &jerr);
	if (!json_is_object(o)) {
		json_decref(o);
		return -1;
	}
	out->type = t;
	out->seq = se->seq;
	out->ts_ms = se->ts_ms;
	json_t *v = json_object_get(o, "run");
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
	out->rollback = json_is_true(json_object_get(o, "rollback"));
	json_decref(o);
	return 0;
}
