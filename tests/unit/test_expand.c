/*
 * Tests for pipeline/expand.c: groups, matrix fan-out and instance names,
 * substitution of inputs, vars (with --var overrides), matrix values and
 * names into step fields, barrier collection with participants, and the
 * errors expansion reports.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "support/diags.h"

#include "base/buf.h"
#include "base/diag.h"
#include "pipeline/check.h"
#include "pipeline/expand.h"
#include "pipeline/load.h"
#include "pipeline/model.h"
#include "pipeline/plan_size.h"

/* ---- helpers ---- */

struct built {
	struct diag d;
	struct pipeline *p;
	struct plan *plan;
};

/* Loads `text` (which must load cleanly) and builds its plan. */
static void build_with(struct built *B, const char *text, const struct kvlist *overrides)
{
	memset(B, 0, sizeof(*B));
	B->p = pipeline_load_text("p.yml", text, strlen(text), &B->d);
	if (!B->p) {
		dump_diags(&B->d);
		fail_msg("the pipeline does not load");
	}
	B->plan = plan_build(B->p, overrides, &B->d);
}

/* Loads and builds `text`; both must succeed without diagnostics. */
static void build_ok(struct built *B, const char *text)
{
	build_with(B, text, NULL);
	if (!B->plan || B->d.n) {
		dump_diags(&B->d);
		fail_msg("plan_build failed or reported something");
	}
}

static void release(struct built *B)
{
	plan_free(B->plan);
	pipeline_free(B->p);
	diag_release(&B->d);
}

static void assert_error_at(const struct diag *d, int line, int col, const char *sub)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct diag_item *it = &d->items[i];
		if (it->severity == DIAG_ERROR && it->line == line && it->col == col &&
		    strstr(it->message, sub))
			return;
	}
	dump_diags(d);
	fail_msg("no error at %d:%d containing \"%s\"", line, col, sub);
}

/* Asserts `d` holds exactly one item: an error at line:col saying `msg`. */
static void assert_only_error(const struct diag *d, int line, int col, const char *msg)
{
	if (d->n != 1 || d->errors != 1 || d->items[0].line != line || d->items[0].col != col ||
	    strcmp(d->items[0].message, msg)) {
		dump_diags(d);
		fail_msg("expected only %d:%d: %s", line, col, msg);
	}
}

static const struct plan_workflow *wf_named(const struct plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->nworkflows; i++)
		if (!strcmp(plan->workflows[i].name, name))
			return &plan->workflows[i];
	fail_msg("no workflow instance %s", name);
	return NULL;
}

static size_t wf_index(const struct plan *plan, const char *name)
{
	return (size_t)(wf_named(plan, name) - plan->workflows);
}

static const char *kv_get(const struct kvlist *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].key, key))
			return l->v[i].val;
	return NULL;
}

static const struct plan_barrier *barrier_named(const struct plan_barrier *bs, size_t n,
						const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(bs[i].id, id))
			return &bs[i];
	return NULL;
}

/* ---- groups ---- */

static void test_groups(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"
		"stages:\n"
		"  - a\n"
		"  - workflow: b\n"
		"    parallel: true\n"
		"  - c\n"
		"  - workflow: d\n"
		"    parallel: true\n"
		"  - workflow: e\n"
		"    parallel: true\n"
		"  - workflow: f\n"
		"    parallel: false\n"
		"workflows:\n"
		"  a: {steps: [{run: a}]}\n"
		"  b: {steps: [{run: b}]}\n"
		"  c: {steps: [{run: c}]}\n"
		"  d: {steps: [{run: d}]}\n"
		"  e: {steps: [{run: e}]}\n"
		"  f: {steps: [{run: f}]}\n";
	struct built B;
	build_ok(&B, text);
	const struct plan *plan = B.plan;
	assert_ptr_equal(plan->pipeline, B.p);
	assert_int_equal(plan->nworkflows, 6);
	static const char *const names[] = { "a", "b", "c", "d", "e", "f" };
	static const size_t groups[] = { 0, 0, 1, 1, 1, 2 };
	for (size_t i = 0; i < 6; i++) {
		assert_string_equal(plan->workflows[i].name, names[i]);
		assert_int_equal(plan->workflows[i].group, groups[i]);
		assert_int_equal(plan->workflows[i].stage_index, i);
		assert_ptr_equal(plan->workflows[i].stage, &B.p->stages[i]);
		assert_ptr_equal(plan->workflows[i].src, &B.p->workflows[i]);
		assert_int_equal(plan->workflows[i].matrix.n, 0);
		assert_int_equal(plan->workflows[i].nsteps, 1);
		assert_int_equal(plan->workflows[i].nrollback, 0);
	}
	assert_int_equal(plan->ngroups, 3);
	assert_int_equal(plan->groups[0].n, 2);
	assert_int_equal(plan->groups[0].wfs[0], 0);
	assert_int_equal(plan->groups[0].wfs[1], 1);
	assert_int_equal(plan->groups[1].n, 3);
	assert_int_equal(plan->groups[1].wfs[0], 2);
	assert_int_equal(plan->groups[1].wfs[2], 4);
	assert_int_equal(plan->groups[2].n, 1);
	assert_int_equal(plan->groups[2].wfs[0], 5);
	assert_int_equal(plan->nbarriers, 0);
	assert_int_equal(plan->nrollback_barriers, 0);
	release(&B);
}

static void test_all_sequential(void **state)
{
	(void)state;
	struct built B;
	build_ok(&B, "name: p\nstages: [a, b, c]\nworkflows:\n"
		     "  a: {steps: [{run: a}]}\n  b: {steps: [{run: b}]}\n  c: {steps: [{run: c}]}\n");
	assert_int_equal(B.plan->ngroups, 3);
	for (size_t g = 0; g < 3; g++) {
		assert_int_equal(B.plan->groups[g].n, 1);
		assert_int_equal(B.plan->groups[g].wfs[0], g);
	}
	release(&B);
}

/* ---- matrix ---- */

