#include "engine/http.h"

/* The functions are called through pointers (below): no type-checking
 * macros around them. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"
#include "base/xalloc.h"

/*
 * http: curl's multi "socket" API on libuv, as in curl's own multi-uv
 * example: curl calls socket_fn to say which sockets to watch and timer_fn
 * to say when to call it back; the loop calls curl_multi_socket_action
 * when either fires, and finished transfers are collected by check_done.
 *
 * Lifetimes: the client, its requests and its socket records are freed
 * by this file only. A uv handle is freed in its close callback; the
 * client itself once it is dying and its last handle has closed. A
 * `done` callback may free the client: the actual teardown waits until
 * check_done has left its loop over curl's messages.
 */

/*
 * libcurl is loaded with dlopen on the first http-check, not linked:
 * linked, it and the thirty libraries it needs (TLS, LDAP, Kerberos,
 * HTTP/2, ...) cost every lockstep process about 6 MiB of memory at
 * start, paid by every run whether it checks anything or not. The
 * functions used are called through `lc`, under their own names.
 */
static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} lc;

/* curl.h defines some of these names as macros of themselves. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_easy_init (*lc.easy_init)
#define curl_easy_cleanup (*lc.easy_cleanup)
#define curl_easy_setopt (*lc.easy_setopt)
#define curl_easy_getinfo (*lc.easy_getinfo)
#define curl_easy_strerror (*lc.easy_strerror)
#define curl_multi_init (*lc.multi_init)
#define curl_multi_cleanup (*lc.multi_cleanup)
#define curl_multi_add_handle (*lc.multi_add_handle)
#define curl_multi_remove_handle (*lc.multi_remove_handle)
#define curl_multi_setopt (*lc.multi_setopt)
#define curl_multi_assign (*lc.multi_assign)
#define curl_multi_info_read (*lc.multi_info_read)
#define curl_multi_socket_action (*lc.multi_socket_action)
#define curl_slist_append (*lc.slist_append)
#define curl_slist_free_all (*lc.slist_free_all)

/* The SONAME of libcurl 7 and 8 (ABI 4). */
#define LIBCURL_SONAME "libcurl.so.4"

static char load_error[256];

/* Loads libcurl and every function used; false with load_error set. */
static bool load_libcurl(void)
{
	void *h = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(load_error, sizeof(load_error), "cannot load libcurl (%s): %s", LIBCURL_SONAME,
			 e ? e : "unknown error");
		return false;
	}
	struct {
		void **fn;
		const char *name;
	} syms[] = {
		{ (void **)&lc.global_init, "curl_global_init" },
		{ (void **)&lc.easy_init, "curl_easy_init" },
		{ (void **)&lc.easy_cleanup, "curl_easy_cleanup" },
		{ (void **)&lc.easy_setopt, "curl_easy_setopt" },
		{ (void **)&lc.easy_getinfo, "curl_easy_getinfo" },
		{ (void **)&lc.easy_strerror, "curl_easy_strerror" },
		{ (void **)&lc.multi_init, "curl_multi_init" },
		{ (void **)&lc.multi_cleanup, "curl_multi_cleanup" },
		{ (void **)&lc.multi_add_handle, "curl_multi_add_handle" },
		{ (void **)&lc.multi_remove_handle, "curl_multi_remove_handle" },
		{ (void **)&lc.multi_setopt, "curl_multi_setopt" },
		{ (void **)&lc.multi_assign, "curl_multi_assign" },
		{ (void **)&lc.multi_info_read, "curl_multi_info_read" },
		{ (void **)&lc.multi_socket_action, "curl_multi_socket_action" },
		{ (void **)&lc.slist_append, "curl_slist_append" },
		{ (void **)&lc.slist_free_all, "curl_slist_free_all" },
	};
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		*syms[i].fn = dlsym(h, syms[i].name);
		if (!*syms[i].fn) {
			snprintf(load_error, sizeof(load_error), "%s has no %s", LIBCURL_SONAME,
				 syms[i].name);
			return false;
		}
	}
	if (lc.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(load_error, sizeof(load_error), "cannot initialise libcurl");
		return false;
	}
	return true;
}

struct http_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct http_client *c;
	struct http_sock *prev, *next;
};

