/*
 * Tests for pipeline/check.c (barrier rules B2, B3, B4 and B8, rollback
 * barriers, unused declarations, the namespaces of Kubernetes steps), for
 * pipeline/resources.c and pipeline/manifests.c (kubectl, manifests and
 * the expressions in them) and for pipeline_compile(), which loads,
 * expands and checks a file and sorts what it found.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/diag.h"
#include "pipeline/check.h"
#include "pipeline/compile.h"
#include "pipeline/expand.h"
#include "pipeline/load.h"
#include "pipeline/manifests.h"
#include "pipeline/model.h"
#include "pipeline/resources.h"

/* ---- helpers ---- */

struct checked {
	struct diag d;
	struct pipeline *p;
	struct plan *plan;
	size_t errors; /* what plan_check returned */
};

/* Loads and expands `text` (both must succeed cleanly), then checks it. */
static void check_text(struct checked *C, const char *text)
{
	memset(C, 0, sizeof(*C));
	C->d.max_items = 100000;
	C->p = pipeline_load_text("p.yml", text, strlen(text), &C->d);
	if (C->p)
		C->plan = plan_build(C->p, NULL, &C->d);
	if (!C->plan || C->d.n) {
		dump_diags(&C->d);
		fail_msg("the pipeline does not load and expand cleanly");
	}
	C->errors = plan_check(C->plan, &C->d);
	/* The return value is the number of errors added. */
	assert_int_equal(C->errors, C->d.errors);
}

static void release(struct checked *C)
{
	plan_free(C->plan);
	pipeline_free(C->p);
	diag_release(&C->d);
}

/* Asserts item `i` has severity `sev`, position line:col and message `msg` exactly. */
static void assert_item(const struct diag *d, size_t i, enum diag_severity sev, int line, int col,
			const char *msg)
{
	if (i >= d->n || d->items[i].severity != sev || d->items[i].line != line ||
	    d->items[i].col != col || strcmp(d->items[i].message, msg) != 0) {
		dump_diags(d);
		fail_msg("expected item %zu: %d:%d: %s: %s", i, line, col, diag_severity_name(sev), msg);
	}
}

/* Asserts item `i` has severity `sev`, position line:col and a message containing `sub`. */
static void assert_item_has(const struct diag *d, size_t i, enum diag_severity sev, int line,
			    int col, const char *sub)
{
	if (i >= d->n || d->items[i].severity != sev || d->items[i].line != line ||
	    d->items[i].col != col || !strstr(d->items[i].message, sub)) {
		dump_diags(d);
		fail_msg("expected item %zu: %d:%d: %s: ...%s...", i, line, col,
			 diag_severity_name(sev), sub);
	}
}

static size_t count_prefix(const struct diag *d, enum diag_severity sev, const char *prefix)
{
	size_t n = 0;
	for (size_t i = 0; i < d->n; i++)
		if (d->items[i].severity == sev &&
		    !strncmp(d->items[i].message, prefix, strlen(prefix)))
			n++;
	return n;
}

static void load_build_check(void *text)
{
	struct diag d = DIAG_INIT;
	struct pipeline *p = pipeline_load_text("p.yml", text, strlen(text), &d);
	struct plan *plan = p ? plan_build(p, NULL, &d) : NULL;
	if (plan)
		plan_check(plan, &d);
	plan_free(plan);
	pipeline_free(p);
	diag_release(&d);
}

/*
 * A table row: a pipeline, how many errors plan_check counts in it, and
 * every diagnostic it gives, in order (at most WANT_MAX).
 */
struct check_case {
	const char *name;
	const char *text;
	size_t errors;
	struct want_diag want[WANT_MAX];
};

#define ERR(l, c, m) { DIAG_ERROR, l, c, m }
#define WARN(l, c, m) { DIAG_WARNING, l, c, m }
#define NOTE(l, c, m) { DIAG_NOTE, l, c, m }

/* Checks each row's pipeline: exactly its errors and its diagnostics. */
static void run_check_cases(const struct check_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct check_case *c = &cases[i];
		struct checked C;
		check_text(&C, c->text);
		if (C.errors != c->errors) {
			dump_diags(&C.d);
			fail_msg("%s: %zu errors, want %zu", c->name, C.errors, c->errors);
		}
		assert_diags(&C.d, c->want, want_count(c->want), "p.yml", c->name);
		release(&C);
	}
}

#define RUN_CASES(table) run_check_cases(table, sizeof(table) / sizeof(table[0]))

/* ---- the seed example of docs/pipeline-format.md, valid and broken ---- */

#define SEED_HEAD                                                        \
	"name: multi-service\n"                                          \
	"description: Deploy backend and frontend together\n"            \
	"vars:\n"                                                        \
	"  version: \"1.4.2\"\n"                                         \
	"on-failure: stop\n"                                             \
	"barriers:\n"                                                    \
	"  BE:\n"                                                        \
	"    name: Backend service deployment done\n"                    \
	"    timeout: 10m\n"                                             \
	"  FE:\n"                                                        \
	"    name: Frontend service deployment done\n"                   \
	"stages:\n"                                                      \
	"  - workflow: backend-deploy\n"                                 \
	"  - workflow: frontend-deploy\n"                                \
	"    parallel: true\n"                                           \
	"  - workflow: smoke-tests\n"                                    \
	"workflows:\n"                                                   \
	"  backend-deploy:\n"                                            \
	"    env: { NAMESPACE: backend }\n"                              \
	"    steps:\n"                                                   \
	"      - name: Rolling deploy\n"                                 \
	"        run: ./deploy.sh backend \"$LOCKSTEP_VAR_VERSION\"\n"   \
	"        timeout: 5m\n"                      /* 23 */

#define SEED_TAIL(FE_ID)                                                 \
	"    rollback:\n"                                 /* 27 */     \
	"      - run: ./rollback.sh backend\n"            /* 28 */     \
	"  frontend-deploy:\n"                            /* 29 */     \
	"    steps:\n"                                    /* 30 */     \
	"      - barrier: BE\n"                           /* 31 */     \
	"        name: Wait for Backend service deployment\n"          \
	"      - run: ./deploy.sh frontend \"$LOCKSTEP_VAR_VERSION\"\n" \
	"      - barrier: " FE_ID "\n"                    /* 34 */     \
	"    rollback:\n"                                               \
	"      - run: ./rollback.sh frontend\n"                         \
	"  smoke-tests:\n"                                              \
	"    steps:\n"                                                  \
	"      - run: ./integration-tests.sh\n"

static const char seed[] =
	SEED_HEAD
	"      - barrier: BE\n"                                  /* 24 */
	"      - barrier: FE\n"                                  /* 25 */
	"        name: Wait for FrontEnd service deployment\n"   /* 26 */
	SEED_TAIL("FE");

/* The backend crosses FE before BE; the frontend BE before FE. */
static const char seed_swapped[] =
	SEED_HEAD
	"      - barrier: FE\n"                                  /* 24 */
	"        name: Wait for FrontEnd service deployment\n"   /* 25 */
	"      - barrier: BE\n"                                  /* 26 */
	SEED_TAIL("FE");

