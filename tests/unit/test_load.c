/*
 * Tests for pipeline/load.c: the example of docs/pipeline-format.md loads
 * into the right model; every schema error has its message and position
 * (tables of {pipeline, errors}, run by one loop); all errors come in one
 * pass; warnings do not fail a load; durations, booleans, integers and the
 * file size limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "guard.h"
#include "support/diags.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/diag.h"
#include "pipeline/load.h"
#include "pipeline/model.h"

/* ---- helpers ---- */

static struct pipeline *load(const char *text, struct diag *d)
{
	return pipeline_load_text("p.yml", text, strlen(text), d);
}

/* Loads `text`, which must be valid without errors or warnings. */
static struct pipeline *load_ok(const char *text, struct diag *d)
{
	struct pipeline *p = load(text, d);
	if (!p || d->n) {
		dump_diags(d);
		fail_msg("expected a clean load");
	}
	return p;
}

/* Whether `d` has an error of p.yml at line:col whose message contains `sub`. */
static bool has_error_at(const struct diag *d, int line, int col, const char *sub)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct diag_item *it = &d->items[i];
		if (it->severity == DIAG_ERROR && it->line == line && it->col == col &&
		    strstr(it->message, sub) && it->file && !strcmp(it->file, "p.yml"))
			return true;
	}
	return false;
}

/* Asserts there is an error at line:col whose message contains `sub`. */
static void assert_error_at(const struct diag *d, int line, int col, const char *sub)
{
	if (!has_error_at(d, line, col, sub)) {
		dump_diags(d);
		fail_msg("no error at %d:%d containing \"%s\"", line, col, sub);
	}
}

/*
 * A table row: a pipeline that must not load, how many errors and
 * warnings it gives, and each error: its position and a part of its
 * message (in any order; at most WANT_MAX).
 */
struct load_case {
	const char *text;
	size_t errors, warnings;
	struct want_diag want[WANT_MAX];
};

#define ERR(l, c, m) { DIAG_ERROR, l, c, m }

/* Loads `c->text`: no pipeline, exactly its errors and warnings, each
 * wanted error there. `what` names the row in a failure. */
static void expect_errors(const struct load_case *c, const char *what)
{
	struct diag d = DIAG_INIT;
	struct pipeline *p = load(c->text, &d);
	if (p || d.errors != c->errors || d.warnings != c->warnings) {
		dump_diags(&d);
		pipeline_free(p);
		fail_msg("%s: %zu errors and %zu warnings, pipeline %s; want %zu, %zu and none", what, d.errors,
			 d.warnings, p ? "returned" : "NULL", c->errors, c->warnings);
	}
	for (size_t i = 0; i < want_count(c->want); i++) {
		const struct want_diag *w = &c->want[i];
		if (!has_error_at(&d, w->line, w->col, w->msg)) {
			dump_diags(&d);
			fail_msg("%s: no error at %d:%d containing \"%s\"", what, w->line, w->col, w->msg);
		}
	}
	diag_release(&d);
}

/* Runs every row of a table of load_case. */
static void run_load_cases(const char *table, const struct load_case *cases, size_t n)
{
	char what[200];
	for (size_t i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "%s[%zu]", table, i);
		expect_errors(&cases[i], what);
	}
}

#define RUN_LOAD_CASES(table) run_load_cases(#table, table, sizeof(table) / sizeof(table[0]))

/* One error, at line:col, whose message contains `sub`: a row built on the fly. */
static void expect_one_error(const char *text, int line, int col, const char *sub)
{
	struct load_case c = { text, 1, 0, { ERR(line, col, sub) } };
	expect_errors(&c, sub);
}

/* ---- the example of docs/pipeline-format.md ---- */

static const char seed[] =
	"name: multi-service                  # required; [A-Za-z0-9._-]+\n"             /* 1 */
	"description: Deploy backend and frontend together\n"                             /* 2 */
	"vars:                                # optional strings; override with --var KEY=VALUE\n"
	"  version: \"1.4.2\"\n"                                                          /* 4 */
	"on-failure: stop                     # stop (default) | rollback-all\n"          /* 5 */
	"barriers:                            # optional declarations\n"                  /* 6 */
	"  BE:\n"                                                                         /* 7 */
	"    name: Backend service deployment done\n"                                     /* 8 */
	"    timeout: 10m                     # default 10m; counted from the first arrival\n"
	"  FE:\n"                                                                         /* 10 */
	"    name: Frontend service deployment done\n"                                    /* 11 */
	"stages:                              # run in order\n"                           /* 12 */
	"  - workflow: backend-deploy\n"                                                  /* 13 */
	"  - workflow: frontend-deploy\n"                                                 /* 14 */
	"    parallel: true                   # \"execute in parallel with previous stage\"\n"
	"  - workflow: smoke-tests\n"                                                     /* 16 */
	"workflows:\n"                                                                    /* 17 */
	"  backend-deploy:\n"                                                             /* 18 */
	"    env: { NAMESPACE: backend }\n"                                               /* 19 */
	"    steps:\n"                                                                    /* 20 */
	"      - name: Rolling deploy\n"                                                  /* 21 */
	"        run: ./deploy.sh backend \"$LOCKSTEP_VAR_VERSION\"\n"                    /* 22 */
	"        timeout: 5m\n"                                                           /* 23 */
	"      - barrier: BE\n"                                                           /* 24 */
	"      - barrier: FE\n"                                                           /* 25 */
	"        name: Wait for FrontEnd service deployment\n"                            /* 26 */
	"    rollback:\n"                                                                 /* 27 */
	"      - run: ./rollback.sh backend\n"                                            /* 28 */
	"  frontend-deploy:\n"                                                            /* 29 */
	"    steps:\n"                                                                    /* 30 */
	"      - barrier: BE\n"                                                           /* 31 */
	"        name: Wait for Backend service deployment\n"                             /* 32 */
	"      - run: ./deploy.sh frontend \"$LOCKSTEP_VAR_VERSION\"\n"                   /* 33 */
	"      - barrier: FE\n"                                                           /* 34 */
	"    rollback:\n"                                                                 /* 35 */
	"      - run: ./rollback.sh frontend\n"                                           /* 36 */
	"  smoke-tests:\n"                                                                /* 37 */
	"    steps:\n"                                                                    /* 38 */
	"      - run: ./integration-tests.sh\n";                                          /* 39 */

static void assert_at(struct pos p, int line, int col)
{
	if (p.line != line || p.col != col)
		fail_msg("position %d:%d, expected %d:%d", p.line, p.col, line, col);
}

static void assert_step(const struct step *s, enum step_kind kind, const char *id, bool id_explicit,
			const char *name, bool name_explicit)
{
	assert_int_equal(s->kind, kind);
	assert_string_equal(s->id, id);
	assert_int_equal(s->id_explicit, id_explicit);
	assert_string_equal(s->name, name);
	assert_int_equal(s->name_explicit, name_explicit);
	/* Defaults of the common keys. */
	assert_int_equal(s->retries, 0);
	assert_int_equal(s->retry_delay_ms, DEFAULT_RETRY_DELAY_MS);
	assert_false(s->continue_on_error);
}

