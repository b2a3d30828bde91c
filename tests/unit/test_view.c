/*
 * Tests for events/view.c, the one fold of a run's events that every sink
 * shows: recorded event streams of the seed scenario (the multi-service
 * example, tests/unit/data/view/, as `lockstep run --json` printed them)
 * folded onto the plan; runs of small pipelines on a real loop
 * (support/run_fixture.h) for the failure chain; the skeleton listing
 * what never started; and durations as the summary and `show` print
 * them, under a second, in minutes and above an hour.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"
#include "base/fsio.h"
#include "cli/output.h"
#include "cli/show.h"
#include "events/codec.h"
#include "events/view.h"
#include "pipeline/compile.h"
#include "support/run_fixture.h"

/* ---- recorded streams ---- */

/* A plan compiled from `path` under the source tree (no checks that read other files). */
static struct plan *source_plan(const char *path)
{
	const char *src = getenv("LOCKSTEP_SOURCE_DIR");
	if (!src)
		fail_msg("LOCKSTEP_SOURCE_DIR is not set (ctest sets it)");
	char file[4096];
	snprintf(file, sizeof(file), "%s/%s", src, path);
	struct diag d = DIAG_INIT;
	struct compile_opts co = { .no_resources = true };
	struct plan *plan = pipeline_compile_opts(file, NULL, 0, &co, &d);
	if (!plan)
		diag_print(&d, stderr, false);
	diag_release(&d);
	assert_non_null(plan);
	return plan;
}

/*
 * Folds the JSON lines of file `path` (under the source tree) into `v`,
 * every line an event; returns how many.
 */
static size_t fold_file(struct run_view *v, const char *path)
{
	char file[4096];
	snprintf(file, sizeof(file), "%s/%s", getenv("LOCKSTEP_SOURCE_DIR"), path);
	char *text = NULL;
	size_t len = 0;
	if (fsio_read_file(file, 1 << 20, &text, &len) < 0)
		fail_msg("cannot read %s", file);
	size_t n = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		const char *type = strstr(line, "\"event\":\"");
		assert_non_null(type);
		type += strlen("\"event\":\"");
		char name[32];
		size_t k = strcspn(type, "\"");
		assert_true(k < sizeof(name));
		memcpy(name, type, k);
		name[k] = '\0';
		struct arena a = ARENA_INIT;
		struct event ev;
		assert_int_equal(event_decode(name, line, &ev, &a), 0);
		view_apply(v, &ev);
		arena_release(&a);
		n++;
	}
	free(text);
	return n;
}

static const struct view_workflow *wf(const struct run_view *v, const char *name)
{
	const struct view_workflow *w = view_find_workflow(v, name);
	if (!w)
		fail_msg("no workflow %s in the view", name);
	return w;
}

static const struct view_step *step(const struct run_view *v, const char *w, const char *id)
{
	const struct view_step *s = view_find_step(wf(v, w), id);
	if (!s)
		fail_msg("no step %s/%s in the view", w, id);
	return s;
}

