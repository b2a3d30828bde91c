/*
 * Tests for the run state machine (engine/run.c, run_life.c): small
 * pipelines run on a real libuv loop, asserting on the events they emit
 * (support/run_fixture.h). Steps need no shell where they can: wait and
 * barrier steps; run steps are `true`, `exit N` or `sleep`. Timings are
 * short, and order is asserted through events, never through sleeps.
 * run_assert_valid runs after every pump; the last test checks that the
 * tests took every transition of the workflow diagram (run.h).
 *
 * Resuming from recorded events is in test_run_resume.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/logs_view.h"
#include "engine/run.h"
#include "engine/run_internal.h"
#include "pipeline/model.h"
#include "support/run_fixture.h"

/* ---- a barrier releases ---- */

static void test_release(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "stages:\n"
		     "  - workflow: a\n"
		     "  - workflow: b\n"
		     "    parallel: true\n"
		     "workflows:\n"
		     "  a:\n"
		     "    steps:\n"
		     "      - {id: w, wait: 20ms}\n"
		     "      - {id: meet, barrier: X}\n"
		     "  b:\n"
		     "    steps:\n"
		     "      - {id: meet, barrier: X}\n"
		     "      - {id: after, wait: 1ms}\n");
	rfx_run(&F);
	rfx_exactly(&F, "run.started", "group.started 1", "workflow.started a", "workflow.started b",
		    "step.started a/w #1", "step.started b/meet #1", "barrier.arrived b X",
		    "step.finished a/w succeeded", "step.started a/meet #1", "barrier.arrived a X",
		    "barrier.passed X", "step.finished b/meet succeeded", "step.finished a/meet succeeded",
		    "step.started b/after #1", "workflow.finished a succeeded",
		    "step.finished b/after succeeded", "workflow.finished b succeeded",
		    "run.finished succeeded", NULL);
	assert_int_equal(run_status(F.r), RUN_SUCCEEDED);
	rfx_end(&F);
}

/* ---- failures ---- */

static const char break_yaml[] =
	"name: t\n"
	"barriers:\n"
	"  X: {name: Everyone deployed}\n"
	"stages:\n"
	"  - workflow: a\n"
	"  - workflow: b\n"
	"    parallel: true\n"
	"workflows:\n"
	"  a:\n"
	"    steps:\n"
	"      - {id: meet, barrier: X}\n"
	"      - {id: after, wait: 1ms}\n"
	"    rollback:\n"
	"      - {id: undo, wait: 1ms}\n"
	"  b:\n"
	"    on-failure: stop\n"
	"    steps:\n"
	"      - {id: boom, run: exit 3}\n"
	"      - {id: meet, barrier: X}\n"
	"    rollback:\n"
	"      - {id: undo, wait: 1ms}\n";

/* B6: a failure breaks the barrier with its reason; who waits there fails and rolls back. */
static void test_break_on_failure(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, break_yaml);
	rfx_run(&F);
	const char *cause = "workflow b failed at step 'boom' (exit status 3)";
	char broken[200], rollback[300];
	snprintf(broken, sizeof(broken), "barrier.broken X: %s", cause);
	snprintf(rollback, sizeof(rollback), "workflow.rollback a: barrier X (Everyone deployed) broken: %s",
		 cause);
	rfx_order(&F, "barrier.arrived a X", "step.finished b/boom failed exit 3", broken,
		  "step.finished a/meet failed", rollback,
		  "workflow.finished b failed: failed at step 'boom' (exit status 3)",
		  "step.started a/undo #1 rollback", "step.finished a/undo succeeded rollback",
		  "workflow.finished a rolled-back: barrier X (Everyone deployed) broken", "run.finished failed",
		  NULL);
	/* on-failure: stop: b does not roll back; a never goes past the barrier. */
	rfx_lacks(&F, "step.started b/undo");
	rfx_lacks(&F, "step.started a/after");
	assert_int_equal(run_status(F.r), RUN_FAILED);
	rfx_end(&F);
}