static void test_matrix_expansion(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"
		"stages:\n"
		"  - setup\n"
		"  - workflow: deploy\n"
		"    matrix:\n"
		"      region: [eu, us]\n"
		"      tier: [web, api, db]\n"
		"  - workflow: after\n"
		"    parallel: true\n"
		"workflows:\n"
		"  setup: {steps: [{run: s}]}\n"
		"  after: {steps: [{run: a}]}\n"
		"  deploy:\n"
		"    env: {WHERE: \"${{ matrix.region }}/${{ matrix.tier }}\"}\n"
		"    steps:\n"
		"      - run: echo ${{ workflow.name }} ${{ matrix.region }}\n"
		"        name: deploy ${{ matrix.tier }} in ${{ matrix.region }}\n";
	struct built B;
	build_ok(&B, text);
	const struct plan *plan = B.plan;
	assert_int_equal(plan->nworkflows, 8);
	/* Cartesian product, the last axis varying fastest. */
	static const char *const names[] = {
		"deploy[region=eu,tier=web]", "deploy[region=eu,tier=api]", "deploy[region=eu,tier=db]",
		"deploy[region=us,tier=web]", "deploy[region=us,tier=api]", "deploy[region=us,tier=db]",
	};
	assert_string_equal(plan->workflows[0].name, "setup");
	assert_int_equal(plan->workflows[0].group, 0);
	for (size_t i = 0; i < 6; i++) {
		const struct plan_workflow *w = &plan->workflows[1 + i];
		assert_string_equal(w->name, names[i]);
		assert_int_equal(w->group, 1);
		assert_int_equal(w->stage_index, 1);
		assert_int_equal(w->matrix.n, 2);
		assert_string_equal(w->matrix.v[0].key, "region");
		assert_string_equal(w->matrix.v[0].val, i < 3 ? "eu" : "us");
		assert_string_equal(w->matrix.v[1].key, "tier");
		static const char *const tiers[] = { "web", "api", "db" };
		assert_string_equal(w->matrix.v[1].val, tiers[i % 3]);
	}
	/* The entry after the matrix joins the matrix's group. */
	assert_string_equal(plan->workflows[7].name, "after");
	assert_int_equal(plan->workflows[7].group, 1);
	assert_int_equal(plan->ngroups, 2);
	assert_int_equal(plan->groups[1].n, 7);

	const struct plan_workflow *w = wf_named(plan, "deploy[region=us,tier=api]");
	assert_string_equal(w->steps[0].run, "echo deploy[region=us,tier=api] us");
	assert_string_equal(w->steps[0].name, "deploy api in us");
	assert_string_equal(kv_get(&w->env, "WHERE"), "us/api");
	/* The source step is shared, unexpanded. */
	assert_string_equal(w->steps[0].src->run, "echo ${{ workflow.name }} ${{ matrix.region }}");
	assert_string_equal(w->steps[0].id, "step-1");
	release(&B);
}

static void test_matrix_barriers_per_value(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"                                      /* 1 */
		"barriers:\n"                                    /* 2 */
		"  ready-eu: {name: EU ready, timeout: 30s}\n"   /* 3 */
		"stages:\n"                                      /* 4 */
		"  - workflow: deploy\n"                         /* 5 */
		"    matrix: {region: [eu, us]}\n"               /* 6 */
		"  - workflow: verify\n"                         /* 7 */
		"    parallel: true\n"                           /* 8 */
		"    matrix: {region: [eu, us]}\n"               /* 9 */
		"workflows:\n"                                   /* 10 */
		"  deploy:\n"                                    /* 11 */
		"    steps:\n"                                   /* 12 */
		"      - run: d\n"                               /* 13 */
		"      - barrier: ready-${{ matrix.region }}\n"  /* 14 */
		"  verify:\n"                                    /* 15 */
		"    steps:\n"                                   /* 16 */
		"      - barrier: ready-${{ matrix.region }}\n"  /* 17 */
		"      - run: v\n";                              /* 18 */
	struct built B;
	build_ok(&B, text);
	const struct plan *plan = B.plan;
	assert_int_equal(plan->nworkflows, 4);
	size_t de = wf_index(plan, "deploy[region=eu]"), du = wf_index(plan, "deploy[region=us]");
	size_t ve = wf_index(plan, "verify[region=eu]"), vu = wf_index(plan, "verify[region=us]");
	assert_int_equal(plan->nbarriers, 2);
	assert_int_equal(plan->nrollback_barriers, 0);

	const struct plan_barrier *eu = barrier_named(plan->barriers, plan->nbarriers, "ready-eu");
	const struct plan_barrier *us = barrier_named(plan->barriers, plan->nbarriers, "ready-us");
	assert_non_null(eu);
	assert_non_null(us);
	assert_false(eu->rollback);
	assert_int_equal(eu->group, 0);
	/* Declared: its title and timeout come from the declaration. */
	assert_ptr_equal(eu->decl, &B.p->barriers[0]);
	assert_string_equal(eu->title, "EU ready");
	assert_int_equal(eu->timeout_ms, 30000);
	/* Undeclared: the default timeout, no title. */
	assert_null(us->decl);
	assert_null(us->title);
	assert_int_equal(us->timeout_ms, DEFAULT_BARRIER_TIMEOUT_MS);

	/* Participants in workflow order, with the step index of the barrier. */
	assert_int_equal(eu->nuses, 2);
	assert_int_equal(eu->uses[0].wf, de);
	assert_int_equal(eu->uses[0].step, 1);
	assert_int_equal(eu->uses[1].wf, ve);
	assert_int_equal(eu->uses[1].step, 0);
	assert_int_equal(us->nuses, 2);
	assert_int_equal(us->uses[0].wf, du);
	assert_int_equal(us->uses[1].wf, vu);

	/* Steps know their barrier. */
	const struct plan_step *s = &plan->workflows[vu].steps[0];
	assert_string_equal(s->barrier, "ready-us");
	assert_ptr_equal(&plan->barriers[s->barrier_index], us);
	assert_string_equal(s->name, "barrier ready-us");
	s = &plan->workflows[de].steps[1];
	assert_string_equal(s->barrier, "ready-eu");
	assert_ptr_equal(&plan->barriers[s->barrier_index], eu);
	assert_null(plan->workflows[de].steps[0].barrier);

	struct buf b = BUF_INIT;
	plan_barrier_participants(plan, eu, &b);
	assert_string_equal(b.s, "deploy[region=eu] and verify[region=eu]");
	buf_release(&b);

	/* Per-region barriers have two participants each: the plan is valid. */
	assert_int_equal(plan_check(plan, &B.d), 0);
	assert_int_equal(B.d.errors, 0);
	release(&B);
}

static void test_participants_text(void **state)
{
	(void)state;
	struct built B;
	build_ok(&B, "name: p\nstages:\n  - workflow: w\n    matrix: {n: [a, b, c]}\n"
		     "workflows:\n  w: {steps: [{barrier: X}]}\n");
	assert_int_equal(B.plan->nbarriers, 1);
	struct buf b = BUF_INIT;
	plan_barrier_participants(B.plan, &B.plan->barriers[0], &b);
	assert_string_equal(b.s, "w[n=a], w[n=b] and w[n=c]");
	buf_release(&b);
	release(&B);
}