/* The seed scenario succeeds: both barriers pass with both deploys, every step once. */
static void test_seed_stream(void **state)
{
	(void)state;
	struct plan *plan = source_plan("examples/multi-service/pipeline.yml");
	struct run_view *v = view_new_plan(plan, VIEW_DETAIL);
	assert_int_equal(fold_file(v, "tests/unit/data/view/seed.jsonl"), 34);

	assert_int_equal(v->run, 1);
	assert_string_equal(v->pipeline, "multi-service");
	assert_string_equal(v->status, "succeeded");
	assert_int_equal(v->last_seq, 34);
	assert_int_equal(v->group, 2);
	assert_int_equal(v->ngroups, 2);
	assert_true(view_elapsed(v->started, v->finished) > 0);
	for (size_t i = 0; i < v->nwfs; i++) {
		const struct view_workflow *w = &v->wfs[i];
		assert_string_equal(w->status, "succeeded");
		assert_null(w->reason);
		assert_null(w->failed_step);
		assert_false(w->waiting);
		/* Every step of its list finished once; its rollback never ran. */
		assert_int_equal(w->steps_done, w->nmain);
		for (size_t k = 0; k < w->nsteps; k++) {
			const struct view_step *s = &w->steps[k];
			assert_string_equal(s->status, s->rollback ? "pending" : "succeeded");
			assert_int_equal(s->natt, s->rollback ? 0 : 1);
		}
	}
	assert_int_equal(wf(v, "backend-deploy")->nmain, 4);
	assert_int_equal(v->nmain, 4 + 4 + 1);
	const struct view_step *deploy = step(v, "backend-deploy", "step-1");
	assert_string_equal(deploy->kind, "run");
	assert_string_equal(deploy->name, "Rolling deploy");
	assert_true(deploy->has_exit_code);
	assert_int_equal(deploy->exit_code, 0);
	assert_true(deploy->att[0].finished);
	assert_int_equal(deploy->att[0].seq, 5);
	/* An http-check has no exit code. */
	assert_false(step(v, "frontend-deploy", "verify")->has_exit_code);
	assert_string_equal(step(v, "frontend-deploy", "verify")->kind, "http-check");

	const char *both[] = { "backend-deploy", "frontend-deploy" };
	for (int k = 0; k < 2; k++) {
		const struct view_barrier *b = view_find_barrier(v, k ? "FE" : "BE");
		assert_non_null(b);
		assert_string_equal(b->status, "passed");
		assert_int_equal(b->decided_order, (uint64_t)k + 1);
		assert_int_equal(b->nmembers, 2);
		assert_int_equal(b->narrived, 2);
		assert_int_equal(b->npassed, 2);
		for (size_t i = 0; i < 2; i++) {
			assert_string_equal(v->wfs[b->passed_by[i]].name, both[i]);
			assert_true(b->members[i].arrived);
			assert_true(b->arrivals[i].ms > 0);
		}
		assert_null(b->reason);
	}
	assert_string_equal(view_find_barrier(v, "BE")->title, "Backend service deployment done");
	/* The frontend arrived at BE first, the backend at FE. */
	const struct view_barrier *be = view_find_barrier(v, "BE");
	assert_true(be->arrivals[1].seq < be->arrivals[0].seq);

	struct view_chain c;
	view_failure_chain(v, &c);
	assert_int_equal(c.nroots, 0);
	assert_int_equal(c.nothers, 0);
	view_chain_release(&c);
	assert_int_equal(v->nwarnings, 0);
	view_free(v);
	compile_free(plan);
}

/*
 * The frontend deploy fails: FE breaks, the backend fails there, both
 * roll back, smoke-tests never starts. The chain has one root.
 */