struct http_req {
	struct http_client *c;
	CURL *easy;
	struct curl_slist *headers;
	http_done_cb done;
	void *arg;
	struct buf body;
	bool truncated;          /* the body went past HTTP_BODY_MAX: the transfer stopped */
	bool finished;           /* its `done` is running: cancelling it is a no-op */
	bool in_body;            /* the body has begun: the headers are all in */
	bool headers_too_big;    /* past HTTP_HEADERS_MAX: the transfer stopped */
	size_t header_bytes;     /* of the response headers so far */
	uint64_t timeout_ms;
	uint64_t stall_ms;       /* the no-progress limit, or 0 */
	uint64_t started_ns;
	char errbuf[CURL_ERROR_SIZE];
	struct http_req *prev, *next;
};

struct http_client {
	uv_loop_t *loop;
	size_t *open_handles;
	CURLM *multi;
	uv_timer_t *timer;
	struct http_sock *socks;
	struct http_req *reqs;
	int dispatching;         /* inside check_done */
	bool dying;              /* http_client_free was called */
	bool destroyed;          /* curl's side is gone; handles are closing */
	size_t handles;          /* uv handles not closed yet */
};

/* ---- handle accounting ---- */

static void handle_opened(struct http_client *c)
{
	c->handles++;
	if (c->open_handles)
		(*c->open_handles)++;
}

static void handle_closed(struct http_client *c)
{
	c->handles--;
	if (c->open_handles)
		(*c->open_handles)--;
	if (c->destroyed && c->handles == 0)
		free(c);
}

static void timer_closed_cb(uv_handle_t *h)
{
	struct http_client *c = h->data;
	free(h);
	handle_closed(c);
}

static void sock_closed_cb(uv_handle_t *h)
{
	struct http_sock *s = h->data;
	struct http_client *c = s->c;
	free(s);
	handle_closed(c);
}

static void sock_close(struct http_sock *s)
{
	struct http_client *c = s->c;
	uv_poll_stop(&s->poll);
	if (s->prev)
		s->prev->next = s->next;
	else
		c->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	uv_close((uv_handle_t *)&s->poll, sock_closed_cb);
}

/* ---- requests ---- */

static void req_unlink(struct http_req *r)
{
	struct http_client *c = r->c;
	if (r->prev)
		r->prev->next = r->next;
	else
		c->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

static void req_free(struct http_req *r)
{
	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	buf_release(&r->body);
	free(r);
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_req *r = arg;
	size_t n = size * nmemb;
	r->in_body = true;
	size_t room = HTTP_BODY_MAX - r->body.len;
	if (n > room) {
		/* Enough to judge it: stop the transfer here (CURLE_WRITE_ERROR). */
		buf_add(&r->body, data, room);
		r->truncated = true;
		return 0;
	}
	buf_add(&r->body, data, n);
	return n;
}

/*
 * Called with each complete header line (status lines and the blank line
 * that ends a block too). A server can send headers without end: past
 * HTTP_HEADERS_MAX bytes the transfer stops (CURLE_WRITE_ERROR).
 */
static size_t header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_req *r = arg;
	size_t n = size * nmemb;
	(void)data;
	if (n > HTTP_HEADERS_MAX - r->header_bytes) {
		r->headers_too_big = true;
		return 0;
	}
	r->header_bytes += n;
	return n;
}

/* "Connection refused" -> "connection refused": errors read as part of a sentence. */
static void add_lower_first(struct buf *b, const char *s)
{
	size_t at = b->len;
	buf_adds(b, s);
	if (b->len > at && b->s[at] >= 'A' && b->s[at] <= 'Z' &&
	    !(b->s[at + 1] >= 'A' && b->s[at + 1] <= 'Z'))
		b->s[at] = (char)(b->s[at] - 'A' + 'a');
}

/*
 * The request ended on its no-progress limit (connecting, or less than 1
 * byte a second), not on its timeout: curl says "timed out" for both, but
 * its timeout cannot have fired before `timeout_ms` went by.
 */
static bool stalled(const struct http_req *r, CURLcode code)
{
	return code == CURLE_OPERATION_TIMEDOUT && r->stall_ms &&
	       (uv_hrtime() - r->started_ns) / 1000000 < r->timeout_ms;
}

/*
 * The response headers went past HTTP_HEADERS_MAX. curl refuses one header
 * line longer than its own limit (100 KiB) with CURLE_OUT_OF_MEMORY before
 * header_cb sees it: before the body, that is the only way to that code.
 */
