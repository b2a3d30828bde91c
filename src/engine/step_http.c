#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/duration.h"
#include "engine/http.h"
#include "engine/run_internal.h"

/*
 * step_http: the `http-check` step kind. One check is a series of GET
 * requests, one at a time:
 *
 *   start ──► its turn (the pacer) ──► request ──► as expected ──► succeeded
 *                                         │
 *                                         └──► not as expected ──► pause (`interval`) ──► request ...
 *
 *   `within` runs out (any state) ──► failed, with the last answer
 *
 * Waiting for its turn, the check is in the pause state: the first
 * requests of a run's checks go out one at a time, spaced by the size of
 * their parallel group (http_pace_gap_us). The `within` deadline has its
 * own timer, and each request's timeout is cut to what is left of
 * `within`, so the check ends on time whatever it is doing. A request
 * that makes no progress gives up long before its timeout (http_stall_ms)
 * and counts as an answer that is not as expected. Every request is one
 * line in the attempt's log file and in the step's output. A step timeout
 * or an abort ends the check through step_http_cancel (its kind's cancel).
 */

/* Bytes of a body quoted in logs and reasons. */
#define EXCERPT_MAX 200

struct http_check_run {
	struct wf_run *w;
	struct http_client *client;
	struct http_req *req;      /* the request in flight, or NULL */
	uint64_t req_started_ms;
	bool req_cut;              /* its timeout was cut to what was left of `within` */
	uv_timer_t *pause;         /* between two requests, or NULL */
	uv_timer_t *deadline;      /* `within` */
	regex_t rx;
	bool has_rx;
	const char *body;          /* the expect-body pattern of this instance, or NULL */
	char *url;                 /* ${{ run.id }} substituted */
	char **headers;            /* "Name: value", NULL-terminated */
	uint64_t started_ms;
	uint64_t deadline_ms;
	int requests;
	struct buf last;           /* the last answer: "status 503", "connection refused" */
	struct buf last_body;      /* its body's excerpt, or empty */
	bool last_timed_out;       /* it ran into a time limit: the reason says "gave up after" */
	uint64_t gap_us;           /* between its first request and the one before (the pacer) */
	bool paced;                /* its first request has had its turn */
	struct step_log log;       /* the attempt's log */
};

/*
 * The turns of first requests, for every check of the process (a process
 * runs one run). A turn is taken when the request comes due, not when the
 * check starts: starting hundreds of checks keeps the loop busy, and turns
 * handed out then would all come due while it is, and go out together.
 * The loop's clock is monotonic and the same for every loop, so a value
 * left by an earlier run is in the past.
 */
static struct http_pacer first_requests = HTTP_PACER_INIT;

static const struct http_check *check_of(const struct wf_run *w)
{
	return wf_cur_step(w)->src->http;
}

/* Wall-clock time like the events': 2026-11-26T10:00:00.123Z. */
static void add_wall_time(struct buf *b)
{
	char ts[CLOCK_RFC3339_SIZE];
	clock_format_rfc3339(clock_wall_ms(), ts);
	buf_adds(b, ts);
}

/* One line to the attempt's log and to the step's output (the terminal). */
static void say(struct wf_run *w, const char *line)
{
	struct buf b = BUF_INIT;
	add_wall_time(&b);
	buf_addf(&b, " %s\n", line);
	step_output(w->run, &w->check->log, RUN_STDOUT, b.s, b.len);
	buf_release(&b);
}

static void add_duration(struct buf *b, uint64_t ms)
{
	char d[32];
	duration_format(ms, d, sizeof(d));
	buf_adds(b, d);
}

/* Frees the check; its handles close asynchronously. */
static void check_free(struct wf_run *w)
{
	struct http_check_run *c = w->check;
	if (!c)
		return;
	struct run *r = w->run;
	http_cancel(c->req);
	http_client_free(c->client);
	run_timer_drop(r, &c->pause);
	run_timer_drop(r, &c->deadline);
	if (c->has_rx)
		regfree(&c->rx);
	free(c->url);
	for (char **h = c->headers; h && *h; h++)
		free(*h);
	free(c->headers);
	buf_release(&c->last);
	buf_release(&c->last_body);
	step_output_end(r, &c->log);
	step_log_close(&c->log);
	free(c);
	w->check = NULL;
}