static void test_failure_with_rollback_stream(void **state)
{
	(void)state;
	struct plan *plan = source_plan("examples/multi-service/pipeline-frontend-fails.yml");
	struct run_view *v = view_new_plan(plan, VIEW_DETAIL);
	assert_int_equal(fold_file(v, "tests/unit/data/view/frontend-fails.jsonl"), 31);
	assert_string_equal(v->status, "failed");

	const struct view_workflow *fe = wf(v, "frontend-deploy"), *be = wf(v, "backend-deploy");
	assert_string_equal(fe->status, "rolled-back");
	assert_string_equal(fe->reason, "failed at step 'deploy' (exit status 1)");
	assert_string_equal(fe->rollback_reason, fe->reason);
	assert_string_equal(fe->failed_step, "deploy");
	assert_true(fe->failed_has_exit);
	assert_int_equal(fe->failed_exit, 1);
	assert_string_equal(step(v, "frontend-deploy", "deploy")->status, "failed");
	assert_string_equal(step(v, "frontend-deploy", "verify")->status, "pending");
	assert_string_equal(step(v, "frontend-deploy", "rollback-1")->status, "succeeded");
	assert_true(step(v, "frontend-deploy", "rollback-1")->rollback);

	assert_string_equal(be->status, "rolled-back");
	assert_true(!strncmp(be->reason, "barrier FE (Frontend service deployment done) broken: ", 54));
	/* Its barrier step failed; that is not a failure of its own. */
	assert_string_equal(be->failed_step, "step-4");
	assert_string_equal(step(v, "backend-deploy", "step-4")->status, "failed");
	assert_false(be->waiting);

	const struct view_workflow *smoke = wf(v, "smoke-tests");
	assert_string_equal(smoke->status, "skipped");
	assert_int_equal(smoke->started.wall_ms, 0);
	assert_string_equal(step(v, "smoke-tests", "step-1")->status, "pending");
	assert_int_equal(step(v, "smoke-tests", "step-1")->natt, 0);

	const struct view_barrier *b = view_find_barrier(v, "FE");
	assert_string_equal(b->status, "broken");
	assert_string_equal(b->origin, "frontend-deploy");
	assert_string_equal(b->reason, "workflow frontend-deploy failed at step 'deploy' (exit status 1)");
	assert_int_equal(b->narrived, 1);
	assert_int_equal(b->decided_order, 2);

	struct view_chain c;
	view_failure_chain(v, &c);
	assert_int_equal(c.nroots, 1);
	assert_string_equal(v->wfs[c.roots[0].wf].name, "frontend-deploy");
	assert_int_equal(c.roots[0].nbroken, 1);
	assert_string_equal(v->barriers[c.roots[0].broken[0].barrier].id, "FE");
	assert_int_equal(c.roots[0].broken[0].nfailed, 1);
	assert_string_equal(v->wfs[c.roots[0].broken[0].failed[0]].name, "backend-deploy");
	assert_int_equal(c.nothers, 0);
	view_chain_release(&c);

	/* The summary says it in one line. */
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	output_summary(v, false, f);
	fclose(f);
	assert_non_null(strstr(text, "\nfailure: frontend-deploy failed at 'deploy' (exit 1), rolled-back "
				     "-> barrier FE broken -> backend-deploy rolled-back\n"));
	assert_non_null(strstr(text, "\nrun 2 failed in "));
	free(text);
	view_free(v);
	compile_free(plan);
}

/* ---- the skeleton ---- */

/* Before any event, the view lists every workflow, step and barrier as pending. */
static void test_skeleton_lists_what_never_started(void **state)
{
	(void)state;
	struct plan *plan = source_plan("examples/multi-service/pipeline.yml");
	struct run_view *v = view_new_plan(plan, VIEW_DETAIL);
	assert_int_equal(v->nwfs, 3);
	assert_int_equal(v->nbarriers, 2);
	assert_int_equal(v->group, 0);
	assert_null(v->status);
	for (size_t i = 0; i < v->nwfs; i++) {
		assert_string_equal(v->wfs[i].status, "pending");
		assert_string_equal(view_workflow_state(&v->wfs[i]), "pending");
		assert_null(v->wfs[i].step);
		for (size_t k = 0; k < v->wfs[i].nsteps; k++) {
			assert_string_equal(v->wfs[i].steps[k].status, "pending");
			assert_int_equal(v->wfs[i].steps[k].attempts, 0);
		}
	}
	/* Steps, then rollback steps, as the plan has them. */
	const struct view_workflow *be = wf(v, "backend-deploy");
	assert_int_equal(be->nsteps, 5);
	assert_string_equal(be->steps[0].id, "step-1");
	assert_string_equal(be->steps[3].kind, "barrier");
	assert_string_equal(be->steps[4].id, "rollback-1");
	assert_true(be->steps[4].rollback);
	for (size_t i = 0; i < v->nbarriers; i++) {
		assert_string_equal(v->barriers[i].status, "pending");
		assert_int_equal(v->barriers[i].nmembers, 2);
		assert_int_equal(v->barriers[i].narrived, 0);
	}
	assert_int_equal(view_find_barrier(v, "BE")->timeout_ms, 600000);
	view_free(v);

	/* Without VIEW_DETAIL: no steps kept, but they are counted. */
	v = view_new_plan(plan, 0);
	assert_int_equal(wf(v, "backend-deploy")->nsteps, 0);
	assert_int_equal(wf(v, "backend-deploy")->nmain, 4);
	assert_int_equal(v->nmain, 9);
	assert_int_equal(v->barriers[0].nmembers, 2);
	assert_null(v->barriers[0].arrivals);
	view_free(v);
	compile_free(plan);
}

