#include "pipeline/expand.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/map.h"
#include "base/suggest.h"
#include "base/xalloc.h"
#include "pipeline/expr.h"
#include "pipeline/load.h"
#include "pipeline/plan_size.h"

struct expander {
	const struct pipeline *p;
	struct plan *plan;
	struct arena *a;
	struct diag *d;
	size_t errors_at_start;
	struct map instances;      /* instance name -> workflow index */
	struct map barriers;       /* barrier id -> index */
	struct map rbarriers;      /* rollback barrier id -> index */
	struct map vars_index;     /* var name -> index into plan.vars */
	struct map environments;   /* environment name -> index into plan.environments */
	struct map bodies;         /* expanded expect-body patterns that compiled */
	size_t body_elements;      /* of the patterns compiled so far (HTTP_BODY_MAX_PLAN_ELEMENTS) */
	bool bodies_over;          /* that bound was passed: said once */
	VEC(struct plan_barrier) bv;
	VEC(struct plan_barrier) rbv;
	VEC(VEC(struct plan_barrier_use)) buses;
	VEC(VEC(struct plan_barrier_use)) rbuses;
	bool instance_failed;      /* the current instance had an error */
};

/*
 * Evaluates the expressions of one field. On error, reports it at the
 * expression's position and returns NULL.
 */
static const char *eval(struct expander *X, const char *s, struct pos pos, bool exact,
			const struct expr_scope *scope, const char *what)
{
	if (!s || !expr_has(s))
		return s;
	struct buf e = BUF_INIT;
	size_t off = 0;
	const char *r = expr_eval(s, scope, X->a, &e, &off);
	if (!r) {
		struct pos at = diag_full(X->d) ? pos : pipeline_text_pos(X->p, pos, s, off);
		diag_add(X->d, DIAG_ERROR, X->p->file, at.line, at.col, "%s in %s of workflow %s",
			 e.s, what, scope->workflow_name);
		X->instance_failed = true;
	}
	buf_release(&e);
	return r;
}

static void eval_kvlist(struct expander *X, const struct kvlist *in, const struct expr_scope *scope,
			const char *what, struct kvlist *out)
{
	out->n = in->n;
	/* Most steps have no env: no array for them (10,000 workflows). */
	out->v = in->n ? arena_array(X->a, in->n, sizeof(*out->v)) : NULL;
	for (size_t i = 0; i < in->n; i++) {
		out->v[i] = in->v[i];
		const char *v = eval(X, in->v[i].val, in->v[i].val_pos, in->v[i].val_plain_single_line,
				     scope, what);
		out->v[i].val = v ? v : "";
	}
}

static const struct barrier_decl *find_decl(const struct pipeline *p, const char *id)
{
	for (size_t i = 0; i < p->nbarriers; i++)
		if (!strcmp(p->barriers[i].id, id))
			return &p->barriers[i];
	return NULL;
}

static void add_use(struct expander *X, bool rollback, const char *id, size_t wf, size_t step,
		    size_t *index_out)
{
	struct map *m = rollback ? &X->rbarriers : &X->barriers;
	size_t idx;
	if (!map_find(m, id, &idx)) {
		struct plan_barrier *b;
		if (rollback) {
			idx = X->rbv.n;
			b = VEC_PUSH(X->rbv);
			(void)VEC_PUSH(X->rbuses);
		} else {
			idx = X->bv.n;
			b = VEC_PUSH(X->bv);
			(void)VEC_PUSH(X->buses);
		}
		b->id = id;
		b->rollback = rollback;
		b->decl = find_decl(X->p, id);
		b->title = b->decl ? b->decl->name : NULL;
		b->timeout_ms = b->decl ? b->decl->timeout_ms : DEFAULT_BARRIER_TIMEOUT_MS;
		b->fail_fast = !rollback && (b->decl && b->decl->fail_fast >= 0 ? b->decl->fail_fast
									 : X->p->fail_fast);
		b->group = X->plan->workflows[wf].group;
		map_add(m, id, idx, NULL);
	}
	struct plan_barrier_use *u = rollback ? VEC_PUSH(X->rbuses.v[idx]) : VEC_PUSH(X->buses.v[idx]);
	u->wf = wf;
	u->step = step;
	*index_out = idx;
}

