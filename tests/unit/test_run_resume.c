/*
 * Tests for engine/resume.c, the take-over of a run whose owner died: a
 * pipeline is run once in full, its events recorded; then every prefix
 * of them (as the store would hold it after a crash at that point, a
 * burst cut half-way included) is replayed into run_resume, the resumed
 * run goes to its end, and it must end as the full run did: each
 * workflow's last workflow.finished (status and reason) and run.finished
 * the same. run_assert_valid runs after every pump
 * (support/run_fixture.h).
 *
 * The pipelines keep their outcome whatever a crash interrupts: wait and
 * barrier steps go on after a take-over, and the one run step has a
 * retry for the attempt a crash interrupts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/run.h"
#include "exec/exec.h"
#include "support/run_fixture.h"

/* The line of the last workflow.finished of workflow `wf`, or NULL. */
static const char *last_finished(char *const *lines, size_t n, const char *wf)
{
	char p[128];
	snprintf(p, sizeof(p), "workflow.finished %s ", wf);
	const char *last = NULL;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(lines[i], p, strlen(p)))
			last = lines[i];
	return last;
}

/* What a workflow's end says in the prefix and the resumed run together. */
static const char *end_of(const struct rfx *full, size_t k, const struct rfx *resumed, const char *wf)
{
	const char *s = last_finished(resumed->lines.v, resumed->lines.n, wf);
	return s ? s : last_finished(full->lines.v, k, wf);
}

/* The resumed run, after the first `k` events of `full`, ended as `full` did. */
static void assert_same_end(const struct rfx *full, size_t k, const struct rfx *resumed)
{
	bool same = true;
	for (size_t i = 0; i < full->plan->nworkflows; i++) {
		const char *wf = full->plan->workflows[i].name;
		const char *want = last_finished(full->lines.v, full->lines.n, wf);
		const char *got = end_of(full, k, resumed, wf);
		if (!got || strcmp(want, got) != 0) {
			fprintf(stderr, "after %zu events: \"%s\", the full run: \"%s\"\n", k, got ? got : "(none)",
				want);
			same = false;
		}
	}
	const char *run_end = full->lines.v[full->lines.n - 1];
	if (strcmp(resumed->lines.v[resumed->lines.n - 1], run_end) != 0) {
		fprintf(stderr, "after %zu events: the run ends \"%s\", the full run \"%s\"\n", k,
			resumed->lines.v[resumed->lines.n - 1], run_end);
		same = false;
	}
	if (!same) {
		fprintf(stderr, "the full run:\n");
		rfx_dump(full);
		fprintf(stderr, "the resumed run:\n");
		rfx_dump(resumed);
	}
	assert_true(same);
}

/*
 * Runs `yaml` in full (with `act` after the first event starting with
 * `when`, if given), then resumes it from each prefix of its events from
 * the first that starts with `from` (or from the first event), and
 * checks that each ends as the full run did.
 */
static void replay_prefixes(const char *yaml, const char *when, void (*act)(struct rfx *F),
			    const char *from)
{
	struct rfx full;
	rfx_load(&full, yaml);
	if (when)
		rfx_on(&full, when, act);
	rfx_run(&full);
	size_t first = from ? (size_t)rfx_has(&full, from) : 0;
	assert_string_equal(full.lines.v[0], "run.started");
	/* Every prefix but the whole: a finished run is not resumed. */
	for (size_t k = first + 1; k < full.evs.n; k++) {
		struct rfx F;
		rfx_load(&F, yaml);
		rfx_resume(&F, full.evs.v, k, false);
		assert_string_equal(F.lines.v[0], "run.resumed resume");
		assert_same_end(&full, k, &F);
		rfx_end(&F);
	}
	rfx_end(&full);
}

/* ---- a run that succeeds ---- */

static const char success_yaml[] =
	"name: t\n"
	"barriers:\n"
	"  X: {name: Met}\n"
	"stages:\n"
	"  - workflow: a\n"
	"  - workflow: b\n"
	"    parallel: true\n"
	"  - c\n"
	"workflows:\n"
	"  a:\n"
	"    steps:\n"
	"      - {id: w, wait: 20ms}\n"
	"      - {id: meet, barrier: X}\n"
	"      - {id: r, run: 'true', retries: 1, retry-delay: 1ms}\n"
	"  b:\n"
	"    steps:\n"
	"      - {id: meet, barrier: X}\n"
	"      - {id: w, wait: 10ms}\n"
	"  c:\n"
	"    steps:\n"
	"      - {id: w, wait: 1ms}\n";

static void test_resume_success(void **state)
{
	(void)state;
	replay_prefixes(success_yaml, NULL, NULL, NULL);
}

/* ---- a failure, rollbacks and a rollback barrier ---- */

