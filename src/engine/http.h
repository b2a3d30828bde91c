/*
 * http: GET requests on libcurl's multi interface, driven by the libuv
 * loop. curl says which sockets to watch (one uv_poll_t each) and when to
 * call it back (one uv_timer_t per client); name resolution runs on
 * curl's resolver thread. Nothing here blocks the loop.
 *
 * A client holds any number of requests in flight. Each request ends with
 * exactly one call of its `done` callback, unless it is cancelled first;
 * after http_cancel() or http_client_free() nothing is called any more.
 *
 * Every request opens a fresh connection and does not follow redirects:
 * a health check should see what a new client would see first. Only the
 * first HTTP_BODY_MAX bytes of a body are kept; the transfer stops there.
 * Response headers may have HTTP_HEADERS_MAX bytes in all (status lines
 * and line ends included); past that the request fails.
 *
 * http_global_init() must have been called (the CLI does it at startup).
 */
#ifndef LS_ENGINE_HTTP_H
#define LS_ENGINE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/buf.h"

#define HTTP_BODY_MAX (64u * 1024)
#define HTTP_HEADERS_MAX (64u * 1024)

struct http_client;
struct http_req;

/*
 * Loads and initialises libcurl (dlopen, curl_global_init) the first
 * time; http_client_new calls it. Returns 0, or -1 (see
 * http_global_error).
 */
int http_global_init(void);
/* Why http_global_init failed, for a person. */
const char *http_global_error(void);

/* How a request ended. Strings are valid during the `done` call only. */
struct http_result {
	bool answered;           /* a response came back: `status` is set */
	long status;
	const char *body;        /* the first HTTP_BODY_MAX bytes, NUL-terminated */
	size_t body_len;
	bool body_truncated;     /* the body was longer */
	bool timed_out;          /* no complete answer before the request's timeout */
	bool stalled;            /* given up early: no connection, or no data, for `stall_ms` */
	const char *error;       /* !answered: "connection refused", "could not resolve host x", ... */
	uint64_t duration_ms;
};

struct http_get_opts {
	const char *url;
	const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
	uint64_t timeout_ms;        /* the whole request, connecting included; > 0 */
	/*
	 * Gives up sooner on a request that makes no progress: one that has not
	 * connected (name lookup, TCP and TLS handshakes) after `stall_ms`, or
	 * that receives less than 1 byte a second for `stall_ms` (counted in
	 * whole seconds, rounded up) while it waits for the answer or reads its
	 * body. 0, or not less than `timeout_ms`: no such limits.
	 */
	uint64_t stall_ms;
};

typedef void (*http_done_cb)(struct http_req *req, const struct http_result *res, void *arg);

/*
 * A new client on `loop` (borrowed). `*open_handles` (borrowed; may be
 * NULL) counts the client's libuv handles that are not closed yet, so the
 * owner knows when the loop may end.
 */
struct http_client *http_client_new(uv_loop_t *loop, size_t *open_handles);
/*
 * Cancels what is in flight (no callbacks) and frees the client; its
 * handles close asynchronously. May be called from a `done` callback of
 * the same client.
 */
void http_client_free(struct http_client *c);

/*
 * Starts a GET. Returns 0 and the request in `*out` (owned by the client
 * until `done` returns or http_cancel), or a negative code when curl
 * refuses the options (then nothing is called). Copies what it needs of `o`.
 */
int http_get(struct http_client *c, const struct http_get_opts *o, http_done_cb done, void *arg,
	     struct http_req **out);
/* Ends a request in flight; `done` is not called. */
void http_cancel(struct http_req *r);

/*
 * The no-progress limit (http_get_opts.stall_ms) of a check whose
 * request-timeout is `request_timeout_ms`: a quarter of it, rounded up to
 * whole seconds (so at least 1 s). A server whose kernel dropped the
 * connection (a full listen queue) leaves the request waiting in silence;
 * this ends it long before the request timeout, so that the check can try
 * again on a new connection.
 */
uint64_t http_stall_ms(uint64_t request_timeout_ms);

/* The longest gap the pacer puts between two first requests. */
#define HTTP_PACE_MAX_MS 10u

/*
 * The gap, in microseconds, between the first request of a check and the
 * first request before it, for a check in a parallel group of `n`
 * workflows: the least of HTTP_PACE_MAX_MS, `interval_ms` / n and
 * `within_ms` / 2n. The group's first requests then spread over at most
 * its interval, and never over more than half of `within`.
 */
uint64_t http_pace_gap_us(size_t n, uint64_t interval_ms, uint64_t within_ms);

/*
 * Paces requests: each goes at least the gap it names after the one
 * before, so that requests that come due together (a wide matrix whose
 * checks all start at once, or a loop that was busy while their timers
 * ran out) still go out one at a time.
 */
struct http_pacer {
	uint64_t last_us;        /* when the last request goes, on the loop's clock */
};
#define HTTP_PACER_INIT { 0 }

/*
 * Books the moment of a request due at `now_ms`: now, or `gap_us` after
 * the one booked before, whichever is later. Returns how many ms the
 * request must wait for it (rounded up; 0: go now).
 */
uint64_t http_pacer_take(struct http_pacer *p, uint64_t now_ms, uint64_t gap_us);

/*
 * The hosts a request reaches without a proxy (CURLOPT_NOPROXY), from the
 * no_proxy variable's value `env` (NULL: unset): its hosts, then the
 * loopback ones (localhost, 127.0.0.0/8, ::1), which never go through a
 * proxy; "*" stays "*". Replaces the contents of `out`.
 */
void http_noproxy(const char *env, struct buf *out);
/*
 * Appends at most about `max` bytes of `body` to `out` for a message:
 * control characters, quotes and backslashes escaped (\n, \", \x01),
 * bytes that are not UTF-8 as \xNN, cut at a character boundary, with
 * "..." when something was left out (or `truncated` says the body was
 * longer than what is given).
 */
void http_excerpt(const char *body, size_t len, bool truncated, size_t max, struct buf *out);

#endif