/* ---- where a workflow is ---- */

static struct event ev_at(enum event_type type, uint64_t seq)
{
	return (struct event){ .type = type, .seq = seq, .run = 5, .ts_ms = 1700000000000 + (int64_t)seq,
			       .mono_ms = 1000 + seq };
}

/* A workflow waits at a barrier from its arrival until its barrier step ends; never at a decided one. */
static void test_waiting(void **state)
{
	(void)state;
	struct run_view *v = view_new(VIEW_DETAIL);
	size_t a = view_add_workflow(v, "a", 0), b = view_add_workflow(v, "b", 0);
	view_add_step(v, a, "meet", "barrier X", "barrier", false);
	view_add_step(v, b, "meet", "barrier X", "barrier", false);
	size_t x = view_add_barrier(v, "X", NULL, false, 0);
	view_add_participant(v, x, a);
	view_add_participant(v, x, b);

	struct event e = ev_at(EV_WORKFLOW_STARTED, 1);
	e.workflow = "a";
	view_apply(v, &e);
	e = ev_at(EV_STEP_STARTED, 2);
	e.workflow = "a", e.step = "meet", e.attempt = 1;
	view_apply(v, &e);
	e = ev_at(EV_BARRIER_ARRIVED, 3);
	e.workflow = "a", e.barrier = "X";
	view_apply(v, &e);
	assert_string_equal(view_workflow_state(&v->wfs[a]), "waiting");
	assert_string_equal(v->wfs[a].status, "running");
	assert_int_equal(v->wfs[a].waiting_at, x);
	assert_string_equal(v->barriers[x].status, "waiting");

	const char *parts[] = { "a" };
	e = ev_at(EV_BARRIER_PASSED, 4);
	e.barrier = "X", e.participants = parts, e.nparticipants = 1;
	view_apply(v, &e);
	/* Decided, but a's barrier step has not ended yet. */
	assert_string_equal(view_workflow_state(&v->wfs[a]), "waiting");
	e = ev_at(EV_STEP_FINISHED, 5);
	e.workflow = "a", e.step = "meet", e.status = "succeeded", e.duration_ms = 2;
	view_apply(v, &e);
	assert_string_equal(view_workflow_state(&v->wfs[a]), "running");
	assert_int_equal(v->wfs[a].steps_done, 1);

	/* b arrives late: the barrier stays passed and b does not wait. */
	e = ev_at(EV_BARRIER_ARRIVED, 6);
	e.workflow = "b", e.barrier = "X";
	view_apply(v, &e);
	assert_false(v->wfs[b].waiting);
	assert_string_equal(v->barriers[x].status, "passed");
	assert_int_equal(v->barriers[x].narrived, 2);
	assert_int_equal(v->barriers[x].arrivals[1].seq, 6);

	/* A pid recorded for an attempt (step.process reaches the store only). */
	e = ev_at(EV_STEP_PROCESS, 0);
	e.workflow = "a", e.step = "meet", e.attempt = 1, e.pid = 4242;
	view_apply(v, &e);
	assert_int_equal(step(v, "a", "meet")->att[0].pid, 4242);
	/* Names the skeleton does not have change nothing. */
	e = ev_at(EV_STEP_FINISHED, 7);
	e.workflow = "nobody", e.step = "meet", e.status = "failed";
	view_apply(v, &e);
	e.workflow = "a", e.step = "nothing";
	view_apply(v, &e);
	assert_string_equal(step(v, "a", "meet")->status, "succeeded");
	view_free(v);
}

/* ---- the failure chain ---- */