/* The frontend's FE is misspelt Fe. */
static const char seed_typo[] =
	SEED_HEAD
	"      - barrier: BE\n"
	"      - barrier: FE\n"                                  /* 25 */
	"        name: Wait for FrontEnd service deployment\n"
	SEED_TAIL("Fe");                                         /* 34 */

static void test_seed_is_valid(void **state)
{
	(void)state;
	struct checked C;
	check_text(&C, seed);
	assert_int_equal(C.errors, 0);
	assert_int_equal(C.d.n, 0);
	assert_int_equal(C.plan->nbarriers, 2);
	assert_int_equal(C.plan->ngroups, 2);
	release(&C);
}

static const struct check_case seed_cases[] = {
	{ "the seed example with FE and BE swapped in the backend", seed_swapped, 1, {
		ERR(24, 9, "barrier deadlock: backend-deploy crosses FE before BE, frontend-deploy crosses BE before FE"),
		/* Notes walk the cycle: where each workflow crosses and then waits. */
		NOTE(24, 9, "backend-deploy crosses FE here"),
		NOTE(26, 9, "then backend-deploy waits at BE here"),
		NOTE(31, 9, "frontend-deploy crosses BE here"),
		NOTE(34, 9, "then frontend-deploy waits at FE here"),
	} },
};

static void test_seed_cases(void **state)
{
	(void)state;
	RUN_CASES(seed_cases);
}

/* ---- B2 ---- */

static void test_b2_single_participant_with_suggestion(void **state)
{
	(void)state;
	struct checked C;
	check_text(&C, seed_typo);
	/* FE is left with the backend alone, Fe with the frontend alone. */
	assert_int_equal(C.errors, 2);
	long fe = -1;
	for (size_t i = 0; i < C.d.n; i++)
		if (strstr(C.d.items[i].message, "barrier Fe "))
			fe = (long)i;
	assert_true(fe >= 0);
	assert_item(&C.d, (size_t)fe, DIAG_ERROR, 34, 9,
		    "barrier Fe has only one participant (frontend-deploy); a barrier holds at least two workflows until all arrive; did you mean 'FE'?");
	/* And FE, left with the backend alone, points back at Fe. */
	assert_int_equal(count_prefix(&C.d, DIAG_ERROR, "barrier FE has only one participant (backend-deploy); a barrier holds at least two workflows until all arrive; did you mean 'Fe'?"), 1);
	/* Neither is part of a deadlock report. */
	assert_int_equal(count_prefix(&C.d, DIAG_ERROR, "barrier deadlock"), 0);
	release(&C);
}

/*
 * The suggestion for FE (left with the backend alone) must not be BE: the
 * backend already crosses BE, so "fixing" FE into BE would make it cross
 * BE twice. The id the user meant to pair it with is Fe. FE's error must
 * be there, once, and say exactly that.
 */
static void test_b2_suggestion_is_not_a_barrier_the_workflow_crosses(void **state)
{
	(void)state;
	static const char prefix[] = "barrier FE has only one participant";
	struct checked C;
	check_text(&C, seed_typo);
	const struct diag_item *fe = NULL;
	size_t n = 0;
	for (size_t i = 0; i < C.d.n; i++)
		if (!strncmp(C.d.items[i].message, prefix, sizeof(prefix) - 1)) {
			fe = &C.d.items[i];
			n++;
		}
	if (n != 1) {
		dump_diags(&C.d);
		fail_msg("%zu errors say \"%s\", want 1", n, prefix);
	}
	assert_int_equal(fe->severity, DIAG_ERROR);
	assert_int_equal(fe->line, 25);
	assert_int_equal(fe->col, 9);
	assert_string_equal(fe->message,
			    "barrier FE has only one participant (backend-deploy); a barrier holds at least two workflows until all arrive; did you mean 'Fe'?");
	release(&C);
}

/*
 * Lonely barriers. The commonest typo of a two-service pipeline: each
 * workflow crosses its own spelling of one barrier, so both are lonely,
 * and neither is used correctly or declared. Each error must point at the
 * other spelling; a change of case counts as close even for a two-letter
 * id. Lonely barriers of one workflow are not typos of each other: that
 * workflow already crosses both, and "fixing" one into the other would
 * make it cross a barrier twice. Rollback barriers pair up the same way.
 * A matrix entry with one value is one instance: one participant.
 */
static const struct check_case b2_cases[] = {
	{ "two lonely barriers suggest each other",
		"name: p\n"                      /* 1 */
		"stages:\n"                      /* 2 */
		"  - a\n"                        /* 3 */
		"  - workflow: b\n"              /* 4 */
		"    parallel: true\n"           /* 5 */
		"workflows:\n"                   /* 6 */
		"  a:\n"                         /* 7 */
		"    steps:\n"                   /* 8 */
		"      - barrier: ready\n"       /* 9 */
		"      - barrier: FE\n"          /* 10 */
		"  b:\n"                         /* 11 */
		"    steps:\n"                   /* 12 */
		"      - barrier: Ready\n"       /* 13 */
		"      - barrier: Fe\n",         /* 14 */
		4, {
		ERR(9, 9, "barrier ready has only one participant (a); a barrier holds at least two workflows until all arrive; did you mean 'Ready'?"),
		ERR(10, 9, "barrier FE has only one participant (a); a barrier holds at least two workflows until all arrive; did you mean 'Fe'?"),
		ERR(13, 9, "barrier Ready has only one participant (b); a barrier holds at least two workflows until all arrive; did you mean 'ready'?"),
		ERR(14, 9, "barrier Fe has only one participant (b); a barrier holds at least two workflows until all arrive; did you mean 'FE'?"),
	} },
	{ "lonely barriers of one workflow do not pair",
		"name: p\n"                      /* 1 */
		"stages: [a, b]\n"               /* 2 */
		"workflows:\n"                   /* 3 */
		"  a:\n"                         /* 4 */
		"    steps:\n"                   /* 5 */
		"      - barrier: ready\n"       /* 6 */
		"      - barrier: Ready\n"       /* 7 */
		"    rollback:\n"                /* 8 */
		"      - barrier: undone\n"      /* 9 */
		"  b:\n"                         /* 10 */
		"    steps: [{run: x}]\n"        /* 11 */
		"    rollback:\n"                /* 12 */
		"      - barrier: Undone\n",     /* 13 */
		4, {
		ERR(6, 9, "barrier ready has only one participant (a); a barrier holds at least two workflows until all arrive"),
		ERR(7, 9, "barrier Ready has only one participant (a); a barrier holds at least two workflows until all arrive"),
		ERR(9, 9, "rollback barrier undone has only one participant (a); a rollback barrier orders the rollbacks of at least two workflows; did you mean 'Undone'?"),
		ERR(13, 9, "rollback barrier Undone has only one participant (b); a rollback barrier orders the rollbacks of at least two workflows; did you mean 'undone'?"),
	} },
	{ "no suggestion; a rollback barrier",
		"name: p\n"                      /* 1 */
		"stages:\n"                      /* 2 */
		"  - a\n"                        /* 3 */
		"  - workflow: b\n"              /* 4 */
		"    parallel: true\n"           /* 5 */
		"workflows:\n"                   /* 6 */
		"  a:\n"                         /* 7 */
		"    steps:\n"                   /* 8 */
		"      - barrier: ALONE\n"       /* 9 */
		"    rollback:\n"                /* 10 */
		"      - barrier: UNDO\n"        /* 11 */
		"  b:\n"                         /* 12 */
		"    steps: [{run: x}]\n",       /* 13 */
		2, {
		ERR(9, 9, "barrier ALONE has only one participant (a); a barrier holds at least two workflows until all arrive"),
		ERR(11, 9, "rollback barrier UNDO has only one participant (a); a rollback barrier orders the rollbacks of at least two workflows"),
	} },
	{ "one matrix value: one instance, one participant",
		"name: p\nstages:\n  - workflow: w\n    matrix: {r: [eu]}\n"
		"workflows:\n  w:\n    steps:\n      - barrier: X\n",
		1, {
		ERR(8, 9, "barrier X has only one participant (w[r=eu]); a barrier holds at least two workflows until all arrive"),
	} },
	{ "two matrix values: two participants",
		"name: p\nstages:\n  - workflow: w\n    matrix: {r: [eu, us]}\n"
		"workflows:\n  w:\n    steps:\n      - barrier: X\n",
		0, { { 0 } } },
};