static bool headers_too_big(const struct http_req *r, CURLcode code)
{
	return (code == CURLE_WRITE_ERROR && r->headers_too_big) ||
	       (code == CURLE_OUT_OF_MEMORY && !r->in_body);
}

/*
 * A transport error in a few words: what a person would say. `stall`: it
 * ended on its no-progress limit.
 */
static void describe_error(struct http_req *r, CURLcode code, bool stall, struct buf *out)
{
	long os = 0;
	curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os);
	char d[32];
	switch (code) {
	case CURLE_OPERATION_TIMEDOUT:
		if (stall) {
			/* curl's measure of progress counts body bytes only. */
			curl_off_t pre = 0;
			curl_easy_getinfo(r->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
			duration_format(r->stall_ms, d, sizeof(d));
			if (!pre)
				buf_addf(out, "could not connect in %s", d);
			else if (r->in_body)
				buf_addf(out, "body stalled: less than 1 byte a second for %s", d);
			else if (r->header_bytes)
				buf_addf(out, "response headers not complete in %s", d);
			else
				buf_addf(out, "no answer in %s", d);
			return;
		}
		duration_format(r->timeout_ms, d, sizeof(d));
		buf_addf(out, "request timed out after %s", d);
		return;
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		if (os) {
			add_lower_first(out, strerror((int)os));
			return;
		}
		break;
	case CURLE_GOT_NOTHING:
		buf_adds(out, "empty reply from the server");
		return;
	case CURLE_WRITE_ERROR:
	case CURLE_OUT_OF_MEMORY:
		if (headers_too_big(r, code)) {
			buf_addf(out, "response headers larger than %u KiB", HTTP_HEADERS_MAX / 1024);
			return;
		}
		break;
	default:
		break;
	}
	size_t n = strlen(r->errbuf);
	while (n && (r->errbuf[n - 1] == '\n' || r->errbuf[n - 1] == '.'))
		r->errbuf[--n] = '\0';
	add_lower_first(out, n ? r->errbuf : curl_easy_strerror(code));
}

static void client_destroy(struct http_client *c);

/* Hands every finished transfer to its `done` callback. */
static void check_done(struct http_client *c)
{
	c->dispatching++;
	CURLMsg *msg;
	int left;
	while (!c->dying && (msg = curl_multi_info_read(c->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *e = msg->easy_handle;
		CURLcode code = msg->data.result;
		struct http_req *r = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
		if (!r)
			continue;
		struct http_result res = { 0 };
		struct buf err = BUF_INIT;
		res.answered = code == CURLE_OK || (code == CURLE_WRITE_ERROR && r->truncated);
		if (res.answered) {
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &res.status);
			res.body = r->body.s;
			res.body_len = r->body.len;
			res.body_truncated = r->truncated;
		} else {
			res.stalled = stalled(r, code);
			res.timed_out = code == CURLE_OPERATION_TIMEDOUT && !res.stalled;
			describe_error(r, code, res.stalled, &err);
			res.error = err.s;
		}
		res.duration_ms = (uv_hrtime() - r->started_ns) / 1000000;
		req_unlink(r);
		curl_multi_remove_handle(c->multi, e);
		r->finished = true;
		r->done(r, &res, r->arg);
		buf_release(&err);
		req_free(r);
	}
	c->dispatching--;
	if (c->dying && !c->dispatching)
		client_destroy(c);
}

/* ---- curl's callbacks and the loop's ---- */

static void on_timer(uv_timer_t *t)
{
	struct http_client *c = t->data;
	int running;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}

static int timer_fn(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *c = userp;
	(void)multi;
	/* curl must not be called back from inside its own callback: a
	 * timeout of 0 runs on the next loop iteration. */
	if (timeout_ms < 0)
		uv_timer_stop(c->timer);
	else
		uv_timer_start(c->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct http_sock *s = h->data;
	struct http_client *c = s->c;
	int flags = 0;
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	int running;
	/* `s` may be closed by this call (socket_fn, CURL_POLL_REMOVE). */
	curl_multi_socket_action(c->multi, s->fd, flags, &running);
	check_done(c);
}

static int socket_fn(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http_client *c = userp;
	struct http_sock *s = socketp;
	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			curl_multi_assign(c->multi, fd, NULL);
			sock_close(s);
		}
		return 0;
	}
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
			free(s);
			return -1;
		}
		s->fd = fd;
		s->c = c;
		s->poll.data = s;
		s->next = c->socks;
		if (c->socks)
			c->socks->prev = s;
		c->socks = s;
		handle_opened(c);
		curl_multi_assign(c->multi, fd, s);
	}
	int ev = 0;
	if (what & CURL_POLL_IN)
		ev |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		ev |= UV_WRITABLE;
	uv_poll_start(&s->poll, ev, on_poll);
	return 0;
}