/* The check is over, one way or the other: step.finished and what follows. */
static void check_end(struct wf_run *w, bool ok, const char *detail)
{
	check_free(w);
	step_end(w, &(struct step_end){ .status = ok ? STEP_SUCCEEDED : STEP_FAILED,
					.then = ok ? STEP_THEN_NEXT : STEP_THEN_FAILED, .detail = detail });
}

/*
 * `within` ran out: the check fails with the last answer. A request that
 * `within` cut short says less than the one before it, if there was one.
 */
static void give_up(struct wf_run *w)
{
	struct http_check_run *c = w->check;
	const struct http_check *h = check_of(w);
	if (c->req) {
		http_cancel(c->req);
		c->req = NULL;
		if (!c->last.len) {
			buf_adds(&c->last, "request timed out after ");
			add_duration(&c->last, run_now(w->run) - c->req_started_ms);
			c->last_timed_out = true;
		}
		say(w, "the request in flight is stopped: within ran out");
	}
	struct buf why = BUF_INIT;
	buf_addf(&why, "http-check GET %s: %s", c->url, c->last.len ? c->last.s : "no answer");
	buf_adds(&why, c->last_timed_out ? ", gave up after " : " after ");
	add_duration(&why, h->within_ms);
	if (c->last_body.len)
		buf_addf(&why, ", body \"%s\"", c->last_body.s);
	struct buf line = BUF_INIT;
	buf_adds(&line, "gave up: within ");
	add_duration(&line, h->within_ms);
	buf_addf(&line, " ran out after %d request%s", c->requests, c->requests == 1 ? "" : "s");
	say(w, line.s);
	buf_release(&line);
	check_end(w, false, why.s);
	buf_release(&why);
}

static void deadline_cb(uv_timer_t *t)
{
	struct wf_run *w = t->data;
	struct run *r = w->run;
	give_up(w);
	run_pump(r);
}

static void request(struct wf_run *w);

static void pause_cb(uv_timer_t *t)
{
	struct wf_run *w = t->data;
	struct run *r = w->run;
	run_timer_drop(r, &w->check->pause);
	request(w);
	run_pump(r);
}

/* The first request is due: it takes its turn, then goes. */
static void first_cb(uv_timer_t *t)
{
	struct wf_run *w = t->data;
	struct http_check_run *c = w->check;
	struct run *r = w->run;
	run_timer_drop(r, &c->pause);
	if (!c->paced) {
		c->paced = true;
		uint64_t wait = http_pacer_take(&first_requests, run_now(r), c->gap_us);
		if (wait) {
			c->pause = run_timer_new(r, w);
			uv_timer_start(c->pause, first_cb, wait, 0);
			return;
		}
	}
	request(w);
	run_pump(r);
}