static void test_matrix_too_large(void **state)
{
	(void)state;
	/* 5 axes of 20 values: 3,200,000 instances. */
	struct buf t = BUF_INIT;
	buf_adds(&t, "name: p\nstages:\n  - a\n  - workflow: w\n    matrix:\n");
	for (int k = 0; k < 5; k++) {
		buf_addf(&t, "      k%d: [", k);
		for (int v = 0; v < 20; v++)
			buf_addf(&t, "%sv%d", v ? ", " : "", v);
		buf_adds(&t, "]\n");
	}
	buf_adds(&t, "workflows:\n  a: {steps: [{run: a}]}\n  w: {steps: [{run: x}]}\n");
	struct built B;
	build_with(&B, t.s, NULL);
	assert_null(B.plan);
	assert_int_equal(B.d.errors, 1);
	assert_error_at(&B.d, 4, 5, "more than 100000 workflow instances");
	release(&B);
	buf_release(&t);
}

/*
 * Refused after vars were indexed: their index is freed (the sanitizer
 * builds find a leak otherwise).
 */
static void test_matrix_too_large_with_vars(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"
		"vars: {v: 1}\n"
		"environments: {prod: {}}\n"
		"stages:\n"
		"  - workflow: w\n"
		"    matrix:\n"
		"      a: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
		"      b: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
		"      c: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
		"      d: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
		"      e: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
		"      f: [0, 1]\n"
		"workflows:\n"
		"  w: {environment: prod, steps: [{run: 'echo ${{ vars.v }}'}]}\n";
	struct built B;
	build_with(&B, text, NULL);
	assert_null(B.plan);
	assert_int_equal(B.d.errors, 1);
	assert_error_at(&B.d, 5, 5, "more than 100000 workflow instances");
	release(&B);
}

static void test_matrix_limit_counts_the_whole_plan(void **state)
{
	(void)state;
	/* 10^5 instances from one entry, then one more entry: one too many. */
	static const char text[] =
		"name: p\n"
		"stages:\n"
		"  - workflow: w\n"
		"    matrix:\n"
		"      a: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
		"      b: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
		"      c: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
		"      d: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
		"      e: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
		"  - x\n"
		"workflows:\n"
		"  w: {steps: [{run: x}]}\n"
		"  x: {steps: [{run: x}]}\n";
	struct built B;
	build_with(&B, text, NULL);
	assert_null(B.plan);
	assert_int_equal(B.d.errors, 1);
	assert_error_at(&B.d, 10, 5, "more than 100000 workflow instances");
	release(&B);
}

static void test_matrix_at_the_limit(void **state)
{
	(void)state;
	/* Exactly PLAN_MAX_INSTANCES instances are allowed. */
	static const char text[] =
		"name: p\n"
		"stages:\n"
		"  - workflow: w\n"
		"    matrix:\n"
		"      a: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
		"      b: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
		"      c: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
		"      d: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
		"      e: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
		"workflows:\n"
		"  w: {steps: [{run: x}]}\n";
	struct built B;
	build_ok(&B, text);
	assert_int_equal(B.plan->nworkflows, PLAN_MAX_INSTANCES);
	assert_int_equal(B.plan->ngroups, 1);
	assert_int_equal(B.plan->groups[0].n, PLAN_MAX_INSTANCES);
	assert_string_equal(B.plan->workflows[0].name, "w[a=0,b=0,c=0,d=0,e=0]");
	assert_string_equal(B.plan->workflows[PLAN_MAX_INSTANCES - 1].name, "w[a=9,b=9,c=9,d=9,e=9]");
	assert_string_equal(B.plan->workflows[12345].name, "w[a=1,b=2,c=3,d=4,e=5]");
	release(&B);
}

/* ---- the size of a plan, known before expansion ---- */

static uint64_t kv_bytes(const struct kvlist *kv)
{
	uint64_t n = 0;
	for (size_t i = 0; i < kv->n; i++)
		n += PLAN_ENTRY_BYTES + strlen(kv->v[i].key) + strlen(kv->v[i].val);
	return n;
}

/* The text of steps as plan_size.h defines it, counted in the built plan. */
static uint64_t steps_bytes(const struct plan_step *v, size_t n)
{
	uint64_t t = 0;
	for (size_t i = 0; i < n; i++) {
		const struct plan_step *ps = &v[i];
		const struct step *st = ps->src;
		if (st->name_explicit)
			t += strlen(ps->name);
		if (st->kind == STEP_RUN)
			t += strlen(ps->run) + (ps->dir ? strlen(ps->dir) : 0);
		if (st->kind == STEP_BARRIER)
			t += strlen(ps->barrier) * (st->name_explicit ? 1 : 2);
		if (st->kind == STEP_HTTP_CHECK) {
			t += strlen(ps->http->url) + kv_bytes(&ps->http->headers);
			t += ps->http->expect_body ? strlen(ps->http->expect_body) : 0;
		}
		if (st->kind == STEP_K8S_ROLLING) {
			for (size_t m = 0; m < ps->k8s->nmanifests; m++)
				t += PLAN_ENTRY_BYTES + strlen(ps->k8s->manifests[m]);
			if (ps->k8s->namespace_from_step)
				t += strlen(ps->k8s->kube_namespace);
			if (ps->k8s->context_from_step)
				t += strlen(ps->k8s->kube_context);
		}
		t += kv_bytes(&ps->env);
	}
	return t;
}

/*
 * Builds `text` and checks that plan_size_check(), which reads only the
 * file, predicted the plan that expansion made: its instances, steps and
 * text, to the byte.
 */
static void assert_size_predicted(const char *text)
{
	struct built B;
	build_ok(&B, text);
	const struct plan *plan = B.plan;
	uint64_t steps = 0, bytes = 0;
	for (size_t e = 0; e < plan->nenvironments; e++) {
		const struct plan_environment *pe = &plan->environments[e];
		bytes += pe->kube_context ? strlen(pe->kube_context) : 0;
		bytes += pe->kube_namespace ? strlen(pe->kube_namespace) : 0;
		bytes += pe->kubeconfig ? strlen(pe->kubeconfig) : 0;
		bytes += kv_bytes(&pe->env);
	}
	for (size_t w = 0; w < plan->nworkflows; w++) {
		const struct plan_workflow *pw = &plan->workflows[w];
		steps += pw->nsteps + pw->nrollback;
		bytes += strlen(pw->name) + kv_bytes(&pw->matrix) + kv_bytes(&pw->inputs) +
			 kv_bytes(&pw->env);
		if (pw->environment)
			bytes += strlen(pw->environment->name);
		bytes += steps_bytes(pw->steps, pw->nsteps) + steps_bytes(pw->rollback, pw->nrollback);
	}
	struct plan_size size;
	struct diag d = DIAG_INIT;
	assert_true(plan_size_check(B.p, &plan->vars, &size, &d));
	assert_int_equal(d.n, 0);
	assert_int_equal(size.instances, plan->nworkflows);
	assert_int_equal(size.steps, steps);
	assert_int_equal(size.text, bytes);
	diag_release(&d);
	release(&B);
}