static void test_seed_example(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	struct pipeline *p = load_ok(seed, &d);

	assert_string_equal(p->file, "p.yml");
	assert_string_equal(p->name, "multi-service");
	assert_string_equal(p->description, "Deploy backend and frontend together");
	assert_int_equal(p->on_failure, ON_FAILURE_STOP);
	assert_int_equal(p->vars.n, 1);
	assert_string_equal(p->vars.v[0].key, "version");
	assert_string_equal(p->vars.v[0].val, "1.4.2");
	assert_at(p->vars.v[0].key_pos, 4, 3);
	assert_at(p->vars.v[0].val_pos, 4, 12);
	assert_false(p->vars.v[0].val_plain_single_line); /* quoted */

	/* Barrier declarations; timeouts in milliseconds. */
	assert_int_equal(p->nbarriers, 2);
	assert_string_equal(p->barriers[0].id, "BE");
	assert_string_equal(p->barriers[0].name, "Backend service deployment done");
	assert_int_equal(p->barriers[0].timeout_ms, 600000);
	assert_at(p->barriers[0].pos, 7, 3);
	assert_string_equal(p->barriers[1].id, "FE");
	assert_string_equal(p->barriers[1].name, "Frontend service deployment done");
	assert_int_equal(p->barriers[1].timeout_ms, DEFAULT_BARRIER_TIMEOUT_MS);
	assert_at(p->barriers[1].pos, 10, 3);

	/* Stages. */
	assert_int_equal(p->nstages, 3);
	assert_string_equal(p->stages[0].workflow, "backend-deploy");
	assert_false(p->stages[0].parallel);
	assert_at(p->stages[0].pos, 13, 5);
	assert_at(p->stages[0].workflow_pos, 13, 15);
	assert_string_equal(p->stages[1].workflow, "frontend-deploy");
	assert_true(p->stages[1].parallel);
	assert_at(p->stages[1].pos, 14, 5);
	assert_string_equal(p->stages[2].workflow, "smoke-tests");
	assert_false(p->stages[2].parallel);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(p->stages[i].wf, i);
		assert_int_equal(p->stages[i].nmatrix, 0);
		assert_int_equal(p->stages[i].with.n, 0);
	}

	/* Workflows, in the order written. */
	assert_int_equal(p->nworkflows, 3);
	const struct workflow *be = &p->workflows[0], *fe = &p->workflows[1], *sm = &p->workflows[2];
	assert_string_equal(be->name, "backend-deploy");
	assert_at(be->pos, 18, 3);
	assert_int_equal(be->on_failure, ON_FAILURE_ROLLBACK);
	assert_true(be->used);
	assert_int_equal(be->env.n, 1);
	assert_string_equal(be->env.v[0].key, "NAMESPACE");
	assert_string_equal(be->env.v[0].val, "backend");
	assert_at(be->env.v[0].key_pos, 19, 12);
	assert_at(be->env.v[0].val_pos, 19, 23);
	assert_true(be->env.v[0].val_plain_single_line);

	assert_int_equal(be->steps.n, 3);
	const struct step *s = &be->steps.v[0];
	assert_step(s, STEP_RUN, "step-1", false, "Rolling deploy", true);
	assert_string_equal(s->run, "./deploy.sh backend \"$LOCKSTEP_VAR_VERSION\"");
	assert_int_equal(s->timeout_ms, 5 * 60 * 1000);
	assert_int_equal(s->shell, SHELL_SH);
	assert_null(s->dir);
	assert_int_equal(s->env.n, 0);
	assert_at(s->pos, 21, 9);
	assert_at(s->kind_pos, 22, 14);
	assert_at(s->name_pos, 21, 15);
	s = &be->steps.v[1];
	assert_step(s, STEP_BARRIER, "step-2", false, "barrier BE", false);
	assert_string_equal(s->barrier, "BE");
	assert_int_equal(s->timeout_ms, 0);
	assert_at(s->pos, 24, 9);
	assert_at(s->kind_pos, 24, 18);
	s = &be->steps.v[2];
	assert_step(s, STEP_BARRIER, "step-3", false, "Wait for FrontEnd service deployment", true);
	assert_string_equal(s->barrier, "FE");
	assert_at(s->name_pos, 26, 15);
	assert_true(be->has_rollback);
	assert_at(be->rollback_pos, 28, 7);
	assert_int_equal(be->rollback.n, 1);
	s = &be->rollback.v[0];
	assert_step(s, STEP_RUN, "rollback-1", false, "./rollback.sh backend", false);
	assert_string_equal(s->run, "./rollback.sh backend");
	assert_at(s->pos, 28, 9);

	assert_string_equal(fe->name, "frontend-deploy");
	assert_at(fe->pos, 29, 3);
	assert_int_equal(fe->env.n, 0);
	assert_int_equal(fe->steps.n, 3);
	assert_step(&fe->steps.v[0], STEP_BARRIER, "step-1", false,
		    "Wait for Backend service deployment", true);
	assert_string_equal(fe->steps.v[0].barrier, "BE");
	/* The default name of a run step is its command. */
	assert_step(&fe->steps.v[1], STEP_RUN, "step-2", false,
		    "./deploy.sh frontend \"$LOCKSTEP_VAR_VERSION\"", false);
	assert_step(&fe->steps.v[2], STEP_BARRIER, "step-3", false, "barrier FE", false);
	assert_int_equal(fe->rollback.n, 1);
	assert_step(&fe->rollback.v[0], STEP_RUN, "rollback-1", false, "./rollback.sh frontend", false);

	assert_string_equal(sm->name, "smoke-tests");
	assert_int_equal(sm->steps.n, 1);
	assert_step(&sm->steps.v[0], STEP_RUN, "step-1", false, "./integration-tests.sh", false);
	assert_false(sm->has_rollback);
	assert_int_equal(sm->rollback.n, 0);

	pipeline_free(p);
	diag_release(&d);
}

static void test_step_keys_and_defaults(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"
		"on-failure: rollback-all\n"
		"barriers:\n"
		"  X: ~\n"
		"  Y:\n"
		"    timeout: 90s\n"
		"stages: [a]\n"
		"workflows:\n"
		"  a:\n"
		"    on-failure: ignore\n"
		"    description: the a workflow\n"
		"    steps:\n"
		"      - run: |\n"
		"          \n"
		"          echo first line   \n"
		"          echo second line\n"
		"        id: first_one\n"
		"        shell: bash\n"
		"        dir: /tmp\n"
		"        retries: 3\n"
		"        retry-delay: 250ms\n"
		"        continue-on-error: true\n"
		"        env:\n"
		"          A_B: x\n"
		"          EMPTY:\n"
		"      - wait: 1m30s\n"
		"      - wait: 0\n"
		"      - run: echo 0123456789012345678901234567890123456789012345678901234567890123456789\n"
		"    rollback: []\n";
	struct diag d = DIAG_INIT;
	struct pipeline *p = load_ok(text, &d);
	assert_int_equal(p->on_failure, ON_FAILURE_ROLLBACK_ALL);
	assert_int_equal(p->nbarriers, 2);
	assert_null(p->barriers[0].name);
	assert_int_equal(p->barriers[0].timeout_ms, DEFAULT_BARRIER_TIMEOUT_MS);
	assert_int_equal(p->barriers[1].timeout_ms, 90000);
	const struct workflow *w = &p->workflows[0];
	assert_int_equal(w->on_failure, ON_FAILURE_IGNORE);
	assert_string_equal(w->description, "the a workflow");
	assert_true(w->has_rollback);
	assert_int_equal(w->rollback.n, 0);
	assert_int_equal(w->steps.n, 4);
	const struct step *s = &w->steps.v[0];
	assert_string_equal(s->id, "first_one");
	assert_true(s->id_explicit);
	/* Default name: the first non-blank line, trimmed. */
	assert_string_equal(s->name, "echo first line");
	assert_int_equal(s->shell, SHELL_BASH);
	assert_string_equal(s->dir, "/tmp");
	assert_int_equal(s->retries, 3);
	assert_int_equal(s->retry_delay_ms, 250);
	assert_true(s->continue_on_error);
	assert_int_equal(s->env.n, 2);
	assert_string_equal(s->env.v[0].key, "A_B");
	assert_string_equal(s->env.v[1].key, "EMPTY");
	assert_string_equal(s->env.v[1].val, "");
	assert_false(s->run_plain_single_line);
	s = &w->steps.v[1];
	assert_int_equal(s->kind, STEP_WAIT);
	assert_int_equal(s->wait_ms, 90000);
	assert_string_equal(s->id, "step-2");
	assert_string_equal(s->name, "wait 1m30s");
	s = &w->steps.v[2];
	assert_int_equal(s->wait_ms, 0);
	assert_string_equal(s->name, "wait 0s");
	s = &w->steps.v[3];
	/* A long command is cut to 60 characters, "..." included. */
	assert_int_equal(strlen(s->name), 60);
	assert_memory_equal(s->name, "echo 0123456789", 15);
	assert_string_equal(s->name + 57, "...");
	assert_true(s->run_plain_single_line);
	pipeline_free(p);
	diag_release(&d);
}

static void test_stage_forms(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"
		"vars: {v: x}\n"
		"stages:\n"
		"  - a\n"
		"  - workflow: b\n"
		"    parallel: false\n"
		"    with:\n"
		"      count: 3\n"
		"      who: ${{ vars.v }}-${{ pipeline.name }}\n"
		"    matrix:\n"
		"      region: [eu, us]\n"
		"      tier: [web]\n"
		"workflows:\n"
		"  a: {steps: [{run: x}]}\n"
		"  b: {steps: [{run: y}]}\n";
	struct diag d = DIAG_INIT;
	struct pipeline *p = load_ok(text, &d);
	assert_int_equal(p->nstages, 2);
	assert_string_equal(p->stages[0].workflow, "a");
	assert_at(p->stages[0].pos, 4, 5);
	assert_at(p->stages[0].workflow_pos, 4, 5);
	const struct stage *sg = &p->stages[1];
	assert_false(sg->parallel);
	assert_int_equal(sg->wf, 1);
	assert_int_equal(sg->with.n, 2);
	assert_string_equal(sg->with.v[0].key, "count");
	assert_string_equal(sg->with.v[0].val, "3");
	/* Inputs are expanded later, by plan_build. */
	assert_string_equal(sg->with.v[1].val, "${{ vars.v }}-${{ pipeline.name }}");
	assert_int_equal(sg->nmatrix, 2);
	assert_string_equal(sg->matrix[0].key, "region");
	assert_at(sg->matrix[0].pos, 11, 7);
	assert_int_equal(sg->matrix[0].n, 2);
	assert_string_equal(sg->matrix[0].values[0], "eu");
	assert_string_equal(sg->matrix[0].values[1], "us");
	assert_at(sg->matrix[0].value_pos[1], 11, 20);
	assert_string_equal(sg->matrix[1].key, "tier");
	assert_int_equal(sg->matrix[1].n, 1);
	pipeline_free(p);
	diag_release(&d);
}