/* A workflow that arrives at a barrier that broke fails on arrival. */
static void test_arrive_broken(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "stages:\n"
		     "  - workflow: a\n"
		     "  - workflow: b\n"
		     "    parallel: true\n"
		     "workflows:\n"
		     "  a:\n"
		     "    on-failure: stop\n"
		     "    steps:\n"
		     "      - {id: boom, run: exit 1}\n"
		     "      - {id: meet, barrier: X}\n"
		     "  b:\n"
		     "    on-failure: stop\n"
		     "    steps:\n"
		     "      - {id: late, wait: 300ms}\n"
		     "      - {id: meet, barrier: X}\n");
	rfx_run(&F);
	rfx_order(&F, "barrier.broken X: workflow a failed at step 'boom' (exit status 1)",
		  "step.finished b/late succeeded", "barrier.arrived b X", "step.finished b/meet failed",
		  "workflow.finished b failed: barrier X broken: workflow a failed", NULL);
	rfx_end(&F);
}

/* ---- timeouts ---- */

static void test_timeouts(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "stages:\n"
		     "  - workflow: slow\n"
		     "  - workflow: idle\n"
		     "    parallel: true\n"
		     "  - workflow: lonely\n"
		     "    parallel: true\n"
		     "  - workflow: other\n"
		     "    parallel: true\n"
		     "workflows:\n"
		     "  slow:\n"
		     "    on-failure: stop\n"
		     "    steps:\n"
		     "      - {id: s, run: sleep 10, timeout: 50ms}\n"
		     "  idle:\n"
		     "    on-failure: stop\n"
		     "    steps:\n"
		     "      - {id: w, wait: 10s, timeout: 40ms}\n"
		     "  lonely:\n"
		     "    on-failure: stop\n"
		     "    steps:\n"
		     "      - {id: meet, barrier: X, timeout: 30ms}\n"
		     "  other:\n"
		     "    on-failure: stop\n"
		     "    steps:\n"
		     "      - {id: w, wait: 200ms}\n"
		     "      - {id: meet, barrier: X}\n");
	rfx_run(&F);
	rfx_order(&F, "step.finished slow/s timed-out",
		  "workflow.finished slow failed: failed at step 's' (timed out after 50ms)", NULL);
	rfx_order(&F, "step.finished idle/w timed-out",
		  "workflow.finished idle failed: failed at step 'w' (timed out after 40ms)", NULL);
	rfx_order(&F, "step.finished lonely/meet timed-out",
		  "barrier.broken X: workflow lonely failed at step 'meet' (timed out after 30ms)",
		  "workflow.finished lonely failed: failed at step 'meet' (timed out after 30ms)",
		  "step.finished other/w succeeded", "step.finished other/meet failed", NULL);
	/* A killed process has no exit code. */
	rfx_has(&F, "step.finished slow/s timed-out");
	rfx_lacks(&F, "step.finished slow/s timed-out exit");
	rfx_end(&F);
}

/* ---- retries, continue-on-error ---- */

static void test_retries(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "stages:\n"
		     "  - workflow: flaky\n"
		     "  - workflow: broken\n"
		     "    parallel: true\n"
		     "workflows:\n"
		     "  flaky:\n"
		     "    steps:\n"
		     "      - id: s\n"
		     "        run: test -f tried || { touch tried; exit 1; }\n"
		     "        retries: 2\n"
		     "        retry-delay: 10ms\n"
		     "  broken:\n"
		     "    on-failure: stop\n"
		     "    steps:\n"
		     "      - {id: s, run: exit 2, retries: 2, retry-delay: 1ms}\n");
	rfx_run(&F);
	rfx_order(&F, "step.started flaky/s #1", "step.finished flaky/s failed exit 1",
		  "step.started flaky/s #2", "step.finished flaky/s succeeded exit 0",
		  "workflow.finished flaky succeeded", NULL);
	rfx_lacks(&F, "step.started flaky/s #3");
	rfx_order(&F, "step.started broken/s #1", "step.finished broken/s failed exit 2",
		  "step.started broken/s #2", "step.finished broken/s failed exit 2",
		  "step.started broken/s #3", "step.finished broken/s failed exit 2",
		  "workflow.finished broken failed: failed at step 's' (exit status 2)", NULL);
	rfx_lacks(&F, "step.started broken/s #4");
	rfx_end(&F);
}

