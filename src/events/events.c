#include "events/events.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/num.h"
#include "base/xalloc.h"

static const char *const type_names[EV_TYPE_COUNT] = {
	[EV_RUN_STARTED] = "run.started",
	[EV_GROUP_STARTED] = "group.started",
	[EV_WORKFLOW_STARTED] = "workflow.started",
	[EV_STEP_STARTED] = "step.started",
	[EV_STEP_FINISHED] = "step.finished",
	[EV_BARRIER_ARRIVED] = "barrier.arrived",
	[EV_BARRIER_PASSED] = "barrier.passed",
	[EV_BARRIER_BROKEN] = "barrier.broken",
	[EV_WORKFLOW_ROLLBACK] = "workflow.rollback",
	[EV_WORKFLOW_FINISHED] = "workflow.finished",
	[EV_RUN_FINISHED] = "run.finished",
	[EV_RUN_RESUMED] = "run.resumed",
	[EV_STEP_WARNING] = "step.warning",
	[EV_STEP_PROCESS] = "step.process",
};

void events_init(struct events *e, uint64_t run)
{
	memset(e, 0, sizeof(*e));
	e->run = run;
	buf_init(&e->commit_msg);
	e->batch = EVENTS_FLUSH_BATCH;
	/* A test knob: a value that is not a number in range is ignored. */
	const char *b = getenv("LOCKSTEP_EVENT_BATCH");
	uint64_t v;
	if (b && num_parse(b, 1, EVENTS_FLUSH_BATCH, &v, NULL) == 0)
		e->batch = (size_t)v;
}

void events_continue(struct events *e, uint64_t last_seq)
{
	assert(e->seq == 0);
	e->seq = e->last_committed = e->pending_seq = last_seq;
}

void events_release(struct events *e)
{
	for (size_t i = 0; i < e->npending; i++)
		event_free(e->pending[i]);
	free(e->pending);
	e->pending = NULL;
	e->npending = e->cappending = 0;
	buf_release(&e->commit_msg);
}

void events_add_sink(struct events *e, void (*emit)(const struct event *ev, void *arg), void *arg)
{
	assert(e->nsinks < EVENTS_MAX_SINKS);
	e->sinks[e->nsinks].emit = emit;
	e->sinks[e->nsinks].arg = arg;
	e->nsinks++;
}

void events_set_durable(struct events *e, event_commit_fn commit, void *arg)
{
	assert(e->seq == 0);
	e->commit = commit;
	e->commit_arg = arg;
}

static void deliver(struct events *e, const struct event *ev)
{
	for (size_t i = 0; i < e->nsinks; i++)
		e->sinks[i].emit(ev, e->sinks[i].arg);
}

void events_set_mask(struct events *e, char *(*mask)(const char *text, void *arg), void *arg)
{
	e->mask = mask;
	e->mask_arg = arg;
}

static void emit(struct events *e, struct event *ev);

void events_emit(struct events *e, struct event *ev)
{
	char *reason = e->mask && ev->reason ? e->mask(ev->reason, e->mask_arg) : NULL;
	char *message = e->mask && ev->message ? e->mask(ev->message, e->mask_arg) : NULL;
	if (!reason && !message) {
		emit(e, ev);
		return;
	}
	/* The event is the caller's: its texts are given back unchanged. */
	struct event masked = *ev;
	if (reason)
		masked.reason = reason;
	if (message)
		masked.message = message;
	emit(e, &masked);
	ev->seq = masked.seq;
	ev->run = masked.run;
	ev->ts_ms = masked.ts_ms;
	ev->mono_ms = masked.mono_ms;
	free(reason);
	free(message);
}

static void emit(struct events *e, struct event *ev)
{
	/* A sink that emitted would put its event before the ones queued
	 * ahead of it: seq order would differ between sinks. */
	assert(!e->delivering);
	bool internal = event_type_internal(ev->type);
	ev->seq = internal ? 0 : ++e->seq;
	ev->run = e->run;
	ev->ts_ms = clock_wall_ms();
	ev->mono_ms = clock_mono_ms();
	if (internal && (!e->commit || e->commit_err))
		return; /* only ever for the store */
	if (!e->commit || e->commit_err) {
		e->delivering = true;
		deliver(e, ev);
		e->delivering = false;
		return;
	}
	if (e->npending == e->cappending) {
		e->cappending = e->cappending ? e->cappending * 2 : 64;
		e->pending = xreallocarray(e->pending, e->cappending, sizeof(*e->pending));
	}
	e->pending[e->npending++] = event_dup(ev);
	if (!internal)
		e->pending_seq = ev->seq;
	/* A burst inside one callback (a barrier releasing thousands of
	 * workflows) must not hold every event in memory until it ends:
	 * commit and deliver in bounded batches. Still durable first. */
	if (e->npending >= e->batch)
		events_flush(e);
}

