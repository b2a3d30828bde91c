#include "k8s/record.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsio.h"

/* A record holds a few hundred workloads at most; this bounds a bad file. */
#define RECORD_MAX_BYTES (16u * 1024 * 1024)

void k8s_set(char **field, const char *s)
{
	free(*field);
	*field = s ? xstrdup(s) : NULL;
}

struct k8s_workload *k8s_record_add(struct k8s_record *r)
{
	return VEC_PUSH(r->workloads);
}

static void workload_release(struct k8s_workload *w)
{
	free(w->kind);
	free(w->ns);
	free(w->name);
	free(w->uid);
	free(w->context);
	free(w->kubeconfig);
	free(w->revision_name);
	free(w->outcome);
	free(w->note);
}

void k8s_record_release(struct k8s_record *r)
{
	for (size_t i = 0; i < r->workloads.n; i++)
		workload_release(&r->workloads.v[i]);
	VEC_FREE(r->workloads);
	free(r->type);
	free(r->workflow);
	free(r->step);
	free(r->phase);
	free(r->outcome);
	free(r->reason);
	memset(r, 0, sizeof(*r));
}

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

static void jset(json_t *o, const char *k, json_t *v)
{
	/* json_string refuses invalid UTF-8: keep the key, as null. */
	json_object_set_new(o, k, v ? v : json_null());
}

static json_t *workload_json(const struct k8s_workload *w)
{
	json_t *o = json_object();
	jset(o, "kind", jstr(w->kind));
	jset(o, "namespace", jstr(w->ns));
	jset(o, "name", jstr(w->name));
	jset(o, "uid", jstr(w->uid));
	jset(o, "context", jstr(w->context));
	jset(o, "kubeconfig", jstr(w->kubeconfig));
	jset(o, "existed", json_boolean(w->existed));
	jset(o, "generation", json_integer(w->generation));
	jset(o, "revision", json_integer(w->revision));
	jset(o, "revision_name", jstr(w->revision_name));
	jset(o, "changed", json_boolean(w->changed));
	jset(o, "new_generation", json_integer(w->new_generation));
	jset(o, "new_revision", json_integer(w->new_revision));
	jset(o, "changed_at", json_integer(w->changed_at));
	jset(o, "outcome", jstr(w->outcome));
	jset(o, "note", jstr(w->note));
	return o;
}

int k8s_record_save(const struct k8s_record *r, const char *path, struct buf *err)
{
	json_t *o = json_object();
	jset(o, "version", json_integer(1));
	jset(o, "type", jstr(r->type));
	jset(o, "workflow", jstr(r->workflow));
	jset(o, "step", jstr(r->step));
	jset(o, "attempt", json_integer(r->attempt));
	jset(o, "phase", jstr(r->phase));
	jset(o, "outcome", jstr(r->outcome));
	jset(o, "reason", jstr(r->reason));
	jset(o, "started_at", json_integer(r->started_at));
	json_t *ws = json_array();
	for (size_t i = 0; i < r->workloads.n; i++)
		json_array_append_new(ws, workload_json(&r->workloads.v[i]));
	jset(o, "workloads", ws);
	char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!text) {
		buf_addf(err, "cannot encode the record %s", path);
		return -1;
	}
	struct buf doc = BUF_INIT;
	buf_adds(&doc, text);
	buf_addc(&doc, '\n');
	int rc = fsio_replace_file(path, doc.s, doc.len);
	if (rc < 0)
		buf_addf(err, "cannot write %s: %s", path, strerror(-rc));
	buf_release(&doc);
	free(text);
	return rc;
}

static char *jdup(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

static long long jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

int k8s_record_load(const char *path, struct k8s_record *r, struct buf *err)
{
	memset(r, 0, sizeof(*r));
	char *text;
	size_t len;
	int e = fsio_read_file(path, RECORD_MAX_BYTES, &text, &len);
	if (e < 0) {
		buf_addf(err, "cannot read %s: %s", path, strerror(-e));
		return -1;
	}
	json_error_t jerr;
	json_t *o = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!json_is_object(o)) {
		buf_addf(err, "%s is not a record: %s", path, jerr.text);
		json_decref(o);
		return -1;
	}
	r->type = jdup(o, "type");
	r->workflow = jdup(o, "workflow");
	r->step = jdup(o, "step");
	r->attempt = (int)jint(o, "attempt");
	r->phase = jdup(o, "phase");
	r->outcome = jdup(o, "outcome");
	r->reason = jdup(o, "reason");
	r->started_at = jint(o, "started_at");
	json_t *ws = json_object_get(o, "workloads");
	for (size_t i = 0; json_is_array(ws) && i < json_array_size(ws); i++) {
		json_t *x = json_array_get(ws, i);
		if (!json_is_object(x))
			continue;
		struct k8s_workload *w = k8s_record_add(r);
		w->kind = jdup(x, "kind");
		w->ns = jdup(x, "namespace");
		w->name = jdup(x, "name");
		w->uid = jdup(x, "uid");
		w->context = jdup(x, "context");
		w->kubeconfig = jdup(x, "kubeconfig");
		w->existed = json_is_true(json_object_get(x, "existed"));
		w->generation = jint(x, "generation");
		w->revision = jint(x, "revision");
		w->revision_name = jdup(x, "revision_name");
		w->changed = json_is_true(json_object_get(x, "changed"));
		w->new_generation = jint(x, "new_generation");
		w->new_revision = jint(x, "new_revision");
		w->changed_at = jint(x, "changed_at");
		w->outcome = jdup(x, "outcome");
		w->note = jdup(x, "note");
	}
	json_decref(o);
	if (!r->type || !r->phase) {
		buf_addf(err, "%s is not a record of a Kubernetes step", path);
		k8s_record_release(r);
		return -1;
	}
	return 0;
}