static void test_continue_on_error(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "stages:\n"
		     "  - c\n"
		     "workflows:\n"
		     "  c:\n"
		     "    steps:\n"
		     "      - {id: purge, run: exit 1, continue-on-error: true}\n"
		     "      - {id: after, run: 'true'}\n");
	rfx_run(&F);
	rfx_order(&F, "step.finished c/purge failed exit 1", "step.started c/after #1",
		  "step.finished c/after succeeded exit 0", NULL);
	/* The workflow succeeded, and no failure is its reason. */
	rfx_has(&F, "workflow.finished c succeeded");
	rfx_lacks(&F, "workflow.finished c succeeded:");
	assert_int_equal(run_status(F.r), RUN_SUCCEEDED);
	rfx_end(&F);
}

/* ---- on-failure ---- */

static const char on_failure_yaml[] =
	"name: t\n"
	"stages:\n"
	"  - workflow: ign\n"
	"  - workflow: stp\n"
	"    parallel: true\n"
	"  - workflow: rb\n"
	"    parallel: true\n"
	"  - workflow: peer\n"
	"    parallel: true\n"
	"  - later\n"
	"workflows:\n"
	"  ign:\n"
	"    on-failure: ignore\n"
	"    steps:\n"
	"      - {id: boom, run: exit 4}\n"
	"      - {id: meet, barrier: X}\n"
	"    rollback:\n"
	"      - {id: undo, wait: 1ms}\n"
	"  stp:\n"
	"    on-failure: stop\n"
	"    steps:\n"
	"      - {id: w, wait: 30ms}\n"
	"      - {id: boom, run: exit 5}\n"
	"    rollback:\n"
	"      - {id: undo, wait: 1ms}\n"
	"  rb:\n"
	"    steps:\n"
	"      - {id: w, wait: 30ms}\n"
	"      - {id: boom, run: exit 6}\n"
	"    rollback:\n"
	"      - {id: undo, wait: 1ms}\n"
	"  peer:\n"
	"    steps:\n"
	"      - {id: meet, barrier: X}\n"
	"  later:\n"
	"    steps:\n"
	"      - {id: never, wait: 1ms}\n";

/*
 * ignore: the workflow succeeds and withdraws from its barriers (B6: peer
 * passes X alone); stop: it fails without rollback; rollback (the
 * default): it rolls back. The next group is skipped.
 */
static void test_on_failure(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, on_failure_yaml);
	rfx_run(&F);
	rfx_has(&F, "workflow.finished ign succeeded: failure ignored: failed at step 'boom' (exit status 4)");
	rfx_lacks(&F, "step.started ign/meet");
	rfx_lacks(&F, "step.started ign/undo");
	rfx_has(&F, "barrier.passed X");
	rfx_has(&F, "workflow.finished peer succeeded");
	rfx_has(&F, "workflow.finished stp failed: failed at step 'boom' (exit status 5)");
	rfx_lacks(&F, "step.started stp/undo");
	rfx_order(&F, "workflow.rollback rb: failed at step 'boom' (exit status 6)",
		  "step.started rb/undo #1 rollback",
		  "workflow.finished rb rolled-back: failed at step 'boom' (exit status 6)", NULL);
	rfx_has(&F, "workflow.finished later skipped: group 1 failed");
	rfx_lacks(&F, "workflow.started later");
	rfx_has(&F, "run.finished failed");
	rfx_end(&F);
}

/* A rollback step that fails: rollback-failed, with both reasons. */
static void test_rollback_fails(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "stages:\n"
		     "  - r\n"
		     "workflows:\n"
		     "  r:\n"
		     "    steps:\n"
		     "      - {id: boom, run: exit 1}\n"
		     "    rollback:\n"
		     "      - {id: undo, run: exit 2}\n"
		     "      - {id: never, wait: 1ms}\n");
	rfx_run(&F);
	rfx_has(&F, "workflow.finished r rollback-failed: rollback failed at step 'undo' (exit status 2); "
		    "it was rolling back because: failed at step 'boom' (exit status 1)");
	rfx_lacks(&F, "step.started r/never");
	rfx_end(&F);
}