static void test_plan_size_predicts_the_plan(void **state)
{
	(void)state;
	/* Every field expansion evaluates, with every root of expressions. */
	assert_size_predicted(
		"name: sized\n"
		"vars: {v: version-1.2.3, host: example.com}\n"
		"environments:\n"
		"  prod-eu:\n"
		"    kubernetes: {namespace: shop, context: \"ctx-${{ vars.v }}\", kubeconfig: k/c}\n"
		"    env: {RELEASE: \"${{ pipeline.name }}-${{ run.id }}\", PLAIN: p}\n"
		"  prod-useast: {}\n"
		"  staging: {}\n"
		"stages:\n"
		"  - workflow: deploy\n"
		"    environment: prod-${{ matrix.region }}\n"
		"    with: {image: \"reg/${{ vars.v }}/${{ pipeline.name }}\", plain: x}\n"
		"    matrix:\n"
		"      region: [eu, useast]\n"
		"      tier: [web, api, longer-tier-name]\n"
		"  - workflow: deploy\n"
		"    parallel: true\n"
		"    with: {image: short, plain: yy}\n"
		"    matrix: {region: [eu], tier: [other]}\n"
		"  - other\n"
		"workflows:\n"
		"  deploy:\n"
		"    environment: staging\n"
		"    env: {WHERE: \"${{ matrix.region }}/${{ workflow.name }}\", FIXED: abc}\n"
		"    steps:\n"
		"      - run: echo ${{ workflow.name }} ${{ inputs.image }} ${{ run.id }} ${{ matrix.tier }}\n"
		"        dir: d/${{ matrix.tier }}\n"
		"        env: {A: \"${{ inputs.plain }}${{ inputs.plain }}\"}\n"
		"      - name: named ${{ matrix.tier }}\n"
		"        barrier: b-${{ matrix.region }}\n"
		"      - barrier: all-${{ pipeline.name }}\n"
		"      - http-check:\n"
		"          url: https://${{ vars.host }}:8443/${{ matrix.tier }}\n"
		"          expect-body: ok-${{ vars.v }}\n"
		"          headers: {X-Who: \"${{ workflow.name }}\", X-Plain: p}\n"
		"      - k8s-rolling:\n"
		"          manifests: [\"k8s/${{ matrix.tier }}/\", k8s/shared.yaml]\n"
		"          context: ctx-${{ inputs.plain }}\n"
		"      - wait: 1s\n"
		"    rollback:\n"
		"      - run: undo ${{ workflow.name }}\n"
		"      - barrier: undone-${{ matrix.region }}\n"
		"      - k8s-rollback:\n"
		"  other:\n"
		"    steps:\n"
		"      - k8s-rolling: {manifests: m.yaml, namespace: \"ns-${{ pipeline.name }}\"}\n"
		"      - barrier: all-${{ pipeline.name }}\n");
	/* env.X of an http-check: the workflow's env X as evaluated for each
	 * instance, else the environment's (one environment: exact). */
	assert_size_predicted(
		"name: env-sized\n"
		"vars: {v: version-1.2.3}\n"
		"environments:\n"
		"  qa: {env: {PORT: \"80${{ vars.v }}\", HOST: qa.example.com}}\n"
		"stages:\n"
		"  - workflow: check\n"
		"    environment: qa\n"
		"    matrix: {tier: [web, longer-api]}\n"
		"workflows:\n"
		"  check:\n"
		"    env: {PATH_PART: \"/${{ matrix.tier }}/${{ workflow.name }}\", HOST: wf.example.com}\n"
		"    steps:\n"
		"      - http-check:\n"
		"          url: http://${{ env.HOST }}:1${{ env.PATH_PART }}${{ env.PATH_PART }}?${{ env.PORT }}\n"
		"          headers: {X-Port: \"${{ env.PORT }}\"}\n");
	/* No expressions at all: the text is still counted per instance. */
	assert_size_predicted("name: p\nstages:\n  - workflow: w\n    matrix: {a: [x, yy, zzz]}\n"
			      "workflows:\n  w: {steps: [{run: echo hello}, {run: two}]}\n");
	/* A --var changes the size: it is counted after overrides. */
	struct kv ov[] = { { .key = "v", .val = "a much longer value than before" } };
	struct kvlist overrides = { ov, 1 };
	struct built B;
	build_with(&B, "name: p\nvars: {v: short}\nstages: [w]\n"
		       "workflows:\n  w: {steps: [{run: \"${{ vars.v }}${{ vars.v }}\"}]}\n",
		   &overrides);
	assert_non_null(B.plan);
	struct plan_size size;
	assert_true(plan_size_check(B.p, &B.plan->vars, &size, &B.d));
	assert_int_equal(size.text, strlen("w") + 2 * strlen(ov[0].val));
	release(&B);
}

/*
 * The 5 KB file of a 1,000 x 100 matrix whose 20 run steps use
 * ${{ workflow.name }}: 2,000,000 steps. Expanding it took 5 GB; it is
 * refused from its matrix sizes, before anything is built for it.
 */
static char *bomb_text(int steps)
{
	struct buf t = BUF_INIT;
	buf_adds(&t, "name: bomb\nstages:\n  - workflow: w\n    matrix:\n      a: [");
	for (int i = 0; i < 1000; i++)
		buf_addf(&t, "%sa%d", i ? ", " : "", i);
	buf_adds(&t, "]\n      b: [");
	for (int i = 0; i < 100; i++)
		buf_addf(&t, "%sb%d", i ? ", " : "", i);
	buf_adds(&t, "]\nworkflows:\n  w:\n    steps:\n");
	for (int i = 0; i < steps; i++)
		buf_adds(&t, "      - run: echo ${{ workflow.name }}\n");
	return buf_detach(&t, NULL);
}

static void build_bomb(void *text)
{
	struct diag d = DIAG_INIT;
	struct pipeline *p = pipeline_load_text("p.yml", text, strlen(text), &d);
	struct plan *plan = p ? plan_build(p, NULL, &d) : NULL;
	/* The child's verdict is its exit status: refused with one error. */
	bool refused = p && !plan && d.errors == 1;
	plan_free(plan);
	pipeline_free(p);
	diag_release(&d);
	if (!refused)
		_exit(1);
}