static void test_b2_cases(void **state)
{
	(void)state;
	RUN_CASES(b2_cases);
}

/* ---- B3, B4 ---- */

/*
 * A barrier across parallel groups; a workflow crossing a barrier twice
 * (every repeat points at the first crossing), or using one id both in
 * its steps and in its rollback, or in the steps of one workflow and the
 * rollback of another.
 */
static const struct check_case b3_b4_cases[] = {
	{ "B3: workflows of different groups",
		"name: p\n"                      /* 1 */
		"stages:\n"                      /* 2 */
		"  - a\n"                        /* 3 */
		"  - b\n"                        /* 4 */
		"workflows:\n"                   /* 5 */
		"  a:\n"                         /* 6 */
		"    steps:\n"                   /* 7 */
		"      - barrier: X\n"           /* 8 */
		"  b:\n"                         /* 9 */
		"    steps:\n"                   /* 10 */
		"      - run: x\n"               /* 11 */
		"      - barrier: X\n",          /* 12 */
		1, {
		ERR(12, 9, "barrier X joins workflows of different parallel groups (a in group 1, b in group 2): they never run at the same time, so it can never pass; put them in one group with parallel: true"),
	} },
	{ "B4: twice",
		"name: p\n"                      /* 1 */
		"stages:\n"                      /* 2 */
		"  - a\n"                        /* 3 */
		"  - workflow: b\n"              /* 4 */
		"    parallel: true\n"           /* 5 */
		"workflows:\n"                   /* 6 */
		"  a:\n"                         /* 7 */
		"    steps:\n"                   /* 8 */
		"      - barrier: X\n"           /* 9 */
		"      - run: x\n"               /* 10 */
		"      - barrier: X\n"           /* 11 */
		"  b:\n"                         /* 12 */
		"    steps:\n"                   /* 13 */
		"      - barrier: X\n",          /* 14 */
		1, {
		ERR(11, 9, "workflow a crosses barrier X twice (first at line 9); a workflow crosses a barrier at most once"),
	} },
	{ "B4: three times, each repeat points at the first",
		"name: p\n"                      /* 1 */
		"stages:\n"                      /* 2 */
		"  - a\n"                        /* 3 */
		"  - workflow: b\n"              /* 4 */
		"    parallel: true\n"           /* 5 */
		"workflows:\n"                   /* 6 */
		"  a:\n"                         /* 7 */
		"    steps:\n"                   /* 8 */
		"      - barrier: X\n"           /* 9 */
		"      - barrier: X\n"           /* 10 */
		"      - barrier: X\n"           /* 11 */
		"  b:\n"                         /* 12 */
		"    steps:\n"                   /* 13 */
		"      - barrier: X\n",          /* 14 */
		2, {
		ERR(10, 9, "workflow a crosses barrier X twice (first at line 9); a workflow crosses a barrier at most once"),
		ERR(11, 9, "workflow a crosses barrier X twice (first at line 9); a workflow crosses a barrier at most once"),
	} },
	{ "B4: in steps and in rollback of one workflow",
		"name: p\n"                      /* 1 */
		"stages:\n"                      /* 2 */
		"  - a\n"                        /* 3 */
		"  - workflow: b\n"              /* 4 */
		"    parallel: true\n"           /* 5 */
		"workflows:\n"                   /* 6 */
		"  a:\n"                         /* 7 */
		"    steps:\n"                   /* 8 */
		"      - barrier: X\n"           /* 9 */
		"    rollback:\n"                /* 10 */
		"      - barrier: X\n"           /* 11 */
		"  b:\n"                         /* 12 */
		"    steps:\n"                   /* 13 */
		"      - barrier: X\n"           /* 14 */
		"    rollback:\n"                /* 15 */
		"      - barrier: X\n",          /* 16 */
		1, {
		ERR(11, 9, "workflow a uses barrier X in rollback and in steps (line 9); a barrier id is either a step barrier or a rollback barrier"),
	} },
	{ "B4: in the steps of one workflow, the rollback of another",
		"name: p\n"                      /* 1 */
		"stages:\n"                      /* 2 */
		"  - a\n"                        /* 3 */
		"  - workflow: b\n"              /* 4 */
		"    parallel: true\n"           /* 5 */
		"workflows:\n"                   /* 6 */
		"  a:\n"                         /* 7 */
		"    steps:\n"                   /* 8 */
		"      - barrier: X\n"           /* 9 */
		"    rollback:\n"                /* 10 */
		"      - run: undo\n"            /* 11 */
		"  b:\n"                         /* 12 */
		"    steps:\n"                   /* 13 */
		"      - barrier: X\n"           /* 14 */
		"    rollback:\n"                /* 15 */
		"      - barrier: Y\n"           /* 16 */
		"      - barrier: X\n",          /* 17 */
		3, {
		ERR(17, 9, "workflow b uses barrier X in rollback and in steps (line 14); a barrier id is either a step barrier or a rollback barrier"),
		ERR(16, 9, "rollback barrier Y has only one participant (b); a rollback barrier orders the rollbacks of at least two workflows"),
		ERR(17, 9, "rollback barrier X has only one participant (b); a rollback barrier orders the rollbacks of at least two workflows"),
	} },
};

static void test_b3_b4_cases(void **state)
{
	(void)state;
	RUN_CASES(b3_b4_cases);
}

/* ---- B8 ---- */

/*
 * Deadlocks: reported once per cycle however many workflows make it up,
 * at the first crossing, with notes that walk the cycle; disjoint cycles
 * each; a cycle through barriers that are not next to each other; the
 * rollback lists make a graph of their own.
 */