/* ---- rollback barriers ---- */

/*
 * B9: fe fails, FE breaks, both roll back; the rollback barrier
 * reverted makes be undo only after fe's undo, though fe's undo is slow.
 */
static void test_rollback_barrier(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "stages:\n"
		     "  - workflow: be\n"
		     "  - workflow: fe\n"
		     "    parallel: true\n"
		     "workflows:\n"
		     "  be:\n"
		     "    steps:\n"
		     "      - {id: fe-done, barrier: FE}\n"
		     "    rollback:\n"
		     "      - {id: wait-fe, barrier: reverted}\n"
		     "      - {id: undo, wait: 1ms}\n"
		     "  fe:\n"
		     "    steps:\n"
		     "      - {id: deploy, run: exit 1}\n"
		     "      - {id: fe-done, barrier: FE}\n"
		     "    rollback:\n"
		     "      - {id: undo, wait: 40ms}\n"
		     "      - {id: reverted, barrier: reverted}\n");
	rfx_run(&F);
	rfx_order(&F, "barrier.broken FE", "step.started be/wait-fe #1 rollback",
		  "barrier.arrived be reverted", "step.finished fe/undo succeeded rollback",
		  "barrier.arrived fe reverted", "barrier.passed reverted",
		  "step.finished be/wait-fe succeeded rollback", "step.started be/undo #1 rollback",
		  "workflow.finished be rolled-back", NULL);
	rfx_has(&F, "workflow.finished fe rolled-back");
	rfx_end(&F);
}

/* ---- rollback-all ---- */

/*
 * Pipeline on-failure: rollback-all. web fails after api succeeded in
 * the same group: web rolls back at once, api when the group's steps are
 * over, then config (the group before), then schema; verify is skipped.
 */
static void test_rollback_all(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "on-failure: rollback-all\n"
		     "stages:\n"
		     "  - schema\n"
		     "  - config\n"
		     "  - workflow: api\n"
		     "  - workflow: web\n"
		     "    parallel: true\n"
		     "  - verify\n"
		     "workflows:\n"
		     "  schema:\n"
		     "    steps: [{id: do, wait: 1ms}]\n"
		     "    rollback: [{id: undo, wait: 1ms}]\n"
		     "  config:\n"
		     "    steps: [{id: do, wait: 1ms}]\n"
		     "    rollback: [{id: undo, wait: 1ms}]\n"
		     "  api:\n"
		     "    steps: [{id: do, wait: 1ms}]\n"
		     "    rollback: [{id: undo, wait: 1ms}]\n"
		     "  web:\n"
		     "    steps: [{id: w, wait: 30ms}, {id: deploy, run: exit 1}]\n"
		     "    rollback: [{id: undo, wait: 1ms}]\n"
		     "  verify:\n"
		     "    steps: [{id: do, wait: 1ms}]\n");
	rfx_run(&F);
	const char *why = "group 3 failed (on-failure: rollback-all): workflow web: failed at step "
			  "'deploy' (exit status 1)";
	char config[300], schema[300];
	snprintf(config, sizeof(config), "workflow.rollback config: %s", why);
	snprintf(schema, sizeof(schema), "workflow.rollback schema: %s", why);
	rfx_order(&F, "workflow.finished api succeeded", "step.finished web/deploy failed",
		  "workflow.rollback web: failed at step 'deploy'",
		  "workflow.rollback api: the group failed (on-failure: rollback-all): workflow web: "
		  "failed at step 'deploy' (exit status 1)",
		  NULL);
	rfx_order(&F, "workflow.finished web rolled-back", "workflow.finished api rolled-back", config,
		  "workflow.finished config rolled-back", schema, "workflow.finished schema rolled-back",
		  "run.finished failed", NULL);
	rfx_order(&F, "workflow.finished api rolled-back", "workflow.finished verify skipped", config, NULL);
	rfx_lacks(&F, "workflow.started verify");
	rfx_end(&F);
}