static void done_cb(struct http_req *req, const struct http_result *res, void *arg)
{
	struct wf_run *w = arg;
	struct http_check_run *c = w->check;
	struct run *r = w->run;
	const struct http_check *h = check_of(w);
	(void)req;
	c->req = NULL;
	/* The answer the reason quotes if `within` runs out: this one, unless
	 * it is a timeout that `within` cut short after a real answer. */
	struct buf last = BUF_INIT, last_body = BUF_INIT;
	enum { AS_EXPECTED, WRONG_STATUS, WRONG_BODY, NO_ANSWER } verdict = AS_EXPECTED;
	/* Masked whole, before it is cut for quoting: a cut secret would show its start. */
	struct buf shown = BUF_INIT;
	mask_text(r->opts.mask, res->body ? res->body : "", res->body_len, &shown);
	if (res->answered) {
		buf_addf(&last, "status %ld", res->status);
		if (shown.len)
			http_excerpt(shown.s, shown.len, res->body_truncated, EXCERPT_MAX, &last_body);
		if (!http_status_matches(h->status, h->nstatus, res->status)) {
			verdict = WRONG_STATUS;
		} else if (c->has_rx) {
			regmatch_t m[1] = { { 0, (regoff_t)res->body_len } };
			/* REG_STARTEND: the body may hold NUL bytes. */
			if (regexec(&c->rx, res->body, 1, m, REG_STARTEND) != 0) {
				verdict = WRONG_BODY;
				buf_addf(&last, " but the body does not match '%s'", c->body);
			}
		}
	} else {
		buf_adds(&last, res->error ? res->error : "no answer");
		verdict = NO_ANSWER;
	}
	if (!(res->timed_out && c->req_cut && c->last.len)) {
		buf_release(&c->last);
		buf_release(&c->last_body);
		c->last = last;
		c->last_body = last_body;
		c->last_timed_out = res->timed_out || res->stalled;
	} else {
		buf_release(&last);
		buf_release(&last_body);
	}
	struct buf line = BUF_INIT;
	buf_addf(&line, "#%d ", c->requests);
	if (res->answered) {
		buf_addf(&line, "status %ld in %llums", res->status,
			 (unsigned long long)res->duration_ms);
		struct buf ex = BUF_INIT;
		http_excerpt(shown.s, shown.len, res->body_truncated, EXCERPT_MAX, &ex);
		if (ex.len)
			buf_addf(&line, ", body \"%s\"", ex.s);
		else
			buf_adds(&line, ", empty body");
		buf_release(&ex);
	} else {
		buf_adds(&line, res->error ? res->error : "no answer");
		/* A time limit names its own duration. */
		if (!res->timed_out && !res->stalled)
			buf_addf(&line, " after %llums", (unsigned long long)res->duration_ms);
	}
	switch (verdict) {
	case AS_EXPECTED:
		buf_adds(&line, ": as expected");
		break;
	case WRONG_STATUS:
		buf_adds(&line, ": not as expected (status not in ");
		http_status_format(h->status, h->nstatus, &line);
		buf_addc(&line, ')');
		break;
	case WRONG_BODY:
		buf_addf(&line, ": not as expected (body does not match '%s')", c->body);
		break;
	case NO_ANSWER:
		buf_adds(&line, ": not as expected");
		break;
	}
	say(w, line.s);
	buf_release(&line);
	buf_release(&shown);
	if (verdict == AS_EXPECTED) {
		check_end(w, true, NULL);
		run_pump(r);
		return;
	}
	uint64_t now = run_now(r);
	if (now >= c->deadline_ms) {
		give_up(w);
		run_pump(r);
		return;
	}
	/* A pause that would end after `within` leaves the deadline to end the check. */
	if (now + h->interval_ms < c->deadline_ms) {
		c->pause = run_timer_new(r, w);
		uv_timer_start(c->pause, pause_cb, h->interval_ms, 0);
	}
}

/* Sends the next request, its timeout cut to what is left of `within`. */
static void request(struct wf_run *w)
{
	struct http_check_run *c = w->check;
	const struct http_check *h = check_of(w);
	uint64_t now = run_now(w->run);
	if (now >= c->deadline_ms)
		return; /* the deadline timer ends it */
	uint64_t left = c->deadline_ms - now;
	struct http_get_opts o = {
		.url = c->url,
		.headers = (const char *const *)c->headers,
		.timeout_ms = h->request_timeout_ms < left ? h->request_timeout_ms : left,
		.stall_ms = http_stall_ms(h->request_timeout_ms),
	};
	c->requests++;
	c->req_started_ms = now;
	c->req_cut = o.timeout_ms < h->request_timeout_ms;
	if (http_get(c->client, &o, done_cb, w, &c->req) < 0) {
		c->req = NULL;
		struct buf why = BUF_INIT;
		buf_addf(&why, "http-check GET %s: the request could not be started", c->url);
		say(w, "the request could not be started");
		check_end(w, false, why.s);
		buf_release(&why);
	}
}

/*
 * "Name: value" for curl; "Name;" sends a header with an empty value.
 * Secrets are put in here, and never shown: the log shows no headers.
 * A secret with a line break would end the
 * header and start another: `*bad` names the first such header (check
 * refuses line breaks written in the file).
 */
static char **header_lines(const struct kvlist *hd, const struct run *r, const char **bad)
{
	char **v = xcalloc(hd->n + 1, sizeof(*v));
	*bad = NULL;
	for (size_t i = 0; i < hd->n; i++) {
		char *val = run_subst_env(r, hd->v[i].val);
		const char *s = val ? val : hd->v[i].val;
		if (!*bad && strpbrk(s, "\r\n"))
			*bad = hd->v[i].key;
		struct buf b = BUF_INIT;
		if (*s)
			buf_addf(&b, "%s: %s", hd->v[i].key, s);
		else
			buf_addf(&b, "%s;", hd->v[i].key);
		v[i] = buf_detach(&b, NULL);
		free(val);
	}
	return v;
}