static const struct check_case cycle_cases[] = {
	{ "a cycle of three, reported once",
		"name: p\n"                            /* 1 */
		"stages:\n"                            /* 2 */
		"  - a\n"                              /* 3 */
		"  - {workflow: b, parallel: true}\n"  /* 4 */
		"  - {workflow: c, parallel: true}\n"  /* 5 */
		"workflows:\n"                         /* 6 */
		"  a:\n"                               /* 7 */
		"    steps:\n"                         /* 8 */
		"      - barrier: X\n"                 /* 9 */
		"      - barrier: Y\n"                 /* 10 */
		"  b:\n"                               /* 11 */
		"    steps:\n"                         /* 12 */
		"      - barrier: Y\n"                 /* 13 */
		"      - barrier: Z\n"                 /* 14 */
		"  c:\n"                               /* 15 */
		"    steps:\n"                         /* 16 */
		"      - barrier: Z\n"                 /* 17 */
		"      - barrier: X\n",                /* 18 */
		1, {
		ERR(9, 9, "barrier deadlock: a crosses X before Y, b crosses Y before Z, c crosses Z before X"),
		NOTE(9, 9, "a crosses X here"),
		NOTE(10, 9, "then a waits at Y here"),
		NOTE(13, 9, "b crosses Y here"),
		NOTE(14, 9, "then b waits at Z here"),
		NOTE(17, 9, "c crosses Z here"),
		NOTE(18, 9, "then c waits at X here"),
	} },
	/* a: X Y Z; b: Z X. b waits at X for a, a never reaches Z. */
	{ "a cycle through barriers that are not next to each other",
		"name: p\nstages:\n  - a\n  - {workflow: b, parallel: true}\nworkflows:\n"
		"  a: {steps: [{barrier: X}, {barrier: Y}, {barrier: Z}]}\n"
		"  b: {steps: [{barrier: Z}, {barrier: X}, {barrier: Y}]}\n",
		1, {
		ERR(6, 15, "barrier deadlock: a crosses X before Y, a crosses Y before Z, b crosses Z before X"),
		NOTE(6, 15, "a crosses X here"),
		NOTE(6, 29, "then a waits at Y here"),
		NOTE(6, 29, "a crosses Y here"),
		NOTE(6, 43, "then a waits at Z here"),
		NOTE(7, 15, "b crosses Z here"),
		NOTE(7, 29, "then b waits at X here"),
	} },
	{ "two disjoint cycles",
		"name: p\n"
		"stages:\n"
		"  - a\n"
		"  - {workflow: b, parallel: true}\n"
		"  - c\n"
		"  - {workflow: d, parallel: true}\n"
		"workflows:\n"
		"  a: {steps: [{barrier: P}, {barrier: Q}]}\n"
		"  b: {steps: [{barrier: Q}, {barrier: P}]}\n"
		"  c: {steps: [{barrier: R}, {barrier: S}]}\n"
		"  d: {steps: [{barrier: S}, {barrier: R}]}\n",
		2, {
		ERR(8, 15, "barrier deadlock: a crosses P before Q, b crosses Q before P"),
		NOTE(8, 15, "a crosses P here"),
		NOTE(8, 29, "then a waits at Q here"),
		NOTE(9, 15, "b crosses Q here"),
		NOTE(9, 29, "then b waits at P here"),
		ERR(10, 15, "barrier deadlock: c crosses R before S, d crosses S before R"),
		NOTE(10, 15, "c crosses R here"),
		NOTE(10, 29, "then c waits at S here"),
		NOTE(11, 15, "d crosses S here"),
		NOTE(11, 29, "then d waits at R here"),
	} },
	/* Three workflows cross P then Q, two cross Q then P: one cycle, one error. */
	{ "the same cycle from many workflows, once",
		"name: p\nstages:\n  - a\n  - {workflow: b, parallel: true}\n"
		"  - {workflow: c, parallel: true}\n  - {workflow: d, parallel: true}\n"
		"  - {workflow: e, parallel: true}\n"
		"workflows:\n"
		"  a: {steps: [{barrier: P}, {barrier: Q}]}\n"
		"  b: {steps: [{barrier: P}, {barrier: Q}]}\n"
		"  c: {steps: [{barrier: Q}, {barrier: P}]}\n"
		"  d: {steps: [{barrier: P}, {run: x}, {barrier: Q}]}\n"
		"  e: {steps: [{barrier: Q}, {barrier: P}]}\n",
		1, {
		ERR(9, 15, "barrier deadlock: a crosses P before Q, c crosses Q before P"),
		NOTE(9, 15, "a crosses P here"),
		NOTE(9, 29, "then a waits at Q here"),
		NOTE(11, 15, "c crosses Q here"),
		NOTE(11, 29, "then c waits at P here"),
	} },
	{ "a deadlock of rollback barriers",
		"name: p\n"                          /* 1 */
		"stages:\n"                          /* 2 */
		"  - a\n"                            /* 3 */
		"  - {workflow: b, parallel: true}\n" /* 4 */
		"workflows:\n"                       /* 5 */
		"  a:\n"                             /* 6 */
		"    steps:\n"                       /* 7 */
		"      - barrier: GO\n"              /* 8 */
		"    rollback:\n"                    /* 9 */
		"      - barrier: RA\n"              /* 10 */
		"      - barrier: RB\n"              /* 11 */
		"  b:\n"                             /* 12 */
		"    steps:\n"                       /* 13 */
		"      - barrier: GO\n"              /* 14 */
		"    rollback:\n"                    /* 15 */
		"      - barrier: RB\n"              /* 16 */
		"      - barrier: RA\n",             /* 17 */
		1, {
		ERR(10, 9, "barrier deadlock: a crosses RA before RB, b crosses RB before RA"),
		NOTE(10, 9, "a crosses RA here"),
		NOTE(11, 9, "then a waits at RB here"),
		NOTE(16, 9, "b crosses RB here"),
		NOTE(17, 9, "then b waits at RA here"),
	} },
	/* Steps and rollback are separate graphs: X then Y in steps and Y then
	 * X in the rollbacks of other ids is no cycle. */
	{ "steps and rollback are separate graphs",
		"name: p\nstages:\n  - a\n  - {workflow: b, parallel: true}\nworkflows:\n"
		"  a: {steps: [{barrier: X}, {barrier: Y}], rollback: [{barrier: R1}, {barrier: R2}]}\n"
		"  b: {steps: [{barrier: X}, {barrier: Y}], rollback: [{barrier: R1}, {barrier: R2}]}\n",
		0, { { 0 } } },
};

static void test_cycle_cases(void **state)
{
	(void)state;
	RUN_CASES(cycle_cases);
}

static void test_dag_of_many_barriers(void **state)
{
	(void)state;
	/* Three workflows cross B0..B199 in the same order; a fourth skips some. */
	struct buf t = BUF_INIT;
	buf_adds(&t, "name: p\nstages:\n  - a\n  - {workflow: b, parallel: true}\n"
		     "  - {workflow: c, parallel: true}\n  - {workflow: d, parallel: true}\nworkflows:\n");
	for (int w = 0; w < 4; w++) {
		buf_addf(&t, "  %c:\n    steps:\n", 'a' + w);
		for (int i = 0; i < 200; i++)
			if (w < 3 || i % 3 == 0)
				buf_addf(&t, "      - barrier: B%d\n", i);
	}
	struct checked C;
	check_text(&C, t.s);
	assert_int_equal(C.errors, 0);
	assert_int_equal(C.d.n, 0);
	assert_int_equal(C.plan->nbarriers, 200);
	release(&C);
	buf_release(&t);
}

