/*
 * Tests for the events module: events.c's mask hook (the free text of
 * events, reasons, is masked before any sink, the durable one included,
 * sees it; names are not; the caller's event is left as it was), the
 * codec (every event type to JSON and back) and logpath (where an
 * attempt's files are).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mask.h"
#include "events/codec.h"
#include "events/events.h"
#include "events/logpath.h"

#define SECRET "S3CRET-value-42"

struct seen {
	struct buf json;           /* every event, as JSON lines */
};

static void sink(const struct event *ev, void *arg)
{
	struct seen *s = arg;
	event_to_json(ev, &s->json);
	buf_addc(&s->json, '\n');
}

static int commit(const struct event *const *evs, size_t n, struct buf *err, void *arg)
{
	(void)err;
	for (size_t i = 0; i < n; i++)
		sink(evs[i], arg);
	return 0;
}

/* Emits a workflow.finished whose reason quotes the secret; checks the caller's event after. */
static void emit_failure(struct events *e)
{
	const char *reason = "failed at step 'check' (body \"token=" SECRET "\")";
	struct event ev = { .type = EV_WORKFLOW_FINISHED, .workflow = SECRET, .status = "failed",
			    .reason = reason };
	events_emit(e, &ev);
	/* borrowed back as it was */
	assert_ptr_equal(ev.reason, reason);
	struct event quiet = { .type = EV_RUN_FINISHED, .status = "failed" };
	events_emit(e, &quiet);
}

static void test_reasons_masked_before_every_sink(void **state)
{
	(void)state;
	struct mask *m = mask_new();
	mask_add(m, SECRET, strlen(SECRET));
	struct seen durable = { BUF_INIT }, shown = { BUF_INIT };
	struct events e;
	events_init(&e, 7);
	events_set_durable(&e, commit, &durable);
	events_add_sink(&e, sink, &shown);
	events_set_mask(&e, mask_str, m);
	emit_failure(&e);
	assert_int_equal(events_flush(&e), 0);
	/* The reason is masked everywhere; the workflow name, a key, is not touched. */
	const char *want = "\"reason\":\"failed at step 'check' (body \\\"token=***\\\")\"";
	assert_non_null(strstr(durable.json.s, want));
	assert_non_null(strstr(shown.json.s, want));
	assert_non_null(strstr(shown.json.s, "\"workflow\":\"" SECRET "\""));
	assert_null(strstr(strstr(shown.json.s, "\"reason\""), SECRET));
	assert_non_null(strstr(shown.json.s, "\"event\":\"run.finished\""));
	events_release(&e);

	/* Without a durable sink, delivered at once: masked the same. */
	buf_reset(&shown.json);
	events_init(&e, 8);
	events_add_sink(&e, sink, &shown);
	events_set_mask(&e, mask_str, m);
	emit_failure(&e);
	assert_non_null(strstr(shown.json.s, want));
	events_release(&e);

	buf_release(&durable.json);
	buf_release(&shown.json);
	mask_free(m);
}

static void test_no_mask_no_change(void **state)
{
	(void)state;
	struct seen shown = { BUF_INIT };
	struct events e;
	events_init(&e, 9);
	events_add_sink(&e, sink, &shown);
	emit_failure(&e);
	assert_non_null(strstr(shown.json.s, "token=" SECRET));
	events_release(&e);
	buf_release(&shown.json);
}

/* ---- codec ---- */