/*
 * The url, expect-body and header values of an http-check step, for this
 * instance. What the loader could not check because expressions were in
 * the way is checked here; a url that still holds ${{ run.id }} is checked
 * again when the step starts.
 */
static void expand_http(struct expander *X, const struct step *st, const struct expr_scope *in_scope,
			const struct plan_workflow *pw, struct plan_step *ps)
{
	const struct http_check *h = st->http;
	struct plan_http *ph = arena_array(X->a, 1, sizeof(*ph));
	/* env.X: the workflow's env, then its environment's (the order a
	 * step's environment layers them in, the first found winning). */
	struct kvlist env = { 0 };
	const struct kvlist *outer = pw->environment ? &pw->environment->env : NULL;
	env.n = pw->env.n + (outer ? outer->n : 0);
	env.v = arena_array(X->a, env.n ? env.n : 1, sizeof(*env.v));
	if (pw->env.n)
		memcpy(env.v, pw->env.v, pw->env.n * sizeof(*env.v));
	if (outer && outer->n)
		memcpy(env.v + pw->env.n, outer->v, outer->n * sizeof(*env.v));
	struct expr_scope hs = *in_scope;
	hs.env = &env;
	const struct expr_scope *scope = &hs;
	ph->url = eval(X, h->url, h->url_pos, h->url_plain_single_line, scope, "url");
	const char *why;
	if (ph->url && ph->url != h->url && !expr_has(ph->url) && http_url_check(ph->url, &why) < 0) {
		diag_add(X->d, DIAG_ERROR, X->p->file, h->url_pos.line, h->url_pos.col,
			 "url '%s' of workflow %s: %s", ph->url, scope->workflow_name, why);
		X->instance_failed = true;
	}
	ph->expect_body = eval(X, h->expect_body, h->body_pos, h->body_plain_single_line, scope,
			       "expect-body");
	char msg[128];
	if (ph->expect_body && ph->expect_body != h->expect_body && !*ph->expect_body) {
		/* The empty pattern matches any body: a check that cannot fail,
		 * which the loader refuses when it is written out. */
		diag_add(X->d, DIAG_ERROR, X->p->file, h->body_pos.line, h->body_pos.col,
			 "expect-body '%s' of workflow %s is empty (leave expect-body out to accept any body)",
			 h->expect_body, scope->workflow_name);
		X->instance_failed = true;
	} else if (ph->expect_body && ph->expect_body != h->expect_body &&
		   !map_find(&X->bodies, ph->expect_body, NULL)) {
		/* Each distinct pattern is compiled once: the instances of a
		 * matrix mostly share theirs (vars, one axis of several), and
		 * one compile may take milliseconds. A failure ends the
		 * instances of its entry, so only successes are remembered. */
		size_t elements;
		if (X->bodies_over) {
			X->instance_failed = true;
		} else if (http_body_regex_error_size(ph->expect_body, &elements, msg, sizeof(msg))) {
			diag_add(X->d, DIAG_ERROR, X->p->file, h->body_pos.line, h->body_pos.col,
				 "expect-body '%s' of workflow %s is not a POSIX extended regex: %s",
				 ph->expect_body, scope->workflow_name, msg);
			X->instance_failed = true;
		} else if ((X->body_elements += elements) > HTTP_BODY_MAX_PLAN_ELEMENTS) {
			diag_add(X->d, DIAG_ERROR, X->p->file, h->body_pos.line, h->body_pos.col,
				 "the expect-body patterns of the plan have more than %d elements in all (at workflow %s): give the instances fewer distinct patterns",
				 HTTP_BODY_MAX_PLAN_ELEMENTS, scope->workflow_name);
			X->bodies_over = true;
			X->instance_failed = true;
		} else {
			map_add(&X->bodies, ph->expect_body, 0, NULL);
		}
	}
	eval_kvlist(X, &h->headers, scope, "headers", &ph->headers);
	for (size_t i = 0; i < ph->headers.n; i++) {
		const struct kv *kv = &ph->headers.v[i];
		if (strpbrk(kv->val, "\r\n")) {
			diag_add(X->d, DIAG_ERROR, X->p->file, kv->val_pos.line, kv->val_pos.col,
				 "header %s of workflow %s: a header value cannot contain a line break",
				 kv->key, scope->workflow_name);
			X->instance_failed = true;
		}
	}
	ps->http = ph;
	/* A derived name shows the url of this instance. */
	if (!st->name_explicit && ph->url && ph->url != h->url)
		ps->name = step_default_http_name(X->a, ph->url);
}