/* ---- the client ---- */

int http_global_init(void)
{
	/* Once, from the loop thread (the only one that uses curl). */
	static int done;
	if (!done)
		done = load_libcurl() ? 1 : -1;
	return done > 0 ? 0 : -1;
}

const char *http_global_error(void)
{
	return load_error[0] ? load_error : "cannot initialise libcurl";
}

struct http_client *http_client_new(uv_loop_t *loop, size_t *open_handles)
{
	if (http_global_init() < 0)
		return NULL;
	struct http_client *c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->open_handles = open_handles;
	c->multi = curl_multi_init();
	if (!c->multi)
		xalloc_die();
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_fn);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_fn);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	c->timer = xcalloc(1, sizeof(*c->timer));
	uv_timer_init(loop, c->timer);
	c->timer->data = c;
	handle_opened(c);
	return c;
}

/* Ends curl's side and closes the handles; the client is freed with the last one. */
static void client_destroy(struct http_client *c)
{
	if (c->destroyed)
		return;
	while (c->reqs) {
		struct http_req *r = c->reqs;
		req_unlink(r);
		curl_multi_remove_handle(c->multi, r->easy);
		req_free(r);
	}
	/* May report sockets it still holds as removed (socket_fn). */
	curl_multi_cleanup(c->multi);
	c->multi = NULL;
	while (c->socks)
		sock_close(c->socks);
	uv_timer_stop(c->timer);
	uv_close((uv_handle_t *)c->timer, timer_closed_cb);
	c->timer = NULL;
	c->destroyed = true;
}

void http_client_free(struct http_client *c)
{
	if (!c || c->dying)
		return;
	c->dying = true;
	if (!c->dispatching)
		client_destroy(c);
}

void http_noproxy(const char *env, struct buf *out)
{
	buf_reset(out);
	while (env && (*env == ' ' || *env == ','))
		env++;
	if (env && !strcmp(env, "*")) {
		buf_adds(out, "*");
		return;
	}
	if (env && *env)
		buf_addf(out, "%s,", env);
	buf_adds(out, "localhost,127.0.0.1,127.0.0.0/8,::1");
}

int http_get(struct http_client *c, const struct http_get_opts *o, http_done_cb done, void *arg,
	     struct http_req **out)
{
	if (c->dying || !o->url || !done)
		return -EINVAL;
	struct http_req *r = xcalloc(1, sizeof(*r));
	buf_init(&r->body);
	r->c = c;
	r->done = done;
	r->arg = arg;
	r->timeout_ms = o->timeout_ms ? o->timeout_ms : 1;
	r->stall_ms = o->stall_ms < r->timeout_ms ? o->stall_ms : 0;
	r->easy = curl_easy_init();
	if (!r->easy)
		xalloc_die();
	for (const char *const *h = o->headers; h && *h; h++) {
		struct curl_slist *n = curl_slist_append(r->headers, *h);
		if (!n)
			xalloc_die();
		r->headers = n;
	}
	CURL *e = r->easy;
	bool ok = curl_easy_setopt(e, CURLOPT_URL, o->url) == CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
	ok = ok && curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
#else
	ok = ok && curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) == CURLE_OK;
