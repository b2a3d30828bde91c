#include "pipeline/load.h"
#include "pipeline/load_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsio.h"
#include "base/logname.h"
#include "base/map.h"
#include "base/suggest.h"
#include "base/xalloc.h"
#include "pipeline/expr.h"
#include "pipeline/yaml.h"

/* ---- environments ---- */

static const char *const environment_keys[] = { "description", "kubernetes", "env" };
static const char *const kubernetes_keys[] = { "context", "namespace", "kubeconfig" };

/* One string of a kubernetes: mapping: non-empty, with vars and pipeline.name only. */
static const char *load_kube_str(struct loader *L, const struct ynode *map, const char *key,
				 const struct environment *env, struct pos *pos)
{
	const struct ynode *v = ynode_get(map, key);
	if (!v)
		return NULL;
	*pos = ld_pos_of(v);
	char *what = arena_printf(L->a, "kubernetes %s of environment %s", key, env->name);
	const char *s = ld_get_str(L, v, what);
	if (!s)
		return NULL;
	if (!*s) {
		ld_err(L, v, "%s must not be empty (leave the key out instead)", what);
		return NULL;
	}
	if (!ld_check_exprs(L, v, ENVIRONMENT_EXPRS, what))
		return NULL;
	if (!strcmp(key, "namespace") && !expr_has(s) && !kube_namespace_is_valid(s)) {
		ld_err(L, v, "bad Kubernetes namespace '%s' for environment %s: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters",
		    s, env->name);
		return NULL;
	}
	return s;
}

static void load_kubernetes(struct loader *L, const struct ynode *key, const struct ynode *n,
			    struct environment *env)
{
	env->has_kubernetes = true;
	env->kubernetes_pos = ld_pos_of(key);
	/* kubernetes: with nothing under it says "a Kubernetes environment"
	 * and nothing more; check warns that it has no namespace. */
	if (ynode_is_null(n) || !ld_expect_kind(L, n, YNODE_MAP, "kubernetes"))
		return;
	ld_check_keys(L, n, kubernetes_keys, sizeof(kubernetes_keys) / sizeof(kubernetes_keys[0]),
		   "kubernetes");
	env->kube_context = load_kube_str(L, n, "context", env, &env->kube_context_pos);
	env->kube_namespace = load_kube_str(L, n, "namespace", env, &env->kube_namespace_pos);
	env->kubeconfig = load_kube_str(L, n, "kubeconfig", env, &env->kubeconfig_pos);
}

static void load_environments(struct loader *L, const struct ynode *n)
{
	if (ynode_is_null(n) || !ld_expect_kind(L, n, YNODE_MAP, "environments"))
		return;
	struct pipeline *p = L->p;
	p->environments = arena_array(L->a, n->n, sizeof(*p->environments));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->keys[i], *v = n->vals[i];
		if (k->kind != YNODE_SCALAR)
			continue;
		if (!name_is_valid(k->str)) {
			ld_err(L, k, "bad environment name '%s': use letters, digits, '.', '_' and '-'",
			    k->str);
			continue;
		}
		/* The slot may hold a rejected environment: start afresh. */
		struct environment *env = &p->environments[p->nenvironments];
		memset(env, 0, sizeof(*env));
		env->name = k->str;
		env->pos = ld_pos_of(k);
		/* A duplicate name was reported by the YAML layer; keep the first. */
		if (!map_add(&L->environments, env->name, p->nenvironments, NULL))
			continue;
		p->nenvironments++;
		/* A name alone (staging:) is an environment without settings. */
		if (ynode_is_null(v) || !ld_expect_kind(L, v, YNODE_MAP, "an environment"))
			continue;
		ld_check_keys(L, v, environment_keys,
			   sizeof(environment_keys) / sizeof(environment_keys[0]), "an environment");
		const struct ynode *x;
		if ((x = ynode_get(v, "description")))
			env->description = ld_get_str(L, x, "description");
		/* By its key, which check's warnings point at. */
		for (size_t j = 0; j < v->n; j++) {
			if (v->keys[j]->kind == YNODE_SCALAR && !strcmp(v->keys[j]->str, "kubernetes")) {
				load_kubernetes(L, v->keys[j], v->vals[j], env);
				break;
			}
		}
		if ((x = ynode_get(v, "env"))) {
			ld_load_kvlist(L, x, KV_ENVIRONMENT, "environment env", &env->env);
			/* Two layers of one environment setting one variable: say which. */
			for (size_t j = 0; env->kubeconfig && j < env->env.n; j++)
				if (!strcmp(env->env.v[j].key, "KUBECONFIG"))
					ld_err_at(L, env->env.v[j].key_pos,
					       "environment %s sets KUBECONFIG in env and kubernetes.kubeconfig (line %d): give only one of them",
					       env->name, env->kubeconfig_pos.line);
		}
	}
}