static void test_expansion_bomb_refused(void **state)
{
	(void)state;
	char *text = bomb_text(20);
	struct built B;
	build_with(&B, text, NULL);
	assert_null(B.plan);
	assert_only_error(&B.d, 3, 5,
			    "the plan would have 2000000 steps, more than 1000000: this stage entry runs workflow w 100000 times with 20 steps each (use a smaller matrix or fewer steps)");
	release(&B);
	free(text);
	/* 200 steps: 20,000,000, refused as fast (the bound is against a
	 * hang, not a measurement: the refusal takes milliseconds). */
	assert_finishes(build_bomb, bomb_text(200), 10, "refusing a 20,000,000-step plan");
}

/* A file of `n` instances (entry `w`) with a run of `run_len` bytes, then `extra` single steps. */
static char *sized_text(int n, size_t run_len, int extra)
{
	struct buf t = BUF_INIT;
	buf_adds(&t, "name: p\nstages:\n  - workflow: w\n    matrix:\n      a: [");
	for (int i = 0; i < n; i++)
		buf_addf(&t, "%s%05d", i ? ", " : "", i);
	buf_adds(&t, "]\n");
	if (extra)
		buf_adds(&t, "  - x\n");
	buf_adds(&t, "workflows:\n  w:\n    steps:\n      - run: ");
	for (size_t i = 0; i < run_len; i++)
		buf_addc(&t, 'r');
	buf_adds(&t, "\n");
	for (int i = 1; i < 10; i++)
		buf_adds(&t, "      - run: r\n");
	buf_adds(&t, "  x:\n    steps:\n");
	for (int i = 0; i < (extra ? extra : 1); i++)
		buf_adds(&t, "      - run: x\n");
	return buf_detach(&t, NULL);
}

/* plan_size_check() on `text` (taken): true when within the limits. */
static bool size_ok(char *text, struct plan_size *size, struct diag *d)
{
	struct diag ld = DIAG_INIT;
	struct pipeline *p = pipeline_load_text("p.yml", text, strlen(text), &ld);
	free(text);
	assert_non_null(p);
	bool ok = plan_size_check(p, &p->vars, size, d);
	pipeline_free(p);
	diag_release(&ld);
	return ok;
}

static void test_plan_size_limits_at_the_edge(void **state)
{
	(void)state;
	struct plan_size size;
	struct diag d = DIAG_INIT;
	/* 100,000 instances of 10 steps: exactly PLAN_MAX_STEPS. */
	assert_true(size_ok(sized_text(100000, 1, 0), &size, &d));
	assert_int_equal(size.steps, PLAN_MAX_STEPS);
	assert_int_equal(d.n, 0);
	/* One step more, in the next entry: refused at that entry. */
	assert_false(size_ok(sized_text(99999, 1, 11), &size, &d));
	assert_int_equal(size.steps, PLAN_MAX_STEPS + 1);
	assert_only_error(&d, 6, 5,
			    "the plan would have 1000001 steps, more than 1000000: this stage entry runs workflow x 1 time with 11 steps each (use a smaller matrix or fewer steps)");
	diag_release(&d);

	/*
	 * Text: 1,024 instances w[a=NNNNN] (10 bytes), each with its matrix
	 * entry (64 + 1 + 5) and ten runs: one of L bytes, nine of 1. So the
	 * plan has 1,024 * (89 + L) bytes: exactly PLAN_MAX_TEXT_BYTES with
	 * L = 262,055, and 1,024 bytes too many with one byte more.
	 */
	struct diag d2 = DIAG_INIT;
	assert_true(size_ok(sized_text(1024, 262055, 0), &size, &d2));
	assert_int_equal(size.text, 1024ULL * (89 + 262055));
	assert_int_equal(size.text, PLAN_MAX_TEXT_BYTES);
	assert_int_equal(d2.n, 0);
	assert_false(size_ok(sized_text(1024, 262056, 0), &size, &d2));
	assert_int_equal(size.text, PLAN_MAX_TEXT_BYTES + 1024);
	assert_only_error(&d2, 3, 5,
			    "the plan's expanded text would be 256 MiB, more than 256 MiB: this stage entry adds 256 MiB, running workflow w 1024 times (use a smaller matrix, shorter steps and values, or fewer references to long vars)");
	diag_release(&d2);
}

/*
 * Without a matrix, a long var referenced many times is the same bomb: in
 * an environment (expanded once) and in a workflow, each refused where
 * it is, before it is expanded.
 */
static void test_long_var_references_refused(void **state)
{
	(void)state;
	struct buf t = BUF_INIT;
	buf_adds(&t, "name: p\nvars:\n  big: ");
	for (int i = 0; i < 200000; i++)
		buf_addc(&t, 'v');
	buf_adds(&t, "\nenvironments:\n  prod:\n    env:\n");
	for (int i = 0; i < 400; i++)
		buf_addf(&t, "      E%d: \"${{ vars.big }}${{ vars.big }}${{ vars.big }}${{ vars.big }}\"\n", i);
	buf_adds(&t, "stages: [w]\nworkflows:\n  w: {environment: prod, steps: [{run: x}]}\n");
	struct built B;
	build_with(&B, t.s, NULL);
	assert_null(B.plan);
	assert_only_error(&B.d, 5, 3,
			  "the plan's expanded text would be 305 MiB, more than 256 MiB: environment prod alone expands to 305 MiB (use fewer references to long vars)");
	release(&B);
	buf_reset(&t);
	buf_adds(&t, "name: p\nvars:\n  big: ");
	for (int i = 0; i < 200000; i++)
		buf_addc(&t, 'v');
	buf_adds(&t, "\nstages: [w]\nworkflows:\n  w:\n    steps:\n");
	for (int i = 0; i < 400; i++)
		buf_adds(&t, "      - run: \"${{ vars.big }}${{ vars.big }}${{ vars.big }}${{ vars.big }}\"\n");
	build_with(&B, t.s, NULL);
	assert_null(B.plan);
	assert_only_error(&B.d, 4, 10,
			  "the plan's expanded text would be 305 MiB, more than 256 MiB: this stage entry adds 305 MiB, running workflow w 1 time (use a smaller matrix, shorter steps and values, or fewer references to long vars)");
	release(&B);
	buf_release(&t);
}

static void test_duplicate_instance(void **state)
{
	(void)state;
	struct built B;
	build_with(&B, "name: p\nstages:\n  - a\n  - a\nworkflows:\n  a: {steps: [{run: a}]}\n", NULL);
	assert_null(B.plan);
	assert_int_equal(B.d.errors, 1);
	assert_error_at(&B.d, 4, 5, "workflow instance a appears twice in stages (first at line 3)");
	release(&B);

	/* Matrix entries may share a workflow only with distinct values. */
	build_with(&B, "name: p\nstages:\n"
		       "  - workflow: a\n    matrix: {r: [eu, us]}\n"
		       "  - workflow: a\n    matrix: {r: [ap, us]}\n"
		       "workflows:\n  a: {steps: [{run: a}]}\n", NULL);
	assert_null(B.plan);
	assert_int_equal(B.d.errors, 1);
	assert_error_at(&B.d, 5, 15, "workflow instance a[r=us] appears twice in stages (first at line 3)");
	release(&B);

	build_ok(&B, "name: p\nstages:\n"
		     "  - workflow: a\n    matrix: {r: [eu]}\n"
		     "  - workflow: a\n    matrix: {r: [us]}\n"
		     "workflows:\n  a: {steps: [{run: a}]}\n");
	assert_int_equal(B.plan->nworkflows, 2);
	assert_int_equal(B.plan->ngroups, 2);
	release(&B);
}