/* ---- abort ---- */

static const char abort_yaml[] =
	"name: t\n"
	"stages:\n"
	"  - workflow: work\n"
	"  - workflow: idle\n"
	"    parallel: true\n"
	"  - workflow: meet\n"
	"    parallel: true\n"
	"  - later\n"
	"workflows:\n"
	"  work:\n"
	"    steps:\n"
	"      - {id: long, run: sleep 10}\n"
	"      - {id: meet, barrier: X}\n"
	"    rollback:\n"
	"      - {id: undo, run: sleep 10}\n"
	"  idle:\n"
	"    on-failure: stop\n"
	"    steps:\n"
	"      - {id: w, wait: 10s}\n"
	"  meet:\n"
	"    on-failure: ignore\n"
	"    steps:\n"
	"      - {id: meet, barrier: X}\n"
	"  later:\n"
	"    steps:\n"
	"      - {id: never, wait: 1ms}\n";

/*
 * B10: the first abort stops the steps (the process gets SIGTERM, a wait
 * ends at once), breaks the barriers with "run aborted" and lets the
 * rollback run; the second kills the rollback's process at once.
 */
static void test_abort_twice(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, abort_yaml);
	F.o.kill_grace_ms = 10000; /* the second abort must not wait for it */
	rfx_on(&F, "step.started work/long", rfx_abort);
	rfx_on(&F, "step.started work/undo", rfx_abort);
	rfx_run(&F);
	rfx_order(&F, "step.started work/long #1", "step.finished idle/w aborted",
		  "workflow.finished idle aborted: aborted at step 'w'", NULL);
	rfx_has(&F, "barrier.broken X: run aborted");
	rfx_has(&F, "step.finished meet/meet aborted");
	rfx_has(&F, "workflow.finished meet aborted");
	rfx_order(&F, "step.finished work/long aborted", "workflow.rollback work: aborted at step 'long'",
		  "step.started work/undo #1 rollback", "step.finished work/undo aborted rollback",
		  "workflow.finished work rollback-failed: rollback aborted at step 'undo'; it was rolling "
		  "back because: aborted at step 'long'",
		  "workflow.finished later skipped: run aborted", "run.finished aborted", NULL);
	assert_int_equal(run_status(F.r), RUN_ABORTED);
	rfx_end(&F);
}

/* run_stop (the store failed): steps stop, no rollback starts. */
static void test_stop(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, abort_yaml);
	rfx_on(&F, "step.started work/long", rfx_stop);
	rfx_run(&F);
	rfx_has(&F, "step.finished work/long aborted");
	rfx_has(&F, "workflow.finished work aborted: aborted at step 'long'");
	rfx_has(&F, "workflow.finished idle aborted");
	rfx_lacks(&F, "step.started work/undo");
	rfx_has(&F, "run.finished aborted");
	rfx_end(&F);
}

/* ---- fail-fast ---- */

/*
 * The barrier times out while ap runs a long step, idle waits and retry
 * waits for its retry (its `exit 1` has long failed by then): fail-fast
 * stops all three at once, with the barrier's reason, and they roll back.
 */
