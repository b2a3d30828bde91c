#include "events/events.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/num.h"
#include "base/thread.h"
#include "base/xalloc.h"

/*
 * The commit thread and the loop thread share this, under `mu`. A batch
 * goes over when `busy` is set (evs, n) and comes back when `done` is
 * (result, msg); the loop thread touches nothing of the batch in between.
 */
struct committer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;         /* a batch for the thread, its end for a waiter, or stop */
	bool busy;                 /* a batch was handed over and is not taken back yet */
	bool done;                 /* its commit ended: result, msg */
	bool stop;
	const struct event *const *evs;
	size_t n;
	int result;
	struct buf msg;
	event_commit_fn commit;
	void *commit_arg;
	void (*wake)(void *arg);
	void *wake_arg;
};

/* Step output waiting for the step.started numbered `after` to be delivered. */
struct held_output {
	struct held_output *next;
	uint64_t after;
	int stream;
	char *workflow, *step;
	size_t len;
	char data[];
};

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

static void committer_stop(struct events *e);
static void free_batch(struct event **evs, size_t n);

void events_release(struct events *e)
{
	committer_stop(e);
	free_batch(e->inflight, e->ninflight);
	e->inflight = NULL;
	e->ninflight = 0;
	for (size_t i = 0; i < e->npending; i++)
		event_free(e->pending[i]);
	free(e->pending);
	e->pending = NULL;
	e->npending = e->cappending = 0;
	while (e->held) {
		struct held_output *h = e->held;
		e->held = h->next;
		free(h);
	}
	e->held_tail = NULL;
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

static void release_held(struct events *e, uint64_t upto);
static void deliver_queue(struct events *e);
static void deliver_batch(struct events *e, struct event **evs, size_t n);
static bool take_back(struct events *e, bool wait);
static void hand_over(struct events *e);

static void deliver(struct events *e, const struct event *ev)
{
	for (size_t i = 0; i < e->nsinks; i++)
		e->sinks[i].emit(ev, e->sinks[i].arg);
	/* What a step printed before this told of its start comes now. */
	if (e->held && ev->type == EV_STEP_STARTED)
		release_held(e, ev->seq);
}

void events_set_mask(struct events *e, char *(*mask)(const char *text, void *arg), void *arg)
{
	e->mask = mask;
	e->mask_arg = arg;
}

/* ---- the commit thread ---- */

static void *committer_main(void *arg)
{
	struct committer *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		if (c->busy && !c->done) {
			pthread_mutex_unlock(&c->mu);
			struct buf msg = BUF_INIT;
			int r = c->commit(c->evs, c->n, &msg, c->commit_arg);
			pthread_mutex_lock(&c->mu);
			buf_release(&c->msg);
			c->msg = msg;
			c->result = r;
			c->done = true;
			pthread_cond_broadcast(&c->cv);
			/* Outside the lock: the owner may take the batch back at once. */
			pthread_mutex_unlock(&c->mu);
			c->wake(c->wake_arg);
			pthread_mutex_lock(&c->mu);
			continue;
		}
		if (c->stop)
			break;
		pthread_cond_wait(&c->cv, &c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

void events_start_committer(struct events *e, void (*wake)(void *arg), void *wake_arg)
{
	assert(e->commit && !e->committer && !e->ninflight);
	struct committer *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	buf_init(&c->msg);
	c->commit = e->commit;
	c->commit_arg = e->commit_arg;
	c->wake = wake;
	c->wake_arg = wake_arg;
	e->committer = c;
	thread_start(&c->thread, committer_main, c, "the commit thread");
}

/* Hands the front of the queue (at most a batch) to the commit thread, which is idle. */
static void hand_over(struct events *e)
{
	struct committer *c = e->committer;
	size_t n = e->npending < e->batch ? e->npending : e->batch;
	e->inflight = xmalloc(n * sizeof(*e->inflight));
	memcpy(e->inflight, e->pending, n * sizeof(*e->inflight));
	memmove(e->pending, e->pending + n, (e->npending - n) * sizeof(*e->pending));
	e->npending -= n;
	e->ninflight = n;
	e->inflight_seq = e->last_committed;
	for (size_t i = 0; i < n; i++)
		if (!event_type_internal(e->inflight[i]->type))
			e->inflight_seq = e->inflight[i]->seq;
	pthread_mutex_lock(&c->mu);
	c->evs = (const struct event *const *)e->inflight;
	c->n = n;
	c->busy = true;
	c->done = false;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/*
 * Takes back the batch in flight once its commit has ended (with `wait`,
 * waits for that) and delivers it; the first failure is kept, as
 * events_flush() keeps it, and the queue behind the failed batch is
 * delivered too, so that events emitted later (now delivered at once)
 * cannot overtake it. False when nothing came back.
 */
static bool take_back(struct events *e, bool wait)
{
	struct committer *c = e->committer;
	if (!c || !e->ninflight)
		return false;
	pthread_mutex_lock(&c->mu);
	while (wait && !c->done)
		pthread_cond_wait(&c->cv, &c->mu);
	bool done = c->done;
	int r = c->result;
	if (done)
		c->busy = c->done = false;
	pthread_mutex_unlock(&c->mu);
	if (!done)
		return false;
	assert(!e->delivering);
	if (r < 0 && !e->commit_err) {
		e->commit_err = r;
		/* The thread is idle now: its message is the loop's to read. */
		buf_add(&e->commit_msg, c->msg.s, c->msg.len);
		if (!e->commit_msg.len)
			buf_addf(&e->commit_msg, "cannot record events: error %d", r);
	} else if (r >= 0) {
		e->last_committed = e->inflight_seq;
	}
	struct event **evs = e->inflight;
	size_t n = e->ninflight;
	e->inflight = NULL;
	e->ninflight = 0;
	deliver_batch(e, evs, n);
	free(evs);
	if (e->commit_err && e->npending)
		deliver_queue(e);
	return true;
}

/* Waits for a commit in flight (its events are dropped) and ends the thread. */
static void committer_stop(struct events *e)
{
	struct committer *c = e->committer;
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	while (c->busy && !c->done)
		pthread_cond_wait(&c->cv, &c->mu);
	c->stop = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	buf_release(&c->msg);
	free(c);
	e->committer = NULL;
}

/* ---- step output after its step.started ---- */

void events_set_output(struct events *e, events_output_fn output, void *arg)
{
	e->output = output;
	e->output_arg = arg;
}

/* The seq of a step.started of workflow/step among `n` events, the latest; else 0. */
static uint64_t started_in(struct event *const *evs, size_t n, const char *workflow, const char *step)
{
	for (size_t i = n; i-- > 0;) {
		const struct event *ev = evs[i];
		if (ev->type == EV_STEP_STARTED && !strcmp(ev->workflow, workflow) && !strcmp(ev->step, step))
			return ev->seq;
	}
	return 0;
}

void events_output(struct events *e, const char *workflow, const char *step, int stream,
		   const char *data, size_t len)
{
	if (!e->output)
		return;
	uint64_t after = started_in(e->pending, e->npending, workflow, step);
	if (!after)
		after = started_in(e->inflight, e->ninflight, workflow, step);
	if (!after) {
		e->output(workflow, step, stream, data, len, e->output_arg);
		return;
	}
	size_t wl = strlen(workflow) + 1, sl = strlen(step) + 1;
	struct held_output *h = xmalloc(sizeof(*h) + len + wl + sl);
	h->next = NULL;
	h->after = after;
	h->stream = stream;
	h->len = len;
	memcpy(h->data, data, len);
	h->workflow = h->data + len;
	memcpy(h->workflow, workflow, wl);
	h->step = h->workflow + wl;
	memcpy(h->step, step, sl);
	if (!e->held)
		e->held_tail = &e->held;
	*e->held_tail = h;
	e->held_tail = &h->next;
}

/* Sends the held output that waited for events up to `upto`, in the order it came. */
static void release_held(struct events *e, uint64_t upto)
{
	struct held_output **p = &e->held;
	e->held_tail = &e->held;
	while (*p) {
		struct held_output *h = *p;
		if (h->after > upto) {
			p = &h->next;
			e->held_tail = p;
			continue;
		}
		*p = h->next;
		e->output(h->workflow, h->step, h->stream, h->data, h->len, e->output_arg);
		free(h);
	}
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
	/* Behind a commit that takes long, the queue is bounded too: then,
	 * and only then, the loop waits for the store. */
	while (e->committer && e->npending >= EVENTS_QUEUE_MAX) {
		take_back(e, true);
		events_flush(e);
	}
}

/* Delivers `n` events to the sinks (internal ones to none) and frees them. */
static void deliver_batch(struct events *e, struct event **evs, size_t n)
{
	e->delivering = true;
	for (size_t i = 0; i < n; i++) {
		if (!event_type_internal(evs[i]->type))
			deliver(e, evs[i]);
		event_free(evs[i]);
	}
	e->delivering = false;
}

static void free_batch(struct event **evs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		event_free(evs[i]);
	free(evs);
}

/* Delivers the whole queue, uncommitted, and empties it. */
static void deliver_queue(struct events *e)
{
	size_t n = e->npending;
	e->npending = 0;
	deliver_batch(e, e->pending, n);
}

int events_flush(struct events *e)
{
	if (e->committer) {
		/* Never waits: what ended is delivered, what is queued goes. */
		take_back(e, false);
		if (!e->ninflight && e->npending) {
			if (e->commit_err)
				deliver_queue(e);
			else
				hand_over(e);
		}
		return e->commit_err;
	}
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
	deliver_queue(e);
	return e->commit_err;
}

int events_finish(struct events *e)
{
	if (!e->committer)
		return events_flush(e);
	while (e->ninflight || e->npending) {
		take_back(e, true);
		events_flush(e);
	}
	committer_stop(e);
	return e->commit_err;
}

size_t events_pending(const struct events *e)
{
	return e->npending + e->ninflight;
}

uint64_t events_recorded_seq(const struct events *e)
{
	return e->commit && !e->commit_err ? e->last_committed : e->seq;
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