/*
 * The manifests, namespace and context of a k8s-rolling step, for this
 * instance: the step's own namespace and context, else its environment's.
 * A namespace built by expressions must still be a namespace.
 */
static void expand_k8s(struct expander *X, const struct step *st, const struct expr_scope *scope,
		       const struct plan_environment *pe, struct plan_step *ps)
{
	const struct k8s_rolling *k = st->k8s;
	struct plan_k8s *pk = arena_array(X->a, 1, sizeof(*pk));
	pk->nmanifests = k->nmanifests;
	pk->manifests = arena_array(X->a, k->nmanifests ? k->nmanifests : 1, sizeof(*pk->manifests));
	for (size_t i = 0; i < k->nmanifests; i++) {
		const char *m = eval(X, k->manifests[i], k->manifest_pos[i], false, scope,
				     "manifest path");
		pk->manifests[i] = m ? m : k->manifests[i];
		if (m && !*m) {
			diag_add(X->d, DIAG_ERROR, X->p->file, k->manifest_pos[i].line,
				 k->manifest_pos[i].col, "manifest path '%s' of workflow %s is empty",
				 k->manifests[i], scope->workflow_name);
			X->instance_failed = true;
		}
	}
	if (k->kube_namespace) {
		pk->namespace_from_step = true;
		pk->kube_namespace = eval(X, k->kube_namespace, k->namespace_pos, false, scope,
					  "namespace");
		if (pk->kube_namespace && pk->kube_namespace != k->kube_namespace &&
		    !kube_namespace_is_valid(pk->kube_namespace)) {
			diag_add(X->d, DIAG_ERROR, X->p->file, k->namespace_pos.line, k->namespace_pos.col,
				 "namespace '%s' (from '%s') of workflow %s is not a Kubernetes namespace: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters",
				 pk->kube_namespace, k->kube_namespace, scope->workflow_name);
			X->instance_failed = true;
		}
	} else if (pe) {
		pk->kube_namespace = pe->kube_namespace;
	}
	if (k->kube_context) {
		pk->context_from_step = true;
		pk->kube_context = eval(X, k->kube_context, k->context_pos, false, scope, "context");
		if (pk->kube_context && !*pk->kube_context) {
			diag_add(X->d, DIAG_ERROR, X->p->file, k->context_pos.line, k->context_pos.col,
				 "context '%s' of workflow %s is empty", k->kube_context,
				 scope->workflow_name);
			X->instance_failed = true;
		}
	} else if (pe) {
		pk->kube_context = pe->kube_context;
	}
	ps->k8s = pk;
	/* A derived name shows the paths of this instance. */
	if (!st->name_explicit)
		ps->name = step_default_k8s_name(X->a, pk->manifests, pk->nmanifests);
}

static void expand_steps(struct expander *X, const struct steplist *in, bool rollback, size_t wfi,
			 const struct expr_scope *scope, struct plan_step **out, size_t *nout)
{
	*nout = in->n;
	*out = arena_array(X->a, in->n ? in->n : 1, sizeof(**out));
	for (size_t i = 0; i < in->n; i++) {
		const struct step *st = &in->v[i];
		struct plan_step *ps = &(*out)[i];
		ps->src = st;
		ps->id = st->id;
		ps->name = st->name_explicit ? eval(X, st->name, st->name_pos, false, scope, "the step name")
					     : st->name;
		if (!ps->name)
			ps->name = st->id;
		if (st->kind == STEP_RUN) {
			ps->run = eval(X, st->run, st->kind_pos, st->run_plain_single_line, scope, "run");
			ps->dir = eval(X, st->dir, st->dir_pos, false, scope, "dir");
			/* A derived name shows the command of this instance. */
			if (!st->name_explicit && ps->run && ps->run != st->run)
				ps->name = step_default_run_name(X->a, ps->run);
		}
		if (st->kind == STEP_HTTP_CHECK && st->http)
			expand_http(X, st, scope, &X->plan->workflows[wfi], ps);
		if (st->kind == STEP_K8S_ROLLING && st->k8s)
			expand_k8s(X, st, scope, X->plan->workflows[wfi].environment, ps);
		eval_kvlist(X, &st->env, scope, "step env", &ps->env);
		if (st->kind == STEP_BARRIER) {
			const char *id = eval(X, st->barrier, st->kind_pos, st->barrier_plain_single_line,
					      scope, "barrier id");
			if (!id)
				continue;
			if (!name_is_valid(id)) {
				diag_add(X->d, DIAG_ERROR, X->p->file, st->kind_pos.line, st->kind_pos.col,
					 "barrier id '%s' of workflow %s is not a valid id: use letters, digits, '.', '_' and '-'",
					 id, scope->workflow_name);
				X->instance_failed = true;
				continue;
			}
			ps->barrier = id;
			if (!st->name_explicit)
				ps->name = arena_printf(X->a, "barrier %s", id);
			add_use(X, rollback, id, wfi, i, &ps->barrier_index);
		}
	}
}

