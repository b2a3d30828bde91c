/*
 * Tests for events/events.c's mask hook: the free text of events
 * (reasons) is masked before any sink, the durable one included, sees
 * it; names are not; the caller's event is left as it was.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reasons_masked_before_every_sink),
		cmocka_unit_test(test_no_mask_no_change),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