/*
 * environment: NAME on a workflow or a stage entry (`where`). A plain name
 * must be declared (with a "did you mean"); a name with expressions is
 * looked up for each instance during expansion. Returns the name as
 * written, or NULL when it is rejected.
 */
static const char *load_environment_use(struct loader *L, const struct ynode *n, const char *where)
{
	const char *s = ld_get_str(L, n, "environment");
	if (!s)
		return NULL;
	if (!*s) {
		ld_err(L, n, "environment must not be empty: give the name of an environment declared under environments:");
		return NULL;
	}
	if (expr_has(s))
		return ld_check_exprs(L, n, ENVIRONMENT_USE_EXPRS, "environment names") ? s : NULL;
	if (!name_is_valid(s)) {
		ld_err(L, n, "bad environment name '%s': use letters, digits, '.', '_' and '-'", s);
		return NULL;
	}
	if (map_find(&L->environments, s, NULL))
		return s;
	const struct pipeline *p = L->p;
	const char **names = xmalloc((p->nenvironments + 1) * sizeof(*names));
	for (size_t i = 0; i < p->nenvironments; i++)
		names[i] = p->environments[i].name;
	const char *sug = suggest_closest(s, names, p->nenvironments);
	if (sug)
		ld_err(L, n, "unknown environment '%s' in %s; did you mean '%s'?", s, where, sug);
	else
		ld_err(L, n, "unknown environment '%s' in %s (declare it under environments:)", s, where);
	free(names);
	return NULL;
}

/* ---- workflows, stages, barriers ---- */

static const char *const workflow_keys[] = {
	"steps", "rollback", "env", "on-failure", "description", "environment",
};

/*
 * A workflow with k8s-rolling steps and no rollback key rolls back what
 * they did: as if it said `rollback: [k8s-rollback: ]`. `rollback: []`
 * opts out. The step's id is rollback-1, as written it would be, unless
 * a step already has that id.
 */
static void add_default_rollback(struct loader *L, struct workflow *wf)
{
	bool rolling = false;
	for (size_t i = 0; i < wf->steps.n && !rolling; i++)
		rolling = wf->steps.v[i].kind == STEP_K8S_ROLLING;
	if (!rolling)
		return;
	bool taken = false;
	for (size_t i = 0; i < wf->steps.n && !taken; i++)
		taken = !strcmp(wf->steps.v[i].id, "rollback-1");
	struct step *st = arena_array(L->a, 1, sizeof(*st));
	st->kind = STEP_K8S_ROLLBACK;
	st->implicit = true;
	st->pos = st->kind_pos = wf->pos;
	st->id = taken ? "k8s-rollback" : "rollback-1";
	st->name = "k8s-rollback (default)";
	st->retry_delay_ms = DEFAULT_RETRY_DELAY_MS;
	wf->rollback.v = st;
	wf->rollback.n = 1;
}