/* One event of each type, with every field its type has. */
static struct event sample(enum event_type t)
{
	static const char *const wfs[] = { "a", "b[k=v]" };
	struct event e = { .type = t, .seq = 17, .run = 3, .ts_ms = 1767323045678 };
	switch (t) {
	case EV_RUN_STARTED: e.pipeline = "p \"quoted\""; break;
	case EV_GROUP_STARTED: e.group = 2, e.workflows = wfs, e.nworkflows = 2; break;
	case EV_WORKFLOW_STARTED: e.workflow = "a"; break;
	case EV_STEP_STARTED: e.workflow = "a", e.step = "s", e.attempt = 2, e.rollback = true; break;
	case EV_STEP_FINISHED:
		e.workflow = "a", e.step = "s", e.status = "failed", e.has_exit_code = true, e.exit_code = 3;
		e.duration_ms = 1234, e.rollback = true;
		break;
	case EV_BARRIER_ARRIVED: e.barrier = "X", e.workflow = "a"; break;
	case EV_BARRIER_PASSED: e.barrier = "X", e.participants = wfs, e.nparticipants = 2; break;
	case EV_BARRIER_BROKEN: e.barrier = "X", e.reason = "line\nbreak", e.origin = "b[k=v]"; break;
	case EV_WORKFLOW_ROLLBACK: e.workflow = "a", e.reason = "why"; break;
	case EV_WORKFLOW_FINISHED: e.workflow = "a", e.status = "rolled-back", e.reason = "why"; break;
	case EV_RUN_FINISHED: e.status = "failed"; break;
	case EV_RUN_RESUMED: e.mode = "abort"; break;
	case EV_STEP_WARNING: e.workflow = "a", e.step = "s", e.attempt = 1, e.message = "disk full"; break;
	case EV_STEP_PROCESS:
		e.seq = 0, e.workflow = "a", e.step = "s", e.attempt = 1, e.pid = 4242, e.pid_start = 99;
		break;
	case EV_TYPE_COUNT: break;
	}
	return e;
}

/* Decoding is the inverse of encoding, for every type and field. */
static void test_json_round_trip(void **state)
{
	(void)state;
	for (enum event_type t = 0; t < EV_TYPE_COUNT; t++) {
		struct event e = sample(t), d;
		struct buf j = BUF_INIT, again = BUF_INIT;
		struct arena a = ARENA_INIT;
		event_to_json(&e, &j);
		assert_int_equal(event_decode(event_type_name(t), j.s, &d, &a), 0);
		assert_int_equal(d.type, t);
		assert_int_equal(d.seq, e.seq);
		assert_int_equal(d.run, e.run);
		assert_int_equal(d.ts_ms, e.ts_ms);
		assert_int_equal(d.pid, e.pid);
		assert_int_equal(d.pid_start, e.pid_start);
		event_to_json(&d, &again);
		assert_string_equal(again.s, j.s);
		buf_release(&j);
		buf_release(&again);
		arena_release(&a);
	}
}

static void test_decode_refuses(void **state)
{
	(void)state;
	struct event d;
	struct arena a = ARENA_INIT;
	assert_int_equal(event_decode("run.exploded", "{}", &d, &a), -1);
	assert_int_equal(event_decode(NULL, "{}", &d, &a), -1);
	assert_int_equal(event_decode("run.started", "[1]", &d, &a), -1);
	assert_int_equal(event_decode("run.started", "{not json", &d, &a), -1);
	assert_int_equal(event_decode("run.started", NULL, &d, &a), -1);
	/* A time that is not one reads as unknown. */
	assert_int_equal(event_decode("run.started", "{\"ts\":\"yesterday\",\"seq\":4}", &d, &a), 0);
	assert_int_equal(d.ts_ms, 0);
	assert_int_equal(d.seq, 4);
	arena_release(&a);
}

/* ---- logpath ---- */

static void test_log_paths(void **state)
{
	(void)state;
	struct buf dir = BUF_INIT, p = BUF_INIT;
	logpath_run_dir("/s", 12, &dir);
	assert_string_equal(dir.s, "/s/logs/12");
	logpath_attempt(dir.s, "deploy[region=eu/west]", "step-1", 2, &p);
	assert_string_equal(p.s, "/s/logs/12/deploy[region=eu%2Fwest]/step-1.2.log");
	buf_reset(&p);
	logpath_attempt_file(dir.s, "..", "roll", 101, ".k8s-spec.json", &p);
	assert_string_equal(p.s, "/s/logs/12/%2E./roll.101.k8s-spec.json");
	buf_reset(&p);
	logpath_workflow_dir(dir.s, "w", &p);
	assert_string_equal(p.s, "/s/logs/12/w");
	buf_release(&dir);
	buf_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_log_paths),
		cmocka_unit_test(test_reasons_masked_before_every_sink),
		cmocka_unit_test(test_no_mask_no_change),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