static void test_fail_fast(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "fail-fast: true\n"
		     "barriers:\n"
		     "  X: {name: Deployed, timeout: 500ms}\n"
		     "stages:\n"
		     "  - workflow: eu\n"
		     "  - workflow: ap\n"
		     "    parallel: true\n"
		     "  - workflow: idle\n"
		     "    parallel: true\n"
		     "  - workflow: retry\n"
		     "    parallel: true\n"
		     "workflows:\n"
		     "  eu:\n"
		     "    steps: [{id: meet, barrier: X}]\n"
		     "    rollback: [{id: undo, wait: 1ms}]\n"
		     "  ap:\n"
		     "    steps:\n"
		     "      - {id: deploy, run: sleep 10}\n"
		     "      - {id: meet, barrier: X}\n"
		     "    rollback: [{id: undo, wait: 1ms}]\n"
		     "  idle:\n"
		     "    steps:\n"
		     "      - {id: w, wait: 10s}\n"
		     "      - {id: meet, barrier: X}\n"
		     "    rollback: [{id: undo, wait: 1ms}]\n"
		     "  retry:\n"
		     "    steps:\n"
		     "      - {id: s, run: exit 1, retries: 1, retry-delay: 10s}\n"
		     "      - {id: meet, barrier: X}\n"
		     "    rollback: [{id: undo, wait: 1ms}]\n");
	rfx_run(&F);
	int broken = rfx_has(&F, "barrier.broken X: timed out after 500ms");
	assert_true(rfx_find(&F, broken, "step.finished ap/deploy aborted") > broken);
	rfx_has(&F, "workflow.rollback ap: barrier X (Deployed) broken: timed out after 500ms waiting for ");
	assert_true(rfx_find(&F, 0, "workflow.rollback ap: ") >= 0);
	const char *ff[] = { "ap", "(fail-fast: step 'deploy' stopped)", "idle",
			     "(fail-fast: step 'w' stopped)", "retry",
			     "(fail-fast: step 's' stopped before its retry)" };
	for (size_t k = 0; k < 6; k += 2) {
		char p[64];
		snprintf(p, sizeof(p), "workflow.rollback %s: ", ff[k]);
		int at = rfx_has(&F, p);
		if (!strstr(F.lines.v[at], ff[k + 1])) {
			rfx_dump(&F);
			fail_msg("%s: no \"%s\"", ff[k], ff[k + 1]);
		}
	}
	rfx_has(&F, "step.finished idle/w aborted");
	rfx_lacks(&F, "step.started retry/s #2");
	rfx_lacks(&F, "step.started ap/meet");
	rfx_end(&F);
}

/* ---- the table of step kinds ---- */

/* Every kind has a whole row; a process kind has a command. */
static void test_step_kinds(void **state)
{
	(void)state;
	for (int k = 0; k < STEP_KIND_COUNT; k++) {
		const struct step_kind_ops *o = &step_kinds[k];
		const char *name = step_kind_name((enum step_kind)k);
		if (!o->begin || !o->resume || !o->cancel)
			fail_msg("%s: no begin, resume or cancel", name);
		if (o->holds_process != (o->command != NULL))
			fail_msg("%s: a process kind has a command, and only one", name);
		/* The store asks the engine, by name, which kinds have a log. */
		assert_int_equal(logs_kind_has_log(name), o->writes_log);
		assert_int_equal(step_kind_writes_log((enum step_kind)k), o->writes_log);
	}
	assert_true(step_kinds[STEP_RUN].holds_process && step_kinds[STEP_K8S_ROLLING].holds_process);
	assert_false(step_kinds[STEP_WAIT].holds_process || step_kinds[STEP_HTTP_CHECK].holds_process);
	assert_true(logs_kind_has_log("http-check") && logs_kind_has_log("k8s-rollback"));
	assert_false(logs_kind_has_log("barrier") || logs_kind_has_log("wait") ||
		     logs_kind_has_log("approval") || logs_kind_has_log(NULL));
}

/* ---- the diagram ---- */

/* The diagram in run.h, transition by transition. */
static const enum wf_state diagram[][2] = {
	{ WF_PENDING, WF_RUNNING },          { WF_PENDING, WF_SKIPPED },
	{ WF_RUNNING, WF_WAITING },          { WF_WAITING, WF_RUNNING },
	{ WF_RUNNING, WF_SUCCEEDED },        { WF_RUNNING, WF_FAILED },
	{ WF_RUNNING, WF_ABORTED },          { WF_RUNNING, WF_ROLLING_BACK },
	{ WF_ROLLING_BACK, WF_WAITING },     { WF_WAITING, WF_ROLLING_BACK },
	{ WF_ROLLING_BACK, WF_ROLLED_BACK }, { WF_ROLLING_BACK, WF_ROLLBACK_FAILED },
	{ WF_SUCCEEDED, WF_ROLLING_BACK },
};
#define NDIAGRAM (sizeof(diagram) / sizeof(diagram[0]))