/* ---- substitution ---- */

static void test_inputs_substituted(void **state)
{
	(void)state;
	static const char text[] =
		"name: shop\n"
		"vars: {team: blue}\n"
		"stages:\n"
		"  - workflow: scale\n"
		"    with:\n"
		"      replicas: 3\n"
		"      owner: ${{ vars.team }}@${{ pipeline.name }}\n"
		"workflows:\n"
		"  scale:\n"
		"    env:\n"
		"      R: ${{ inputs.replicas }}\n"
		"    steps:\n"
		"      - run: scale --to ${{ inputs.replicas }} --owner ${{inputs.owner}}\n"
		"        name: scale to ${{ inputs.replicas }}\n"
		"        dir: /srv/${{ inputs.owner }}\n"
		"        env: {OWNER: \"${{ inputs.owner }}\"}\n"
		"    rollback:\n"
		"      - run: undo ${{ inputs.replicas }}\n";
	struct built B;
	build_ok(&B, text);
	const struct plan_workflow *w = &B.plan->workflows[0];
	assert_int_equal(w->inputs.n, 2);
	assert_string_equal(kv_get(&w->inputs, "replicas"), "3");
	assert_string_equal(kv_get(&w->inputs, "owner"), "blue@shop");
	assert_string_equal(kv_get(&w->env, "R"), "3");
	assert_string_equal(w->steps[0].run, "scale --to 3 --owner blue@shop");
	assert_string_equal(w->steps[0].name, "scale to 3");
	assert_string_equal(w->steps[0].dir, "/srv/blue@shop");
	assert_string_equal(kv_get(&w->steps[0].env, "OWNER"), "blue@shop");
	assert_int_equal(w->nrollback, 1);
	assert_string_equal(w->rollback[0].run, "undo 3");
	assert_string_equal(w->rollback[0].id, "rollback-1");
	release(&B);
}

static void test_input_missing_in_one_entry(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"                                        /* 1 */
		"stages:\n"                                        /* 2 */
		"  - workflow: deploy\n"                           /* 3 */
		"    with: {replicas: 3}\n"                        /* 4 */
		"    matrix: {region: [eu]}\n"                     /* 5 */
		"  - workflow: deploy\n"                           /* 6 */
		"    matrix: {region: [us, ap]}\n"                 /* 7 */
		"workflows:\n"                                     /* 8 */
		"  deploy:\n"                                      /* 9 */
		"    steps:\n"                                     /* 10 */
		"      - run: scale --to ${{ inputs.replicas }}\n"; /* 11 */
	struct built B;
	build_with(&B, text, NULL);
	assert_null(B.plan);
	/* One error for the entry, not one per instance. */
	assert_int_equal(B.d.errors, 1);
	assert_error_at(&B.d, 11, 25, "no input 'replicas'");
	assert_non_null(strstr(B.d.items[0].message, "deploy[region=us]"));
	release(&B);
}

static void test_unknown_matrix_key(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"
		"stages:\n"
		"  - workflow: deploy\n"
		"    matrix: {region: [eu]}\n"
		"workflows:\n"
		"  deploy:\n"
		"    steps:\n"
		"      - run: x\n"
		"        env:\n"
		"          Z: zone-${{ matrix.zone }}\n";
	struct built B;
	build_with(&B, text, NULL);
	assert_null(B.plan);
	assert_int_equal(B.d.errors, 1);
	assert_error_at(&B.d, 10, 19, "no matrix key 'zone'");
	release(&B);
}

static void test_vars_and_overrides(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"
		"vars:\n"
		"  version: 1.0\n"
		"  region: eu\n"
		"stages:\n"
		"  - workflow: a\n"
		"    with: {v: \"${{ vars.version }}\"}\n"
		"workflows:\n"
		"  a:\n"
		"    steps:\n"
		"      - run: deploy ${{ vars.version }} to ${{ vars.region }} (${{ inputs.v }})\n";
	struct built B;
	build_ok(&B, text);
	assert_int_equal(B.plan->vars.n, 2);
	assert_string_equal(kv_get(&B.plan->vars, "version"), "1.0");
	assert_string_equal(B.plan->workflows[0].steps[0].run, "deploy 1.0 to eu (1.0)");
	release(&B);

	struct kv ov[] = { { .key = "version", .val = "2.0" } };
	struct kvlist overrides = { ov, 1 };
	build_with(&B, text, &overrides);
	assert_non_null(B.plan);
	assert_int_equal(B.d.n, 0);
	assert_int_equal(B.plan->vars.n, 2);
	assert_string_equal(kv_get(&B.plan->vars, "version"), "2.0");
	assert_string_equal(kv_get(&B.plan->vars, "region"), "eu");
	/* Overrides reach steps and stage inputs alike. */
	assert_string_equal(B.plan->workflows[0].steps[0].run, "deploy 2.0 to eu (2.0)");
	assert_string_equal(kv_get(&B.plan->workflows[0].inputs, "v"), "2.0");
	/* The pipeline itself is not changed. */
	assert_string_equal(kv_get(&B.p->vars, "version"), "1.0");
	release(&B);

	/* An empty override is a value too. */
	struct kv ov2[] = { { .key = "region", .val = "" } };
	struct kvlist overrides2 = { ov2, 1 };
	build_with(&B, text, &overrides2);
	assert_non_null(B.plan);
	assert_string_equal(B.plan->workflows[0].steps[0].run, "deploy 1.0 to  (1.0)");
	release(&B);
}

static void test_override_of_undeclared_var(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\nvars: {version: 1}\nstages: [a]\nworkflows:\n  a: {steps: [{run: x}]}\n";
	struct kv ov[] = {
		{ .key = "nope", .val = "1" },
		{ .key = "version", .val = "2" },
		{ .key = "Version", .val = "3" },
	};
	struct kvlist overrides = { ov, 3 };
	struct built B;
	build_with(&B, text, &overrides);
	assert_null(B.plan);
	assert_int_equal(B.d.errors, 2);
	assert_non_null(strstr(B.d.items[0].message, "--var nope: the pipeline declares no var 'nope'"));
	assert_non_null(strstr(B.d.items[1].message, "'Version'"));
	assert_string_equal(B.d.items[0].file, "p.yml");
	release(&B);
}