/* 12 barriers; for every ordered pair (i, j) a workflow crosses Bi then Bj. */
static char *all_pairs_crossed(void)
{
	struct buf t = BUF_INIT;
	buf_adds(&t, "name: p\nstages:\n");
	int first = 1;
	for (int i = 0; i < 12; i++)
		for (int j = 0; j < 12; j++)
			if (i != j) {
				buf_addf(&t, "  - {workflow: w%d-%d%s}\n", i, j, first ? "" : ", parallel: true");
				first = 0;
			}
	buf_adds(&t, "workflows:\n");
	for (int i = 0; i < 12; i++)
		for (int j = 0; j < 12; j++)
			if (i != j)
				buf_addf(&t, "  w%d-%d: {steps: [{barrier: B%d}, {barrier: B%d}]}\n", i, j, i, j);
	return buf_detach(&t, NULL);
}

static void test_many_cycles_bounded(void **state)
{
	(void)state;
	char *text = all_pairs_crossed();
	assert_finishes(load_build_check, strdup(text), 60, "checking 12 barriers crossed in every order");

	struct checked C;
	check_text(&C, text);
	size_t cycles = count_prefix(&C.d, DIAG_ERROR, "barrier deadlock: ");
	size_t summaries = C.errors - cycles;
	assert_true(cycles >= 1);
	assert_true(cycles <= CHECK_MAX_CYCLES);
	/* More cycles than the limit exist: what is left out is summarised. */
	assert_true(summaries >= 1);
	assert_true(summaries <= 2);
	for (size_t i = 0; i < C.d.n; i++) {
		const struct diag_item *it = &C.d.items[i];
		if (it->severity != DIAG_ERROR || !strncmp(it->message, "barrier deadlock: ", 18))
			continue;
		if (!strstr(it->message, "not listed") && !strstr(it->message, "too many cycles")) {
			dump_diags(&C.d);
			fail_msg("unexpected error: %s", it->message);
		}
	}
	/* No barrier is left with fewer than two participants. */
	assert_int_equal(count_prefix(&C.d, DIAG_ERROR, "barrier B"), 0);

	/*
	 * A count of the cycles left out must not understate them: the
	 * complete digraph on 12 nodes has sum C(12,k)(k-1)! = 119,481,284
	 * elementary cycles. An exact "N more" must add up to that; a count
	 * from a search that gave up must say it is a lower bound.
	 */
	struct buf wrong = BUF_INIT;
	for (size_t i = 0; i < C.d.n; i++) {
		const char *m = C.d.items[i].message;
		unsigned long long more;
		if (!strstr(m, "not listed") || strstr(m, "at least"))
			continue;
		if (sscanf(m, "%llu more", &more) == 1 && more + cycles != 119481284ULL)
			buf_addf(&wrong, "\"%s\": %zu listed + %llu is not the 119481284 cycles there are",
				 m, cycles, more);
	}
	release(&C);
	free(text);
	if (wrong.len) {
		fprintf(stderr, "%s\n", wrong.s);
		buf_release(&wrong);
		fail_msg("the count of unlisted cycles is understated");
	}
}

static void test_long_cycle_bounded(void **state)
{
	(void)state;
	/* One cycle through 3,000 barriers: w_i crosses B_i then B_(i+1 mod n). */
	enum { N = 3000 };
	struct buf t = BUF_INIT;
	buf_adds(&t, "name: p\nstages:\n  - w0\n");
	for (int i = 1; i < N; i++)
		buf_addf(&t, "  - {workflow: w%d, parallel: true}\n", i);
	buf_adds(&t, "workflows:\n");
	for (int i = 0; i < N; i++)
		buf_addf(&t, "  w%d: {steps: [{barrier: B%d}, {barrier: B%d}]}\n", i, i, (i + 1) % N);
	assert_finishes(load_build_check, strdup(t.s), 60, "checking a 3,000-barrier cycle");
	struct checked C;
	check_text(&C, t.s);
	assert_true(C.errors >= 1);
	assert_true(C.errors <= 2);
	assert_non_null(strstr(C.d.items[0].message, "barrier deadlock"));
	release(&C);
	buf_release(&t);
}

/*
 * 20,000 declared barriers, each crossed once by one workflow (about
 * 0.7 MB): 20,000 B2 errors, one per barrier, and the "did you mean"
 * search for them must not compare every id with every other (the time
 * bound only guards against a hang: a correct check takes a fraction of
 * it).
 */
static void test_many_single_participant_barriers_bounded(void **state)
{
	(void)state;
	enum { N = 20000 };
	struct buf t = BUF_INIT;
	buf_adds(&t, "name: p\nbarriers:\n");
	for (int i = 0; i < N; i++)
		buf_addf(&t, "  B%d: ~\n", i);
	buf_adds(&t, "stages: [w]\nworkflows:\n  w:\n    steps:\n");
	for (int i = 0; i < N; i++)
		buf_addf(&t, "      - barrier: B%d\n", i);
	assert_finishes(load_build_check, strdup(t.s), 20, "checking 20,000 single-participant barriers");

	struct checked C;
	check_text(&C, t.s);
	buf_release(&t);
	size_t lonely = count_prefix(&C.d, DIAG_ERROR, "barrier B");
	size_t errors = C.errors, n = C.d.n;
	/* Each names its own barrier, at its own step: the first and the last. */
	bool first = n > 0 && C.d.items[0].line == N + 7 &&
		     !strcmp(C.d.items[0].message,
			     "barrier B0 has only one participant (w); a barrier holds at least two workflows until all arrive");
	bool last = n == N && C.d.items[N - 1].line == 2 * N + 6 &&
		    !strcmp(C.d.items[N - 1].message,
			    "barrier B19999 has only one participant (w); a barrier holds at least two workflows until all arrive");
	release(&C);
	assert_int_equal(errors, N);
	assert_int_equal(lonely, N);
	assert_int_equal(n, N);
	assert_true(first);
	assert_true(last);
}

/* ---- declarations ---- */

static const struct check_case declaration_cases[] = {
	{ "a declared barrier no step uses: a warning",
		"name: p\n"                          /* 1 */
		"barriers:\n"                        /* 2 */
		"  USED: {timeout: 1m}\n"            /* 3 */
		"  SPARE: {name: never}\n"           /* 4 */
		"  UNDO: ~\n"                        /* 5 */
		"stages:\n"                          /* 6 */
		"  - a\n"                            /* 7 */
		"  - {workflow: b, parallel: true}\n" /* 8 */
		"workflows:\n"                       /* 9 */
		"  a: {steps: [{barrier: USED}], rollback: [{barrier: UNDO}]}\n"
		"  b: {steps: [{barrier: USED}], rollback: [{barrier: UNDO}]}\n",
		0, {
		WARN(4, 3, "barrier SPARE is declared but no step uses it"),
	} },
};