/* ---- environments ---- */

/* Evaluates one field of environment `env`; on error, reports it and returns NULL. */
static const char *eval_environment(struct expander *X, const struct environment *env,
				    const char *s, struct pos pos, const struct expr_scope *scope,
				    const char *what)
{
	if (!s || !expr_has(s))
		return s;
	struct buf e = BUF_INIT;
	size_t off = 0;
	const char *r = expr_eval(s, scope, X->a, &e, &off);
	if (!r) {
		struct pos at = diag_full(X->d) ? pos : pipeline_text_pos(X->p, pos, s, off);
		diag_add(X->d, DIAG_ERROR, X->p->file, at.line, at.col, "%s in %s of environment %s",
			 e.s, what, env->name);
	}
	buf_release(&e);
	return r;
}

/* A kubernetes value built by an expression must still be a usable one. */
static const char *expanded_kube_value(struct expander *X, const struct environment *env,
				       const char *raw, const char *val, struct pos pos,
				       const char *what)
{
	if (!val || val == raw)
		return val;
	bool ns = !strcmp(what, "namespace");
	if (ns ? !kube_namespace_is_valid(val) : !*val) {
		diag_add(X->d, DIAG_ERROR, X->p->file, pos.line, pos.col,
			 "kubernetes %s of environment %s is '%s' (from '%s'): %s", what, env->name,
			 val, raw,
			 ns ? "a namespace is lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"
			    : "it must not be empty");
		return NULL;
	}
	return val;
}

/*
 * Every declared environment, evaluated once: its fields may use vars and
 * the pipeline name only, so every instance that runs in it sees the same
 * values. ${{ run.id }} stays in env values until a step starts.
 */
static void expand_environments(struct expander *X)
{
	const struct pipeline *p = X->p;
	struct plan *plan = X->plan;
	plan->nenvironments = p->nenvironments;
	plan->environments = arena_array(X->a, p->nenvironments ? p->nenvironments : 1,
					 sizeof(*plan->environments));
	/* Secrets stay as written: the loader let them only into env values. */
	struct expr_scope scope = { .vars = &plan->vars, .vars_index = &X->vars_index,
				    .pipeline_name = p->name, .keep_secrets = true };
	for (size_t i = 0; i < p->nenvironments; i++) {
		const struct environment *env = &p->environments[i];
		struct plan_environment *pe = &plan->environments[i];
		pe->src = env;
		pe->name = env->name;
		map_add(&X->environments, env->name, i, NULL);
		const char *v;
		v = eval_environment(X, env, env->kube_context, env->kube_context_pos, &scope,
				     "kubernetes context");
		pe->kube_context = expanded_kube_value(X, env, env->kube_context, v,
						       env->kube_context_pos, "context");
		v = eval_environment(X, env, env->kube_namespace, env->kube_namespace_pos, &scope,
				     "kubernetes namespace");
		pe->kube_namespace = expanded_kube_value(X, env, env->kube_namespace, v,
							 env->kube_namespace_pos, "namespace");
		v = eval_environment(X, env, env->kubeconfig, env->kubeconfig_pos, &scope,
				     "kubernetes kubeconfig");
		pe->kubeconfig = expanded_kube_value(X, env, env->kubeconfig, v, env->kubeconfig_pos,
						     "kubeconfig");
		pe->env.n = env->env.n;
		pe->env.v = env->env.n ? arena_array(X->a, env->env.n, sizeof(*pe->env.v)) : NULL;
		for (size_t k = 0; k < env->env.n; k++) {
			pe->env.v[k] = env->env.v[k];
			v = eval_environment(X, env, env->env.v[k].val, env->env.v[k].val_pos, &scope,
					     "env");
			pe->env.v[k].val = v ? v : "";
		}
	}
}