static void test_run_id_kept_literally(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\nstages: [a]\nworkflows:\n  a:\n"
		"    env: {RUN: \"${{ run.id }}\"}\n"
		"    steps:\n"
		"      - run: echo ${{ run.id }} ${{run.id}} ${{ pipeline.name }}\n"
		"        name: run ${{ run.id }}\n";
	struct built B;
	build_ok(&B, text);
	const struct plan_workflow *w = &B.plan->workflows[0];
	assert_string_equal(w->steps[0].run, "echo ${{ run.id }} ${{run.id}} p");
	assert_string_equal(w->steps[0].name, "run ${{ run.id }}");
	assert_string_equal(kv_get(&w->env, "RUN"), "${{ run.id }}");
	release(&B);
}

static void test_pipeline_and_workflow_names(void **state)
{
	(void)state;
	static const char text[] =
		"name: multi-service\nstages:\n  - a\n  - workflow: b\n    matrix: {r: [x]}\n"
		"workflows:\n"
		"  a:\n"
		"    steps:\n"
		"      - run: echo ${{ pipeline.name }}/${{ workflow.name }}\n"
		"        env: {W: \"${{ workflow.name }}\"}\n"
		"  b:\n"
		"    steps:\n"
		"      - run: echo ${{ pipeline.name }}/${{ workflow.name }}\n"
		"        name: ${{ workflow.name }}\n";
	struct built B;
	build_ok(&B, text);
	assert_string_equal(B.plan->workflows[0].steps[0].run, "echo multi-service/a");
	assert_string_equal(kv_get(&B.plan->workflows[0].steps[0].env, "W"), "a");
	assert_string_equal(B.plan->workflows[1].steps[0].run, "echo multi-service/b[r=x]");
	assert_string_equal(B.plan->workflows[1].steps[0].name, "b[r=x]");
	release(&B);
}

static void test_values_are_not_evaluated_twice(void **state)
{
	(void)state;
	/*
	 * An override may contain "${{": it is a value, copied as is, never
	 * evaluated again - neither where a var is used nor through an input.
	 */
	static const char text[] =
		"name: p\nvars: {x: a, y: b}\n"
		"stages:\n  - workflow: w\n    with: {i: \"${{ vars.x }}\"}\n"
		"workflows:\n  w: {steps: [{run: \"echo ${{ vars.x }} ${{ inputs.i }}\"}]}\n";
	struct kv ov[] = { { .key = "x", .val = "${{ vars.y }}" } };
	struct kvlist overrides = { ov, 1 };
	struct built B;
	build_with(&B, text, &overrides);
	if (!B.plan)
		dump_diags(&B.d);
	assert_non_null(B.plan);
	assert_string_equal(B.plan->workflows[0].steps[0].run, "echo ${{ vars.y }} ${{ vars.y }}");
	release(&B);
}

static void test_expanded_barrier_id_must_be_valid(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"
		"stages:\n"
		"  - workflow: a\n"
		"    matrix: {r: [ok, \"not ok\"]}\n"
		"workflows:\n"
		"  a:\n"
		"    steps:\n"
		"      - barrier: B-${{ matrix.r }}\n";
	struct built B;
	build_with(&B, text, NULL);
	assert_null(B.plan);
	assert_int_equal(B.d.errors, 1);
	assert_error_at(&B.d, 8, 18, "barrier id 'B-not ok' of workflow a[r=not ok] is not a valid id");
	release(&B);
}

/* ---- barriers ---- */

/* A port built by an expression is judged once the expression is replaced. */
static void test_expanded_url_port_must_be_valid(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"
		"vars: {port: '99999999999999'}\n"
		"stages: [a]\n"
		"workflows:\n"
		"  a:\n"
		"    steps:\n"
		"      - http-check: http://localhost:${{ vars.port }}/health\n";
	struct built B;
	build_with(&B, text, NULL);
	assert_null(B.plan);
	assert_int_equal(B.d.errors, 1);
	assert_error_at(&B.d, 7, 21,
			"url 'http://localhost:99999999999999/health' of workflow a: the port must be a number from 1 to 65535");
	release(&B);
	/* The same file with a port in range. */
	struct kv port = { .key = "port", .val = "8080" };
	struct kvlist over = { &port, 1 };
	build_with(&B, text, &over);
	assert_non_null(B.plan);
	assert_int_equal(B.d.n, 0);
	assert_string_equal(B.plan->workflows[0].steps[0].http->url, "http://localhost:8080/health");
	release(&B);
}

static void test_barrier_uses(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"
		"stages:\n"
		"  - first\n"
		"  - a\n"
		"  - workflow: b\n"
		"    parallel: true\n"
		"  - workflow: c\n"
		"    parallel: true\n"
		"workflows:\n"
		"  first: {steps: [{run: f}]}\n"
		"  a:\n"
		"    steps:\n"
		"      - run: x\n"
		"      - barrier: X\n"
		"      - run: y\n"
		"      - barrier: Y\n"
		"  b:\n"
		"    steps:\n"
		"      - barrier: Y\n"
		"      - barrier: X\n"
		"  c:\n"
		"    steps:\n"
		"      - wait: 1s\n"
		"      - barrier: X\n";
	struct built B;
	build_ok(&B, text);
	const struct plan *plan = B.plan;
	assert_int_equal(plan->nbarriers, 2);
	/* In order of first use. */
	const struct plan_barrier *x = &plan->barriers[0], *y = &plan->barriers[1];
	assert_string_equal(x->id, "X");
	assert_string_equal(y->id, "Y");
	assert_int_equal(x->group, 1);
	assert_int_equal(y->group, 1);
	assert_int_equal(x->nuses, 3);
	assert_int_equal(x->uses[0].wf, 1);
	assert_int_equal(x->uses[0].step, 1);
	assert_int_equal(x->uses[1].wf, 2);
	assert_int_equal(x->uses[1].step, 1);
	assert_int_equal(x->uses[2].wf, 3);
	assert_int_equal(x->uses[2].step, 1);
	assert_int_equal(y->nuses, 2);
	assert_int_equal(y->uses[0].wf, 1);
	assert_int_equal(y->uses[0].step, 3);
	assert_int_equal(y->uses[1].wf, 2);
	assert_int_equal(y->uses[1].step, 0);
	assert_int_equal(plan->workflows[2].steps[0].barrier_index, 1);
	assert_int_equal(plan->workflows[2].steps[1].barrier_index, 0);
	release(&B);
}