/* The workflows named `names` (NULL-terminated) are the roots of `v`'s chain, in that order. */
static void assert_roots(const struct run_view *v, const char *const *names)
{
	struct view_chain c;
	view_failure_chain(v, &c);
	size_t n = 0;
	while (names[n])
		n++;
	assert_int_equal(c.nroots, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(v->wfs[c.roots[i].wf].name, names[i]);
	view_chain_release(&c);
}

/* Folds the events of a run of `F` into a view of its plan. */
static struct run_view *fold_run(struct rfx *F)
{
	struct run_view *v = view_new_plan(F->plan, VIEW_DETAIL);
	for (size_t i = 0; i < F->evs.n; i++)
		view_apply(v, F->evs.v[i]);
	return v;
}

/* What `show` prints of `v` (a run of 1 ms). */
static char *show_of(const struct run_view *v)
{
	struct store_run_info ri = { .id = 1, .pipeline = "t", .file = "p.yml", .status = v->status,
				     .started_ms = v->started.wall_ms, .finished_ms = v->finished.wall_ms,
				     .host = "h", .pid = 1 };
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	show_text(&ri, v, f);
	fclose(f);
	return text;
}

/*
 * rollback-all: a succeeded workflow rolled back because another failed
 * did not fail by itself. `show` used to list it as a failure; the summary
 * did not, and now neither does.
 */
static void test_chain_rollback_all(void **state)
{
	(void)state;
	struct rfx F;
	rfx_load(&F, "name: t\n"
		     "on-failure: rollback-all\n"
		     "stages:\n"
		     "  - workflow: a\n"
		     "  - workflow: b\n"
		     "workflows:\n"
		     "  a:\n"
		     "    steps: [{id: s, run: 'true'}]\n"
		     "    rollback: [{id: u, wait: 1ms}]\n"
		     "  b:\n"
		     "    steps: [{id: s, run: exit 3}]\n"
		     "    rollback: [{id: u, wait: 1ms}]\n");
	rfx_run(&F);
	struct run_view *v = fold_run(&F);
	assert_string_equal(wf(v, "a")->status, "rolled-back");
	assert_string_equal(wf(v, "b")->status, "rolled-back");
	assert_roots(v, (const char *[]){ "b", NULL });
	char *text = show_of(v);
	assert_non_null(strstr(text, "\nfailures:\n  b rolled-back: failed at step 's' (exit status 3)\n"));
	assert_null(strstr(text, "  a rolled-back:"));
	free(text);
	view_free(v);
	rfx_end(&F);
}

/*
 * An abort is not a failure of the workflows it stops: the chain has no
 * root (the summary's rule; `show` used to list the aborted workflows),
 * and the barrier the abort broke is told on its own.
 */
static void test_chain_abort(void **state)
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
		     "      - {id: long, run: sleep 10}\n"
		     "      - {id: meet, barrier: X}\n"
		     "    rollback: [{id: u, wait: 1ms}]\n"
		     "  b:\n"
		     "    steps:\n"
		     "      - {id: meet, barrier: X}\n");
	rfx_on(&F, "barrier.arrived b X", rfx_abort);
	rfx_run(&F);
	struct run_view *v = fold_run(&F);
	assert_string_equal(v->status, "aborted");
	assert_string_equal(wf(v, "a")->status, "rolled-back");
	assert_string_equal(wf(v, "a")->failed_step, "long");
	assert_string_equal(wf(v, "b")->status, "aborted");
	assert_roots(v, (const char *[]){ NULL });
	struct view_chain c;
	view_failure_chain(v, &c);
	assert_int_equal(c.nothers, 1);
	assert_string_equal(v->barriers[c.others[0]].id, "X");
	view_chain_release(&c);
	char *text = show_of(v);
	assert_non_null(strstr(text, "\nfailures:\n  barrier X broken: run aborted\n"));
	assert_null(strstr(text, "  a rolled-back:"));
	free(text);
	text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	output_summary(v, false, f);
	fclose(f);
	assert_null(strstr(text, "failure:"));
	free(text);
	view_free(v);
	rfx_end(&F);
}

/* ---- durations ---- */

static void assert_elapsed(uint64_t ms, const char *want)
{
	char d[32];
	duration_format_elapsed(ms, d, sizeof(d));
	assert_string_equal(d, want);
}