static bool load_workflow(struct loader *L, const struct ynode *k, const struct ynode *n,
			  struct workflow *wf)
{
	wf->name = k->str;
	wf->pos = ld_pos_of(k);
	wf->on_failure = ON_FAILURE_ROLLBACK;
	bool ok = true;
	if (!name_is_valid(k->str)) {
		ld_err(L, k, "bad workflow name '%s': use letters, digits, '.', '_' and '-'", k->str);
		ok = false;
	} else if (log_component_len(k->str, k->len, true) > LOG_NAME_MAX) {
		ld_err(L, k, "workflow name is too long: its log directory name would be %zu bytes, at most %d",
		    log_component_len(k->str, k->len, true), LOG_NAME_MAX);
		ok = false;
	}
	if (!ld_expect_kind(L, n, YNODE_MAP, "a workflow"))
		return false;
	ld_check_keys(L, n, workflow_keys, sizeof(workflow_keys) / sizeof(workflow_keys[0]),
		   "a workflow");
	const struct ynode *v;
	if ((v = ynode_get(n, "description")))
		wf->description = ld_get_str(L, v, "description");
	if ((v = ynode_get(n, "environment"))) {
		wf->environment_pos = ld_pos_of(v);
		char *where = arena_printf(L->a, "workflow %s", wf->name);
		wf->environment = load_environment_use(L, v, where);
		ok = wf->environment && ok;
	}
	if ((v = ynode_get(n, "env")))
		ld_load_kvlist(L, v, KV_ENV, "workflow env", &wf->env);
	if ((v = ynode_get(n, "on-failure")))
		ok = ld_load_on_failure(L, v, false, &wf->on_failure) && ok;
	if ((v = ynode_get(n, "steps")))
		ld_load_steplist(L, v, false, wf->name, &wf->steps);
	else
		ld_err_at(L, wf->pos, "workflow %s has no steps (add a steps: list)", wf->name);
	if ((v = ynode_get(n, "rollback"))) {
		wf->has_rollback = true;
		wf->rollback_pos = ld_pos_of(v);
		if (!ynode_is_null(v))
			ld_load_steplist(L, v, true, wf->name, &wf->rollback);
	} else {
		add_default_rollback(L, wf);
	}
	ld_check_step_ids(L, wf);
	return ok;
}

static const char *const stage_keys[] = { "workflow", "parallel", "with", "matrix", "environment" };

static void load_matrix(struct loader *L, const struct ynode *n, struct stage *sg)
{
	sg->matrix_pos = ld_pos_of(n);
	if (!ld_expect_kind(L, n, YNODE_MAP, "matrix"))
		return;
	if (n->n == 0) {
		ld_err(L, n, "matrix must have at least one key");
		return;
	}
	sg->matrix = arena_array(L->a, n->n, sizeof(*sg->matrix));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->keys[i], *v = n->vals[i];
		if (k->kind != YNODE_SCALAR)
			continue;
		if (!ld_is_key_name(k->str)) {
			ld_err(L, k, "bad matrix key '%s': use letters, digits, _ and -, starting with a letter or _",
			    k->str);
			continue;
		}
		if (!ld_expect_kind(L, v, YNODE_SEQ, "a matrix axis"))
			continue;
		if (v->n == 0) {
			ld_err(L, v, "matrix axis '%s' must have at least one value", k->str);
			continue;
		}
		/* The slot may hold a rejected axis: start afresh. */
		struct matrix_axis *ax = &sg->matrix[sg->nmatrix];
		memset(ax, 0, sizeof(*ax));
		ax->key = k->str;
		ax->pos = ld_pos_of(k);
		ax->values = arena_array(L->a, v->n, sizeof(*ax->values));
		ax->value_pos = arena_array(L->a, v->n, sizeof(*ax->value_pos));
		bool ok = true;
		struct map seen = MAP_INIT;
		for (size_t j = 0; j < v->n; j++) {
			const struct ynode *x = v->vals[j];
			const char *s = ld_get_str(L, x, "a matrix value");
			if (!s || !ld_no_exprs(L, x, "matrix values")) {
				ok = false;
				continue;
			}
			if (!*s || strpbrk(s, "[]=,\n")) {
				ld_err(L, x, "bad matrix value '%s': it becomes part of an instance name, so it must be non-empty and free of '[', ']', '=', ',' and newlines",
				    s);
				ok = false;
				continue;
			}
			size_t first;
			if (!map_add(&seen, s, j, &first)) {
				ld_err(L, x, "duplicate matrix value '%s' for '%s' (first at line %d)", s, k->str,
				    v->vals[first]->line);
				ok = false;
				continue;
			}
			ax->value_pos[ax->n] = ld_pos_of(x);
			ax->values[ax->n++] = s;
		}
		map_release(&seen);
		if (ok)
			sg->nmatrix++;
		else
			sg->incomplete = true;
	}
}

/*
 * Each instance of a matrix entry is named NAME[KEY=VALUE,...], and that
 * name, escaped, is the directory of the instance's logs: it must fit
 * LOG_NAME_MAX bytes. The blame goes where the fix is: the matrix as a
 * whole when values of one byte would be too long (the workflow name or
 * the keys are), else each value that is too long whatever the other
 * axes give, else (only combinations are too long) the longest value.
 */