static void test_rollback_barriers_separate(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"
		"stages:\n"
		"  - a\n"
		"  - workflow: b\n"
		"    parallel: true\n"
		"workflows:\n"
		"  a:\n"
		"    steps:\n"
		"      - barrier: GO\n"
		"    rollback:\n"
		"      - run: undo-a\n"
		"      - barrier: UNDONE\n"
		"  b:\n"
		"    steps:\n"
		"      - barrier: GO\n"
		"    rollback:\n"
		"      - barrier: UNDONE\n"
		"      - run: undo-b\n";
	struct built B;
	build_ok(&B, text);
	const struct plan *plan = B.plan;
	assert_int_equal(plan->nbarriers, 1);
	assert_string_equal(plan->barriers[0].id, "GO");
	assert_false(plan->barriers[0].rollback);
	assert_int_equal(plan->nrollback_barriers, 1);
	const struct plan_barrier *u = &plan->rollback_barriers[0];
	assert_string_equal(u->id, "UNDONE");
	assert_true(u->rollback);
	assert_int_equal(u->nuses, 2);
	assert_int_equal(u->uses[0].wf, 0);
	assert_int_equal(u->uses[0].step, 1);
	assert_int_equal(u->uses[1].wf, 1);
	assert_int_equal(u->uses[1].step, 0);
	assert_string_equal(plan->workflows[0].rollback[1].barrier, "UNDONE");
	assert_int_equal(plan->workflows[0].rollback[1].barrier_index, 0);
	assert_string_equal(plan->workflows[0].rollback[1].id, "rollback-2");
	assert_int_equal(plan_check(plan, &B.d), 0);
	release(&B);
}

static void test_environments(void **state)
{
	(void)state;
	/* The stage entry's environment wins over the workflow's; a matrix
	 * names one per instance; values are expanded once, with --var. */
	static const char text[] =
		"name: p\nvars: {ctx: local, tier: prod}\n"
		"environments:\n"
		"  backend:\n"
		"    kubernetes: {context: \"${{ vars.ctx }}\", namespace: backend}\n"
		"    env: {RELEASE: \"${{ pipeline.name }}-${{ run.id }}\"}\n"
		"  frontend: {kubernetes: {namespace: frontend, kubeconfig: kube/config}}\n"
		"  prod-eu:\n"
		"  prod-us:\n"
		"stages:\n"
		"  - a\n"
		"  - workflow: a\n    environment: frontend\n    matrix: {n: [1]}\n"
		"  - workflow: b\n    environment: ${{ vars.tier }}-${{ matrix.r }}\n"
		"    matrix: {r: [eu, us]}\n"
		"  - c\n"
		"workflows:\n"
		"  a: {environment: backend, steps: [{run: x}]}\n"
		"  b: {environment: backend, steps: [{run: x}]}\n"
		"  c: {steps: [{run: x}]}\n";
	struct kv ov[] = { { .key = "ctx", .val = "kind" } };
	struct kvlist overrides = { ov, 1 };
	struct built B;
	build_with(&B, text, &overrides);
	if (!B.plan || B.d.n)
		dump_diags(&B.d);
	assert_non_null(B.plan);
	const struct plan *plan = B.plan;
	assert_int_equal(plan->nenvironments, 4);
	const struct plan_environment *be = &plan->environments[0];
	assert_string_equal(be->name, "backend");
	assert_string_equal(be->kube_context, "kind");
	assert_string_equal(be->kube_namespace, "backend");
	assert_null(be->kubeconfig);
	assert_string_equal(kv_get(&be->env, "RELEASE"), "p-${{ run.id }}");
	assert_null(plan->environments[1].kube_context);
	assert_string_equal(plan->environments[1].kubeconfig, "kube/config");
	assert_int_equal(plan->nworkflows, 5);
	assert_ptr_equal(plan->workflows[0].environment, be);
	assert_string_equal(plan->workflows[1].name, "a[n=1]");
	assert_ptr_equal(plan->workflows[1].environment, &plan->environments[1]);
	assert_string_equal(plan->workflows[2].environment->name, "prod-eu");
	assert_string_equal(plan->workflows[3].environment->name, "prod-us");
	assert_null(plan->workflows[4].environment);
	assert_int_equal(plan_check(plan, &B.d), 0);
	assert_int_equal(B.d.n, 0);
	release(&B);
}

static void test_environment_from_expression_unknown(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"
		"environments: {prod-eu: , prod-us: }\n"
		"stages:\n"
		"  - workflow: b\n    environment: prod-${{ matrix.r }}\n"
		"    matrix: {r: [eu, ap, us, xx]}\n"
		"workflows:\n"
		"  b: {steps: [{run: x}]}\n";
	struct built B;
	build_with(&B, text, NULL);
	assert_null(B.plan);
	/* Each instance that names no declared environment is reported. */
	assert_error_at(&B.d, 5, 18, "unknown environment 'prod-ap' (from 'prod-${{ matrix.r }}') for workflow b[r=ap]; did you mean 'prod-eu'?");
	assert_error_at(&B.d, 5, 18, "unknown environment 'prod-xx'");
	assert_int_equal(B.d.errors, 2);
	release(&B);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_all_sequential),
		cmocka_unit_test(test_matrix_expansion),
		cmocka_unit_test(test_matrix_barriers_per_value),
		cmocka_unit_test(test_participants_text),
		cmocka_unit_test(test_matrix_too_large),
		cmocka_unit_test(test_matrix_too_large_with_vars),
		cmocka_unit_test(test_matrix_limit_counts_the_whole_plan),
		cmocka_unit_test(test_matrix_at_the_limit),
		cmocka_unit_test(test_plan_size_predicts_the_plan),
		cmocka_unit_test(test_expansion_bomb_refused),
		cmocka_unit_test(test_plan_size_limits_at_the_edge),
		cmocka_unit_test(test_long_var_references_refused),
		cmocka_unit_test(test_duplicate_instance),
		cmocka_unit_test(test_inputs_substituted),
		cmocka_unit_test(test_input_missing_in_one_entry),
		cmocka_unit_test(test_unknown_matrix_key),
		cmocka_unit_test(test_vars_and_overrides),
		cmocka_unit_test(test_override_of_undeclared_var),
		cmocka_unit_test(test_run_id_kept_literally),
		cmocka_unit_test(test_pipeline_and_workflow_names),
		cmocka_unit_test(test_values_are_not_evaluated_twice),
		cmocka_unit_test(test_expanded_barrier_id_must_be_valid),
		cmocka_unit_test(test_expanded_url_port_must_be_valid),
		cmocka_unit_test(test_barrier_uses),
		cmocka_unit_test(test_rollback_barriers_separate),
		cmocka_unit_test(test_environments),
		cmocka_unit_test(test_environment_from_expression_unknown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