/*
 * The environment of one instance: its stage entry's, else its workflow's
 * (NULL: none). A name with expressions is evaluated in the instance's
 * scope and must name a declared environment; a plain name was checked
 * when the file was loaded.
 */
static const struct plan_environment *instance_environment(struct expander *X,
							   const struct stage *sg,
							   const struct workflow *wf,
							   const struct expr_scope *scope)
{
	const char *raw = sg->environment ? sg->environment : wf->environment;
	struct pos pos = sg->environment ? sg->environment_pos : wf->environment_pos;
	if (!raw)
		return NULL;
	const char *name = eval(X, raw, pos, false, scope, "environment");
	if (!name)
		return NULL;
	size_t i;
	if (map_find(&X->environments, name, &i))
		return &X->plan->environments[i];
	/* Each instance may build a different name: each one is reported. */
	const struct pipeline *p = X->p;
	const char **names = xmalloc((p->nenvironments + 1) * sizeof(*names));
	for (size_t k = 0; k < p->nenvironments; k++)
		names[k] = p->environments[k].name;
	const char *sug = suggest_closest(name, names, p->nenvironments);
	if (name == raw)
		/* Plain names were checked by the loader; kept for plans built
		 * from a pipeline that skipped it. */
		diag_add(X->d, DIAG_ERROR, p->file, pos.line, pos.col,
			 "unknown environment '%s' for workflow %s%s%s%s", name, scope->workflow_name,
			 sug ? "; did you mean '" : " (declare it under environments:)", sug ? sug : "",
			 sug ? "'?" : "");
	else
		diag_add(X->d, DIAG_ERROR, p->file, pos.line, pos.col,
			 "unknown environment '%s' (from '%s') for workflow %s%s%s%s", name, raw,
			 scope->workflow_name,
			 sug ? "; did you mean '" : " (declare it under environments:)", sug ? sug : "",
			 sug ? "'?" : "");
	free(names);
	return NULL;
}

/* Builds one workflow instance of stage entry `sg` with matrix values `combo`. */
static void expand_instance(struct expander *X, const struct stage *sg, size_t stage_index,
			    size_t group, const size_t *combo)
{
	const struct workflow *wf = &X->p->workflows[sg->wf];
	struct plan *plan = X->plan;
	struct buf name = BUF_INIT;
	buf_adds(&name, wf->name);
	struct kvlist matrix = { NULL, 0 };
	if (sg->nmatrix) {
		matrix.v = arena_array(X->a, sg->nmatrix, sizeof(*matrix.v));
		matrix.n = sg->nmatrix;
		buf_addc(&name, '[');
		for (size_t k = 0; k < sg->nmatrix; k++) {
			const struct matrix_axis *ax = &sg->matrix[k];
			matrix.v[k].key = ax->key;
			matrix.v[k].val = ax->values[combo[k]];
			matrix.v[k].key_pos = ax->pos;
			matrix.v[k].val_pos = ax->value_pos[combo[k]];
			buf_addf(&name, "%s%s=%s", k ? "," : "", ax->key, ax->values[combo[k]]);
		}
		buf_addc(&name, ']');
	}
	size_t wfi = plan->nworkflows;
	struct plan_workflow *pw = &plan->workflows[wfi];
	pw->name = arena_strndup(X->a, name.s, name.len);
	buf_release(&name);
	size_t prev;
	if (!map_add(&X->instances, pw->name, wfi, &prev)) {
		const struct plan_workflow *other = &plan->workflows[prev];
		diag_add(X->d, DIAG_ERROR, X->p->file, sg->workflow_pos.line, sg->workflow_pos.col,
			 "workflow instance %s appears twice in stages (first at line %d); use it once, or give the entries different matrix values",
			 pw->name, other->stage->workflow_pos.line);
		X->instance_failed = true;
		return;
	}
	plan->nworkflows++;
	pw->src = wf;
	pw->stage = sg;
	pw->stage_index = stage_index;
	pw->group = group;
	pw->matrix = matrix;

	/* Keys repeat in a kvlist only through errors already reported; the
	 * first one wins, as in a linear search. */
	struct map inputs_index = MAP_INIT;
	struct expr_scope scope = {
		.vars = &plan->vars,
		.vars_index = &X->vars_index,
		.inputs = NULL,
		.matrix = &pw->matrix,
		.pipeline_name = X->p->name,
		.workflow_name = pw->name,
		.run_id = NULL,
		/* Substituted when a step starts; the loader let them only into
		 * env values and http-check headers. */
		.keep_secrets = true,
	};
	/* Inputs may use vars and the pipeline name only. */
	struct expr_scope in_scope = { .vars = &plan->vars, .vars_index = &X->vars_index,
				       .pipeline_name = X->p->name, .workflow_name = pw->name };
	eval_kvlist(X, &sg->with, &in_scope, "with", &pw->inputs);
	scope.inputs = &pw->inputs;
	for (size_t i = 0; i < pw->inputs.n; i++)
		map_add(&inputs_index, pw->inputs.v[i].key, i, NULL);
	scope.inputs_index = &inputs_index;
	eval_kvlist(X, &wf->env, &scope, "env", &pw->env);
	pw->environment = instance_environment(X, sg, wf, &scope);
	expand_steps(X, &wf->steps, false, wfi, &scope, &pw->steps, &pw->nsteps);
	expand_steps(X, &wf->rollback, true, wfi, &scope, &pw->rollback, &pw->nrollback);
	map_release(&inputs_index);
}

