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

#include "base/buf.h"
#include "base/diag.h"
#include "pipeline/check.h"
#include "pipeline/expand.h"
#include "pipeline/load.h"
#include "pipeline/model.h"

/* ---- helpers ---- */

static void dump(const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "  [%zu] %s:%d:%d: %s: %s\n", i, d->items[i].file ? d->items[i].file : "-",
			d->items[i].line, d->items[i].col, diag_severity_name(d->items[i].severity),
			d->items[i].message);
}

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
		dump(&B->d);
		fail_msg("the pipeline does not load");
	}
	B->plan = plan_build(B->p, overrides, &B->d);
}

/* Loads and builds `text`; both must succeed without diagnostics. */
static void build_ok(struct built *B, const char *text)
{
	build_with(B, text, NULL);
	if (!B->plan || B->d.n) {
		dump(&B->d);
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
	dump(d);
	fail_msg("no error at %d:%d containing \"%s\"", line, col, sub);
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
 * Refused after vars and environments were indexed: their indexes are
 * freed (the sanitizer builds find a leak otherwise).
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
		dump(&B.d);
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
		dump(&B.d);
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