static void test_declaration_cases(void **state)
{
	(void)state;
	RUN_CASES(declaration_cases);
}

static void test_valid_multi_group_plan(void **state)
{
	(void)state;
	static const char text[] =
		"name: release\n"
		"vars: {version: 2}\n"
		"barriers:\n"
		"  migrated: {timeout: 5m}\n"
		"stages:\n"
		"  - prepare\n"
		"  - workflow: db\n"
		"  - workflow: api\n"
		"    parallel: true\n"
		"    matrix: {region: [eu, us]}\n"
		"  - workflow: web\n"
		"    parallel: true\n"
		"    matrix: {region: [eu, us]}\n"
		"  - smoke\n"
		"  - {workflow: notify, parallel: true}\n"
		"workflows:\n"
		"  prepare: {steps: [{run: prep}]}\n"
		"  db:\n"
		"    steps:\n"
		"      - run: migrate ${{ vars.version }}\n"
		"      - barrier: migrated\n"
		"    rollback:\n"
		"      - barrier: rb\n"
		"      - run: restore\n"
		"  api:\n"
		"    steps:\n"
		"      - barrier: migrated\n"
		"      - run: deploy api ${{ matrix.region }}\n"
		"      - barrier: up-${{ matrix.region }}\n"
		"    rollback:\n"
		"      - run: undo api\n"
		"      - barrier: rb\n"
		"  web:\n"
		"    steps:\n"
		"      - barrier: up-${{ matrix.region }}\n"
		"      - run: deploy web ${{ matrix.region }}\n"
		"  smoke: {steps: [{barrier: done}, {run: test}]}\n"
		"  notify: {steps: [{barrier: done}, {run: mail}]}\n";
	struct checked C;
	check_text(&C, text);
	assert_int_equal(C.errors, 0);
	assert_int_equal(C.d.n, 0);
	assert_int_equal(C.plan->ngroups, 3);
	assert_int_equal(C.plan->nbarriers, 4); /* migrated, up-eu, up-us, done */
	assert_int_equal(C.plan->nrollback_barriers, 1);
	release(&C);
}

/* ---- diag_sort keeps notes with their error ---- */

static void test_diag_sort_keeps_notes_after_their_error(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	diag_add(&d, DIAG_ERROR, "f", 20, 1, "late error");
	diag_add(&d, DIAG_NOTE, "f", 5, 1, "note of the late error, early line");
	diag_add(&d, DIAG_NOTE, "f", 30, 1, "second note of the late error");
	diag_add(&d, DIAG_ERROR, "f", 10, 1, "middle error");
	diag_add(&d, DIAG_WARNING, "f", 1, 1, "first warning");
	diag_add(&d, DIAG_NOTE, "f", 40, 1, "note of the warning");
	diag_add(&d, DIAG_ERROR, "f", 20, 1, "same place, other error");
	diag_add(&d, DIAG_ERROR, "a", 99, 1, "other file");
	diag_sort(&d);
	assert_int_equal(d.n, 8);
	assert_int_equal(d.errors, 4);
	assert_int_equal(d.warnings, 1);
	static const char *const order[] = {
		"other file",
		"first warning",
		"note of the warning",
		"middle error",
		"late error",
		"note of the late error, early line",
		"second note of the late error",
		"same place, other error",
	};
	for (size_t i = 0; i < 8; i++)
		assert_string_equal(d.items[i].message, order[i]);
	/* Positions are unchanged by sorting. */
	assert_int_equal(d.items[5].line, 5);
	assert_int_equal(d.items[6].line, 30);
	diag_release(&d);
}

static void test_diag_sort_drops_exact_duplicates(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	diag_add(&d, DIAG_WARNING, "f", 3, 1, "w");
	diag_add(&d, DIAG_ERROR, "f", 2, 1, "e");
	diag_add(&d, DIAG_WARNING, "f", 3, 1, "w");
	diag_add(&d, DIAG_ERROR, "f", 2, 1, "e");
	diag_add(&d, DIAG_ERROR, "f", 2, 2, "e");     /* another place */
	diag_add(&d, DIAG_WARNING, "f", 2, 1, "e");   /* another severity */
	diag_sort(&d);
	assert_int_equal(d.n, 4);
	assert_int_equal(d.errors, 2);
	assert_int_equal(d.warnings, 2);
	diag_release(&d);

	/*
	 * The header promises exact duplicates are dropped; the notes of the
	 * first copy sit between the two copies after sorting, which must not
	 * keep the second copy alive.
	 */
	diag_add(&d, DIAG_ERROR, "f", 20, 1, "dup");
	diag_add(&d, DIAG_NOTE, "f", 5, 1, "its note");
	diag_add(&d, DIAG_ERROR, "f", 20, 1, "dup");
	diag_sort(&d);
	size_t errors = d.errors, n = d.n;
	bool order_ok = n >= 2 && !strcmp(d.items[0].message, "dup") &&
			!strcmp(d.items[1].message, "its note");
	diag_release(&d);
	assert_int_equal(errors, 1);
	assert_int_equal(n, 2);
	assert_true(order_ok);
}

/* ---- Kubernetes steps ---- */

static void test_k8s_namespaces(void **state)
{
	(void)state;
	struct checked C;
	check_text(&C,
		   "name: p\n"                                            /* 1 */
		   "environments:\n"                                      /* 2 */
		   "  bare: {kubernetes: {context: prod}}\n"              /* 3 */
		   "  given: {kubernetes: {context: prod}}\n"             /* 4 */
		   "  unused-by-k8s: {kubernetes: {context: prod}}\n"     /* 5 */
		   "stages: [a, b, c, d]\n"                               /* 6 */
		   "workflows:\n"                                         /* 7 */
		   "  a:\n"                                               /* 8 */
		   "    environment: bare\n"                              /* 9 */
		   "    steps:\n"                                         /* 10 */
		   "      - k8s-rolling: x.yaml\n"                        /* 11 */
		   "  b:\n"                                               /* 12 */
		   "    environment: given\n"                             /* 13 */
		   "    steps:\n"                                         /* 14 */
		   "      - k8s-rolling: {manifests: x.yaml, namespace: shop}\n" /* 15 */
		   "  c:\n"                                               /* 16 */
		   "    environment: unused-by-k8s\n"                     /* 17 */
		   "    steps: [{run: x}]\n"                              /* 18 */
		   "    rollback: [{k8s-rollback: }]\n"                   /* 19 */
		   "  d:\n"                                               /* 20 */
		   "    steps: [{k8s-rolling: x.yaml}]\n");               /* 21 */
	assert_int_equal(C.errors, 1);
	/* Sorted by position: the warning of the environment no k8s-rolling
	 * step runs in, the error at the step, the warning of a k8s-rollback
	 * with nothing to undo. A step outside any environment, or whose
	 * environment has no kubernetes, uses kubectl's defaults. */
	diag_sort(&C.d);
	assert_int_equal(C.d.n, 3);
	assert_item(&C.d, 0, DIAG_WARNING, 5, 19,
		    "environment unused-by-k8s has kubernetes but no namespace: Kubernetes steps using it must give one");
	assert_item(&C.d, 1, DIAG_ERROR, 11, 9,
		    "k8s-rolling step 'step-1' of workflow a has no namespace: environment bare has kubernetes but no namespace (give the step a namespace:, or the environment kubernetes.namespace)");
	assert_item(&C.d, 2, DIAG_WARNING, 19, 16,
		    "k8s-rollback in workflow c has nothing to undo: the workflow has no k8s-rolling step");
	/* The step's namespace wins; the environment's is the default. */
	const struct plan_workflow *b = &C.plan->workflows[1];
	assert_string_equal(b->steps[0].k8s->kube_namespace, "shop");
	assert_true(b->steps[0].k8s->namespace_from_step);
	assert_string_equal(b->steps[0].k8s->kube_context, "prod");
	assert_false(b->steps[0].k8s->context_from_step);
	/* d has the default rollback; it does not count as written. */
	assert_true(C.plan->workflows[3].rollback[0].src->implicit);
	release(&C);
}

