/*
 * Tests for the events module: events.c's mask hook (the free text of
 * events, reasons, is masked before any sink, the durable one included,
 * sees it; names are not; the caller's event is left as it was), its
 * commit thread (flushes never wait for a commit; events are delivered
 * only once committed, in seq order; a failure; the end of a run; a
 * bounded queue behind a slow commit), step output held behind its
 * step.started, the codec (every event type to JSON and back) and
 * logpath (where an attempt's files are).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* ---- the commit thread ---- */

/*
 * A durable sink on the commit thread that waits at a gate the test opens
 * (a store whose write lock another process holds), and counts.
 */
struct gated {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open;                 /* commits may go on */
	size_t commits, committed; /* transactions, events (internal ones too) */
	size_t waiting;            /* commits waiting at the gate */
	int fail_with;
	size_t wakes;
	size_t sizes[16];          /* events per commit */
	uint64_t last_seq;
};

static void gated_init(struct gated *g, bool open)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->open = open;
}

static void gated_release(struct gated *g)
{
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
}

static void gate_set(struct gated *g, bool open)
{
	pthread_mutex_lock(&g->mu);
	g->open = open;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static int gated_commit(const struct event *const *evs, size_t n, struct buf *err, void *arg)
{
	struct gated *g = arg;
	pthread_mutex_lock(&g->mu);
	g->waiting++;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	g->waiting--;
	if (g->commits < 16)
		g->sizes[g->commits] = n;
	g->commits++;
	int r = g->fail_with;
	if (r)
		buf_adds(err, "the disk is full, pretend");
	else
		g->committed += n;
	for (size_t i = 0; i < n; i++) {
		/* Batches come in seq order, one at a time. */
		assert_true(evs[i]->seq == 0 || evs[i]->seq > g->last_seq);
		if (evs[i]->seq)
			g->last_seq = evs[i]->seq;
	}
	pthread_mutex_unlock(&g->mu);
	return r;
}

static void gated_wake(void *arg)
{
	struct gated *g = arg;
	pthread_mutex_lock(&g->mu);
	g->wakes++;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

/* Waits (bounded: 10 s) until the counter at `field` reaches `n`. */
static void gated_wait(struct gated *g, const size_t *field, size_t n)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&g->mu);
	int r = 0;
	while (*field < n && r == 0)
		r = pthread_cond_timedwait(&g->cv, &g->mu, &until);
	size_t got = *field;
	pthread_mutex_unlock(&g->mu);
	assert_true(got >= n);
}

/* What the visible sink got: seq and workflow of each event. */
struct shown {
	uint64_t seq[64];
	char what[64][32];
	size_t n;
	struct buf out;            /* held output and events, in the order they came */
};

static void shown_sink(const struct event *ev, void *arg)
{
	struct shown *s = arg;
	if (s->n < 64) {
		s->seq[s->n] = ev->seq;
		snprintf(s->what[s->n], sizeof(s->what[0]), "%s", ev->workflow ? ev->workflow : "");
	}
	s->n++;
	buf_addf(&s->out, "[%s %s]", event_type_name(ev->type), ev->workflow ? ev->workflow : "");
}

static void shown_output(const char *workflow, const char *step, int stream, const char *data, size_t len,
			 void *arg)
{
	struct shown *s = arg;
	buf_addf(&s->out, "<%s/%s %d %.*s>", workflow, step, stream, (int)len, data);
}

static void emit_wf(struct events *e, enum event_type t, const char *wf)
{
	struct event ev = { .type = t, .workflow = wf, .step = "s", .attempt = 1 };
	events_emit(e, &ev);
}

/* Events of run 3 with the gated sink on the commit thread, and a visible sink. */
struct committed {
	struct gated g;
	struct shown vis;
	struct events e;
};

static void committed_start(struct committed *f, int fail_with)
{
	gated_init(&f->g, false);
	f->g.fail_with = fail_with;
	f->vis.n = 0;
	buf_init(&f->vis.out);
	events_init(&f->e, 3);
	events_set_durable(&f->e, gated_commit, &f->g);
	events_add_sink(&f->e, shown_sink, &f->vis);
	events_set_output(&f->e, shown_output, &f->vis);
}

static void committed_end(struct committed *f)
{
	events_release(&f->e);
	gated_release(&f->g);
	buf_release(&f->vis.out);
}

