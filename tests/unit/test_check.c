/*
 * Tests for pipeline/check.c (barrier rules B2, B3, B4 and B8, rollback
 * barriers, unused declarations) and for pipeline_compile(), which loads,
 * expands and checks a file and sorts what it found.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "guard.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/diag.h"
#include "pipeline/check.h"
#include "pipeline/compile.h"
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
		dump(&C->d);
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
		dump(d);
		fail_msg("expected item %zu: %d:%d: %s: %s", i, line, col, diag_severity_name(sev), msg);
	}
}

/* Asserts item `i` has severity `sev`, position line:col and a message containing `sub`. */
static void assert_item_has(const struct diag *d, size_t i, enum diag_severity sev, int line,
			    int col, const char *sub)
{
	if (i >= d->n || d->items[i].severity != sev || d->items[i].line != line ||
	    d->items[i].col != col || !strstr(d->items[i].message, sub)) {
		dump(d);
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

static size_t count_sev(const struct diag *d, enum diag_severity sev)
{
	size_t n = 0;
	for (size_t i = 0; i < d->n; i++)
		n += d->items[i].severity == sev;
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

/* ---- the SPEC example, valid and broken ---- */

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

static void test_swapped_seed_deadlock(void **state)
{
	(void)state;
	struct checked C;
	check_text(&C, seed_swapped);
	assert_int_equal(C.errors, 1);
	assert_int_equal(C.d.warnings, 0);
	assert_int_equal(C.d.n, 5);
	assert_item(&C.d, 0, DIAG_ERROR, 24, 9,
		    "barrier deadlock: backend-deploy crosses FE before BE, frontend-deploy crosses BE before FE");
	assert_string_equal(C.d.items[0].file, "p.yml");
	/* Notes walk the cycle: where each workflow crosses and then waits. */
	assert_item(&C.d, 1, DIAG_NOTE, 24, 9, "backend-deploy crosses FE here");
	assert_item(&C.d, 2, DIAG_NOTE, 26, 9, "then backend-deploy waits at BE here");
	assert_item(&C.d, 3, DIAG_NOTE, 31, 9, "frontend-deploy crosses BE here");
	assert_item(&C.d, 4, DIAG_NOTE, 34, 9, "then frontend-deploy waits at FE here");
	release(&C);
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
	assert_int_equal(count_prefix(&C.d, DIAG_ERROR, "barrier FE has only one participant (backend-deploy)"), 1);
	/* Neither is part of a deadlock report. */
	assert_int_equal(count_prefix(&C.d, DIAG_ERROR, "barrier deadlock"), 0);
	release(&C);
}

/*
 * The suggestion for FE (left with the backend alone) must not be BE: the
 * backend already crosses BE, so "fixing" FE into BE would make it cross
 * BE twice. The id the user meant to pair it with is Fe.
 */
static void test_b2_suggestion_is_not_a_barrier_the_workflow_crosses(void **state)
{
	(void)state;
	struct checked C;
	check_text(&C, seed_typo);
	for (size_t i = 0; i < C.d.n; i++) {
		const char *m = C.d.items[i].message;
		if (!strncmp(m, "barrier FE has only one participant", 35) && strstr(m, "did you mean 'BE'")) {
			dump(&C.d);
			fail_msg("FE's error suggests BE, which backend-deploy already crosses");
		}
	}
	release(&C);
}

static void test_b2_without_suggestion_and_rollback(void **state)
{
	(void)state;
	static const char text[] =
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
		"    steps: [{run: x}]\n";       /* 13 */
	struct checked C;
	check_text(&C, text);
	assert_int_equal(C.errors, 2);
	assert_item(&C.d, 0, DIAG_ERROR, 9, 9,
		    "barrier ALONE has only one participant (a); a barrier holds at least two workflows until all arrive");
	assert_item(&C.d, 1, DIAG_ERROR, 11, 9,
		    "rollback barrier UNDO has only one participant (a); a rollback barrier orders the rollbacks of at least two workflows");
	release(&C);
}

static void test_b2_counts_instances(void **state)
{
	(void)state;
	/* One matrix value: a single instance, so a single participant. */
	struct checked C;
	check_text(&C, "name: p\nstages:\n  - workflow: w\n    matrix: {r: [eu]}\n"
		       "workflows:\n  w:\n    steps:\n      - barrier: X\n");
	assert_int_equal(C.errors, 1);
	assert_item_has(&C.d, 0, DIAG_ERROR, 8, 9, "barrier X has only one participant (w[r=eu])");
	release(&C);

	/* Two values: two participants. */
	check_text(&C, "name: p\nstages:\n  - workflow: w\n    matrix: {r: [eu, us]}\n"
		       "workflows:\n  w:\n    steps:\n      - barrier: X\n");
	assert_int_equal(C.errors, 0);
	release(&C);
}

/* ---- B3 ---- */

static void test_b3_different_groups(void **state)
{
	(void)state;
	static const char text[] =
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
		"      - barrier: X\n";          /* 12 */
	struct checked C;
	check_text(&C, text);
	assert_int_equal(C.errors, 1);
	assert_item(&C.d, 0, DIAG_ERROR, 12, 9,
		    "barrier X joins workflows of different parallel groups (a in group 1, b in group 2): they never run at the same time, so it can never pass; put them in one group with parallel: true");
	release(&C);
}

/* ---- B4 ---- */

static void test_b4_twice(void **state)
{
	(void)state;
	static const char text[] =
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
		"      - barrier: X\n";          /* 14 */
	struct checked C;
	check_text(&C, text);
	assert_int_equal(C.errors, 1);
	assert_item(&C.d, 0, DIAG_ERROR, 11, 9,
		    "workflow a crosses barrier X twice (first at line 9); a workflow crosses a barrier at most once");
	release(&C);
}

static void test_b4_three_times_points_at_the_first(void **state)
{
	(void)state;
	static const char text[] =
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
		"      - barrier: X\n";          /* 14 */
	struct checked C;
	check_text(&C, text);
	assert_true(C.errors >= 1);
	/* Every repeat names the first crossing, line 9. */
	for (size_t i = 0; i < C.d.n; i++) {
		const char *m = C.d.items[i].message;
		if (strstr(m, "crosses barrier X twice") && !strstr(m, "(first at line 9)")) {
			dump(&C.d);
			fail_msg("a repeat does not point at the first crossing");
		}
	}
	assert_item_has(&C.d, 0, DIAG_ERROR, 10, 9, "workflow a crosses barrier X twice (first at line 9)");
	release(&C);
}

static void test_b4_steps_and_rollback(void **state)
{
	(void)state;
	static const char text[] =
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
		"      - barrier: X\n";          /* 16 */
	struct checked C;
	check_text(&C, text);
	assert_int_equal(C.errors, 1);
	assert_item(&C.d, 0, DIAG_ERROR, 11, 9,
		    "workflow a uses barrier X in rollback and in steps (line 9); a barrier id is either a step barrier or a rollback barrier");
	release(&C);

	/* Different workflows: one uses X in steps, others in rollback. */
	static const char text2[] =
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
		"      - barrier: X\n";          /* 17 */
	check_text(&C, text2);
	assert_true(C.errors >= 1);
	assert_item(&C.d, 0, DIAG_ERROR, 17, 9,
		    "workflow b uses barrier X in rollback and in steps (line 14); a barrier id is either a step barrier or a rollback barrier");
	release(&C);
}

/* ---- B8 ---- */

static void test_three_cycle_reported_once(void **state)
{
	(void)state;
	static const char text[] =
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
		"      - barrier: X\n";                /* 18 */
	struct checked C;
	check_text(&C, text);
	assert_int_equal(C.errors, 1);
	assert_item(&C.d, 0, DIAG_ERROR, 9, 9,
		    "barrier deadlock: a crosses X before Y, b crosses Y before Z, c crosses Z before X");
	assert_int_equal(count_sev(&C.d, DIAG_NOTE), 6);
	assert_item(&C.d, 6, DIAG_NOTE, 18, 9, "then c waits at X here");
	release(&C);
}

static void test_cycle_through_non_adjacent_barriers(void **state)
{
	(void)state;
	/* a: X Y Z; b: Z X. b waits at X for a, a never reaches Z. */
	struct checked C;
	check_text(&C, "name: p\nstages:\n  - a\n  - {workflow: b, parallel: true}\nworkflows:\n"
		       "  a: {steps: [{barrier: X}, {barrier: Y}, {barrier: Z}]}\n"
		       "  b: {steps: [{barrier: Z}, {barrier: X}, {barrier: Y}]}\n");
	assert_true(C.errors >= 1);
	assert_int_equal(C.errors, count_prefix(&C.d, DIAG_ERROR, "barrier deadlock: "));
	release(&C);
}

static void test_two_disjoint_cycles(void **state)
{
	(void)state;
	static const char text[] =
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
		"  d: {steps: [{barrier: S}, {barrier: R}]}\n";
	struct checked C;
	check_text(&C, text);
	assert_int_equal(C.errors, 2);
	assert_int_equal(count_prefix(&C.d, DIAG_ERROR,
				      "barrier deadlock: a crosses P before Q, b crosses Q before P"), 1);
	assert_int_equal(count_prefix(&C.d, DIAG_ERROR,
				      "barrier deadlock: c crosses R before S, d crosses S before R"), 1);
	release(&C);
}

static void test_same_cycle_from_many_workflows_once(void **state)
{
	(void)state;
	/* Three workflows cross P then Q, two cross Q then P: one cycle, one error. */
	struct checked C;
	check_text(&C, "name: p\nstages:\n  - a\n  - {workflow: b, parallel: true}\n"
		       "  - {workflow: c, parallel: true}\n  - {workflow: d, parallel: true}\n"
		       "  - {workflow: e, parallel: true}\n"
		       "workflows:\n"
		       "  a: {steps: [{barrier: P}, {barrier: Q}]}\n"
		       "  b: {steps: [{barrier: P}, {barrier: Q}]}\n"
		       "  c: {steps: [{barrier: Q}, {barrier: P}]}\n"
		       "  d: {steps: [{barrier: P}, {run: x}, {barrier: Q}]}\n"
		       "  e: {steps: [{barrier: Q}, {barrier: P}]}\n");
	assert_int_equal(C.errors, 1);
	assert_item(&C.d, 0, DIAG_ERROR, 9, 15, "barrier deadlock: a crosses P before Q, c crosses Q before P");
	release(&C);
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
			dump(&C.d);
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
 * 0.7 MB): 20,000 B2 errors, and the "did you mean" search for them must
 * not compare every id with every other.
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
	assert_finishes(load_build_check, buf_detach(&t, NULL), 20,
			"checking 20,000 single-participant barriers");
}

static void test_rollback_deadlock(void **state)
{
	(void)state;
	static const char text[] =
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
		"      - barrier: RA\n";             /* 17 */
	struct checked C;
	check_text(&C, text);
	assert_int_equal(C.errors, 1);
	assert_item(&C.d, 0, DIAG_ERROR, 10, 9,
		    "barrier deadlock: a crosses RA before RB, b crosses RB before RA");
	assert_item(&C.d, 4, DIAG_NOTE, 17, 9, "then b waits at RA here");
	release(&C);

	/* Steps and rollback are separate graphs: GO then R in steps and R then GO in
	 * rollback would be a B4 error, but X then Y in steps and Y then X in the
	 * rollbacks of other ids is no cycle. */
	check_text(&C, "name: p\nstages:\n  - a\n  - {workflow: b, parallel: true}\nworkflows:\n"
		       "  a: {steps: [{barrier: X}, {barrier: Y}], rollback: [{barrier: R1}, {barrier: R2}]}\n"
		       "  b: {steps: [{barrier: X}, {barrier: Y}], rollback: [{barrier: R1}, {barrier: R2}]}\n");
	assert_int_equal(C.errors, 0);
	release(&C);
}

/* ---- declarations ---- */

static void test_unused_declared_barrier(void **state)
{
	(void)state;
	static const char text[] =
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
		"  b: {steps: [{barrier: USED}], rollback: [{barrier: UNDO}]}\n";
	struct checked C;
	check_text(&C, text);
	assert_int_equal(C.errors, 0);
	assert_int_equal(C.d.warnings, 1);
	assert_int_equal(C.d.n, 1);
	assert_item(&C.d, 0, DIAG_WARNING, 4, 3, "barrier SPARE is declared but no step uses it");
	release(&C);
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
		cmocka_unit_test(test_swapped_seed_deadlock),
		cmocka_unit_test(test_b2_single_participant_with_suggestion),
		cmocka_unit_test(test_b2_suggestion_is_not_a_barrier_the_workflow_crosses),
		cmocka_unit_test(test_b2_without_suggestion_and_rollback),
		cmocka_unit_test(test_b2_counts_instances),
		cmocka_unit_test(test_b3_different_groups),
		cmocka_unit_test(test_b4_twice),
		cmocka_unit_test(test_b4_three_times_points_at_the_first),
		cmocka_unit_test(test_b4_steps_and_rollback),
		cmocka_unit_test(test_three_cycle_reported_once),
		cmocka_unit_test(test_cycle_through_non_adjacent_barriers),
		cmocka_unit_test(test_two_disjoint_cycles),
		cmocka_unit_test(test_same_cycle_from_many_workflows_once),
		cmocka_unit_test(test_dag_of_many_barriers),
		cmocka_unit_test(test_many_cycles_bounded),
		cmocka_unit_test(test_long_cycle_bounded),
		cmocka_unit_test(test_many_single_participant_barriers_bounded),
		cmocka_unit_test(test_rollback_deadlock),
		cmocka_unit_test(test_unused_declared_barrier),
		cmocka_unit_test(test_valid_multi_group_plan),
		cmocka_unit_test(test_diag_sort_keeps_notes_after_their_error),
		cmocka_unit_test(test_diag_sort_drops_exact_duplicates),
		cmocka_unit_test(test_compile_sorts_check_diagnostics),
		cmocka_unit_test(test_compile_sorts_load_diagnostics),
		cmocka_unit_test(test_compile_ok_and_overrides),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