static bool apply_overrides(struct expander *X, const struct kvlist *over)
{
	const struct pipeline *p = X->p;
	struct plan *plan = X->plan;
	plan->vars.n = p->vars.n;
	plan->vars.v = arena_array(X->a, p->vars.n ? p->vars.n : 1, sizeof(*plan->vars.v));
	if (p->vars.n)
		memcpy(plan->vars.v, p->vars.v, p->vars.n * sizeof(*p->vars.v));
	bool ok = true;
	for (size_t i = 0; over && i < over->n; i++) {
		bool found = false;
		for (size_t j = 0; j < plan->vars.n; j++) {
			if (!strcmp(plan->vars.v[j].key, over->v[i].key)) {
				plan->vars.v[j].val = arena_strdup(X->a, over->v[i].val);
				found = true;
			}
		}
		if (!found) {
			diag_add(X->d, DIAG_ERROR, p->file, 0, 0,
				 "--var %s: the pipeline declares no var '%s' (declare it under vars:)",
				 over->v[i].key, over->v[i].key);
			ok = false;
		}
	}
	return ok;
}

/* Frees the expander's maps: the plan keeps none of them. */
static void release_maps(struct expander *X)
{
	map_release(&X->instances);
	map_release(&X->barriers);
	map_release(&X->rbarriers);
	map_release(&X->vars_index);
	map_release(&X->environments);
	map_release(&X->bodies);
}

/* Finalises the barrier arrays: copies the uses into the plan's arena. */
static void finish_barriers(struct expander *X)
{
	struct plan *plan = X->plan;
	plan->nbarriers = X->bv.n;
	plan->barriers = arena_array(X->a, X->bv.n ? X->bv.n : 1, sizeof(*plan->barriers));
	for (size_t i = 0; i < X->bv.n; i++) {
		plan->barriers[i] = X->bv.v[i];
		plan->barriers[i].nuses = X->buses.v[i].n;
		plan->barriers[i].uses = arena_array(X->a, X->buses.v[i].n, sizeof(struct plan_barrier_use));
		if (X->buses.v[i].n)
			memcpy(plan->barriers[i].uses, X->buses.v[i].v,
			       X->buses.v[i].n * sizeof(struct plan_barrier_use));
		VEC_FREE(X->buses.v[i]);
	}
	plan->nrollback_barriers = X->rbv.n;
	plan->rollback_barriers = arena_array(X->a, X->rbv.n ? X->rbv.n : 1, sizeof(*plan->rollback_barriers));
	for (size_t i = 0; i < X->rbv.n; i++) {
		plan->rollback_barriers[i] = X->rbv.v[i];
		plan->rollback_barriers[i].nuses = X->rbuses.v[i].n;
		plan->rollback_barriers[i].uses = arena_array(X->a, X->rbuses.v[i].n, sizeof(struct plan_barrier_use));
		if (X->rbuses.v[i].n)
			memcpy(plan->rollback_barriers[i].uses, X->rbuses.v[i].v,
			       X->rbuses.v[i].n * sizeof(struct plan_barrier_use));
		VEC_FREE(X->rbuses.v[i]);
	}
	VEC_FREE(X->bv);
	VEC_FREE(X->rbv);
	VEC_FREE(X->buses);
	VEC_FREE(X->rbuses);
}