int events_flush(struct events *e)
{
	if (!e->npending)
		return e->commit_err;
	assert(!e->delivering);
	if (!e->commit_err) {
		int r = e->commit((const struct event *const *)e->pending, e->npending, &e->commit_msg,
				  e->commit_arg);
		if (r < 0) {
			e->commit_err = r;
			if (!e->commit_msg.len)
				buf_addf(&e->commit_msg, "cannot record events: error %d", r);
		} else {
			e->last_committed = e->pending_seq;
		}
	}
	/* Delivered whether or not the commit worked: a failed store must
	 * not hide from a person what the run did. */
	e->delivering = true;
	for (size_t i = 0; i < e->npending; i++) {
		if (!event_type_internal(e->pending[i]->type))
			deliver(e, e->pending[i]);
		event_free(e->pending[i]);
	}
	e->delivering = false;
	e->npending = 0;
	return e->commit_err;
}

size_t events_pending(const struct events *e)
{
	return e->npending;
}

static size_t str_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static size_t strv_size(const char *const *v, size_t n)
{
	size_t sz = 0;
	for (size_t i = 0; i < n; i++)
		sz += str_size(v[i]);
	return sz;
}

/* Copies `s` to *p and advances it; NULL stays NULL. */
static const char *put_str(char **p, const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	memcpy(*p, s, n);
	const char *r = *p;
	*p += n;
	return r;
}

struct event *event_dup(const struct event *ev)
{
	/* Layout: the struct, the two pointer arrays, then every string. */
	size_t head = sizeof(struct event);
	size_t arrays = (ev->nworkflows + ev->nparticipants) * sizeof(char *);
	size_t strings = str_size(ev->pipeline) + str_size(ev->workflow) + str_size(ev->step) +
			 str_size(ev->mode) + str_size(ev->message) +
			 str_size(ev->status) + str_size(ev->barrier) + str_size(ev->reason) +
			 str_size(ev->origin) + strv_size(ev->workflows, ev->nworkflows) +
			 strv_size(ev->participants, ev->nparticipants);
	char *mem = xmalloc(head + arrays + strings);
	struct event *c = (struct event *)mem;
	*c = *ev;
	const char **wfs = (const char **)(mem + head);
	const char **parts = wfs + ev->nworkflows;
	char *p = mem + head + arrays;
	c->pipeline = put_str(&p, ev->pipeline);
	c->workflow = put_str(&p, ev->workflow);
	c->step = put_str(&p, ev->step);
	c->status = put_str(&p, ev->status);
	c->barrier = put_str(&p, ev->barrier);
	c->reason = put_str(&p, ev->reason);
	c->origin = put_str(&p, ev->origin);
	c->mode = put_str(&p, ev->mode);
	c->message = put_str(&p, ev->message);
	for (size_t i = 0; i < ev->nworkflows; i++)
		wfs[i] = put_str(&p, ev->workflows[i]);
	for (size_t i = 0; i < ev->nparticipants; i++)
		parts[i] = put_str(&p, ev->participants[i]);
	c->workflows = ev->nworkflows ? wfs : NULL;
	c->participants = ev->nparticipants ? parts : NULL;
	return c;
}

void event_free(struct event *ev)
{
	free(ev);
}

const char *event_type_name(enum event_type t)
{
	return t < EV_TYPE_COUNT ? type_names[t] : "unknown";
}

void event_warning_text(const struct event *ev, struct buf *out)
{
	buf_addf(out, "%s: step '%s' (attempt %d%s): %s", ev->workflow ? ev->workflow : "?",
		 ev->step ? ev->step : "?", ev->attempt, ev->rollback ? ", rollback" : "",
		 ev->message ? ev->message : "");
}