static const char failure_yaml[] =
	"name: t\n"
	"barriers:\n"
	"  X: {name: Met}\n"
	"stages:\n"
	"  - workflow: a\n"
	"  - workflow: b\n"
	"    parallel: true\n"
	"  - later\n"
	"workflows:\n"
	"  a:\n"
	"    steps:\n"
	"      - {id: meet, barrier: X}\n"
	"    rollback:\n"
	"      - {id: undo, wait: 5ms}\n"
	"      - {id: rmeet, barrier: R}\n"
	"  b:\n"
	"    steps:\n"
	"      - {id: slow, wait: 10s, timeout: 30ms}\n"
	"      - {id: meet, barrier: X}\n"
	"    rollback:\n"
	"      - {id: undo, wait: 20ms}\n"
	"      - {id: rmeet, barrier: R}\n"
	"  later:\n"
	"    steps: [{id: w, wait: 1ms}]\n";

static void test_resume_failure(void **state)
{
	(void)state;
	replay_prefixes(failure_yaml, NULL, NULL, NULL);
}

/* ---- rollback-all ---- */

static const char rollback_all_yaml[] =
	"name: t\n"
	"on-failure: rollback-all\n"
	"stages:\n"
	"  - first\n"
	"  - workflow: ok\n"
	"  - workflow: bad\n"
	"    parallel: true\n"
	"workflows:\n"
	"  first:\n"
	"    steps: [{id: do, wait: 1ms}]\n"
	"    rollback: [{id: undo, wait: 5ms}]\n"
	"  ok:\n"
	"    steps: [{id: do, wait: 1ms}]\n"
	"    rollback: [{id: undo, wait: 5ms}]\n"
	"  bad:\n"
	"    steps: [{id: do, wait: 10s, timeout: 20ms}]\n"
	"    rollback: [{id: undo, wait: 5ms}]\n";

static void test_resume_rollback_all(void **state)
{
	(void)state;
	replay_prefixes(rollback_all_yaml, NULL, NULL, NULL);
}

/*
 * A barrier step ignores continue-on-error: its workflow fails when the
 * barrier breaks, and so it does after a take-over that finds only the
 * step's failure recorded.
 */
static const char barrier_coe_yaml[] =
	"name: t\n"
	"stages:\n"
	"  - workflow: a\n"
	"  - workflow: b\n"
	"    parallel: true\n"
	"workflows:\n"
	"  a:\n"
	"    on-failure: stop\n"
	"    steps:\n"
	"      - {id: meet, barrier: X, continue-on-error: true}\n"
	"      - {id: after, wait: 1ms}\n"
	"  b:\n"
	"    on-failure: stop\n"
	"    steps:\n"
	"      - {id: slow, wait: 10s, timeout: 20ms}\n"
	"      - {id: meet, barrier: X}\n";

static void test_resume_barrier_continue_on_error(void **state)
{
	(void)state;
	replay_prefixes(barrier_coe_yaml, NULL, NULL, NULL);
}

/* ---- fail-fast ---- */

/*
 * Fail-fast stops a wait on the way to the barrier: its step ends
 * `aborted`, which is no trace of an abort of the run.
 */
static const char fail_fast_yaml[] =
	"name: t\n"
	"barriers:\n"
	"  X: {timeout: 30ms, fail-fast: true}\n"
	"stages:\n"
	"  - workflow: a\n"
	"  - workflow: b\n"
	"    parallel: true\n"
	"workflows:\n"
	"  a:\n"
	"    steps: [{id: meet, barrier: X}]\n"
	"    rollback: [{id: undo, wait: 5ms}]\n"
	"  b:\n"
	"    steps: [{id: slow, wait: 10s}, {id: meet, barrier: X}]\n"
	"    rollback: [{id: undo, wait: 5ms}]\n";

static void test_resume_fail_fast(void **state)
{
	(void)state;
	replay_prefixes(fail_fast_yaml, NULL, NULL, NULL);
}

/* ---- an abort ---- */

/* A run that was being aborted when it died ends aborted too, from any of its traces. */
static void test_resume_aborted(void **state)
{
	(void)state;
	replay_prefixes(failure_yaml, "step.started b/slow", rfx_abort, "step.finished b/slow aborted");
}

