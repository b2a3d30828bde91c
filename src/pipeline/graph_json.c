/* graph_json: the plan as one JSON document (jansson). */
#include <stdio.h>
#include <string.h>

#include "base/xalloc.h"
#include "pipeline/graph_internal.h"

#include <jansson.h>

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
	json_t *j = jnew(json_string(gr_utf8_clean(s, &tmp)));
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
	if (json_object_set_new(obj, gr_utf8_clean(key ? key : "", &tmp), val) != 0)
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
		if (s->kind == STEP_HTTP_CHECK && s->http && ps->http) {
			const struct http_check *h = s->http;
			jset(o, "url", jstr(ps->http->url));
			json_t *st = jnew(json_array());
			for (size_t k = 0; k < h->nstatus; k++) {
				json_t *r = jnew(json_array());
				jpush(r, jnew(json_integer(h->status[k].lo)));
				jpush(r, jnew(json_integer(h->status[k].hi)));
				jpush(st, r);
			}
			jset(o, "expect_status", st);
			jset(o, "expect_body", jstr(ps->http->expect_body));
			jset(o, "interval_ms", jint(h->interval_ms));
			jset(o, "within_ms", jint(h->within_ms));
			jset(o, "request_timeout_ms", jint(h->request_timeout_ms));
			jset(o, "headers", json_kvlist(&ps->http->headers));
		}
		if (s->kind == STEP_K8S_ROLLING && ps->k8s) {
			json_t *m = jnew(json_array());
			for (size_t k = 0; k < ps->k8s->nmanifests; k++)
				jpush(m, jstr(ps->k8s->manifests[k]));
			jset(o, "manifests", m);
			jset(o, "namespace", jstr(ps->k8s->kube_namespace));
			jset(o, "context", jstr(ps->k8s->kube_context));
		}
		if (s->kind == STEP_K8S_ROLLBACK)
			jset(o, "default", jnew(json_boolean(s->implicit)));
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

/* The declared environments with their values after expansion. */
static json_t *json_environments(const struct plan *plan)
{
	json_t *arr = jnew(json_array());
	for (size_t i = 0; i < plan->nenvironments; i++) {
		const struct plan_environment *e = &plan->environments[i];
		json_t *o = jnew(json_object());
		jset(o, "name", jstr(e->name));
		if (e->src->description)
			jset(o, "description", jstr(e->src->description));
		if (e->src->has_kubernetes) {
			json_t *k = jnew(json_object());
			jset(k, "context", jstr(e->kube_context));
			jset(k, "namespace", jstr(e->kube_namespace));
			jset(k, "kubeconfig", jstr(e->kubeconfig));
			jset(o, "kubernetes", k);
		} else {
			jset(o, "kubernetes", jnew(json_null()));
		}
		jset(o, "env", json_kvlist(&e->env));
		jset(o, "line", jnew(json_integer(e->src->pos.line)));
		jset(o, "col", jnew(json_integer(e->src->pos.col)));
		jpush(arr, o);
	}
	return arr;
}

/*
 * The document is written piece by piece, in the layout json_dumps() gives
 * the whole (JSON_INDENT(2), keys in order; test_graph checks that the
 * bytes are the same): the arrays that grow with the plan (workflows, barriers, the
 * workflows of a group) are written element by element, each element
 * built, dumped and freed on its own, so that rendering needs memory for
 * the output and one element, not a tree of the whole plan (jansson
 * spends about 2 KB a step on it). `depth` is the nesting of the value
 * being written; the top-level object is at depth 0.
 */

struct indented {
	struct buf *out;
	int depth;
};

/* Every newline of a dump is layout (strings escape theirs): indent after it. */
static int put_indented_cb(const char *chunk, size_t size, void *data)
{
	struct indented *in = data;
	const char *end = chunk + size, *nl;
	while ((nl = memchr(chunk, '\n', (size_t)(end - chunk)))) {
		buf_add(in->out, chunk, (size_t)(nl - chunk));
		buf_addf(in->out, "\n%*s", 2 * in->depth, "");
		chunk = nl + 1;
	}
	buf_add(in->out, chunk, (size_t)(end - chunk));
	return 0;
}