/*
 * While a commit waits (at the gate), flushes return at once and show
 * nothing; what is emitted meanwhile goes in the next transaction; once
 * the commit ends, the thread wakes the owner and the next flush shows
 * the batch, in seq order, and hands over the next.
 */
static void test_committer_never_waits(void **state)
{
	(void)state;
	struct committed f;
	committed_start(&f, 0);
	struct gated *g = &f.g;
	struct events *e = &f.e;
	events_start_committer(e, gated_wake, g);
	emit_wf(e, EV_WORKFLOW_STARTED, "a");
	emit_wf(e, EV_WORKFLOW_STARTED, "b");
	assert_int_equal(events_flush(e), 0);
	gated_wait(g, &g->waiting, 1);
	/* The commit waits: flushing again neither waits nor shows. */
	emit_wf(e, EV_WORKFLOW_STARTED, "c");
	for (int i = 0; i < 3; i++)
		assert_int_equal(events_flush(e), 0);
	assert_int_equal(f.vis.n, 0);
	assert_int_equal(events_pending(e), 3);
	assert_int_equal(e->last_committed, 0);
	assert_int_equal(events_recorded_seq(e), 0);
	gate_set(g, true);
	gated_wait(g, &g->wakes, 1);
	assert_int_equal(events_flush(e), 0);
	assert_int_equal(f.vis.n, 2);
	assert_string_equal(f.vis.what[0], "a");
	assert_string_equal(f.vis.what[1], "b");
	assert_int_equal(e->last_committed, 2);
	assert_int_equal(events_recorded_seq(e), 2);
	/* c went over with that flush, in a transaction of its own. */
	gated_wait(g, &g->wakes, 2);
	assert_int_equal(events_flush(e), 0);
	assert_int_equal(f.vis.n, 3);
	assert_int_equal(f.vis.seq[2], 3);
	assert_int_equal(g->commits, 2);
	assert_int_equal(g->sizes[0], 2);
	assert_int_equal(g->sizes[1], 1);
	assert_int_equal(events_pending(e), 0);
	/* The end: what is left is committed and shown before it returns. */
	emit_wf(e, EV_WORKFLOW_FINISHED, "d");
	struct event fin = { .type = EV_RUN_FINISHED, .status = "succeeded" };
	events_emit(e, &fin);
	assert_int_equal(events_finish(e), 0);
	assert_int_equal(f.vis.n, 5);
	assert_int_equal(e->last_committed, 5);
	assert_int_equal(g->committed, 5);
	assert_null(e->committer);
	committed_end(&f);
}

/*
 * A commit that fails on the thread: its batch is still shown, and so is
 * what was queued behind it, before anything emitted later; the error is
 * kept; from then on events go straight to the sinks, in seq order.
 */
static void test_committer_failure(void **state)
{
	(void)state;
	struct committed f;
	committed_start(&f, -5);
	struct gated *g = &f.g;
	struct events *e = &f.e;
	events_start_committer(e, gated_wake, g);
	emit_wf(e, EV_WORKFLOW_STARTED, "a");
	assert_int_equal(events_flush(e), 0);
	gated_wait(g, &g->waiting, 1);
	emit_wf(e, EV_WORKFLOW_STARTED, "b");
	gate_set(g, true);
	gated_wait(g, &g->wakes, 1);
	assert_int_equal(events_flush(e), -5);
	assert_string_equal(e->commit_msg.s, "the disk is full, pretend");
	assert_int_equal(f.vis.n, 2);
	emit_wf(e, EV_WORKFLOW_STARTED, "c");
	assert_int_equal(f.vis.n, 3);
	for (size_t i = 0; i < f.vis.n; i++)
		assert_int_equal(f.vis.seq[i], i + 1);
	assert_int_equal(e->last_committed, 0);
	/* Nothing waits for a record that will not come. */
	assert_int_equal(events_recorded_seq(e), 3);
	assert_int_equal(events_finish(e), -5);
	assert_int_equal(g->commits, 1);
	committed_end(&f);
}

/* The emits so far, seen from another thread: the mask hook counts them. */
struct emits {
	struct gated *g;
	size_t n;                  /* under g->mu */
	size_t seen;               /* what the opener saw while emit waited */
};

static char *count_emit(const char *text, void *arg)
{
	(void)text;
	struct emits *c = arg;
	pthread_mutex_lock(&c->g->mu);
	c->n++;
	pthread_cond_broadcast(&c->g->cv);
	pthread_mutex_unlock(&c->g->mu);
	return NULL;
}

