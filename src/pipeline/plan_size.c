#include "pipeline/plan_size.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/map.h"
#include "base/xalloc.h"
#include "pipeline/expr.h"

/* Sizes saturate instead of wrapping: a hostile file must not come out small. */
static uint64_t add(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t mul(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/*
 * What some text costs each instance of a stage entry, as a sum the entry
 * can evaluate without expanding anything: `fixed` bytes in every
 * instance (literal text, and vars, pipeline.name and the ${{ run.id }}
 * that stays), plus the length of the instance name for each reference to
 * workflow.name, plus the length of the instance's value for each
 * reference to a matrix key or an input.
 */
struct profile {
	uint64_t fixed;
	uint64_t wfname;        /* references to workflow.name */
	struct map matrix;      /* matrix key -> index into refs */
	struct map inputs;      /* input key -> index into refs */
	VEC(uint64_t) refs;     /* references to each key */
	struct arena keys;      /* the keys of the maps */
};

/* A workflow's fields, profiled once for all the entries that run it. */
struct wf_profile {
	bool done;
	uint64_t steps;         /* steps and rollback steps */
	struct profile text;    /* everything but the environment name */
	struct profile envname; /* environment: NAME, used when an entry gives none */
};

struct sizer {
	const struct pipeline *p;
	const struct kvlist *vars;
	struct map vars_index;  /* var name -> index into vars */
	struct wf_profile *wfs;
	const struct workflow *wf; /* the workflow being profiled */
	struct buf key;
};

/* One stage entry: its instance count and what its instances are made of. */
struct entry {
	const struct stage *sg;
	uint64_t n;             /* instances */
	uint64_t *values;       /* the lengths of each matrix axis's values, together */
	uint64_t namesum;       /* the lengths of the instances' names, together */
	uint64_t *with_len;     /* the length of each with: value, evaluated */
};

static void profile_release(struct profile *P)
{
	map_release(&P->matrix);
	map_release(&P->inputs);
	VEC_FREE(P->refs);
	arena_release(&P->keys);
}

struct add_ctx {
	struct sizer *Z;
	struct profile *P;
	uint64_t weight;
	uint64_t literal;       /* the text outside expressions */
	uint64_t values;        /* the values of the expressions every instance has alike */
};

static void add_ref(struct add_ctx *c, struct map *m)
{
	struct profile *P = c->P;
	size_t i;
	if (!map_find(m, c->Z->key.s, &i)) {
		i = P->refs.n;
		*VEC_PUSH(P->refs) = 0;
		map_add(m, arena_strdup(&P->keys, c->Z->key.s), i, NULL);
	}
	P->refs.v[i] = add(P->refs.v[i], c->weight);
}

static void add_text(struct sizer *Z, struct profile *P, const char *s, uint64_t weight);

/*
 * ${{ env.X }} (an http-check's url and headers): the workflow's env X,
 * profiled as written (it is evaluated per instance; it holds no env.*),
 * else the longest X of the environments (each expanded once), an upper
 * bound when the instances run in several.
 */
static void add_env_ref(struct add_ctx *c)
{
	struct sizer *Z = c->Z;
	const struct kvlist *wenv = Z->wf ? &Z->wf->env : NULL;
	/* add_text() below scans again, into Z->key. */
	char *key = xstrdup(Z->key.s);
	for (size_t i = 0; wenv && i < wenv->n; i++) {
		if (!strcmp(wenv->v[i].key, key)) {
			add_text(Z, c->P, wenv->v[i].val, c->weight);
			free(key);
			return;
		}
	}
	uint64_t longest = 0;
	for (size_t e = 0; e < Z->p->nenvironments; e++) {
		const struct kvlist *env = &Z->p->environments[e].env;
		for (size_t i = 0; i < env->n; i++) {
			if (strcmp(env->v[i].key, key))
				continue;
			struct profile one = { 0 };
			add_text(Z, &one, env->v[i].val, 1);
			if (one.fixed > longest)
				longest = one.fixed;
			profile_release(&one);
		}
	}
	free(key);
	c->values = add(c->values, longest);
}

static int add_ref_cb(const struct expr_ref *ref, void *arg)
{
	struct add_ctx *c = arg;
	struct sizer *Z = c->Z;
	size_t i;
	c->literal -= ref->length;
	buf_reset(&Z->key);
	buf_add(&Z->key, ref->key, ref->keylen);
	switch (ref->root) {
	case EXPR_VARS:
		/* An unknown var is an error expansion reports; it adds nothing. */
		if (map_find(&Z->vars_index, Z->key.s, &i))
			c->values = add(c->values, strlen(Z->vars->v[i].val));
		break;
	case EXPR_PIPELINE:
		c->values = add(c->values, Z->p->name ? strlen(Z->p->name) : 0);
		break;
	case EXPR_RUN:
		c->values = add(c->values, ref->length); /* kept until the run starts */
		break;
	case EXPR_WORKFLOW:
		c->P->wfname = add(c->P->wfname, c->weight);
		break;
	case EXPR_MATRIX:
		add_ref(c, &c->P->matrix);
		break;
	case EXPR_INPUTS:
		add_ref(c, &c->P->inputs);
		break;
	case EXPR_ENV:
		add_env_ref(c);
		break;
	default:
		break;
	}
	return 0;
}

/* Adds text `s` (NULL: none), counted `weight` times per instance, to `P`. */
static void add_text(struct sizer *Z, struct profile *P, const char *s, uint64_t weight)
{
	if (!s)
		return;
	struct add_ctx c = { Z, P, weight, strlen(s), 0 };
	if (expr_has(s)) {
		/* A malformed expression was reported by the loader; the text
		 * as written is a fair size for it. */
		struct buf err = BUF_INIT;
		size_t off;
		if (expr_scan(s, add_ref_cb, &c, &err, &off) < 0) {
			c.literal = strlen(s);
			c.values = 0;
		}
		buf_release(&err);
	}
	P->fixed = add(P->fixed, mul(add(c.literal, c.values), weight));
}

/* A map copied for each instance: each entry, its key and its value. */
static void add_entries(struct sizer *Z, struct profile *P, const struct kvlist *kv)
{
	for (size_t i = 0; i < kv->n; i++) {
		P->fixed = add(P->fixed, PLAN_ENTRY_BYTES + strlen(kv->v[i].key));
		add_text(Z, P, kv->v[i].val, 1);
	}
}

/* The fields expand_steps() evaluates for each instance. */
static void add_steps(struct sizer *Z, struct profile *P, const struct steplist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct step *st = &l->v[i];
		if (st->name_explicit)
			add_text(Z, P, st->name, 1);
		switch (st->kind) {
		case STEP_RUN:
			add_text(Z, P, st->run, 1);
			add_text(Z, P, st->dir, 1);
			break;
		case STEP_BARRIER:
			/* Without a name, the id is in the name "barrier ID" too. */
			add_text(Z, P, st->barrier, st->name_explicit ? 1 : 2);
			break;
		case STEP_HTTP_CHECK:
			if (st->http) {
				add_text(Z, P, st->http->url, 1);
				add_text(Z, P, st->http->expect_body, 1);
				add_entries(Z, P, &st->http->headers);
			}
			break;
		case STEP_K8S_ROLLING:
			if (st->k8s) {
				for (size_t m = 0; m < st->k8s->nmanifests; m++) {
					P->fixed = add(P->fixed, PLAN_ENTRY_BYTES);
					add_text(Z, P, st->k8s->manifests[m], 1);
				}
				add_text(Z, P, st->k8s->kube_namespace, 1);
				add_text(Z, P, st->k8s->kube_context, 1);
			}
			break;
		default:
			break;
		}
		add_entries(Z, P, &st->env);
	}
}

static struct wf_profile *workflow_profile(struct sizer *Z, size_t w)
{
	struct wf_profile *W = &Z->wfs[w];
	if (W->done)
		return W;
	const struct workflow *wf = &Z->p->workflows[w];
	W->done = true;
	Z->wf = wf;
	W->steps = (uint64_t)wf->steps.n + wf->rollback.n;
	add_entries(Z, &W->text, &wf->env);
	add_steps(Z, &W->text, &wf->steps);
	add_steps(Z, &W->text, &wf->rollback);
	Z->wf = NULL;
	add_text(Z, &W->envname, wf->environment, 1);
	return W;
}

/* What profile `P` adds up to over the instances of entry `E`. */
static uint64_t profile_total(const struct profile *P, const struct entry *E)
{
	const struct stage *sg = E->sg;
	uint64_t t = add(mul(E->n, P->fixed), mul(P->wfname, E->namesum));
	size_t i;
	for (size_t k = 0; k < sg->nmatrix && P->matrix.n; k++) {
		const struct matrix_axis *ax = &sg->matrix[k];
		if (!map_find(&P->matrix, ax->key, &i))
			continue; /* a key the entry lacks is an error of expansion */
		/* Each value is in n / ax->n instances. */
		t = add(t, mul(P->refs.v[i], mul(E->n / ax->n, E->values[k])));
	}
	for (size_t w = 0; w < sg->with.n && P->inputs.n; w++)
		if (map_find(&P->inputs, sg->with.v[w].key, &i))
			t = add(t, mul(P->refs.v[i], mul(E->n, E->with_len[w])));
	return t;
}

/*
 * The text of entry `E`'s instances besides the workflow's: their names,
 * their matrix values and with: inputs (each instance has its copies),
 * and the environment name. Fills in what profile_total() needs.
 */
static uint64_t entry_text(struct sizer *Z, struct entry *E, const struct wf_profile *W)
{
	const struct stage *sg = E->sg;
	const struct workflow *wf = &Z->p->workflows[sg->wf];
	/* NAME[KEY=VALUE,...]: the part every instance has, then the values. */
	uint64_t name = strlen(wf->name) + (sg->nmatrix ? 2 + (sg->nmatrix - 1) : 0);
	uint64_t matrix = 0, values = 0;
	E->values = xcalloc(sg->nmatrix + 1, sizeof(*E->values));
	for (size_t k = 0; k < sg->nmatrix; k++) {
		const struct matrix_axis *ax = &sg->matrix[k];
		for (size_t j = 0; j < ax->n; j++)
			E->values[k] = add(E->values[k], strlen(ax->values[j]));
		name += strlen(ax->key) + 1;
		/* Each value is in n / ax->n instances. */
		values = add(values, mul(E->n / ax->n, E->values[k]));
		matrix = add(matrix, mul(E->n, PLAN_ENTRY_BYTES + strlen(ax->key)));
	}
	E->namesum = add(mul(E->n, name), values);
	matrix = add(matrix, values);
	/* with: values may use vars and pipeline.name only: one length each. */
	uint64_t with = 0;
	E->with_len = xcalloc(sg->with.n + 1, sizeof(*E->with_len));
	for (size_t w = 0; w < sg->with.n; w++) {
		struct profile one = { 0 };
		add_text(Z, &one, sg->with.v[w].val, 1);
		E->with_len[w] = one.fixed;
		profile_release(&one);
		with = add(with, add(PLAN_ENTRY_BYTES + strlen(sg->with.v[w].key), E->with_len[w]));
	}
	uint64_t t = add(add(E->namesum, matrix), mul(E->n, with));
	if (sg->environment) {
		struct profile one = { 0 };
		add_text(Z, &one, sg->environment, 1);
		t = add(t, profile_total(&one, E));
		profile_release(&one);
	} else {
		t = add(t, profile_total(&W->envname, E));
	}
	return t;
}

/* Instances of entry `sg`, at most PLAN_MAX_INSTANCES + 1 (too many). */
static uint64_t entry_instances(const struct stage *sg)
{
	uint64_t n = 1;
	for (size_t k = 0; k < sg->nmatrix; k++) {
		n *= sg->matrix[k].n;
		if (n > PLAN_MAX_INSTANCES)
			return PLAN_MAX_INSTANCES + 1;
	}
	return n;
}

static void report_steps(const struct pipeline *p, const struct stage *sg, uint64_t total,
			 uint64_t n, uint64_t steps, struct diag *d)
{
	diag_add(d, DIAG_ERROR, p->file, sg->pos.line, sg->pos.col,
		 "the plan would have %llu steps, more than %d: this stage entry runs workflow %s %llu time%s with %llu step%s each (use a smaller matrix or fewer steps)",
		 (unsigned long long)total, PLAN_MAX_STEPS, p->workflows[sg->wf].name,
		 (unsigned long long)n, n == 1 ? "" : "s", (unsigned long long)steps,
		 steps == 1 ? "" : "s");
}

static void report_text(const struct pipeline *p, const struct stage *sg, uint64_t total,
			uint64_t added, uint64_t n, struct diag *d)
{
	diag_add(d, DIAG_ERROR, p->file, sg->pos.line, sg->pos.col,
		 "the plan's expanded text would be %llu MiB, more than %llu MiB: this stage entry adds %llu MiB, running workflow %s %llu time%s (use a smaller matrix, shorter steps and values, or fewer references to long vars)",
		 (unsigned long long)(total >> 20), (unsigned long long)(PLAN_MAX_TEXT_BYTES >> 20),
		 (unsigned long long)(added >> 20), p->workflows[sg->wf].name, (unsigned long long)n,
		 n == 1 ? "" : "s");
}

bool plan_size_check(const struct pipeline *p, const struct kvlist *vars, struct plan_size *out,
		     struct diag *d)
{
	struct sizer Z = { .p = p, .vars = vars, .key = BUF_INIT };
	Z.wfs = xcalloc(p->nworkflows + 1, sizeof(*Z.wfs));
	for (size_t i = 0; i < vars->n; i++)
		map_add(&Z.vars_index, vars->v[i].key, i, NULL);
	memset(out, 0, sizeof(*out));
	bool ok = true;
	/* Environments are expanded once for the whole plan (vars and
	 * pipeline.name only), but a var can still be long. */
	for (size_t e = 0; e < p->nenvironments && ok; e++) {
		const struct environment *env = &p->environments[e];
		struct profile one = { 0 };
		add_text(&Z, &one, env->kube_context, 1);
		add_text(&Z, &one, env->kube_namespace, 1);
		add_text(&Z, &one, env->kubeconfig, 1);
		add_entries(&Z, &one, &env->env);
		uint64_t text = one.fixed;
		profile_release(&one);
		out->text = add(out->text, text);
		if (out->text > PLAN_MAX_TEXT_BYTES) {
			diag_add(d, DIAG_ERROR, p->file, env->pos.line, env->pos.col,
				 "the plan's expanded text would be %llu MiB, more than %llu MiB: environment %s alone expands to %llu MiB (use fewer references to long vars)",
				 (unsigned long long)(out->text >> 20),
				 (unsigned long long)(PLAN_MAX_TEXT_BYTES >> 20), env->name,
				 (unsigned long long)(text >> 20));
			ok = false;
		}
	}
	for (size_t s = 0; s < p->nstages && ok; s++) {
		const struct stage *sg = &p->stages[s];
		uint64_t n = entry_instances(sg);
		out->instances += n;
		if (out->instances > PLAN_MAX_INSTANCES) {
			diag_add(d, DIAG_ERROR, p->file, sg->pos.line, sg->pos.col,
				 "the plan has more than %d workflow instances (matrix too large)",
				 PLAN_MAX_INSTANCES);
			ok = false;
			break;
		}
		/* Expansion skips it: its problems were reported while loading. */
		if (sg->incomplete)
			continue;
		const struct wf_profile *W = workflow_profile(&Z, sg->wf);
		out->steps = add(out->steps, mul(n, W->steps));
		if (out->steps > PLAN_MAX_STEPS) {
			report_steps(p, sg, out->steps, n, W->steps, d);
			ok = false;
			break;
		}
		struct entry E = { .sg = sg, .n = n };
		/* entry_text() first: it works out what profile_total() needs. */
		uint64_t text = entry_text(&Z, &E, W);
		text = add(text, profile_total(&W->text, &E));
		out->text = add(out->text, text);
		free(E.values);
		free(E.with_len);
		if (out->text > PLAN_MAX_TEXT_BYTES) {
			report_text(p, sg, out->text, text, n, d);
			ok = false;
		}
	}
	for (size_t w = 0; w < p->nworkflows; w++) {
		profile_release(&Z.wfs[w].text);
		profile_release(&Z.wfs[w].envname);
	}
	free(Z.wfs);
	map_release(&Z.vars_index);
	buf_release(&Z.key);
	return ok;
}
