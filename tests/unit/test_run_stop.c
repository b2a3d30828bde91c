/*
 * Tests for how the run stops a step before it ends by itself (engine/
 * run.c, run_life.c): its timeout, the first and the second abort,
 * fail-fast and run_stop, for each kind of step (a process, a wait, an
 * http-check, a barrier) and for a run step still waiting for its
 * process (defer_spawns without run_committed keeps it waiting), in the
 * steps list and in a rollback. Asserted on the events the run emits
 * (support/run_fixture.h); run_assert_valid runs after every pump.
 *
 * http-checks ask 127.0.0.1 port 1, where nothing listens: every answer
 * is "connection refused", and the check goes on until it is stopped or
 * `within` runs out.
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

#include "engine/run.h"
#include "support/run_fixture.h"

#define REFUSED "{url: 'http://127.0.0.1:1/', interval: 20ms, within: 10s}"

/* ---- timeouts ---- */

/* A timed-out http-check is a failed attempt, retried like a run step's. */
static void test_check_timeout(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "stages: [c]\n"
		     "workflows:\n"
		     "  c:\n"
		     "    on-failure: stop\n"
		     "    steps:\n"
		     "      - {id: h, http-check: " REFUSED ", timeout: 50ms, retries: 1, retry-delay: 1ms}\n");
	rfx_run(&F);
	rfx_exactly(&F, "run.started", "group.started 1", "workflow.started c", "step.started c/h #1",
		    "step.finished c/h timed-out", "step.started c/h #2", "step.finished c/h timed-out",
		    "workflow.finished c failed: failed at step 'h' (timed out after 50ms)",
		    "run.finished failed", NULL);
	rfx_end(&F);
}

/* ---- the first abort ---- */

/*
 * Every kind of step of a steps list ends `aborted` at once (a process
 * once it is gone), and so does a retry delay; each workflow fails
 * "aborted at step".
 */
static void test_abort_each_kind(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "stages:\n"
		     "  - workflow: proc\n"
		     "  - workflow: wait\n"
		     "    parallel: true\n"
		     "  - workflow: check\n"
		     "    parallel: true\n"
		     "  - workflow: retry\n"
		     "    parallel: true\n"
		     "workflows:\n"
		     "  proc:\n"
		     "    steps: [{id: s, run: sleep 10}]\n"
		     "  wait:\n"
		     "    steps: [{id: s, wait: 10s}]\n"
		     "  check:\n"
		     "    steps: [{id: s, http-check: " REFUSED "}]\n"
		     "  retry:\n"
		     "    steps: [{id: s, run: exit 1, retries: 1, retry-delay: 10s}]\n");
	rfx_on(&F, "step.finished retry/s failed", rfx_abort);
	rfx_run(&F);
	const char *wfs[] = { "proc", "wait", "check" };
	for (size_t k = 0; k < 3; k++) {
		char fin[64], wf[96];
		snprintf(fin, sizeof(fin), "step.finished %s/s aborted", wfs[k]);
		snprintf(wf, sizeof(wf), "workflow.finished %s aborted: aborted at step 's'", wfs[k]);
		rfx_order(&F, fin, wf, NULL);
	}
	rfx_has(&F, "workflow.finished retry aborted: aborted at step 's'");
	rfx_lacks(&F, "step.started retry/s #2");
	rfx_has(&F, "run.finished aborted");
	rfx_end(&F);
}

/*
 * Rollbacks go on after the first abort: a process and a check run to
 * their end; a wait ends `aborted` and a retry delay is given up, and
 * the rollback goes on with its next step.
 */
static void test_abort_rollbacks_go_on(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "stages:\n"
		     "  - workflow: proc\n"
		     "  - workflow: wait\n"
		     "    parallel: true\n"
		     "  - workflow: check\n"
		     "    parallel: true\n"
		     "  - workflow: retry\n"
		     "    parallel: true\n"
		     "workflows:\n"
		     "  proc:\n"
		     "    steps: [{id: s, run: exit 1}]\n"
		     "    rollback: [{id: undo, run: sleep 0.2}]\n"
		     "  wait:\n"
		     "    steps: [{id: s, run: exit 1}]\n"
		     "    rollback: [{id: undo, wait: 10s}, {id: next, wait: 1ms}]\n"
		     "  check:\n"
		     "    steps: [{id: s, run: exit 1}]\n"
		     "    rollback:\n"
		     "      - {id: undo, http-check: {url: 'http://127.0.0.1:1/', interval: 20ms, within: 200ms}}\n"
		     "  retry:\n"
		     "    steps: [{id: s, wait: 30ms}, {id: boom, run: exit 1}]\n"
		     "    rollback:\n"
		     "      - {id: undo, run: exit 1, retries: 1, retry-delay: 10s}\n"
		     "      - {id: next, wait: 1ms}\n");
	rfx_on(&F, "step.finished retry/undo failed", rfx_abort);
	rfx_run(&F);
	rfx_has(&F, "step.finished proc/undo succeeded exit 0 rollback");
	rfx_has(&F, "workflow.finished proc rolled-back");
	rfx_order(&F, "step.finished wait/undo aborted rollback", "step.started wait/next #1 rollback",
		  "workflow.finished wait rolled-back", NULL);
	rfx_has(&F, "step.finished check/undo failed rollback");
	rfx_has(&F, "workflow.finished check rollback-failed: rollback failed at step 'undo' "
		    "(http-check GET http://127.0.0.1:1/: ");
	rfx_lacks(&F, "step.started retry/undo #2");
	rfx_order(&F, "step.finished retry/undo failed exit 1 rollback", "step.started retry/next #1 rollback",
		  "workflow.finished retry rolled-back", NULL);
	rfx_has(&F, "run.finished aborted");
	rfx_end(&F);
}