static void test_duration_format(void **state)
{
	(void)state;
	assert_elapsed(0, "0ms");
	assert_elapsed(999, "999ms");
	assert_elapsed(1000, "1.0s");
	assert_elapsed(12345, "12.3s");
	assert_elapsed(60000, "1m00s");
	assert_elapsed(245000, "4m05s");
	assert_elapsed(3599999, "59m59s");
	assert_elapsed(3600000, "1h00m");
	assert_elapsed(4503000, "1h15m");
	assert_elapsed(26 * 3600000ULL + 60000, "26h01m");
}

/* A monotonic time wins over the wall clock when both ends have one. */
static void test_elapsed_clocks(void **state)
{
	(void)state;
	struct view_time a = { 1000, 50 }, b = { 5000, 80 };
	assert_int_equal(view_elapsed(a, b), 30);
	a.mono_ms = 0;
	assert_int_equal(view_elapsed(a, b), 4000);
	assert_int_equal(view_elapsed(b, a), 0);
	assert_int_equal(view_elapsed((struct view_time){ 0, 0 }, b), 0);
}

/*
 * A run of 1h15m with a step of 250 ms and a workflow of 12 minutes: the
 * summary and `show` write each duration the same way (the summary used
 * to say 75m00s where `show` said 1h15m).
 */
static void test_durations_in_summary_and_show(void **state)
{
	(void)state;
	const int64_t t0 = 1700000000000;
	struct run_view *v = view_new(VIEW_DETAIL);
	size_t w = view_add_workflow(v, "deploy", 0);
	view_add_step(v, w, "s", "s", "run", false);
	struct event e = { .type = EV_RUN_STARTED, .seq = 1, .run = 3, .ts_ms = t0, .mono_ms = 10,
			   .pipeline = "p" };
	view_apply(v, &e);
	e = (struct event){ .type = EV_WORKFLOW_STARTED, .seq = 2, .ts_ms = t0, .mono_ms = 10,
			    .workflow = "deploy" };
	view_apply(v, &e);
	e = (struct event){ .type = EV_STEP_STARTED, .seq = 3, .ts_ms = t0, .mono_ms = 10,
			    .workflow = "deploy", .step = "s", .attempt = 1 };
	view_apply(v, &e);
	e = (struct event){ .type = EV_STEP_FINISHED, .seq = 4, .ts_ms = t0 + 250, .mono_ms = 260,
			    .workflow = "deploy", .step = "s", .status = "succeeded", .has_exit_code = true,
			    .duration_ms = 250 };
	view_apply(v, &e);
	e = (struct event){ .type = EV_WORKFLOW_FINISHED, .seq = 5, .ts_ms = t0 + 720000,
			    .mono_ms = 10 + 720000, .workflow = "deploy", .status = "succeeded" };
	view_apply(v, &e);
	e = (struct event){ .type = EV_RUN_FINISHED, .seq = 6, .ts_ms = t0 + 4500000, .mono_ms = 10 + 4500000,
			    .status = "succeeded" };
	view_apply(v, &e);

	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	output_summary(v, false, f);
	fclose(f);
	assert_non_null(strstr(text, "\nrun 3 succeeded in 1h15m\n"));
	assert_non_null(strstr(text, "\n  deploy    succeeded        12m00s\n"));
	free(text);

	text = show_of(v);
	assert_non_null(strstr(text, "  finished  "));
	assert_non_null(strstr(text, " (1h15m)\n"));
	assert_non_null(strstr(text, "\n  deploy    succeeded        12m00s  group 1\n"));
	assert_non_null(strstr(text, "\n    s     run          succeeded  exit 0     250ms\n"));
	free(text);
	view_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_stream),
		cmocka_unit_test(test_failure_with_rollback_stream),
		cmocka_unit_test(test_skeleton_lists_what_never_started),
		cmocka_unit_test(test_waiting),
		cmocka_unit_test(test_chain_rollback_all),
		cmocka_unit_test(test_chain_abort),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_elapsed_clocks),
		cmocka_unit_test(test_durations_in_summary_and_show),
	};
	return cmocka_run_group_tests(tests, rfx_group_setup, NULL);
}