/* Appends `v` (taken) as jansson dumps it, written at `depth`. */
static void put_json(struct buf *out, json_t *v, int depth)
{
	struct indented in = { out, depth };
	if (json_dump_callback(v, put_indented_cb, &in,
			       JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) != 0)
		xalloc_die();
	json_decref(v);
}

static void put_newline(struct buf *out, int depth)
{
	buf_addf(out, "\n%*s", 2 * depth, "");
}

/* Starts member `key` of an object at `depth`: `first` for its first one. */
static void put_key(struct buf *out, const char *key, bool first, int depth)
{
	if (!first)
		buf_addc(out, ',');
	put_newline(out, depth + 1);
	buf_add_json_str(out, key);
	buf_adds(out, ": ");
}

/* Member `key`, of an object at `depth`: `v` (taken). */
static void put_member(struct buf *out, const char *key, json_t *v, bool first, int depth)
{
	put_key(out, key, first, depth);
	put_json(out, v, depth + 1);
}

/* An array at `depth`, element by element: call put_item() before each. */
struct array {
	struct buf *out;
	int depth;
	size_t n;
};

static void put_item(struct array *a)
{
	buf_adds(a->out, a->n++ ? "," : "[");
	put_newline(a->out, a->depth + 1);
}

static void put_array_end(struct array *a)
{
	if (!a->n) {
		buf_adds(a->out, "[]");
		return;
	}
	put_newline(a->out, a->depth);
	buf_addc(a->out, ']');
}