/* Writes `text` to DIR/NAME, making the directories on the way. */
static void put_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (char *s = path + strlen(dir) + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(path, 0755);
			*s = '/';
		}
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_manifests_resolve(void **state)
{
	(void)state;
	char dir[] = "/tmp/lockstep-test-manifests-XXXXXX";
	assert_non_null(mkdtemp(dir));
	put_file(dir, "k8s/b.yaml", "b");
	put_file(dir, "k8s/a.yml", "a");
	put_file(dir, "k8s/c.json", "c");
	put_file(dir, "k8s/notes.txt", "not a manifest");
	put_file(dir, "k8s/.hidden.yaml", "hidden");
	put_file(dir, "k8s/sub/d.yaml", "not reached: not recursive");
	put_file(dir, "empty/readme.md", "nothing");
	struct manifest_list l = MANIFEST_LIST_INIT;
	struct buf err = BUF_INIT;
	/* A file, then a directory (sorted, manifests only, the file once). */
	assert_int_equal(manifests_resolve(dir, "k8s/c.json", &l, &err), 0);
	assert_int_equal(manifests_resolve(dir, "k8s/", &l, &err), 0);
	assert_int_equal(l.files.n, 3);
	assert_string_equal(l.files.v[0].shown, "k8s/c.json");
	assert_string_equal(l.files.v[1].shown, "k8s/a.yml");
	assert_string_equal(l.files.v[2].shown, "k8s/b.yaml");
	char want[600];
	snprintf(want, sizeof(want), "%s/k8s/a.yml", dir);
	assert_string_equal(l.files.v[1].path, want);
	/* A glob: sorted matches; a matching directory counts as its files. */
	manifest_list_release(&l);
	assert_int_equal(manifests_resolve(dir, "k8s/*", &l, &err), 0);
	assert_int_equal(l.files.n, 5);
	assert_string_equal(l.files.v[3].shown, "k8s/notes.txt");
	assert_string_equal(l.files.v[4].shown, "k8s/sub/d.yaml");
	manifest_list_release(&l);
	assert_int_equal(manifests_resolve(dir, "k8s/*.yaml", &l, &err), 0);
	assert_int_equal(l.files.n, 1);
	manifest_list_release(&l);
	/* What does not resolve, and why. */
	assert_int_equal(manifests_resolve(dir, "k8s/nope.yaml", &l, &err), -1);
	assert_string_equal(err.s, "manifest 'k8s/nope.yaml' does not exist");
	buf_reset(&err);
	assert_int_equal(manifests_resolve(dir, "k8s/*.yamll", &l, &err), -1);
	assert_string_equal(err.s, "manifest glob 'k8s/*.yamll' matches no file");
	buf_reset(&err);
	assert_int_equal(manifests_resolve(dir, "empty", &l, &err), -1);
	assert_string_equal(err.s, "manifest directory 'empty' has no .yaml, .yml or .json file");
	assert_int_equal(l.files.n, 0);
	buf_release(&err);
	/* Positions inside a manifest: lines from 1, columns in characters. */
	struct pos p = manifest_text_pos("ab\n\xc3\xa9x${{", 9, 6);
	assert_int_equal(p.line, 2);
	assert_int_equal(p.col, 3);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_k8s_resources(void **state)
{
	(void)state;
	char dir[] = "/tmp/lockstep-test-resources-XXXXXX";
	assert_non_null(mkdtemp(dir));
	put_file(dir, "k8s/app.yaml",
		 "kind: Deployment\n"
		 "image: app:${{ vars.version }}\n"
		 "region: ${{ matrix.region }} ${{ vars.versoin }}\n");
	put_file(dir, "k8s/plain.yaml", "kind: ConfigMap\n");
	static const char text[] =
		"name: p\n"                                                    /* 1 */
		"vars: {version: '1'}\n"                                       /* 2 */
		"stages:\n"                                                    /* 3 */
		"  - {workflow: a, matrix: {region: [eu]}}\n"                  /* 4 */
		"  - b\n"                                                      /* 5 */
		"workflows:\n"                                                 /* 6 */
		"  a:\n"                                                       /* 7 */
		"    steps: [{k8s-rolling: {manifests: k8s/, namespace: x}}]\n" /* 8 */
		"  b:\n"                                                       /* 9 */
		"    steps:\n"                                                 /* 10 */
		"      - k8s-rolling: [k8s/plain.yaml, k8s/none-*.yaml, gone.yaml]\n"; /* 11 */
	struct diag d = DIAG_INIT;
	struct pipeline *p = pipeline_load_text("p.yml", text, strlen(text), &d);
	assert_non_null(p);
	struct plan *plan = plan_build(p, NULL, &d);
	assert_non_null(plan);
	struct resource_opts o = { .base_dir = dir, .kubectl = "/bin/true" };
	size_t n = plan_check_resources(plan, &o, &d);
	diag_sort(&d);
	if (n != 3 || d.n != 3)
		dump_diags(&d);
	assert_int_equal(n, 3);
	/* k8s/app.yaml's unknown var (its matrix key exists for a), then
	 * p.yml's missing manifests. */
	assert_string_equal(d.items[0].file, "k8s/app.yaml");
	assert_item(&d, 0, DIAG_ERROR, 3, 30,
		    "unknown var 'versoin' (did you mean 'version'?) in this manifest of step 'step-1' of workflow a[region=eu]");
	assert_item(&d, 1, DIAG_ERROR, 11, 39, "manifest glob 'k8s/none-*.yaml' matches no file");
	assert_item(&d, 2, DIAG_ERROR, 11, 56, "manifest 'gone.yaml' does not exist");
	assert_string_equal(plan->kubectl, "/bin/true");
	diag_release(&d);

	/* kubectl not found: one error more, at the first Kubernetes step. */
	struct diag d2 = DIAG_INIT;
	struct resource_opts o2 = { .base_dir = dir, .kubectl = "/nonexistent/kubectl" };
	assert_int_equal(plan_check_resources(plan, &o2, &d2), 4);
	diag_sort(&d2);
	assert_item(&d2, 1, DIAG_ERROR, 8, 13,
		    "--kubectl '/nonexistent/kubectl' does not exist: the Kubernetes steps of this pipeline run it");
	diag_release(&d2);
	plan_free(plan);
	pipeline_free(p);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- pipeline_compile ---- */

static char *write_temp(const char *text)
{
	char *path = strdup("/tmp/lockstep-test-check-XXXXXX");
	assert_non_null(path);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_compile_sorts_check_diagnostics(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"                           /* 1 */
		"barriers:\n"                         /* 2 */
		"  UNUSED: {}\n"                      /* 3 */
		"stages:\n"                           /* 4 */
		"  - workflow: backend-deploy\n"      /* 5 */
		"  - workflow: frontend-deploy\n"     /* 6 */
		"    parallel: true\n"                /* 7 */
		"  - workflow: lonely\n"              /* 8 */
		"workflows:\n"                        /* 9 */
		"  frontend-deploy:\n"                /* 10 */
		"    steps:\n"                        /* 11 */
		"      - barrier: BE\n"               /* 12 */
		"      - barrier: FE\n"               /* 13 */
		"  lonely:\n"                         /* 14 */
		"    steps:\n"                        /* 15 */
		"      - barrier: SOLO\n"             /* 16 */
		"  backend-deploy:\n"                 /* 17 */
		"    steps:\n"                        /* 18 */
		"      - barrier: FE\n"               /* 19 */
		"      - barrier: BE\n";              /* 20 */
	char *path = write_temp(text);
	struct diag d = DIAG_INIT;
	struct plan *plan = pipeline_compile(path, NULL, &d);
	unlink(path);
	assert_null(plan);
	assert_int_equal(d.errors, 2);
	assert_int_equal(d.warnings, 1);
	assert_int_equal(d.n, 7);
	for (size_t i = 0; i < d.n; i++)
		assert_string_equal(d.items[i].file, path);
	assert_item(&d, 0, DIAG_WARNING, 3, 3, "barrier UNUSED is declared but no step uses it");
	assert_item_has(&d, 1, DIAG_ERROR, 16, 9, "barrier SOLO has only one participant (lonely)");
	assert_item(&d, 2, DIAG_ERROR, 19, 9,
		    "barrier deadlock: backend-deploy crosses FE before BE, frontend-deploy crosses BE before FE");
	/* The notes follow their error, even those on earlier lines. */
	assert_item(&d, 3, DIAG_NOTE, 19, 9, "backend-deploy crosses FE here");
	assert_item(&d, 4, DIAG_NOTE, 20, 9, "then backend-deploy waits at BE here");
	assert_item(&d, 5, DIAG_NOTE, 12, 9, "frontend-deploy crosses BE here");
	assert_item(&d, 6, DIAG_NOTE, 13, 9, "then frontend-deploy waits at FE here");
	diag_release(&d);
	free(path);
}

static void test_compile_sorts_load_diagnostics(void **state)
{
	(void)state;
	static const char text[] =
		"name: p\n"               /* 1 */
		"stages:\n"               /* 2 */
		"  - nope\n"              /* 3 */
		"workflows:\n"            /* 4 */
		"  a:\n"                  /* 5 */
		"    steps:\n"            /* 6 */
		"      - run: x\n"        /* 7 */
		"        timeout: 5x\n";  /* 8 */
	char *path = write_temp(text);
	struct diag d = DIAG_INIT;
	struct plan *plan = pipeline_compile(path, NULL, &d);
	unlink(path);
	assert_null(plan);
	assert_int_equal(d.errors, 2);
	assert_int_equal(d.warnings, 1);
	assert_int_equal(d.n, 3);
	assert_item_has(&d, 0, DIAG_ERROR, 3, 5, "unknown workflow 'nope'");
	assert_item_has(&d, 1, DIAG_WARNING, 5, 3, "workflow a is never used");
	assert_item_has(&d, 2, DIAG_ERROR, 8, 18, "bad duration '5x'");
	diag_release(&d);
	free(path);
}

static void test_compile_ok_and_overrides(void **state)
{
	(void)state;
	char *path = write_temp(seed);
	struct kv ov[] = { { .key = "version", .val = "9.9" } };
	struct kvlist overrides = { ov, 1 };
	struct diag d = DIAG_INIT;
	struct plan *plan = pipeline_compile(path, &overrides, &d);
	assert_non_null(plan);
	assert_int_equal(d.n, 0);
	assert_string_equal(plan->pipeline->name, "multi-service");
	assert_string_equal(plan->pipeline->file, path);
	assert_string_equal(plan->vars.v[0].val, "9.9");
	assert_int_equal(plan->nworkflows, 3);
	compile_free(plan);
	compile_free(NULL);

	/* A bad override fails the compile. */
	struct kv bad[] = { { .key = "nope", .val = "1" } };
	struct kvlist bad_overrides = { bad, 1 };
	plan = pipeline_compile(path, &bad_overrides, &d);
	assert_null(plan);
	assert_int_equal(d.errors, 1);
	assert_non_null(strstr(d.items[0].message, "--var nope"));
	diag_release(&d);

	/* Warnings alone do not fail it. */
	unlink(path);
	free(path);
	path = write_temp("name: p\nbarriers: {SPARE: ~}\nstages: [a]\nworkflows:\n  a: {steps: [{run: x}]}\n");
	plan = pipeline_compile(path, NULL, &d);
	assert_non_null(plan);
	assert_int_equal(d.errors, 0);
	assert_int_equal(d.warnings, 1);
	compile_free(plan);
	diag_release(&d);
	unlink(path);
	free(path);

	plan = pipeline_compile("/nonexistent/lockstep.yml", NULL, &d);
	assert_null(plan);
	assert_int_equal(d.errors, 1);
	diag_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_is_valid),
		cmocka_unit_test(test_seed_cases),
		cmocka_unit_test(test_b2_single_participant_with_suggestion),
		cmocka_unit_test(test_b2_suggestion_is_not_a_barrier_the_workflow_crosses),
		cmocka_unit_test(test_b2_cases),
		cmocka_unit_test(test_b3_b4_cases),
		cmocka_unit_test(test_cycle_cases),
		cmocka_unit_test(test_dag_of_many_barriers),
		cmocka_unit_test(test_many_cycles_bounded),
		cmocka_unit_test(test_long_cycle_bounded),
		cmocka_unit_test(test_many_single_participant_barriers_bounded),
		cmocka_unit_test(test_declaration_cases),
		cmocka_unit_test(test_valid_multi_group_plan),
		cmocka_unit_test(test_diag_sort_keeps_notes_after_their_error),
		cmocka_unit_test(test_diag_sort_drops_exact_duplicates),
		cmocka_unit_test(test_k8s_namespaces),
		cmocka_unit_test(test_manifests_resolve),
		cmocka_unit_test(test_k8s_resources),
		cmocka_unit_test(test_compile_sorts_check_diagnostics),
		cmocka_unit_test(test_compile_sorts_load_diagnostics),
		cmocka_unit_test(test_compile_ok_and_overrides),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