/* ---- schema errors: one each, with message and position ---- */

/* The smallest valid file; the cases below change one thing in it. */
#define BASE_HEAD "name: p\nstages: [a]\nworkflows:\n  a:\n    steps:\n"

static const struct load_case k8s_step_errors[] = {
	{ BASE_HEAD "      - k8s-rollback:\n",
	  1, 0, { ERR(6, 9, "k8s-rollback belongs in a rollback list") } },
	{ BASE_HEAD "      - run: x\n    rollback:\n      - k8s-rollback: now\n",
	  1, 0, { ERR(8, 23, "k8s-rollback takes no settings") } },
	{ BASE_HEAD "      - k8s-rolling: {namespace: shop}\n",
	  1, 0, { ERR(6, 22, "k8s-rolling has no manifests") } },
	{ BASE_HEAD "      - k8s-rolling: []\n",
	  1, 0, { ERR(6, 22, "manifests must not be empty") } },
	{ BASE_HEAD "      - k8s-rolling: {manifests: a.yaml, namespace: Shop}\n",
	  1, 0, { ERR(6, 53, "bad Kubernetes namespace 'Shop'") } },
	{ BASE_HEAD "      - k8s-rolling: {manifests: a.yaml, namspace: shop}\n",
	  1, 0, { ERR(6, 42, "unknown key 'namspace' in a k8s-rolling step; did you mean 'namespace'?") } },
	{ BASE_HEAD "      - k8s-rolling: \"k8s/${{ run.id }}.yaml\"\n",
	  1, 0, { ERR(6, 27, "${{ run.id }} is not allowed in manifest paths") } },
	{ BASE_HEAD "      - k8s-rolling: a.yaml\n        shell: bash\n",
	  1, 0, { ERR(7, 16, "shell applies only to run steps") } },
	{ BASE_HEAD "      - k8s-rolling: {manifests: a.yaml, context: \"\"}\n",
	  1, 0, { ERR(6, 51, "context must not be empty") } },
};

/* k8s-rolling and k8s-rollback as written; the default rollback. */
static void test_k8s_steps(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	struct pipeline *p = load_ok(BASE_HEAD
				     "      - id: deploy\n"
				     "        k8s-rolling:\n"
				     "          manifests: [k8s/a.yaml, k8s/]\n"
				     "          namespace: shop\n"
				     "          context: ${{ pipeline.name }}\n"
				     "      - k8s-rolling: k8s/b.yaml\n",
				     &d);
	const struct workflow *wf = &p->workflows[0];
	assert_int_equal(wf->steps.n, 2);
	const struct step *st = &wf->steps.v[0];
	assert_int_equal(st->kind, STEP_K8S_ROLLING);
	assert_int_equal(st->k8s->nmanifests, 2);
	assert_string_equal(st->k8s->manifests[1], "k8s/");
	assert_string_equal(st->k8s->kube_namespace, "shop");
	assert_string_equal(st->k8s->kube_context, "${{ pipeline.name }}");
	assert_string_equal(st->name, "k8s-rolling k8s/a.yaml, k8s/");
	assert_string_equal(wf->steps.v[1].k8s->manifests[0], "k8s/b.yaml");
	assert_null(wf->steps.v[1].k8s->kube_namespace);
	/* No rollback key: the default rollback undoes them. */
	assert_false(wf->has_rollback);
	assert_int_equal(wf->rollback.n, 1);
	assert_int_equal(wf->rollback.v[0].kind, STEP_K8S_ROLLBACK);
	assert_true(wf->rollback.v[0].implicit);
	assert_string_equal(wf->rollback.v[0].id, "rollback-1");
	pipeline_free(p);
	diag_release(&d);

	/* rollback: [] opts out; a written k8s-rollback is not implicit. */
	p = load_ok(BASE_HEAD "      - k8s-rolling: a.yaml\n    rollback: []\n", &d);
	assert_int_equal(p->workflows[0].rollback.n, 0);
	pipeline_free(p);
	p = load_ok(BASE_HEAD "      - k8s-rolling: a.yaml\n    rollback:\n      - k8s-rollback:\n"
			      "      - run: ./notify.sh\n",
		    &d);
	assert_int_equal(p->workflows[0].rollback.n, 2);
	assert_false(p->workflows[0].rollback.v[0].implicit);
	assert_string_equal(p->workflows[0].rollback.v[0].name, "k8s-rollback");
	pipeline_free(p);
	/* A step already called rollback-1: the default one takes another id. */
	p = load_ok(BASE_HEAD "      - k8s-rolling: a.yaml\n        id: rollback-1\n", &d);
	assert_string_equal(p->workflows[0].rollback.v[0].id, "k8s-rollback");
	pipeline_free(p);
	diag_release(&d);

	RUN_LOAD_CASES(k8s_step_errors);
}