/* What each workflow of group `g` does when that group or a later one fails. */
static void put_rollback_list(const struct plan *plan, size_t g, bool failed_group, struct buf *out,
			      int depth)
{
	const struct plan_group *grp = &plan->groups[g];
	struct array a = { out, depth, 0 };
	for (size_t i = 0; i < grp->n; i++) {
		const struct plan_workflow *w = &plan->workflows[grp->wfs[i]];
		enum rb_when when = gr_rollback_when(plan, w, failed_group);
		json_t *o = jnew(json_object());
		jset(o, "workflow", jstr(w->name));
		jset(o, "when", jstr(gr_rb_when_name(when)));
		if (when == RB_NEVER)
			jset(o, "reason", jstr(gr_rb_never_reason(plan, w, failed_group)));
		json_t *steps = jnew(json_array());
		for (size_t k = 0; when != RB_NEVER && k < w->nrollback; k++)
			jpush(steps, jstr(w->rollback[k].id));
		jset(o, "steps", steps);
		put_item(&a);
		put_json(out, o, depth + 1);
	}
	put_array_end(&a);
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
static void put_rollback_order(const struct plan *plan, struct buf *out, int depth)
{
	buf_addc(out, '{');
	put_member(out, "earlier_groups_roll_back", jnew(json_boolean(gr_rollback_all(plan))), true,
		   depth);
	put_key(out, "groups", false, depth);
	struct array groups = { out, depth + 1, 0 };
	for (size_t g = 0; g < plan->ngroups; g++) {
		int d = depth + 2;
		put_item(&groups);
		buf_addc(out, '{');
		put_member(out, "group", jint(g), true, d);
		put_key(out, "if_this_group_fails", false, d);
		put_rollback_list(plan, g, true, out, d + 1);
		put_key(out, "if_a_later_group_fails", false, d);
		put_rollback_list(plan, g, false, out, d + 1);
		put_key(out, "rollback_barriers", false, d);
		struct array ids = { out, d + 1, 0 };
		for (size_t i = 0; i < plan->nrollback_barriers; i++) {
			if (plan->rollback_barriers[i].group != g)
				continue;
			put_item(&ids);
			put_json(out, jstr(plan->rollback_barriers[i].id), d + 2);
		}
		put_array_end(&ids);
		put_newline(out, d);
		buf_addc(out, '}');
	}
	put_array_end(&groups);
	put_newline(out, depth);
	buf_addc(out, '}');
}

/* The parallel groups: their index and the names of their workflows. */
static void put_groups(const struct plan *plan, struct buf *out, int depth)
{
	struct array groups = { out, depth, 0 };
	for (size_t g = 0; g < plan->ngroups; g++) {
		int d = depth + 1;
		put_item(&groups);
		buf_addc(out, '{');
		put_member(out, "index", jint(g), true, d);
		put_key(out, "workflows", false, d);
		struct array names = { out, d + 1, 0 };
		for (size_t i = 0; i < plan->groups[g].n; i++) {
			put_item(&names);
			put_json(out, jstr(plan->workflows[plan->groups[g].wfs[i]].name), d + 2);
		}
		put_array_end(&names);
		put_newline(out, d);
		buf_addc(out, '}');
	}
	put_array_end(&groups);
}

static json_t *json_workflow(const struct plan_workflow *wf)
{
	json_t *o = jnew(json_object());
	jset(o, "name", jstr(wf->name));
	jset(o, "workflow", jstr(wf->src->name));
	jset(o, "group", jint(wf->group));
	jset(o, "matrix", json_kvlist(&wf->matrix));
	jset(o, "inputs", json_kvlist(&wf->inputs));
	jset(o, "environment", jstr(wf->environment ? wf->environment->name : NULL));
	jset(o, "on_failure", jstr(on_failure_name(wf->src->on_failure)));
	jset(o, "steps", json_steps(wf->steps, wf->nsteps));
	jset(o, "rollback", json_steps(wf->rollback, wf->nrollback));
	return o;
}

/* The barriers, each with its participants (one per barrier step). */
static void put_barriers(const struct plan *plan, const struct plan_barrier *v, size_t n,
			 struct buf *out, int depth)
{
	struct array bars = { out, depth, 0 };
	for (size_t i = 0; i < n; i++) {
		const struct plan_barrier *b = &v[i];
		int d = depth + 1;
		put_item(&bars);
		buf_addc(out, '{');
		put_member(out, "id", jstr(b->id), true, d);
		put_member(out, "name", jstr(b->title), false, d);
		/* Deprecated: the same as "name", for tools written before it. */
		put_member(out, "title", jstr(b->title), false, d);
		put_member(out, "declared", jnew(json_boolean(b->decl != NULL)), false, d);
		put_member(out, "timeout_ms", jint(b->timeout_ms), false, d);
		put_member(out, "fail_fast", jnew(json_boolean(b->fail_fast)), false, d);
		put_member(out, "group", jint(b->group), false, d);
		put_key(out, "participants", false, d);
		struct array parts = { out, d + 1, 0 };
		for (size_t u = 0; u < b->nuses; u++) {
			size_t nlist = 0;
			const struct plan_step *ps = gr_use_step(plan, b, &b->uses[u], &nlist);
			if (!ps)
				continue;
			json_t *o = jnew(json_object());
			jset(o, "workflow", jstr(plan->workflows[b->uses[u].wf].name));
			jset(o, "step", jstr(ps->id));
			jset(o, "line", jnew(json_integer(ps->src->pos.line)));
			jset(o, "col", jnew(json_integer(ps->src->pos.col)));
			put_item(&parts);
			put_json(out, o, d + 2);
		}
		put_array_end(&parts);
		put_newline(out, d);
		buf_addc(out, '}');
	}
	put_array_end(&bars);
}

void gr_render_json(const struct plan *plan, struct buf *out)
{
	const struct pipeline *p = gr_pl(plan);
	buf_addc(out, '{');
	put_member(out, "pipeline", jstr(p->name), true, 0);
	put_member(out, "file", jstr(p->file), false, 0);
	if (p->description)
		put_member(out, "description", jstr(p->description), false, 0);
	put_member(out, "on_failure", jstr(on_failure_name(p->on_failure)), false, 0);
	put_member(out, "vars", json_kvlist(&plan->vars), false, 0);
	put_member(out, "environments", json_environments(plan), false, 0);
	put_key(out, "groups", false, 0);
	put_groups(plan, out, 1);
	put_key(out, "workflows", false, 0);
	struct array wfs = { out, 1, 0 };
	for (size_t w = 0; w < plan->nworkflows; w++) {
		put_item(&wfs);
		put_json(out, json_workflow(&plan->workflows[w]), 2);
	}
	put_array_end(&wfs);
	put_key(out, "barriers", false, 0);
	put_barriers(plan, plan->barriers, plan->nbarriers, out, 1);
	put_key(out, "rollback_barriers", false, 0);
	put_barriers(plan, plan->rollback_barriers, plan->nrollback_barriers, out, 1);
	put_key(out, "rollback_order", false, 0);
	put_rollback_order(plan, out, 1);
	buf_adds(out, "\n}\n");
}