static void check_instance_names(struct loader *L, const struct stage *sg, const struct workflow *wf)
{
	size_t wflen = log_component_len(wf->name, strlen(wf->name), true);
	if (!sg->nmatrix || wflen > LOG_NAME_MAX)
		return; /* no matrix, or the workflow name was reported */
	size_t *min = xcalloc(sg->nmatrix, sizeof(*min)), *max = xcalloc(sg->nmatrix, sizeof(*max));
	size_t base = wflen + 2 + (sg->nmatrix - 1), shortest = 0, longest = 0;
	size_t worst = 0, worst_axis = 0, worst_value = 0;
	for (size_t k = 0; k < sg->nmatrix; k++) {
		const struct matrix_axis *ax = &sg->matrix[k];
		base += strlen(ax->key) + 1;
		min[k] = SIZE_MAX;
		for (size_t j = 0; j < ax->n; j++) {
			size_t n = log_component_len(ax->values[j], strlen(ax->values[j]), false);
			min[k] = n < min[k] ? n : min[k];
			if (n > max[k])
				max[k] = n;
			if (n > worst) {
				worst = n;
				worst_axis = k;
				worst_value = j;
			}
		}
		shortest += min[k];
		longest += max[k];
	}
	if (base + longest <= LOG_NAME_MAX)
		goto out;
	if (base + sg->nmatrix > LOG_NAME_MAX) {
		/* Too long with values of one byte: not the values' fault. */
		ld_err_at(L, sg->matrix_pos, "the instance names of workflow %s are too long: as log directory names they would be at least %zu bytes, at most %d (shorten the workflow name or the matrix keys)",
		       wf->name, base + shortest, LOG_NAME_MAX);
		goto out;
	}
	bool blamed = false;
	for (size_t k = 0; k < sg->nmatrix; k++) {
		const struct matrix_axis *ax = &sg->matrix[k];
		for (size_t j = 0; j < ax->n; j++) {
			size_t n = log_component_len(ax->values[j], strlen(ax->values[j]), false);
			size_t name = base + shortest - min[k] + n;
			if (name <= LOG_NAME_MAX)
				continue;
			ld_err_at(L, ax->value_pos[j], "matrix value of '%s' is too long: the log directory names of the instances of workflow %s with it would be at least %zu bytes, at most %d",
			       ax->key, wf->name, name, LOG_NAME_MAX);
			blamed = true;
		}
	}
	if (!blamed)
		ld_err_at(L, sg->matrix[worst_axis].value_pos[worst_value], "matrix values are too long together: the log directory name of the instance of workflow %s with the longest of each key would be %zu bytes, at most %d",
		       wf->name, base + longest, LOG_NAME_MAX);
out:
	free(min);
	free(max);
}

static size_t find_workflow(struct loader *L, const char *name)
{
	size_t i;
	return map_find(&L->workflows, name, &i) ? i : SIZE_MAX;
}

static void unknown_workflow(struct loader *L, const struct ynode *n, const char *name)
{
	const char **names = xmalloc((L->p->nworkflows + 1) * sizeof(*names));
	for (size_t i = 0; i < L->p->nworkflows; i++)
		names[i] = L->p->workflows[i].name;
	const char *s = suggest_closest(name, names, L->p->nworkflows);
	if (s)
		ld_err(L, n, "unknown workflow '%s' in stages; did you mean '%s'?", name, s);
	else
		ld_err(L, n, "unknown workflow '%s' in stages (define it under workflows:)", name);
	free(names);
}

