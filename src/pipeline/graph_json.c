/* graph_json: the plan as one JSON document (jansson). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"
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

static json_t *json_barriers(const struct plan *plan, const struct plan_barrier *v, size_t n)
{
	json_t *arr = jnew(json_array());
	for (size_t i = 0; i < n; i++) {
		const struct plan_barrier *b = &v[i];
		json_t *o = jnew(json_object());
		jset(o, "id", jstr(b->id));
		jset(o, "title", jstr(b->title));
		jset(o, "declared", jnew(json_boolean(b->decl != NULL)));
		jset(o, "timeout_ms", jint(b->timeout_ms));
		jset(o, "fail_fast", jnew(json_boolean(b->fail_fast)));
		jset(o, "group", jint(b->group));
		json_t *parts = jnew(json_array());
		for (size_t u = 0; u < b->nuses; u++) {
			size_t nlist = 0;
			const struct plan_step *ps = gr_use_step(plan, b, &b->uses[u], &nlist);
			if (!ps)
				continue;
			json_t *p = jnew(json_object());
			jset(p, "workflow", jstr(plan->workflows[b->uses[u].wf].name));
			jset(p, "step", jstr(ps->id));
			jset(p, "line", jnew(json_integer(ps->src->pos.line)));
			jset(p, "col", jnew(json_integer(ps->src->pos.col)));
			jpush(parts, p);
		}
		jset(o, "participants", parts);
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

/* What each workflow of group `g` does when that group or a later one fails. */
static json_t *json_rollback_list(const struct plan *plan, size_t g, bool failed_group)
{
	const struct plan_group *grp = &plan->groups[g];
	json_t *wfs = jnew(json_array());
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
		jpush(wfs, o);
	}
	return wfs;
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
static json_t *json_rollback_order(const struct plan *plan)
{
	json_t *o = jnew(json_object());
	jset(o, "earlier_groups_roll_back", jnew(json_boolean(gr_rollback_all(plan))));
	json_t *arr = jnew(json_array());
	for (size_t g = 0; g < plan->ngroups; g++) {
		json_t *grp = jnew(json_object());
		jset(grp, "group", jint(g));
		jset(grp, "if_this_group_fails", json_rollback_list(plan, g, true));
		jset(grp, "if_a_later_group_fails", json_rollback_list(plan, g, false));
		json_t *rbs = jnew(json_array());
		for (size_t i = 0; i < plan->nrollback_barriers; i++)
			if (plan->rollback_barriers[i].group == g)
				jpush(rbs, jstr(plan->rollback_barriers[i].id));
		jset(grp, "rollback_barriers", rbs);
		jpush(arr, grp);
	}
	jset(o, "groups", arr);
	return o;
}

void gr_render_json(const struct plan *plan, struct buf *out)
{
	const struct pipeline *p = gr_pl(plan);
	json_t *root = jnew(json_object());
	jset(root, "pipeline", jstr(p->name));
	jset(root, "file", jstr(p->file));
	if (p->description)
		jset(root, "description", jstr(p->description));
	jset(root, "on_failure", jstr(on_failure_name(p->on_failure)));
	jset(root, "vars", json_kvlist(&plan->vars));
	jset(root, "environments", json_environments(plan));

	json_t *groups = jnew(json_array());
	for (size_t g = 0; g < plan->ngroups; g++) {
		json_t *o = jnew(json_object());
		json_t *names = jnew(json_array());
		jset(o, "index", jint(g));
		for (size_t i = 0; i < plan->groups[g].n; i++)
			jpush(names, jstr(plan->workflows[plan->groups[g].wfs[i]].name));
		jset(o, "workflows", names);
		jpush(groups, o);
	}
	jset(root, "groups", groups);

	json_t *wfs = jnew(json_array());
	for (size_t w = 0; w < plan->nworkflows; w++) {
		const struct plan_workflow *wf = &plan->workflows[w];
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
		jpush(wfs, o);
	}
	jset(root, "workflows", wfs);
	jset(root, "barriers", json_barriers(plan, plan->barriers, plan->nbarriers));
	jset(root, "rollback_barriers",
	     json_barriers(plan, plan->rollback_barriers, plan->nrollback_barriers));
	jset(root, "rollback_order", json_rollback_order(plan));

	char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!s)
		xalloc_die();
	buf_adds(out, s);
	buf_addc(out, '\n');
	free(s);
	json_decref(root);
}