#endif
	ok = ok && curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK;
	ok = ok && curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
	ok = ok && curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok = ok && curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms) == CURLE_OK;
	ok = ok && curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
				    (long)(r->stall_ms ? r->stall_ms : r->timeout_ms)) == CURLE_OK;
	if (r->stall_ms) {
		ok = ok && curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L) == CURLE_OK;
		ok = ok && curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
					    (long)((r->stall_ms + 999) / 1000)) == CURLE_OK;
	}
	ok = ok && curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L) == CURLE_OK;
	ok = ok && curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) == CURLE_OK;
	ok = ok && curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb) == CURLE_OK;
	ok = ok && curl_easy_setopt(e, CURLOPT_WRITEDATA, r) == CURLE_OK;
	ok = ok && curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb) == CURLE_OK;
	ok = ok && curl_easy_setopt(e, CURLOPT_HEADERDATA, r) == CURLE_OK;
	ok = ok && curl_easy_setopt(e, CURLOPT_PRIVATE, r) == CURLE_OK;
	ok = ok && curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf) == CURLE_OK;
	ok = ok && curl_easy_setopt(e, CURLOPT_USERAGENT, "lockstep/" LOCKSTEP_VERSION) == CURLE_OK;
	if (r->headers)
		ok = ok && curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers) == CURLE_OK;
	/* Setting the list replaces curl's reading of no_proxy: ours has the
	 * variable's hosts and the loopback ones (the string is copied). */
	const char *env = getenv("no_proxy");
	if (!env || !*env)
		env = getenv("NO_PROXY");
	struct buf np = BUF_INIT;
	http_noproxy(env, &np);
	ok = ok && curl_easy_setopt(e, CURLOPT_NOPROXY, np.s) == CURLE_OK;
	buf_release(&np);
	r->started_ns = uv_hrtime();
	if (!ok || curl_multi_add_handle(c->multi, e) != CURLM_OK) {
		req_free(r);
		return -EINVAL;
	}
	r->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = r;
	c->reqs = r;
	if (out)
		*out = r;
	return 0;
}

void http_cancel(struct http_req *r)
{
	if (!r || r->finished)
		return;
	struct http_client *c = r->c;
	req_unlink(r);
	curl_multi_remove_handle(c->multi, r->easy);
	req_free(r);
}

/* ---- the no-progress limit and the pacer ---- */

uint64_t http_stall_ms(uint64_t request_timeout_ms)
{
	uint64_t quarter = request_timeout_ms / 4 + (request_timeout_ms % 4 != 0);
	uint64_t s = quarter / 1000 + (quarter % 1000 != 0);
	return (s ? s : 1) * 1000;
}

uint64_t http_pace_gap_us(size_t n, uint64_t interval_ms, uint64_t within_ms)
{
	if (n == 0)
		n = 1;
	uint64_t gap = (uint64_t)HTTP_PACE_MAX_MS * 1000;
	if (interval_ms * 1000 / n < gap)
		gap = interval_ms * 1000 / n;
	if (within_ms * 1000 / 2 / n < gap)
		gap = within_ms * 1000 / 2 / n;
	return gap;
}

uint64_t http_pacer_take(struct http_pacer *p, uint64_t now_ms, uint64_t gap_us)
{
	uint64_t now_us = now_ms * 1000;
	uint64_t at = p->last_us + gap_us > now_us ? p->last_us + gap_us : now_us;
	p->last_us = at;
	return (at - now_us + 999) / 1000;
}

/* ---- messages ---- */

/* The length of the UTF-8 character at s[0..n), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned min;
	unsigned cp;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xE0) == 0xC0) {
		len = 2;
		min = 0x80;
		cp = s[0] & 0x1F;
	} else if ((s[0] & 0xF0) == 0xE0) {
		len = 3;
		min = 0x800;
		cp = s[0] & 0x0F;
	} else if ((s[0] & 0xF8) == 0xF0) {
		len = 4;
		min = 0x10000;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

void http_excerpt(const char *body, size_t len, bool truncated, size_t max, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)body;
	size_t i = 0;
	while (i < len && i < max) {
		unsigned char c = s[i];
		switch (c) {
		case '\n': buf_adds(out, "\\n"); i++; continue;
		case '\r': buf_adds(out, "\\r"); i++; continue;
		case '\t': buf_adds(out, "\\t"); i++; continue;
		case '"': buf_adds(out, "\\\""); i++; continue;
		case '\\': buf_adds(out, "\\\\"); i++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			buf_addf(out, "\\x%02x", c);
			i++;
			continue;
		}
		size_t n = utf8_len(s + i, len - i);
		if (n == 0) {
			buf_addf(out, "\\x%02x", c);
			i++;
		} else {
			buf_add(out, s + i, n);
			i += n;
		}
	}
	if (i < len || truncated)
		buf_adds(out, "...");
}