static bool load_stage(struct loader *L, const struct ynode *n, size_t index, struct stage *sg)
{
	/* The slot may hold a rejected entry: start afresh. */
	memset(sg, 0, sizeof(*sg));
	sg->pos = ld_pos_of(n);
	sg->wf = SIZE_MAX;
	const struct ynode *name = n;
	if (n->kind == YNODE_MAP) {
		ld_check_keys(L, n, stage_keys, sizeof(stage_keys) / sizeof(stage_keys[0]),
			   "a stage entry");
		name = ynode_get(n, "workflow");
		if (!name)
			ld_err(L, n, "stage entry has no workflow (write '- workflow: NAME' or '- NAME')");
		const struct ynode *v;
		if ((v = ynode_get(n, "parallel"))) {
			if (ld_get_bool(L, v, "parallel", &sg->parallel) && sg->parallel && index == 0) {
				ld_err(L, v, "the first stage entry cannot run in parallel with a previous one: there is none");
				sg->parallel = false;
			}
		}
		if ((v = ynode_get(n, "with"))) {
			size_t before = L->d->errors;
			ld_load_kvlist(L, v, KV_WITH, "with", &sg->with);
			sg->incomplete = sg->incomplete || L->d->errors > before;
		}
		if ((v = ynode_get(n, "matrix"))) {
			size_t before = L->d->errors;
			load_matrix(L, v, sg);
			sg->incomplete = sg->incomplete || L->d->errors > before;
		}
		if ((v = ynode_get(n, "environment"))) {
			sg->environment_pos = ld_pos_of(v);
			sg->environment = load_environment_use(L, v, "a stage entry");
			sg->incomplete = sg->incomplete || !sg->environment;
		}
		if (!name)
			return false;
	} else if (n->kind != YNODE_SCALAR || ynode_is_null(n)) {
		ld_err(L, n, "a stage entry must be a workflow name or a mapping with 'workflow:', not %s",
		    ynode_kind_name(n));
		return false;
	}
	sg->workflow = ld_get_str(L, name, "workflow");
	if (!sg->workflow)
		return false;
	sg->workflow_pos = ld_pos_of(name);
	sg->wf = find_workflow(L, sg->workflow);
	if (sg->wf == SIZE_MAX) {
		unknown_workflow(L, name, sg->workflow);
		return false;
	}
	L->p->workflows[sg->wf].used = true;
	if (!sg->incomplete)
		check_instance_names(L, sg, &L->p->workflows[sg->wf]);
	return true;
}

static const char *const barrier_keys[] = { "name", "timeout", "fail-fast" };

static void load_barriers(struct loader *L, const struct ynode *n)
{
	if (ynode_is_null(n) || !ld_expect_kind(L, n, YNODE_MAP, "barriers"))
		return;
	struct pipeline *p = L->p;
	p->barriers = arena_array(L->a, n->n, sizeof(*p->barriers));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->keys[i], *v = n->vals[i];
		if (k->kind != YNODE_SCALAR)
			continue;
		if (!name_is_valid(k->str)) {
			ld_err(L, k, "bad barrier id '%s': use letters, digits, '.', '_' and '-'", k->str);
			continue;
		}
		struct barrier_decl *b = &p->barriers[p->nbarriers];
		memset(b, 0, sizeof(*b));
		b->id = k->str;
		b->pos = ld_pos_of(k);
		b->timeout_ms = DEFAULT_BARRIER_TIMEOUT_MS;
		b->fail_fast = -1;
		bool ok = true;
		if (!ynode_is_null(v)) {
			if (!ld_expect_kind(L, v, YNODE_MAP, "a barrier declaration"))
				continue;
			ld_check_keys(L, v, barrier_keys, sizeof(barrier_keys) / sizeof(barrier_keys[0]),
				      "a barrier declaration");
			const struct ynode *x;
			if ((x = ynode_get(v, "name"))) {
				b->name = ld_get_str(L, x, "name");
				ok = b->name && ld_no_exprs(L, x, "barrier names") && ok;
			}
			if ((x = ynode_get(v, "timeout")))
				ok = ld_get_duration(L, x, "timeout", true, &b->timeout_ms) && ok;
			bool ff;
			if ((x = ynode_get(v, "fail-fast")) && ld_get_bool(L, x, "fail-fast", &ff))
				b->fail_fast = ff;
			else if (x)
				ok = false;
		}
		if (ok)
			p->nbarriers++;
	}
}

static const char *const top_keys[] = {
	"name", "description", "vars", "on-failure", "fail-fast", "barriers", "environments", "stages",
	"workflows", "secrets",
};