/* `lockstep abort`: the run is aborted as soon as it is taken over; rollbacks run. */
static void test_resume_abort(void **state)
{
	(void)state;
	struct rfx full;
	rfx_load(&full, failure_yaml);
	rfx_run(&full);
	size_t k = (size_t)rfx_has(&full, "step.started b/slow") + 1;
	struct rfx F;
	rfx_load(&F, failure_yaml);
	rfx_resume(&F, full.evs.v, k, true);
	rfx_exactly(&F, "run.resumed abort", "step.finished b/slow aborted",
		    "barrier.broken X: workflow b aborted at step 'slow'", "step.finished a/meet aborted",
		    "workflow.rollback a: barrier X (Met) broken: workflow b aborted at step 'slow'",
		    "workflow.rollback b: aborted at step 'slow'", "step.started a/undo #1 rollback",
		    "step.started b/undo #1 rollback", "step.finished a/undo succeeded rollback",
		    "step.started a/rmeet #1 rollback", "barrier.arrived a R",
		    "step.finished b/undo succeeded rollback", "step.started b/rmeet #1 rollback",
		    "barrier.arrived b R", "barrier.passed R", "step.finished a/rmeet succeeded rollback",
		    "step.finished b/rmeet succeeded rollback",
		    "workflow.finished a rolled-back: barrier X (Met) broken: workflow b aborted at step 'slow'",
		    "workflow.finished b rolled-back: aborted at step 'slow'",
		    "workflow.finished later skipped: run aborted", "run.finished aborted", NULL);
	rfx_end(&F);
	rfx_end(&full);
}

/* ---- what the executor knows of a step in flight ---- */

/*
 * An executor that runs processes locally and answers every adoption
 * with `adopt_rc`: -ESRCH (the supervisor never heard of the step: its
 * engine died before asking) or -ENOENT (lost with its supervisor).
 */
struct fake_exec {
	struct executor base;
	struct executor *local;
	int adopt_rc;
	int adoptions;
};

static int fake_spawn(struct executor *e, const struct xspawn *s, const struct xcbs *cbs, struct xproc **out)
{
	return exec_spawn(((struct fake_exec *)e)->local, s, cbs, out);
}

static int fake_adopt(struct executor *e, const char *key, const struct xcbs *cbs, struct xproc **out)
{
	struct fake_exec *f = (struct fake_exec *)e;
	(void)key, (void)cbs, (void)out;
	f->adoptions++;
	return f->adopt_rc;
}

static void fake_kill_leftovers(struct executor *e, void (*done)(int killed, void *arg), void *arg)
{
	exec_kill_leftovers(((struct fake_exec *)e)->local, done, arg);
}

static void fake_close(struct executor *e)
{
	exec_close(((struct fake_exec *)e)->local);
}

/* Its handles are the local executor's: these are never called. */
static const struct exec_ops fake_ops = { fake_spawn, fake_adopt, NULL, NULL, NULL, fake_kill_leftovers,
					  fake_close };

static const char process_yaml[] =
	"name: t\n"
	"stages: [a]\n"
	"workflows:\n"
	"  a:\n"
	"    steps:\n"
	"      - {id: s, run: 'echo $LOCKSTEP_STEP >>ran'}\n";

static void resume_with(struct fake_exec *fx, struct rfx *full, struct rfx *F)
{
	size_t k = (size_t)rfx_has(full, "step.started a/s") + 1;
	rfx_load(F, process_yaml);
	fx->base.ops = &fake_ops;
	fx->local = exec_local_new(&F->loop, NULL);
	F->o.executor = &fx->base;
	rfx_resume(F, full->evs.v, k, false);
	assert_int_equal(fx->adoptions, 1);
}

/* A step whose process never started starts now, as the same attempt. */
static void test_resume_never_spawned(void **state)
{
	(void)state;
	struct rfx full;
	rfx_load(&full, process_yaml);
	rfx_run(&full);
	struct rfx F;
	struct fake_exec fx = { .adopt_rc = -ESRCH };
	resume_with(&fx, &full, &F);
	rfx_exactly(&F, "run.resumed resume", "step.finished a/s succeeded exit 0", "workflow.finished a succeeded",
		    "run.finished succeeded", NULL);
	fake_close(&fx.base);
	rfx_end(&F);
	rfx_end(&full);
}

/* A step lost with its supervisor is interrupted: it fails, and is not run. */
static void test_resume_lost(void **state)
{
	(void)state;
	struct rfx full;
	rfx_load(&full, process_yaml);
	rfx_run(&full);
	struct rfx F;
	struct fake_exec fx = { .adopt_rc = -ENOENT };
	resume_with(&fx, &full, &F);
	rfx_exactly(&F, "run.resumed resume", "step.finished a/s failed",
		    "workflow.finished a failed: failed at step 's' (interrupted)", "run.finished failed", NULL);
	fake_close(&fx.base);
	rfx_end(&F);
	rfx_end(&full);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resume_success),
		cmocka_unit_test(test_resume_failure),
		cmocka_unit_test(test_resume_rollback_all),
		cmocka_unit_test(test_resume_barrier_continue_on_error),
		cmocka_unit_test(test_resume_fail_fast),
		cmocka_unit_test(test_resume_aborted),
		cmocka_unit_test(test_resume_abort),
		cmocka_unit_test(test_resume_never_spawned),
		cmocka_unit_test(test_resume_lost),
	};
	return cmocka_run_group_tests(tests, rfx_group_setup, NULL);
}