static void finish_groups(struct expander *X, size_t ngroups)
{
	struct plan *plan = X->plan;
	plan->ngroups = ngroups;
	plan->groups = arena_array(X->a, ngroups ? ngroups : 1, sizeof(*plan->groups));
	for (size_t i = 0; i < plan->nworkflows; i++)
		plan->groups[plan->workflows[i].group].n++;
	for (size_t g = 0; g < ngroups; g++) {
		plan->groups[g].wfs = arena_array(X->a, plan->groups[g].n ? plan->groups[g].n : 1,
						  sizeof(size_t));
		plan->groups[g].n = 0;
	}
	for (size_t i = 0; i < plan->nworkflows; i++) {
		struct plan_group *g = &plan->groups[plan->workflows[i].group];
		g->wfs[g->n++] = i;
	}
}

struct plan *plan_build(const struct pipeline *p, const struct kvlist *overrides, struct diag *d)
{
	struct plan *plan = xcalloc(1, sizeof(*plan));
	struct expander X = { .p = p, .plan = plan, .a = &plan->arena, .d = d,
			      .errors_at_start = d->errors };
	plan->pipeline = p;
	bool ok = apply_overrides(&X, overrides);
	for (size_t i = 0; i < plan->vars.n; i++)
		map_add(&X.vars_index, plan->vars.v[i].key, i, NULL);

	/* Size the plan first, so that a huge one is refused before anything
	 * is expanded for it. */
	struct plan_size size;
	if (!plan_size_check(p, &plan->vars, &size, d)) {
		/* vars are indexed by now. */
		release_maps(&X);
		plan_free(plan);
		return NULL;
	}
	expand_environments(&X);
	size_t total = (size_t)size.instances;
	plan->workflows = arena_array(&plan->arena, total ? total : 1, sizeof(*plan->workflows));

	size_t group = 0;
	for (size_t s = 0; s < p->nstages && ok; s++) {
		const struct stage *sg = &p->stages[s];
		if (s > 0 && !sg->parallel)
			group++;
		/* Its problems were reported while loading; expanding what is
		 * left of it would only report their consequences. */
		if (sg->incomplete)
			continue;
		size_t combo[64] = { 0 };
		size_t *cb = sg->nmatrix <= 64 ? combo : xcalloc(sg->nmatrix, sizeof(*cb));
		for (;;) {
			X.instance_failed = false;
			expand_instance(&X, sg, s, group, cb);
			/* Every instance of an entry fails the same way: say it once. */
			if (X.instance_failed)
				break;
			size_t k = sg->nmatrix;
			while (k > 0) {
				k--;
				if (++cb[k] < sg->matrix[k].n)
					break;
				cb[k] = 0;
				if (k == 0) {
					k = SIZE_MAX;
					break;
				}
			}
			if (sg->nmatrix == 0 || k == SIZE_MAX)
				break;
		}
		if (cb != combo)
			free(cb);
	}
	finish_groups(&X, p->nstages ? group + 1 : 0);
	finish_barriers(&X);
	release_maps(&X);
	if (!ok || d->errors > X.errors_at_start) {
		plan_free(plan);
		return NULL;
	}
	return plan;
}

void plan_free(struct plan *plan)
{
	if (!plan)
		return;
	arena_release(&plan->arena);
	free(plan);
}

void plan_barrier_participants(const struct plan *plan, const struct plan_barrier *b,
			       struct buf *out)
{
	for (size_t i = 0; i < b->nuses; i++) {
		if (i)
			buf_adds(out, i + 1 == b->nuses ? " and " : ", ");
		buf_adds(out, plan->workflows[b->uses[i].wf].name);
	}
}