/* ---- the second abort ---- */

/*
 * The second abort ends what rollbacks were doing: a process at once
 * (SIGKILL, whatever the kill grace), a check, a wait, a retry delay.
 */
static void test_second_abort_rollbacks(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "stages:\n"
		     "  - workflow: proc\n"
		     "  - workflow: wait\n"
		     "    parallel: true\n"
		     "  - workflow: check\n"
		     "    parallel: true\n"
		     "  - workflow: retry\n"
		     "    parallel: true\n"
		     "workflows:\n"
		     "  proc:\n"
		     "    steps: [{id: s, wait: 10s}]\n"
		     "    rollback: [{id: undo, run: sleep 10}]\n"
		     "  wait:\n"
		     "    steps: [{id: s, wait: 10s}]\n"
		     "    rollback: [{id: undo, wait: 10s}]\n"
		     "  check:\n"
		     "    steps: [{id: s, wait: 10s}]\n"
		     "    rollback: [{id: undo, http-check: " REFUSED "}]\n"
		     "  retry:\n"
		     "    steps: [{id: s, wait: 10s}]\n"
		     "    rollback: [{id: undo, run: exit 1, retries: 1, retry-delay: 10s}]\n");
	F.o.kill_grace_ms = 10000;
	rfx_on(&F, "step.started retry/s", rfx_abort);
	rfx_on(&F, "step.finished retry/undo failed", rfx_abort);
	rfx_run(&F);
	const char *because = "; it was rolling back because: aborted at step 's'";
	char want[4][160];
	snprintf(want[0], sizeof(want[0]), "workflow.finished proc rollback-failed: rollback aborted at step 'undo'%s",
		 because);
	snprintf(want[1], sizeof(want[1]), "workflow.finished wait rollback-failed: rollback rollback aborted%s",
		 because);
	snprintf(want[2], sizeof(want[2]), "workflow.finished check rollback-failed: rollback aborted at step 'undo'%s",
		 because);
	snprintf(want[3], sizeof(want[3]), "workflow.finished retry rollback-failed: rollback rollback aborted%s",
		 because);
	rfx_order(&F, "step.finished proc/undo aborted rollback", want[0], NULL);
	rfx_order(&F, "step.finished wait/undo aborted rollback", want[1], NULL);
	rfx_order(&F, "step.finished check/undo aborted rollback", want[2], NULL);
	rfx_has(&F, want[3]);
	rfx_lacks(&F, "step.started retry/undo #2");
	rfx_has(&F, "run.finished aborted");
	rfx_end(&F);
}

/* ---- fail-fast ---- */

/* A check on its way to a broken fail-fast barrier is stopped at once. */
static void test_fail_fast_check(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "barriers:\n"
		     "  X: {timeout: 30ms, fail-fast: true}\n"
		     "stages:\n"
		     "  - workflow: a\n"
		     "  - workflow: c\n"
		     "    parallel: true\n"
		     "workflows:\n"
		     "  a:\n"
		     "    on-failure: stop\n"
		     "    steps: [{id: meet, barrier: X}]\n"
		     "  c:\n"
		     "    on-failure: stop\n"
		     "    steps: [{id: h, http-check: " REFUSED "}, {id: meet, barrier: X}]\n");
	rfx_run(&F);
	rfx_order(&F, "barrier.broken X: timed out after 30ms waiting for c (running step 'h')",
		  "step.finished c/h aborted",
		  "workflow.finished c failed: barrier X broken: timed out after 30ms waiting for c "
		  "(running step 'h') (fail-fast: step 'h' stopped)",
		  NULL);
	rfx_end(&F);
}

/* ---- a run step waiting for its process ---- */

/*
 * The first abort ends a step that waits for its process, which never
 * starts; the second ends its rollback's, which has not started either.
 */