static bool in_diagram(int from, int to)
{
	for (size_t k = 0; k < NDIAGRAM; k++)
		if (diagram[k][0] == (enum wf_state)from && diagram[k][1] == (enum wf_state)to)
			return true;
	return false;
}

/* wf_set_state allows exactly the transitions of the diagram. */
static void test_transition_table(void **state)
{
	(void)state;
	for (int f = 0; f < RFX_NSTATES; f++)
		for (int t = 0; t < RFX_NSTATES; t++)
			if (wf_transition_allowed((enum wf_state)f, (enum wf_state)t) != in_diagram(f, t))
				fail_msg("%s -> %s: allowed %d, in the diagram %d", wf_state_name((enum wf_state)f),
					 wf_state_name((enum wf_state)t),
					 wf_transition_allowed((enum wf_state)f, (enum wf_state)t), in_diagram(f, t));
}

/*
 * A transition that is not in the diagram is a bug: wf_set_state aborts
 * with a message rather than go on (in a child process). waiting goes
 * back only to the list it waited in.
 */
static void assert_refused(enum wf_state from, enum wf_state to, bool in_rollback)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		struct rfx F;
		rfx_load(&F, "name: t\nstages: [w]\nworkflows:\n  w:\n    steps: [{wait: 1ms}]\n");
		rmdir(F.dir); /* no step runs, and this process ends in abort() */
		F.r = run_new(F.plan, &F.o, &F.ev);
		struct wf_run *w = &F.r->wfs[0];
		w->state = from;
		w->in_rollback = in_rollback;
		wf_set_state(w, to);
		_exit(0);
	}
	close(fds[1]);
	char out[1024];
	size_t len = 0;
	for (ssize_t n; len < sizeof(out) - 1 && (n = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0;)
		len += (size_t)n;
	out[len] = '\0';
	close(fds[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
		fail_msg("%s -> %s was not refused (status %d)", wf_state_name(from), wf_state_name(to), st);
	assert_non_null(strstr(out, "is not in the diagram"));
}

static void test_transition_refused(void **state)
{
	(void)state;
	assert_refused(WF_PENDING, WF_SUCCEEDED, false);
	assert_refused(WF_FAILED, WF_RUNNING, false);
	assert_refused(WF_ROLLED_BACK, WF_ROLLING_BACK, true);
	assert_refused(WF_WAITING, WF_ROLLING_BACK, false);
	assert_refused(WF_WAITING, WF_RUNNING, true);
}

/* Every transition of the diagram in run.h was taken by the tests above. */
static void test_every_transition(void **state)
{
	(void)state;
	size_t n = NDIAGRAM;
	bool ok = true;
	for (size_t k = 0; k < n; k++) {
		if (!rfx_seen[diagram[k][0]][diagram[k][1]]) {
			fprintf(stderr, "not taken: %s -> %s\n", wf_state_name(diagram[k][0]),
				wf_state_name(diagram[k][1]));
			ok = false;
		}
	}
	for (int f = 0; f < RFX_NSTATES; f++) {
		for (int t = 0; t < RFX_NSTATES; t++) {
			if (rfx_seen[f][t] && !in_diagram(f, t)) {
				fprintf(stderr, "taken, not in the diagram: %s -> %s\n",
					wf_state_name((enum wf_state)f), wf_state_name((enum wf_state)t));
				ok = false;
			}
		}
	}
	assert_true(ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_release),
		cmocka_unit_test(test_break_on_failure),
		cmocka_unit_test(test_arrive_broken),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_retries),
		cmocka_unit_test(test_continue_on_error),
		cmocka_unit_test(test_on_failure),
		cmocka_unit_test(test_rollback_fails),
		cmocka_unit_test(test_rollback_barrier),
		cmocka_unit_test(test_rollback_all),
		cmocka_unit_test(test_abort_twice),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_fail_fast),
		cmocka_unit_test(test_step_kinds),
		cmocka_unit_test(test_transition_table),
		cmocka_unit_test(test_transition_refused),
		/* Last: it adds up what the tests above took. */
		cmocka_unit_test(test_every_transition),
	};
	return cmocka_run_group_tests(tests, rfx_group_setup, NULL);
}