static void *open_gate_later(void *arg)
{
	struct emits *c = arg;
	/* The emit that fills the queue has begun (the first is in flight)... */
	gated_wait(c->g, &c->n, EVENTS_QUEUE_MAX + 1);
	/* ... and is still the last one a while later: it waits. */
	struct timespec t = { 0, 200 * 1000 * 1000 };
	nanosleep(&t, NULL);
	pthread_mutex_lock(&c->g->mu);
	c->seen = c->n;
	pthread_mutex_unlock(&c->g->mu);
	gate_set(c->g, true);
	return NULL;
}

/*
 * Behind a commit that takes long, the queue does not grow past
 * EVENTS_QUEUE_MAX: emit waits for the commit in flight, and every
 * event still reaches the store and the sinks, in seq order.
 */
static void test_committer_bounded_queue(void **state)
{
	(void)state;
	struct committed f;
	committed_start(&f, 0);
	struct gated *g = &f.g;
	struct events *e = &f.e;
	struct emits count = { .g = g };
	events_set_mask(e, count_emit, &count);
	events_start_committer(e, gated_wake, g);
	struct event ev = { .type = EV_WORKFLOW_FINISHED, .workflow = "w", .status = "failed", .reason = "r" };
	events_emit(e, &ev);
	assert_int_equal(events_flush(e), 0);
	gated_wait(g, &g->waiting, 1);
	pthread_t opener;
	assert_int_equal(pthread_create(&opener, NULL, open_gate_later, &count), 0);
	size_t most = 0, total = 2 * EVENTS_QUEUE_MAX + 10;
	for (size_t i = 0; i < total; i++) {
		events_emit(e, &ev);
		if (e->npending > most)
			most = e->npending;
	}
	pthread_join(opener, NULL);
	assert_int_equal(count.seen, EVENTS_QUEUE_MAX + 1);
	assert_true(most <= EVENTS_QUEUE_MAX);
	assert_int_equal(events_finish(e), 0);
	assert_int_equal(g->committed, total + 1);
	assert_int_equal(f.vis.n, total + 1);
	assert_int_equal(e->last_committed, total + 1);
	committed_end(&f);
}

/*
 * Step output waits for its step's step.started to be shown, and comes
 * right after it, in the order it came; output of a step already shown,
 * and output without a durable sink, goes at once.
 */
static void test_output_after_its_start(void **state)
{
	(void)state;
	struct committed f;
	committed_start(&f, 0);
	struct gated *g = &f.g;
	struct events *e = &f.e;
	struct buf *out = &f.vis.out;
	events_start_committer(e, gated_wake, g);
	emit_wf(e, EV_STEP_STARTED, "a");
	assert_int_equal(events_flush(e), 0);
	gate_set(g, true);
	gated_wait(g, &g->wakes, 1);
	assert_int_equal(events_flush(e), 0);
	gate_set(g, false);
	/* a's start is shown; b's waits for its commit. */
	emit_wf(e, EV_STEP_STARTED, "b");
	assert_int_equal(events_flush(e), 0);
	gated_wait(g, &g->waiting, 1);
	emit_wf(e, EV_WORKFLOW_FINISHED, "c");
	events_output(e, "b", "s", 1, "b1", 2);
	events_output(e, "a", "s", 2, "a1", 2);
	events_output(e, "b", "s", 2, "b2", 2);
	assert_string_equal(out->s, "[step.started a]<a/s 2 a1>");
	gate_set(g, true);
	assert_int_equal(events_finish(e), 0);
	assert_string_equal(out->s, "[step.started a]<a/s 2 a1>[step.started b]<b/s 1 b1><b/s 2 b2>"
				    "[workflow.finished c]");
	committed_end(&f);

	/* Without a durable sink nothing waits. */
	struct shown vis = { .n = 0, .out = BUF_INIT };
	struct events plain;
	events_init(&plain, 4);
	events_add_sink(&plain, shown_sink, &vis);
	events_set_output(&plain, shown_output, &vis);
	emit_wf(&plain, EV_STEP_STARTED, "a");
	events_output(&plain, "a", "s", 1, "x", 1);
	assert_string_equal(vis.out.s, "[step.started a]<a/s 1 x>");
	events_release(&plain);
	buf_release(&vis.out);
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
		cmocka_unit_test(test_committer_never_waits),
		cmocka_unit_test(test_committer_failure),
		cmocka_unit_test(test_committer_bounded_queue),
		cmocka_unit_test(test_output_after_its_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