static const struct load_case top_level_errors[] = {
	{ "name: p\ndescriptoin: x\nstages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(2, 1, "unknown key 'descriptoin' in the pipeline; did you mean 'description'?") } },
	{ "stages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(1, 1, "missing required key 'name'") } },
	{ "name: p\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(1, 1, "missing required key 'stages'") } },
	{ "name: multi service\nstages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(1, 7, "bad pipeline name 'multi service'") } },
	{ "name: [p]\nstages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(1, 7, "name must be a string, not a list") } },
	{ "name: p\nvars: [a]\nstages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(2, 7, "vars must be a mapping, not a list") } },
	{ "name: p\nvars:\n  1st: x\nstages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(3, 3, "bad name '1st' in vars") } },
	{ "name: p\nvars:\n  v: ${{ vars.w }}\n  w: x\nstages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(3, 6, "expressions are not allowed in vars values") } },
	{ "name: p\nvars:\n  v: [x]\nstages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(3, 6, "must be a string, not a list") } },
	{ "name: p\non-failure: rollback\nstages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(2, 13, "bad on-failure 'rollback': expected stop or rollback-all") } },
	{ "name: p\non-failure: stpo\nstages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(2, 13, "did you mean 'stop'?") } },
	{ "name: p\nstages: a\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 1, { ERR(2, 9, "stages must be a list, not a string") } },
	{ "name: p\nstages: []\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 1, { ERR(2, 9, "stages must not be empty") } },
	{ "name: p\n<<: {description: x}\nstages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(2, 1, "YAML merge keys (<<) are not supported") } },
	{ "- a\n- b\n",
	  1, 0, { ERR(1, 1, "a pipeline file must be a mapping") } },
};

static void test_errors_top_level(void **state)
{
	(void)state;
	RUN_LOAD_CASES(top_level_errors);

	/* Without workflows, the stage's name is unknown too: at most that follows. */
	struct diag d = DIAG_INIT;
	assert_null(load("name: p\nstages: [a]\n", &d));
	assert_true(d.errors >= 1 && d.errors <= 2);
	assert_error_at(&d, 1, 1, "missing required key 'workflows'");
	diag_release(&d);
	assert_null(load("name: p\nstages: [a]\nworkflows: [a]\n", &d));
	assert_true(d.errors >= 1 && d.errors <= 2);
	assert_error_at(&d, 3, 12, "workflows must be a mapping, not a list");
	diag_release(&d);
}

static const struct load_case barrier_errors[] = {
	{ "name: p\nbarriers:\n  BE: {nme: x}\n" "stages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(3, 8, "unknown key 'nme' in a barrier declaration; did you mean 'name'?") } },
	{ "name: p\nbarriers:\n  BE: {timeout: 10 minutes}\n" "stages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(3, 17, "bad duration '10 minutes' for timeout") } },
	{ "name: p\nbarriers:\n  BE: {timeout: 0s}\n" "stages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(3, 17, "timeout must be greater than 0") } },
	{ "name: p\nbarriers:\n  B E: {}\n" "stages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(3, 3, "bad barrier id 'B E'") } },
	{ "name: p\nbarriers:\n  BE: {name: \"${{ vars.v }}\"}\n" "stages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(3, 14, "expressions are not allowed in barrier names") } },
	{ "name: p\nbarriers:\n  BE: [x]\n" "stages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(3, 7, "a barrier declaration must be a mapping, not a list") } },
	{ "name: p\nbarriers:\n  BE: {}\n  BE: {}\n" "stages: [a]\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(4, 3, "duplicate key 'BE' (first at line 3)") } },
};

static void test_errors_barriers(void **state)
{
	(void)state;
	RUN_LOAD_CASES(barrier_errors);
}

static const struct load_case stage_errors[] = {
	{ "name: p\nstages: [backend-deplyo]\nworkflows:\n  backend-deploy:\n    steps: [{run: x}]\n",
	  1, 1, { ERR(2, 10, "unknown workflow 'backend-deplyo' in stages; did you mean 'backend-deploy'?") } },
	{ "name: p\nstages:\n  - workflow: a\n    parallel: true\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(4, 15, "the first stage entry cannot run in parallel") } },
	{ "name: p\nstages:\n  - workflow: a\n  - workflow: a\n    paralel: true\n    matrix: {r: [x]}\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(5, 5, "unknown key 'paralel' in a stage entry; did you mean 'parallel'?") } },
	{ "name: p\nstages:\n  - a\n  - workflow: a\n    parallel: yes\n    matrix: {r: [x]}\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(5, 15, "parallel must be true or false, not 'yes'") } },
	{ "name: p\nstages:\n  - with: {x: 1}\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 1, { ERR(3, 5, "stage entry has no workflow") } },
	{ "name: p\nstages:\n  - ~\n  - a\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(3, 5, "a stage entry must be a workflow name or a mapping with 'workflow:', not null") } },
	{ "name: p\nstages:\n  - workflow: a\n    with:\n      1x: y\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(5, 7, "bad name '1x' in with") } },
	{ "name: p\nstages:\n  - workflow: a\n    with:\n      x: ${{ inputs.y }}\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(5, 10, "inputs.* is not available in stage inputs (with:)") } },
	{ "name: p\nstages:\n  - workflow: a\n    with:\n      x: ab ${{ matrix.y }}\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(5, 13, "matrix.* is not available in stage inputs (with:)") } },
	{ "name: p\nstages:\n  - workflow: a\n    matrix: {}\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(4, 13, "matrix must have at least one key") } },
	{ "name: p\nstages:\n  - workflow: a\n    matrix: {r: []}\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(4, 17, "matrix axis 'r' must have at least one value") } },
	{ "name: p\nstages:\n  - workflow: a\n    matrix: {r: eu}\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(4, 17, "a matrix axis must be a list, not a string") } },
	{ "name: p\nstages:\n  - workflow: a\n    matrix: {r: [eu, us, eu]}\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(4, 26, "duplicate matrix value 'eu' for 'r'") } },
	{ "name: p\nstages:\n  - workflow: a\n    matrix: {r: [eu, 'a,b']}\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(4, 22, "bad matrix value 'a,b'") } },
	{ "name: p\nstages:\n  - workflow: a\n    matrix: {r: [eu, '']}\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(4, 22, "bad matrix value ''") } },
	{ "name: p\nstages:\n  - workflow: a\n    matrix: {r: ['${{ vars.x }}']}\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(4, 18, "expressions are not allowed in matrix values") } },
	{ "name: p\nstages:\n  - workflow: a\n    matrix: {9r: [x]}\nworkflows:\n  a:\n    steps: [{run: x}]\n",
	  1, 0, { ERR(4, 14, "bad matrix key '9r'") } },
};

static void test_errors_stages(void **state)
{
	(void)state;
	RUN_LOAD_CASES(stage_errors);
	/* The unknown workflow also leaves the defined one unused: a warning only. */
	struct diag d = DIAG_INIT;
	const char *t = "name: p\nstages: [zzz]\nworkflows:\n  backend-deploy:\n    steps: [{run: x}]\n";
	assert_null(load(t, &d));
	assert_int_equal(d.errors, 1);
	assert_error_at(&d, 2, 10, "unknown workflow 'zzz' in stages (define it under workflows:)");
	assert_int_equal(d.warnings, 1);
	diag_release(&d);

}

static const struct load_case workflow_errors[] = {
	{ "name: p\nstages: [a]\nworkflows:\n  a:\n    stpes: [{run: x}]\n    steps: [{run: x}]\n",
	  1, 0, { ERR(5, 5, "unknown key 'stpes' in a workflow; did you mean 'steps'?") } },
	{ "name: p\nstages: [a]\nworkflows:\n  a:\n    rollback: [{run: x}]\n",
	  1, 0, { ERR(4, 3, "workflow a has no steps") } },
	{ "name: p\nstages: [a]\nworkflows:\n  a:\n    steps: []\n",
	  1, 0, { ERR(5, 12, "steps must not be empty") } },
	{ "name: p\nstages: [a]\nworkflows:\n  a:\n    steps: ~\n",
	  1, 0, { ERR(5, 12, "steps must be a list, not null") } },
	{ "name: p\nstages: [a]\nworkflows:\n  a: [x]\n",
	  1, 0, { ERR(4, 6, "a workflow must be a mapping, not a list") } },
	{ "name: p\nstages: [a]\nworkflows:\n  a:\n    on-failure: rollbak\n    steps: [{run: x}]\n",
	  1, 0, { ERR(5, 17, "bad on-failure 'rollbak': expected rollback, stop or ignore; did you mean 'rollback'?") } },
	{ "name: p\nstages: [a]\nworkflows:\n  a:\n    on-failure: rollback-all\n    steps: [{run: x}]\n",
	  1, 0, { ERR(5, 17, "bad on-failure 'rollback-all'") } },
	{ "name: p\nstages: [a]\nworkflows:\n  a:\n    env: {LOCKSTEP_X: y}\n    steps: [{run: x}]\n",
	  1, 0, { ERR(5, 11, "names starting with LOCKSTEP_ are reserved") } },
	{ "name: p\nstages: [a]\nworkflows:\n  a:\n    env: {A-B: y}\n    steps: [{run: x}]\n",
	  1, 0, { ERR(5, 11, "bad environment variable name 'A-B' in workflow env") } },
	{ "name: p\nstages: [a]\nworkflows:\n  a:\n    env: {A: {b: c}}\n    steps: [{run: x}]\n",
	  1, 0, { ERR(5, 14, "must be a string, not a mapping") } },
};

static void test_errors_workflows(void **state)
{
	(void)state;
	RUN_LOAD_CASES(workflow_errors);
}

static const struct load_case step_errors[] = {
	{ BASE_HEAD "      - name: x\n",
	  1, 0, { ERR(6, 9, "step has no kind: give it exactly one of run, barrier, wait, http-check, k8s-rolling or k8s-rollback") } },
	{ BASE_HEAD "      - run: x\n        barrier: B\n",
	  1, 0, { ERR(6, 9, "step has more than one kind (run and barrier)") } },
	{ BASE_HEAD "      - run: x\n        barrier: B\n        wait: 1s\n",
	  1, 0, { ERR(6, 9, "step has more than one kind (run and barrier and wait)") } },
	{ BASE_HEAD "      - echo hi\n",
	  1, 0, { ERR(6, 9, "a step must be a mapping, not a string") } },
	{ BASE_HEAD "      - approval: {}\n",
	  1, 0, { ERR(6, 9, "step kind 'approval' is not supported by this version of lockstep") } },
	{ BASE_HEAD "      - run: x\n        timout: 5m\n",
	  1, 0, { ERR(7, 9, "unknown key 'timout' in a step; did you mean 'timeout'?") } },
	{ BASE_HEAD "      - run: x\n        timeout: 5x\n",
	  1, 0, { ERR(7, 18, "bad duration '5x' for timeout: unknown unit") } },
	{ BASE_HEAD "      - run: x\n        timeout: 0\n",
	  1, 0, { ERR(7, 18, "timeout must be greater than 0") } },
	{ BASE_HEAD "      - run: x\n        timeout: [5m]\n",
	  1, 0, { ERR(7, 18, "timeout must be a duration like 30s, 10m or 1h30m, not a list") } },
	{ BASE_HEAD "      - run: x\n        id: Deploy\n",
	  1, 0, { ERR(7, 13, "bad step id 'Deploy'") } },
	{ BASE_HEAD "      - run: x\n        id: same\n      - run: y\n        id: same\n",
	  1, 0, { ERR(9, 13, "duplicate step id 'same' in workflow a (first at line 6)") } },
	/* Ids are unique across steps and rollback. */
	{ BASE_HEAD "      - run: x\n        id: same\n    rollback:\n      - run: y\n        id: same\n",
	  1, 0, { ERR(10, 13, "duplicate step id 'same' in workflow a") } },
	/* An explicit id may collide with a default one. */
	{ BASE_HEAD "      - run: x\n        id: step-2\n      - run: y\n",
	  1, 0, { ERR(8, 9, "duplicate step id 'step-2' in workflow a (first at line 6)") } },
	{ BASE_HEAD "      - barrier: B\n        retries: 2\n",
	  1, 0, { ERR(7, 18, "a barrier step cannot be retried") } },
	{ BASE_HEAD "      - barrier: B\n        retry-delay: 2s\n",
	  1, 0, { ERR(7, 22, "a barrier step cannot be retried") } },
	{ BASE_HEAD "      - barrier: B\n        dir: /tmp\n",
	  1, 0, { ERR(7, 14, "dir applies only to run steps") } },
	{ BASE_HEAD "      - wait: 1s\n        shell: bash\n",
	  1, 0, { ERR(7, 16, "shell applies only to run steps") } },
	{ BASE_HEAD "      - run: x\n        shell: zsh\n",
	  1, 0, { ERR(7, 16, "bad shell 'zsh': expected sh or bash") } },
	{ BASE_HEAD "      - barrier: a b\n",
	  1, 0, { ERR(6, 18, "bad barrier id 'a b'") } },
	{ BASE_HEAD "      - barrier: B-${{ run.id }}\n",
	  1, 0, { ERR(6, 20, "${{ run.id }} is not allowed in barrier ids") } },
	{ BASE_HEAD "      - run: \"\"\n",
	  1, 0, { ERR(6, 14, "run must not be empty") } },
	{ BASE_HEAD "      - run:\n",
	  1, 0, { ERR(6, 13, "run must be a string, not null") } },
	{ BASE_HEAD "      - wait: soon\n",
	  1, 0, { ERR(6, 15, "bad duration 'soon' for wait") } },
	{ BASE_HEAD "      - run: x\n        env: [A]\n",
	  1, 0, { ERR(7, 14, "step env must be a mapping, not a list") } },
	{ BASE_HEAD "      - run: x\n        continue-on-error: yes\n",
	  1, 0, { ERR(7, 28, "continue-on-error must be true or false, not 'yes'") } },
	{ BASE_HEAD "      - run: x\n        retries: 101\n",
	  1, 0, { ERR(7, 18, "retries must be at most 100, not 101") } },
	{ BASE_HEAD "      - run: x\n        retries: -1\n",
	  1, 0, { ERR(7, 18, "retries must be a whole number from 0 to 100, not '-1'") } },
	{ BASE_HEAD "      - run: x\n        name: [x]\n",
	  1, 0, { ERR(7, 15, "name must be a string, not a list") } },
};

static void test_errors_steps(void **state)
{
	(void)state;
	RUN_LOAD_CASES(step_errors);
}

/*
 * secrets: declared without values; ${{ secrets.X }} only in env values
 * and http-check headers; everywhere else an error that says why.
 */
#define SECRETS_HEAD "name: p\nsecrets:\n  api-token: {description: the API token}\n  spare: {required: false}\n" \
		     "stages: [a]\nworkflows:\n  a:\n    steps:\n"

static void test_secrets(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	struct pipeline *p = load_ok(
		"name: p\n"
		"secrets:\n"
		"  api-token: {description: the API token}\n"
		"  spare: {required: false}\n"
		"  bare:\n"
		"environments:\n"
		"  prod:\n"
		"    env: {E: \"${{ secrets.bare }}\"}\n"
		"stages: [a]\n"
		"workflows:\n"
		"  a:\n"
		"    environment: prod\n"
		"    env: {W: \"${{ secrets.spare }}\"}\n"
		"    steps:\n"
		"      - run: echo \"$T\"\n"
		"        env: {T: \"x ${{ secrets.api-token }} ${{ run.id }}\"}\n"
		"      - http-check:\n"
		"          url: http://example.com/\n"
		"          headers: {Authorization: \"Bearer ${{ secrets.api-token }}\"}\n",
		&d);
	assert_int_equal(p->nsecrets, 3);
	assert_string_equal(p->secrets[0].name, "api-token");
	assert_string_equal(p->secrets[0].description, "the API token");
	assert_true(p->secrets[0].required);
	assert_false(p->secrets[1].required);
	assert_true(p->secrets[2].required);
	assert_null(p->secrets[2].description);
	assert_int_equal(p->secrets[2].pos.line, 5);
	pipeline_free(p);
	diag_release(&d);

	/* In a command line: why, and what to do instead */
	expect_one_error(SECRETS_HEAD "      - run: deploy --token ${{ secrets.api-token }}\n", 9, 29,
			 "${{ secrets.api-token }} is not allowed in run: a command line is visible in ps and in "
			 "logs; put it in env: (API_TOKEN: ${{ secrets.api-token }}) and use \"$API_TOKEN\" in the command");
	expect_one_error(SECRETS_HEAD "      - http-check: http://h/${{ secrets.api-token }}\n", 9, 30,
			 "is not allowed in http-check urls: a url is shown in logs and events; send the secret in a header");
	expect_one_error(SECRETS_HEAD "      - run: x\n        name: ${{ secrets.spare }}\n", 10, 15,
			 "${{ secrets.spare }} is not allowed in step names:");
	expect_one_error(SECRETS_HEAD "      - run: x\n        dir: ${{ secrets.spare }}\n", 10, 14,
			 "is not allowed in dir:");
	expect_one_error(SECRETS_HEAD "      - barrier: b${{ secrets.spare }}\n", 9, 19,
			 "is not allowed in barrier ids:");
	expect_one_error(SECRETS_HEAD "      - http-check:\n          url: http://h/\n"
			 "          expect-body: ${{ secrets.spare }}\n", 11, 24,
			 "is not allowed in expect-body patterns:");
	expect_one_error("name: p\nsecrets: {s: }\nenvironments:\n  e:\n    kubernetes: {context: \"${{ secrets.s }}\"}\n"
			 "stages: [a]\nworkflows:\n  a:\n    environment: e\n    steps:\n      - run: x\n",
			 5, 28, "is not allowed in kubernetes context of environment e:");
	expect_one_error("name: p\nsecrets: {s: }\nstages:\n  - workflow: a\n    with: {i: \"${{ secrets.s }}\"}\n"
			 "workflows:\n  a:\n    steps:\n      - run: x\n",
			 5, 16, "is not allowed in stage inputs (with:):");
	/* Names it does not declare, with a suggestion */
	expect_one_error(SECRETS_HEAD "      - run: x\n        env: {T: \"${{ secrets.api-tokn }}\"}\n", 10, 19,
			 "unknown secret 'api-tokn'; did you mean 'api-token'?");
	expect_one_error(BASE_HEAD "      - run: x\n        env: {T: \"${{ secrets.token }}\"}\n", 7, 19,
			 "unknown secret 'token' (declare it under secrets:)");
	/* Declarations */
	expect_one_error("name: p\nsecrets:\n  9lives:\nstages: [a]\nworkflows:\n  a:\n    steps:\n      - run: x\n",
			 3, 3, "bad secret name '9lives'");
	expect_one_error("name: p\nsecrets:\n  s: {required: yes}\nstages: [a]\nworkflows:\n  a:\n    steps:\n      - run: x\n",
			 3, 17, "required must be true or false");
	expect_one_error("name: p\nsecrets:\n  s: {requird: true}\nstages: [a]\nworkflows:\n  a:\n    steps:\n      - run: x\n",
			 3, 7, "unknown key 'requird' in a secret declaration; did you mean 'required'?");
	expect_one_error("name: p\nsecrets:\n  s: the token\nstages: [a]\nworkflows:\n  a:\n    steps:\n      - run: x\n",
			 3, 6, "a secret declaration must be a mapping");
	expect_one_error("name: p\nsecrets:\n  api-token:\n  API_TOKEN:\nstages: [a]\nworkflows:\n  a:\n    steps:\n      - run: x\n",
			 4, 3, "secrets 'api-token' and 'API_TOKEN' would both be read from LOCKSTEP_SECRET_API_TOKEN");
}

static const struct load_case expression_errors[] = {
	/* Errors point at the "${{" inside a plain one-line scalar. */
	{ "name: p\nvars: {version: 1}\n" "stages: [a]\nworkflows:\n  a:\n    steps:\n" "      - run: echo ${{ vars.verison }}\n",
	  1, 0, { ERR(7, 19, "unknown var 'verison'; did you mean 'version'?") } },
	{ BASE_HEAD "      - run: echo ${{ vars.nothing }}\n",
	  1, 0, { ERR(6, 19, "unknown var 'nothing' (declare it under vars:)") } },
	{ BASE_HEAD "      - run: echo ${{ vars.x\n",
	  1, 0, { ERR(6, 19, "unterminated expression") } },
	{ BASE_HEAD "      - run: a ${{ secret.x }}\n",
	  1, 0, { ERR(6, 16, "unknown name 'secret.x'") } },
	{ BASE_HEAD "      - run: x\n        name: step ${{ pipline.name }}\n",
	  1, 0, { ERR(7, 20, "did you mean 'pipeline.name'?") } },
	{ BASE_HEAD "      - run: x\n        env:\n          A: ${{ vars.q }}\n",
	  1, 0, { ERR(8, 14, "unknown var 'q'") } },
	{ BASE_HEAD "      - run: x\n        dir: /srv/${{ vars.q }}\n",
	  1, 0, { ERR(7, 19, "unknown var 'q'") } },
	/* Every bad reference in one value is reported. */
	{ BASE_HEAD "      - run: ${{ vars.a }} ${{ vars.b }}\n",
	  2, 0, { ERR(6, 14, "unknown var 'a'"), ERR(6, 28, "unknown var 'b'") } },
	/* The column of an expression counts characters, like every other
	 * column: "é" is two bytes but one column. */
	{ BASE_HEAD "      - run: echo \xc3\xa9\xc3\xa9 ${{ vars.q }}\n",
	  1, 0, { ERR(6, 22, "unknown var 'q'") } },
	/* Block scalars and quoted scalars with escapes: positions in the file. */
	{ BASE_HEAD                              /* 1-5 */
	  "      - run: |\n"                     /* 6 */
	  "          echo one\n"                 /* 7 */
	  "          echo ${{ vars.q }}\n"       /* 8 */
	  "      - run: >\n"                     /* 9 */
	  "          folded\n"                   /* 10 */
	  "          x ${{ vars.r }}\n"          /* 11 */
	  "      - run: \"a\\\n"                 /* 12: escaped line break */
	  "          b ${{ vars.s }}\"\n"        /* 13 */
	  "      - run: 'it''s ${{ vars.t }}'\n", /* 14 */
	  4, 0, {
		  ERR(8, 16, "unknown var 'q'"),
		  ERR(11, 13, "unknown var 'r'"),
		  ERR(13, 13, "unknown var 's'"),
		  ERR(14, 21, "unknown var 't'"),
	  } },
};

static void test_errors_expressions(void **state)
{
	(void)state;
	RUN_LOAD_CASES(expression_errors);
	/*
	 * In a quoted scalar escapes move offsets: the exact place (6:23, past
	 * the two-character escape) or, failing that, the scalar's own (6:14).
	 */
	struct diag d = DIAG_INIT;
	assert_null(load(BASE_HEAD "      - run: \"echo \\t ${{ vars.q }}\"\n", &d));
	assert_int_equal(d.errors, 1);
	assert_int_equal(d.items[0].line, 6);
	if (d.items[0].col != 23 && d.items[0].col != 14) {
		dump_diags(&d);
		fail_msg("column %d is neither the expression's nor the scalar's", d.items[0].col);
	}
	diag_release(&d);
}

/*
 * A plain scalar may continue on the next lines (YAML folds them into one
 * line); the position of an expression on a continuation line is on that
 * line, not computed as if it were on the first.
 */
static void test_expression_position_in_folded_plain_scalar(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	assert_null(load(BASE_HEAD "      - run: echo one\n"
				   "          ${{ vars.q }}\n", &d));
	assert_int_equal(d.errors, 1);
	/* The reference is on line 7; line 6, column 23 is past the end of "echo one". */
	if (d.items[0].line == 6 && d.items[0].col == 23) {
		dump_diags(&d);
		fail_msg("expression position computed as if the folded scalar were one line");
	}
	/* At the scalar (6:14) would be acceptable; the exact place is 7:11. */
	assert_true((d.items[0].line == 7 && d.items[0].col == 11) ||
		    (d.items[0].line == 6 && d.items[0].col == 14));
	diag_release(&d);
}

/* ---- all errors in one pass; warnings ---- */

/*
 * All errors in one pass: one bad key of a stage entry must not hide the
 * entry's other problems, and a step without a kind, or with two, still
 * has its other keys checked.
 */
static const struct load_case one_pass_errors[] = {
	{ "name: p\n"                          /* 1 */
	  "colour: red\n"                      /* 2: unknown key */
	  "stages:\n"                          /* 3 */
	  "  - a\n"                            /* 4 */
	  "  - nope\n"                         /* 5: unknown workflow */
	  "workflows:\n"                       /* 6 */
	  "  a:\n"                             /* 7 */
	  "    steps:\n"                       /* 8 */
	  "      - run: x\n"                   /* 9 */
	  "        timeout: 10y\n"             /* 10: bad duration */
	  "      - barrier: B\n"               /* 11 */
	  "        retries: 1\n"               /* 12: retries on a barrier */
	  "      - wait: 1s\n"                 /* 13 */
	  "        continue-on-error: maybe\n", /* 14: bad bool */
	  5, 0, {
		  ERR(2, 1, "unknown key 'colour' in the pipeline"),
		  ERR(5, 5, "unknown workflow 'nope'"),
		  ERR(10, 18, "bad duration '10y' for timeout"),
		  ERR(12, 18, "a barrier step cannot be retried"),
		  ERR(14, 28, "continue-on-error must be true or false, not 'maybe'"),
	  } },
	{ "name: p\n"                         /* 1 */
	  "stages:\n"                         /* 2 */
	  "  - workflow: nope\n"              /* 3: unknown workflow */
	  "    parallel: true\n"              /* 4: first entry in parallel */
	  "    matrix: {r: []}\n"             /* 5: empty axis */
	  "  - with: {1x: y}\n"               /* 6: no workflow; bad input name */
	  "workflows:\n"
	  "  a: {steps: [{run: x}]}\n",
	  5, 1, {
		  ERR(4, 15, "the first stage entry cannot run in parallel"),
		  ERR(3, 15, "unknown workflow 'nope' in stages"),
		  ERR(5, 17, "matrix axis 'r' must have at least one value"),
		  ERR(6, 5, "stage entry has no workflow"),
		  ERR(6, 12, "bad name '1x' in with"),
	  } },
	{ BASE_HEAD                            /* 1-5 */
	  "      - run: x\n"                   /* 6: two kinds */
	  "        wait: 1s\n"                 /* 7 */
	  "        timeout: 5x\n"              /* 8: bad duration */
	  "      - name: [x]\n"                /* 9: no kind; name not a string */
	  "        retries: many\n",           /* 10: bad integer */
	  5, 0, {
		  ERR(6, 9, "step has more than one kind (run and wait)"),
		  ERR(8, 18, "bad duration '5x' for timeout"),
		  ERR(9, 9, "step has no kind"),
		  ERR(9, 15, "name must be a string, not a list"),
		  ERR(10, 18, "retries must be a whole number from 0 to 100, not 'many'"),
	  } },
};

static void test_errors_all_in_one_pass(void **state)
{
	(void)state;
	RUN_LOAD_CASES(one_pass_errors);
}

static void test_errors_accumulate_into_existing_diag(void **state)
{
	(void)state;
	/* A diag that already holds errors: a clean load still succeeds. */
	struct diag d = DIAG_INIT;
	diag_add(&d, DIAG_ERROR, "other.yml", 1, 1, "an earlier problem");
	struct pipeline *p = load("name: p\nstages: [a]\nworkflows:\n  a: {steps: [{run: x}]}\n", &d);
	assert_non_null(p);
	assert_int_equal(d.errors, 1);
	pipeline_free(p);
	diag_release(&d);
}

static void test_warnings_do_not_fail(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"
		"stages: [a]\n"
		"workflows:\n"
		"  a: {steps: [{run: x}]}\n"
		"  spare: {steps: [{run: y}]}\n";
	struct diag d = DIAG_INIT;
	struct pipeline *p = load(text, &d);
	assert_non_null(p);
	assert_int_equal(d.errors, 0);
	assert_int_equal(d.warnings, 1);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.items[0].severity, DIAG_WARNING);
	assert_int_equal(d.items[0].line, 5);
	assert_int_equal(d.items[0].col, 3);
	assert_non_null(strstr(d.items[0].message, "workflow spare is never used"));
	assert_false(p->workflows[1].used);
	assert_true(p->workflows[0].used);
	pipeline_free(p);
	diag_release(&d);
}

/* ---- typed values ---- */

/* Loads one run step with `key: value` and returns its error count. */
static size_t step_with(const char *key, const char *value, struct step *out)
{
	struct buf b = BUF_INIT;
	buf_addf(&b, BASE_HEAD "      - run: x\n        %s: %s\n", key, value);
	struct diag d = DIAG_INIT;
	struct pipeline *p = load(b.s, &d);
	size_t errors = d.errors;
	if (p && out)
		*out = p->workflows[0].steps.v[0];
	pipeline_free(p);
	diag_release(&d);
	buf_release(&b);
	return errors;
}

static void test_durations(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		uint64_t ms;
	} good[] = {
		{ "250ms", 250 },
		{ "30s", 30000 },
		{ "10m", 600000 },
		{ "2h", 7200000 },
		{ "1h30m", 5400000 },
		{ "1m30s500ms", 90500 },
		{ "1h1ms", 3600001 },
		{ "45", 45000 },          /* a bare integer is seconds */
		{ "\"45\"", 45000 },
		{ "'2h'", 7200000 },
		{ "8784h", 366ULL * 24 * 3600 * 1000 }, /* the maximum: 366 days */
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct step s;
		memset(&s, 0, sizeof(s));
		if (step_with("timeout", good[i].text, &s) != 0)
			fail_msg("timeout: %s should load", good[i].text);
		if (s.timeout_ms != good[i].ms)
			fail_msg("timeout: %s gave %llu ms, expected %llu", good[i].text,
				 (unsigned long long)s.timeout_ms, (unsigned long long)good[i].ms);
	}
	static const char *const bad[] = {
		"", "~", "1.5s", "-1s", "1m1h", "1m1m", "30s1", "1 h", "1d", "30S", "s", "ms5",
		"8785h", "99999999999999999999s", "1h30", "0x10",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (step_with("timeout", bad[i], NULL) != 1)
			fail_msg("timeout: '%s' should be exactly one error", bad[i]);

	/* Zero: allowed for wait and retry-delay, not for timeouts. */
	struct step s;
	assert_int_equal(step_with("retry-delay", "0", &s), 0);
	assert_int_equal(s.retry_delay_ms, 0);
	assert_int_equal(step_with("retry-delay", "0ms", &s), 0);
	assert_int_equal(step_with("timeout", "0ms", NULL), 1);
	assert_int_equal(step_with("retry-delay", "2s", &s), 0);
	assert_int_equal(s.retry_delay_ms, 2000);
}

static void test_bools(void **state)
{
	(void)state;
	struct step s;
	assert_int_equal(step_with("continue-on-error", "true", &s), 0);
	assert_true(s.continue_on_error);
	assert_int_equal(step_with("continue-on-error", "false", &s), 0);
	assert_false(s.continue_on_error);
	/* YAML 1.1 spellings are not booleans in a lockstep file. */
	static const char *const bad[] = { "yes", "no", "on", "off", "y", "n", "1", "0", "~", "[true]", "tru" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (step_with("continue-on-error", bad[i], NULL) != 1)
			fail_msg("continue-on-error: %s should be one error", bad[i]);
}

static void test_ints(void **state)
{
	(void)state;
	struct step s;
	assert_int_equal(step_with("retries", "0", &s), 0);
	assert_int_equal(s.retries, 0);
	assert_int_equal(step_with("retries", "3", &s), 0);
	assert_int_equal(s.retries, 3);
	assert_int_equal(step_with("retries", "100", &s), 0);
	assert_int_equal(s.retries, 100);
	static const char *const bad[] = {
		"101", "-1", "+1", "1.0", "1e2", "0x10", "three", "\"3\"", "~", "[1]", "999999999",
		"99999999999999999999", " ",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (step_with("retries", bad[i], NULL) != 1)
			fail_msg("retries: '%s' should be one error", bad[i]);
}

/*
 * Every number of a pipeline file has one strict form (base/num.h) and a
 * range: a value past 64 bits is "too large", never wrapped into range.
 */
static const struct load_case strict_int_errors[] = {
	{ BASE_HEAD "      - run: x\n        retries: 18446744073709551617\n",
	  1, 0, { ERR(7, 18, "retries must be at most 100, not 18446744073709551617") } },
	{ BASE_HEAD "      - run: x\n        retries: +3\n",
	  1, 0, { ERR(7, 18, "retries must be a whole number from 0 to 100, not '+3'") } },
	{ BASE_HEAD "      - run: x\n        retries: \" 3\"\n",
	  1, 0, { ERR(7, 18, "retries must be a whole number from 0 to 100, not ' 3'") } },
	{ BASE_HEAD "      - http-check: {url: 'http://h/', expect-status: 99999999999999999999}\n",
	  1, 0, { ERR(6, 55, "bad expect-status '99999999999999999999': a status is a number from 100 to 599") } },
	{ BASE_HEAD "      - http-check: {url: 'http://h/', expect-status: '+200'}\n",
	  1, 0, { ERR(6, 55, "bad expect-status '+200'") } },
	{ BASE_HEAD "      - wait: 18446744073709551617ms\n",
	  1, 0, { ERR(6, 15, "duration too large (at most 366 days)") } },
};

static void test_ints_strict_and_in_range(void **state)
{
	(void)state;
	struct step s;
	/* Leading zeros are decimal, never octal. */
	assert_int_equal(step_with("retries", "010", &s), 0);
	assert_int_equal(s.retries, 10);
	RUN_LOAD_CASES(strict_int_errors);
}

/* The port of an http-check url: digits only, 1 to 65535. */
static void test_http_url_ports(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"http://localhost:99999999999999/health", /* past 32 bits: libcurl would fail at run time */
		"http://localhost:65536/",
		"http://localhost:0/",
		"http://localhost:+80/",
		"http://localhost:-1/",
		"http://localhost:/",
		"http://localhost:8o/",
		"http://user:pw@localhost:99999/",
		"http://[::1]:99999/",
		"https://[::1]:/",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf t = BUF_INIT;
		buf_addf(&t, BASE_HEAD "      - http-check: '%s'\n", bad[i]);
		struct buf want = BUF_INIT;
		buf_addf(&want, "bad url '%s': the port must be a number from 1 to 65535", bad[i]);
		expect_one_error(t.s, 6, 21, want.s);
		buf_release(&want);
		buf_release(&t);
	}
	expect_one_error(BASE_HEAD "      - http-check: 'http://[::1]x/'\n", 6, 21,
			 "only :PORT may follow the url's IPv6 host");
	expect_one_error(BASE_HEAD "      - http-check: 'http://[::1/'\n", 6, 21,
			 "the url's IPv6 host has no closing ']'");
	static const char *const good[] = {
		"http://localhost:1/", "http://localhost:65535/", "http://localhost:08080/x",
		"http://user:pw@localhost:8080/?q=a:b", "http://[::1]:8080/", "http://[::1]/",
		"https://example.com/a:b", "http://h:80#frag",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct buf t = BUF_INIT;
		buf_addf(&t, BASE_HEAD "      - http-check: '%s'\n", good[i]);
		struct diag d = DIAG_INIT;
		pipeline_free(load_ok(t.s, &d));
		diag_release(&d);
		buf_release(&t);
	}
}

/* A run of `n` copies of `c` (malloc'd). */
static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/*
 * Loads `tmpl` with every '@' replaced by `n` copies of `c`: without
 * errors when `msg` is NULL, else with exactly one error, at line:col,
 * saying `msg`.
 */
static void expect_name_case(const char *tmpl, char c, size_t n, int line, int col, const char *msg)
{
	char *x = repeat(c, n);
	struct buf t = BUF_INIT;
	for (const char *s = tmpl; *s; s++) {
		if (*s == '@')
			buf_adds(&t, x);
		else
			buf_addc(&t, *s);
	}
	free(x);
	struct diag d = DIAG_INIT;
	struct pipeline *p = load(t.s, &d);
	bool ok = msg ? !p && d.errors == 1 && d.items[0].line == line && d.items[0].col == col &&
				!strcmp(d.items[0].message, msg)
		      : p && !d.n;
	if (!ok) {
		dump_diags(&d);
		fail_msg("%zu x '%c' in \"%.40s...\": expected %s", n, c, tmpl, msg ? msg : "no error");
	}
	pipeline_free(p);
	diag_release(&d);
	buf_release(&t);
}

#define NAME_WF "name: p\nstages: ['@']\nworkflows:\n  '@': {steps: [{run: x}]}\n"
#define NAME_ID BASE_HEAD "      - id: @\n        run: x\n"
#define NAME_MATRIX(AXIS) \
	"name: p\nstages:\n  - workflow: w\n    matrix: {" AXIS "}\nworkflows:\n  w: {steps: [{run: x}]}\n"

/*
 * Logs live at STATE/logs/RUN/WORKFLOW/STEP.ATTEMPT.log: a workflow
 * instance name (escaped) and a step id with its longest suffix must each
 * fit one file name, 255 bytes. A run with a longer one used to succeed
 * without writing any log.
 */
static void test_names_fit_log_paths(void **state)
{
	(void)state;
	static const char wf_long[] = "workflow name is too long: its log directory name would be 256 bytes, at most 255";
	/* The workflow's name: 255 bytes fit, 256 do not. */
	expect_name_case(NAME_WF, 'w', 255, 0, 0, NULL);
	expect_name_case(NAME_WF, 'w', 256, 4, 3, wf_long);
	/* A leading '.' is written %2E: 253 bytes make 255, 254 make 256. */
	expect_name_case(NAME_WF, '.', 253, 0, 0, NULL);
	expect_name_case(NAME_WF, '.', 254, 4, 3, wf_long);
	/* A step id: 237 bytes leave room for ".101.k8s-spec.json". */
	expect_name_case(NAME_ID, 's', 237, 0, 0, NULL);
	expect_name_case(NAME_ID, 's', 300, 6, 13,
			 "step id is too long: 300 bytes, at most 237, so that the names of its log files (ID.ATTEMPT.log, ID.ATTEMPT.k8s-spec.json) fit in 255 bytes");
	/* A matrix value: w[region=VALUE] is 10 bytes and the value. */
	expect_name_case(NAME_MATRIX("region: [eu, @]"), 'r', 245, 0, 0, NULL);
	expect_name_case(NAME_MATRIX("region: [eu, @]"), 'r', 5000, 4, 27,
			 "matrix value of 'region' is too long: the log directory names of the instances of workflow w with it would be at least 5010 bytes, at most 255");
	/* '/' in a value is written %2F: w[path=] and 82 of them are 254 bytes. */
	expect_name_case(NAME_MATRIX("path: ['@']"), '/', 82, 0, 0, NULL);
	expect_name_case(NAME_MATRIX("path: ['@']"), '/', 83, 4, 21,
			 "matrix value of 'path' is too long: the log directory names of the instances of workflow w with it would be at least 257 bytes, at most 255");
	/* Each value short enough, but not together: the longest is blamed. */
	expect_name_case(NAME_MATRIX("a: [x, @], b: [@, y]"), 'v', 123, 0, 0, NULL);
	expect_name_case(NAME_MATRIX("a: [x, @], b: [@, y]"), 'v', 124, 4, 21,
			 "matrix values are too long together: the log directory name of the instance of workflow w with the longest of each key would be 256 bytes, at most 255");
	/* A key too long: no value can be blamed, the matrix is. */
	expect_name_case(NAME_MATRIX("@: [x, y]"), 'k', 252, 4, 13,
			 "the instance names of workflow w are too long: as log directory names they would be at least 257 bytes, at most 255 (shorten the workflow name or the matrix keys)");
}

static void test_plain_scalars_are_strings(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"
		"vars:\n"
		"  version: 1.10\n"
		"  flag: true\n"
		"  count: 007\n"
		"  nothing:\n"
		"stages: [a]\n"
		"workflows:\n"
		"  a: {steps: [{run: 42}]}\n";
	struct diag d = DIAG_INIT;
	struct pipeline *p = load_ok(text, &d);
	assert_int_equal(p->vars.n, 4);
	assert_string_equal(p->vars.v[0].val, "1.10");
	assert_string_equal(p->vars.v[1].val, "true");
	assert_string_equal(p->vars.v[2].val, "007");
	assert_string_equal(p->vars.v[3].val, "");
	assert_string_equal(p->workflows[0].steps.v[0].run, "42");
	pipeline_free(p);
	diag_release(&d);
}

/* ---- size limit ---- */

/* A valid pipeline padded with a comment to exactly `size` bytes. */
static char *padded_pipeline(size_t size)
{
	static const char head[] = "name: p\nstages: [a]\nworkflows:\n  a: {steps: [{run: x}]}\n#";
	char *t = malloc(size + 1);
	assert_non_null(t);
	memcpy(t, head, sizeof(head) - 1);
	memset(t + sizeof(head) - 1, 'x', size - sizeof(head));
	t[size - 1] = '\n';
	t[size] = '\0';
	return t;
}

static void test_size_limit(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	char *t = padded_pipeline(PIPELINE_MAX_BYTES + 1);
	struct pipeline *p = pipeline_load_text("p.yml", t, PIPELINE_MAX_BYTES + 1, &d);
	assert_null(p);
	assert_int_equal(d.errors, 1);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.items[0].file, "p.yml");
	assert_non_null(strstr(d.items[0].message, "larger than 4 MiB"));
	diag_release(&d);
	free(t);

	/* Exactly 4 MiB is allowed. */
	t = padded_pipeline(PIPELINE_MAX_BYTES);
	p = pipeline_load_text("p.yml", t, PIPELINE_MAX_BYTES, &d);
	if (!p)
		dump_diags(&d);
	assert_non_null(p);
	assert_int_equal(d.n, 0);
	assert_string_equal(p->name, "p");
	pipeline_free(p);
	diag_release(&d);
	free(t);

	/* The file reader refuses the same way. */
	char path[] = "/tmp/lockstep-test-load-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	t = padded_pipeline(PIPELINE_MAX_BYTES + 4096);
	assert_int_equal(write(fd, t, PIPELINE_MAX_BYTES + 4096), (ssize_t)(PIPELINE_MAX_BYTES + 4096));
	close(fd);
	free(t);
	p = pipeline_load(path, &d);
	unlink(path);
	assert_null(p);
	assert_int_equal(d.errors, 1);
	assert_non_null(strstr(d.items[0].message, "larger than 4 MiB"));
	diag_release(&d);

	p = pipeline_load("/nonexistent/lockstep.yml", &d);
	assert_null(p);
	assert_int_equal(d.errors, 1);
	assert_non_null(strstr(d.items[0].message, "cannot read the pipeline file"));
	diag_release(&d);
}

/* ---- big inputs under the size limit finish ---- */

/* In a child: loads `arg`, which must load without errors. */
static void load_and_free(void *arg)
{
	struct diag d = DIAG_INIT;
	struct pipeline *p = load(arg, &d);
	if (!p || d.errors)
		_exit(1);
	pipeline_free(p);
	diag_release(&d);
}

/* One matrix axis with 200,000 values: about 3.4 MB. */
static void test_big_matrix_axis_loads_in_bounded_time(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_adds(&b, "name: p\nstages:\n  - workflow: a\n    matrix:\n      r:\n");
	for (int i = 0; i < 200000; i++)
		buf_addf(&b, "        - v%d\n", i);
	buf_adds(&b, "workflows:\n  a: {steps: [{run: x}]}\n");
	assert_true(b.len < PIPELINE_MAX_BYTES);
	assert_finishes(load_and_free, buf_detach(&b, NULL), 20, "loading a 200,000-value matrix axis");
}

/* 60,000 workflows, each named by one stage entry: about 2.5 MB. */
static void test_many_workflows_load_in_bounded_time(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_adds(&b, "name: p\nstages:\n");
	for (int i = 0; i < 60000; i++)
		buf_addf(&b, "  - w%d\n", i);
	buf_adds(&b, "workflows:\n");
	for (int i = 0; i < 60000; i++)
		buf_addf(&b, "  w%d: {steps: [{run: x}]}\n", i);
	assert_true(b.len < PIPELINE_MAX_BYTES);
	assert_finishes(load_and_free, buf_detach(&b, NULL), 20, "loading 60,000 workflows");
}

/* 60,000 vars, all referenced from one run step: about 1.7 MB. */
static void test_many_var_references_load_in_bounded_time(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_adds(&b, "name: p\nvars:\n");
	for (int i = 0; i < 60000; i++)
		buf_addf(&b, "  v%d: x\n", i);
	buf_adds(&b, "stages: [a]\nworkflows:\n  a:\n    steps:\n      - run: \"");
	for (int i = 0; i < 60000; i++)
		buf_addf(&b, "${{vars.v%d}}", i);
	buf_adds(&b, "\"\n");
	assert_true(b.len < PIPELINE_MAX_BYTES);
	assert_finishes(load_and_free, buf_detach(&b, NULL), 20, "loading 60,000 var references");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_example),
		cmocka_unit_test(test_step_keys_and_defaults),
		cmocka_unit_test(test_stage_forms),
		cmocka_unit_test(test_errors_top_level),
		cmocka_unit_test(test_errors_barriers),
		cmocka_unit_test(test_errors_stages),
		cmocka_unit_test(test_errors_workflows),
		cmocka_unit_test(test_errors_steps),
		cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_errors_expressions),
		cmocka_unit_test(test_expression_position_in_folded_plain_scalar),
		cmocka_unit_test(test_errors_all_in_one_pass),
		cmocka_unit_test(test_errors_accumulate_into_existing_diag),
		cmocka_unit_test(test_warnings_do_not_fail),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_bools),
		cmocka_unit_test(test_ints),
		cmocka_unit_test(test_ints_strict_and_in_range),
		cmocka_unit_test(test_http_url_ports),
		cmocka_unit_test(test_names_fit_log_paths),
		cmocka_unit_test(test_plain_scalars_are_strings),
		cmocka_unit_test(test_k8s_steps),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_big_matrix_axis_loads_in_bounded_time),
		cmocka_unit_test(test_many_workflows_load_in_bounded_time),
		cmocka_unit_test(test_many_var_references_load_in_bounded_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