static void load_pipeline(struct loader *L, const struct ynode *root)
{
	struct pipeline *p = L->p;
	p->on_failure = ON_FAILURE_STOP;
	if (root->kind != YNODE_MAP) {
		ld_err(L, root, "a pipeline file must be a mapping with name, stages and workflows, not %s",
		    ynode_kind_name(root));
		return;
	}
	ld_check_keys(L, root, top_keys, sizeof(top_keys) / sizeof(top_keys[0]), "the pipeline");
	const struct ynode *v;
	if ((v = ynode_get(root, "name"))) {
		p->name = ld_get_str(L, v, "name");
		if (p->name && !name_is_valid(p->name)) {
			ld_err(L, v, "bad pipeline name '%s': use letters, digits, '.', '_' and '-'", p->name);
			p->name = NULL;
		}
	} else {
		ld_err(L, root, "missing required key 'name' (the pipeline's name)");
	}
	if ((v = ynode_get(root, "description")))
		p->description = ld_get_str(L, v, "description");
	if ((v = ynode_get(root, "vars")))
		ld_load_kvlist(L, v, KV_VARS, "vars", &p->vars);
	for (size_t i = 0; i < p->vars.n; i++)
		map_add(&L->vars, p->vars.v[i].key, i, NULL);
	/* Before what may name them (env values, headers). */
	if ((v = ynode_get(root, "secrets")))
		ld_load_secrets(L, v);
	if ((v = ynode_get(root, "on-failure")))
		ld_load_on_failure(L, v, true, &p->on_failure);
	if ((v = ynode_get(root, "fail-fast")))
		ld_get_bool(L, v, "fail-fast", &p->fail_fast);
	if ((v = ynode_get(root, "barriers")))
		load_barriers(L, v);
	/* Before workflows and stages, which name them. */
	if ((v = ynode_get(root, "environments")))
		load_environments(L, v);

	const struct ynode *wfs = ynode_get(root, "workflows");
	if (!wfs) {
		ld_err(L, root, "missing required key 'workflows'");
	} else if (ld_expect_kind(L, wfs, YNODE_MAP, "workflows")) {
		if (wfs->n == 0)
			ld_err(L, wfs, "workflows must not be empty");
		p->workflows = arena_array(L->a, wfs->n, sizeof(*p->workflows));
		for (size_t i = 0; i < wfs->n; i++) {
			if (wfs->keys[i]->kind != YNODE_SCALAR)
				continue;
			/* A duplicate name was reported by the YAML layer; keep the first. */
			if (!map_add(&L->workflows, wfs->keys[i]->str, p->nworkflows, NULL))
				continue;
			load_workflow(L, wfs->keys[i], wfs->vals[i], &p->workflows[p->nworkflows]);
			p->nworkflows++;
		}
	}

	const struct ynode *stages = ynode_get(root, "stages");
	if (!stages) {
		ld_err(L, root, "missing required key 'stages' (the workflows to run, in order)");
	} else if (ld_expect_kind(L, stages, YNODE_SEQ, "stages")) {
		if (stages->n == 0)
			ld_err(L, stages, "stages must not be empty");
		p->stages = arena_array(L->a, stages->n, sizeof(*p->stages));
		for (size_t i = 0; i < stages->n; i++) {
			if (load_stage(L, stages->vals[i], i, &p->stages[p->nstages]))
				p->nstages++;
		}
	}

	for (size_t i = 0; i < p->nworkflows; i++)
		if (!p->workflows[i].used && stages)
			ld_warn_at(L, p->workflows[i].pos,
				"workflow %s is never used: no stage entry names it",
				p->workflows[i].name);
}

struct pipeline *pipeline_load_text_lenient(const char *file, const char *text, size_t len,
					    struct diag *d, bool *had_errors)
{
	size_t errors = d->errors;
	*had_errors = true;
	if (len > PIPELINE_MAX_BYTES) {
		diag_add(d, DIAG_ERROR, file, 0, 0, "file is larger than 4 MiB (%zu bytes); refusing to read it",
			 len);
		return NULL;
	}
	struct pipeline *p = xcalloc(1, sizeof(*p));
	p->file = arena_strdup(&p->arena, file);
	p->source = arena_strndup(&p->arena, text, len);
	p->source_len = len;
	struct loader L = { .file = p->file, .d = d, .p = p, .a = &p->arena };
	/* The tree is only needed while loading: the model keeps the scalar
	 * strings (in the pipeline's arena) and copies of positions, not the
	 * nodes, which are a fifth of a big pipeline's memory. */
	struct arena tree = ARENA_INIT;
	struct ynode *root = yaml_parse_split(p->file, p->source, len, &tree, &p->arena, d);
	if (root)
		load_pipeline(&L, root);
	map_release(&L.vars);
	map_release(&L.workflows);
	map_release(&L.environments);
	map_release(&L.secrets);
	bool usable = root && root->kind == YNODE_MAP && p->name;
	arena_release(&tree);
	if (!usable) {
		if (d->errors == errors)
			diag_add(d, DIAG_ERROR, file, 0, 0, "not a usable pipeline");
		pipeline_free(p);
		return NULL;
	}
	*had_errors = d->errors > errors;
	return p;
}

struct pipeline *pipeline_load_text(const char *file, const char *text, size_t len, struct diag *d)
{
	bool had_errors;
	struct pipeline *p = pipeline_load_text_lenient(file, text, len, d, &had_errors);
	if (p && had_errors) {
		pipeline_free(p);
		return NULL;
	}
	return p;
}