/* Starts the check of the current attempt; `resumed`: after a take-over, adding to its log. */
static void check_start(struct wf_run *w, bool resumed)
{
	struct run *r = w->run;
	const struct plan_step *ps = wf_cur_step(w);
	const struct http_check *h = ps->src->http;
	struct http_check_run *c = xcalloc(1, sizeof(*c));
	buf_init(&c->last);
	buf_init(&c->last_body);
	c->w = w;
	w->check = c;
	step_log_open(&c->log, w, resumed);
	char *url = run_subst_run_id(ps->http->url, r->opts.run_id);
	c->url = url ? url : xstrdup(ps->http->url);
	const char *bad_header;
	c->headers = header_lines(&ps->http->headers, r, &bad_header);
	c->body = ps->http->expect_body;
	c->started_ms = run_now(r);
	c->deadline_ms = c->started_ms + h->within_ms;
	c->gap_us = http_pace_gap_us(r->plan->groups[w->pw->group].n, h->interval_ms, h->within_ms);

	struct buf line = BUF_INIT;
	buf_addf(&line, "%shttp-check GET %s: expect status ", resumed ? "(resumed) " : "", c->url);
	http_status_format(h->status, h->nstatus, &line);
	if (c->body)
		buf_addf(&line, ", body matching '%s'", c->body);
	buf_adds(&line, ", every ");
	add_duration(&line, h->interval_ms);
	buf_adds(&line, " within ");
	add_duration(&line, h->within_ms);
	buf_adds(&line, ", request-timeout ");
	add_duration(&line, h->request_timeout_ms);
	say(w, line.s);
	buf_release(&line);

	if (bad_header) {
		struct buf why = BUF_INIT;
		buf_addf(&why, "http-check GET %s: header %s: a secret's value holds a line break, "
			 "which cannot be sent in a header", c->url, bad_header);
		say(w, why.s);
		check_end(w, false, why.s);
		buf_release(&why);
		return;
	}
	/* Checked by `check` already, unless ${{ run.id }} made the url. */
	const char *bad = NULL;
	if (http_url_check(c->url, &bad) < 0) {
		struct buf why = BUF_INIT;
		buf_addf(&why, "http-check GET %s: bad url: %s", c->url, bad);
		say(w, why.s);
		check_end(w, false, why.s);
		buf_release(&why);
		return;
	}
	if (c->body) {
		c->has_rx = regcomp(&c->rx, c->body, REG_EXTENDED | REG_NOSUB) == 0;
		if (!c->has_rx) {
			struct buf why = BUF_INIT;
			buf_addf(&why, "http-check GET %s: bad expect-body regex", c->url);
			check_end(w, false, why.s);
			buf_release(&why);
			return;
		}
	}
	c->client = http_client_new(r->loop, &r->open_handles);
	if (!c->client) {
		struct buf why = BUF_INIT;
		buf_addf(&why, "http-check GET %s: %s", c->url, http_global_error());
		check_end(w, false, why.s);
		buf_release(&why);
		return;
	}
	c->deadline = run_timer_new(r, w);
	/* +1: the loop counts whole milliseconds; never early. */
	uv_timer_start(c->deadline, deadline_cb, h->within_ms + 1, 0);
	c->pause = run_timer_new(r, w);
	uv_timer_start(c->pause, first_cb, 0, 0);
}

void step_http_begin(struct wf_run *w)
{
	check_start(w, false);
}

void step_http_resume(struct wf_run *w, const struct step_resume *at)
{
	/* The check starts over, `within` included: it is about the endpoint
	 * now, and a GET can be repeated. */
	(void)at;
	check_start(w, true);
}

enum step_stop step_http_cancel(struct wf_run *w, const char *why, bool now)
{
	(void)now;
	if (!w->check)
		return STOP_NOW;
	struct buf line = BUF_INIT;
	buf_addf(&line, "stopped: %s", why);
	say(w, line.s);
	buf_release(&line);
	check_free(w);
	return STOP_NOW;
}