static void test_waiting_for_process_abort(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "stages: [w]\n"
		     "workflows:\n"
		     "  w:\n"
		     "    steps: [{id: s, run: 'true'}]\n"
		     "    rollback: [{id: undo, run: 'true'}]\n");
	F.o.defer_spawns = true; /* and no run_committed: no process starts */
	rfx_on(&F, "step.started w/s", rfx_abort);
	rfx_on(&F, "step.started w/undo", rfx_abort);
	rfx_run(&F);
	rfx_exactly(&F, "run.started", "group.started 1", "workflow.started w", "step.started w/s #1",
		    "step.finished w/s aborted", "workflow.rollback w: aborted at step 's'",
		    "step.started w/undo #1 rollback", "step.finished w/undo aborted rollback",
		    "workflow.finished w rollback-failed: rollback aborted before it started; it was "
		    "rolling back because: aborted at step 's'",
		    "run.finished aborted", NULL);
	rfx_end(&F);
}

/*
 * A run step whose timeout expires while it waits for its process is a
 * timed-out attempt like a running one's: it is retried (the wait is
 * part of the step), and then fails its workflow.
 */
static void test_waiting_for_process_timeout(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "stages: [w]\n"
		     "workflows:\n"
		     "  w:\n"
		     "    on-failure: stop\n"
		     "    steps: [{id: s, run: 'true', timeout: 30ms, retries: 1, retry-delay: 1ms}]\n");
	F.o.defer_spawns = true;
	rfx_run(&F);
	rfx_exactly(&F, "run.started", "group.started 1", "workflow.started w", "step.started w/s #1",
		    "step.finished w/s timed-out", "step.started w/s #2", "step.finished w/s timed-out",
		    "workflow.finished w failed: failed at step 's' (timed out after 30ms)",
		    "run.finished failed", NULL);
	rfx_end(&F);
}

/* Fail-fast stops a step that waits for its process like any other. */
static void test_waiting_for_process_fail_fast(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "barriers:\n"
		     "  X: {timeout: 30ms, fail-fast: true}\n"
		     "stages:\n"
		     "  - workflow: a\n"
		     "  - workflow: q\n"
		     "    parallel: true\n"
		     "workflows:\n"
		     "  a:\n"
		     "    on-failure: stop\n"
		     "    steps: [{id: meet, barrier: X}]\n"
		     "  q:\n"
		     "    on-failure: stop\n"
		     "    steps: [{id: s, run: 'true'}, {id: meet, barrier: X}]\n");
	F.o.defer_spawns = true;
	rfx_run(&F);
	rfx_order(&F, "barrier.broken X", "step.finished q/s aborted",
		  "workflow.finished q failed: barrier X broken: timed out after 30ms waiting for q "
		  "(running step 's') (fail-fast: step 's' stopped)",
		  NULL);
	rfx_end(&F);
}

/*
 * run_stop during an abort: a rollback's check and its step waiting for
 * a process end at once; no rollback step starts any more.
 */
static void test_stop_rollbacks(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "stages:\n"
		     "  - workflow: q\n"
		     "  - workflow: check\n"
		     "    parallel: true\n"
		     "workflows:\n"
		     "  q:\n"
		     "    steps: [{id: s, wait: 10s}]\n"
		     "    rollback: [{id: undo, run: 'true'}, {id: never, wait: 1ms}]\n"
		     "  check:\n"
		     "    steps: [{id: s, wait: 10s}]\n"
		     "    rollback: [{id: undo, http-check: " REFUSED "}, {id: never, wait: 1ms}]\n");
	F.o.defer_spawns = true;
	rfx_on(&F, "step.started check/s", rfx_abort);
	rfx_on(&F, "step.started check/undo", rfx_stop);
	rfx_run(&F);
	rfx_has(&F, "step.finished q/undo aborted rollback");
	rfx_has(&F, "workflow.finished q rollback-failed: rollback aborted before it started");
	rfx_has(&F, "step.finished check/undo aborted rollback");
	rfx_has(&F, "workflow.finished check rollback-failed: rollback aborted at step 'undo'");
	rfx_lacks(&F, "step.started q/never");
	rfx_lacks(&F, "step.started check/never");
	rfx_has(&F, "run.finished aborted");
	rfx_end(&F);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_timeout),
		cmocka_unit_test(test_abort_each_kind),
		cmocka_unit_test(test_abort_rollbacks_go_on),
		cmocka_unit_test(test_second_abort_rollbacks),
		cmocka_unit_test(test_fail_fast_check),
		cmocka_unit_test(test_waiting_for_process_abort),
		cmocka_unit_test(test_waiting_for_process_timeout),
		cmocka_unit_test(test_waiting_for_process_fail_fast),
		cmocka_unit_test(test_stop_rollbacks),
	};
	return cmocka_run_group_tests(tests, rfx_group_setup, NULL);
}