bool pipeline_read(const char *file, char **text, size_t *len, struct diag *d)
{
	int r = fsio_read_file(file, PIPELINE_MAX_BYTES, text, len);
	if (r == -EFBIG) {
		diag_add(d, DIAG_ERROR, file, 0, 0, "file is larger than 4 MiB; refusing to read it");
		return false;
	}
	if (r < 0) {
		diag_add(d, DIAG_ERROR, file, 0, 0, "cannot read the pipeline file: %s", strerror(-r));
		return false;
	}
	return true;
}

struct pipeline *pipeline_load_lenient(const char *file, struct diag *d, bool *had_errors)
{
	char *text;
	size_t len;
	*had_errors = true;
	if (!pipeline_read(file, &text, &len, d))
		return NULL;
	struct pipeline *p = pipeline_load_text_lenient(file, text, len, d, had_errors);
	free(text);
	return p;
}

struct pipeline *pipeline_load(const char *file, struct diag *d)
{
	bool had_errors;
	struct pipeline *p = pipeline_load_lenient(file, d, &had_errors);
	if (p && had_errors) {
		pipeline_free(p);
		return NULL;
	}
	return p;
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	arena_release(&p->arena);
	free(p);
}

/* ---- positions inside scalars ---- */

static void build_line_table(struct pipeline *p)
{
	size_t n = 1;
	for (size_t i = 0; i < p->source_len; i++)
		n += p->source[i] == '\n';
	p->line_starts = arena_array(&p->arena, n, sizeof(size_t));
	p->nlines = 0;
	p->line_starts[p->nlines++] = 0;
	for (size_t i = 0; i < p->source_len; i++)
		if (p->source[i] == '\n')
			p->line_starts[p->nlines++] = i + 1;
}

/* Byte offset of 1-based (line, col), columns counted in characters. */
static size_t byte_of(const struct pipeline *p, struct pos at)
{
	if (at.line < 1 || (size_t)at.line > p->nlines)
		return SIZE_MAX;
	size_t i = p->line_starts[at.line - 1];
	for (int c = 1; c < at.col && i < p->source_len && p->source[i] != '\n'; c++) {
		i++;
		while (i < p->source_len && ((unsigned char)p->source[i] & 0xC0) == 0x80)
			i++;
	}
	return i;
}

static struct pos pos_of_byte(const struct pipeline *p, size_t b)
{
	size_t lo = 0, hi = p->nlines;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (p->line_starts[mid] <= b)
			lo = mid;
		else
			hi = mid;
	}
	struct pos r = { (int)lo + 1, 1 };
	for (size_t i = p->line_starts[lo]; i < b; i++)
		if (((unsigned char)p->source[i] & 0xC0) != 0x80)
			r.col++;
	return r;
}

struct pos pipeline_text_pos(const struct pipeline *cp, struct pos start, const char *value,
			     size_t offset)
{
	if (!cp->source || !value || offset > strlen(value))
		return start;
	/* The line table is a cache; building it does not change the pipeline's meaning. */
	struct pipeline *p = (struct pipeline *)cp;
	if (!p->line_starts)
		build_line_table(p);
	/* Which "${{" of the value holds the offset, and how far into it. */
	size_t k = 0, last = SIZE_MAX;
	for (const char *s = value; (s = strstr(s, "${{")) && (size_t)(s - value) <= offset; s += 3) {
		last = (size_t)(s - value);
		k++;
	}
	if (last == SIZE_MAX)
		return start;
	size_t delta = offset - last;
	const char *expr = value + last;
	const char *close = strstr(expr, "}}");
	size_t elen = close ? (size_t)(close - expr) + 2 : strlen(expr);
	if (delta > elen)
		return start;
	size_t b = byte_of(p, start);
	if (b == SIZE_MAX)
		return start;
	const char *src = p->source, *end = p->source + p->source_len;
	const char *at = src + b;
	for (size_t i = 0; i < k; i++) {
		at = memmem(at, (size_t)(end - at), "${{", 3);
		if (!at)
			return start;
		if (i + 1 < k)
			at += 3;
	}
	/* Only trust the match when the expression is there verbatim. */
	if ((size_t)(end - at) < elen || memcmp(at, expr, elen) != 0)
		return start;
	return pos_of_byte(p, (size_t)(at - src) + delta);
}
