/*
 * Tests for the http-check step kind's pure parts: expect-status items
 * (pipeline/model.c), url shapes, loading an http-check step with its
 * defaults and its errors (positions included), expanding its url and
 * headers, and the body excerpts, no-progress limits and pacing of
 * engine/http.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "support/diags.h"

#include "base/buf.h"
#include "base/diag.h"
#include "engine/http.h"
#include "pipeline/expand.h"
#include "pipeline/load.h"
#include "pipeline/model.h"

/* ---- expect-status ---- */

static void status_ok(const char *s, int lo, int hi)
{
	struct status_range r;
	const char *why = NULL;
	if (http_status_parse(s, &r, &why) != 0)
		fail_msg("'%s' refused: %s", s, why);
	assert_int_equal(r.lo, lo);
	assert_int_equal(r.hi, hi);
}

static void status_bad(const char *s, const char *sub)
{
	struct status_range r;
	const char *why = NULL;
	if (http_status_parse(s, &r, &why) == 0)
		fail_msg("'%s' accepted", s);
	if (!strstr(why, sub))
		fail_msg("'%s': reason '%s' lacks '%s'", s, why, sub);
}

static void test_status_parse(void **state)
{
	(void)state;
	status_ok("200", 200, 200);
	status_ok("100", 100, 100);
	status_ok("599", 599, 599);
	status_ok("200..399", 200, 399);
	status_ok("404..404", 404, 404);
	status_bad("99", "100 to 599");
	status_bad("600", "100 to 599");
	status_bad("2xx", "100 to 599");
	status_bad("", "100 to 599");
	status_bad("0200", "100 to 599");
	status_bad("+200", "100 to 599");
	status_bad("200..", "joined by '..'");
	status_bad("..399", "joined by '..'");
	status_bad("200...399", "joined by '..'");
	status_bad("200..600", "joined by '..'");
	status_bad("399..200", "empty");
}

static void test_status_format_and_match(void **state)
{
	(void)state;
	const struct status_range v[] = { { 200, 204 }, { 301, 301 }, { 500, 599 } };
	struct buf b = BUF_INIT;
	http_status_format(v, 3, &b);
	assert_string_equal(b.s, "200..204, 301, 500..599");
	buf_release(&b);
	assert_true(http_status_matches(v, 3, 200));
	assert_true(http_status_matches(v, 3, 204));
	assert_false(http_status_matches(v, 3, 205));
	assert_true(http_status_matches(v, 3, 301));
	assert_false(http_status_matches(v, 3, 302));
	assert_true(http_status_matches(v, 3, 599));
	assert_false(http_status_matches(v, 3, 0));
}

/* ---- urls ---- */

static void test_url_check(void **state)
{
	(void)state;
	const char *why;
	const char *good[] = {
		"http://127.0.0.1:8080/health", "https://example.com", "HTTP://EXAMPLE.COM/x",
		"http://user:pw@host/", "http://[::1]:80/", "http://h?q=1", "http://h#frag",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (http_url_check(good[i], &why) != 0)
			fail_msg("'%s' refused: %s", good[i], why);
	struct { const char *url, *sub; } bad[] = {
		{ "ftp://example.com/", "only http:// and https://" },
		{ "example.com/health", "only http:// and https://" },
		{ "file:///etc/passwd", "only http:// and https://" },
		{ "http://", "no host" },
		{ "http:///path", "no host" },
		{ "http://:80/", "no host" },
		{ "http://user@/", "no host" },
		{ "http://example.com/a b", "spaces or control characters" },
		{ "http://example.com/\n", "spaces or control characters" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = "";
		if (http_url_check(bad[i].url, &why) == 0)
			fail_msg("'%s' accepted", bad[i].url);
		if (!strstr(why, bad[i].sub))
			fail_msg("'%s': reason '%s' lacks '%s'", bad[i].url, why, bad[i].sub);
	}
}

/* ---- loading ---- */

#define HEAD "name: p\nvars:\n  host: example.com\nstages:\n  - w\nworkflows:\n  w:\n    steps:\n"

static struct pipeline *load_ok(const char *text)
{
	struct diag d = DIAG_INIT;
	struct pipeline *p = pipeline_load_text("p.yml", text, strlen(text), &d);
	if (!p || d.n) {
		dump_diags(&d);
		fail_msg("expected a clean load");
	}
	diag_release(&d);
	return p;
}

static void test_load_short_form_defaults(void **state)
{
	(void)state;
	struct pipeline *p = load_ok(HEAD "      - http-check: https://example.com/health\n");
	const struct step *st = &p->workflows[0].steps.v[0];
	assert_int_equal(st->kind, STEP_HTTP_CHECK);
	assert_string_equal(step_kind_name(st->kind), "http-check");
	assert_string_equal(st->name, "http-check https://example.com/health");
	const struct http_check *h = st->http;
	assert_non_null(h);
	assert_string_equal(h->url, "https://example.com/health");
	assert_int_equal(h->nstatus, 1);
	assert_int_equal(h->status[0].lo, 200);
	assert_int_equal(h->status[0].hi, 399);
	assert_null(h->expect_body);
	assert_int_equal(h->interval_ms, 2000);
	assert_int_equal(h->within_ms, 60000);
	assert_int_equal(h->request_timeout_ms, 10000);
	assert_int_equal(h->headers.n, 0);
	pipeline_free(p);
}

static void test_load_mapping(void **state)
{
	(void)state;
	struct pipeline *p = load_ok(HEAD
		"      - id: smoke\n"
		"        retries: 2\n"
		"        timeout: 5m\n"
		"        http-check:\n"
		"          url: https://${{ vars.host }}/health?run=${{ run.id }}\n"
		"          expect-status: [200, 300..302]\n"
		"          expect-body: '\"status\": *\"(ok|ready)\"'\n"
		"          interval: 500ms\n"
		"          within: 2m\n"
		"          request-timeout: 3s\n"
		"          headers:\n"
		"            Authorization: Bearer ${{ vars.host }}\n"
		"            X-Empty:\n");
	const struct step *st = &p->workflows[0].steps.v[0];
	const struct http_check *h = st->http;
	assert_int_equal(st->retries, 2);
	assert_int_equal(st->timeout_ms, 300000);
	assert_int_equal(h->nstatus, 2);
	assert_int_equal(h->status[0].lo, 200);
	assert_int_equal(h->status[0].hi, 200);
	assert_int_equal(h->status[1].lo, 300);
	assert_int_equal(h->status[1].hi, 302);
	assert_string_equal(h->expect_body, "\"status\": *\"(ok|ready)\"");
	assert_int_equal(h->interval_ms, 500);
	assert_int_equal(h->within_ms, 120000);
	assert_int_equal(h->request_timeout_ms, 3000);
	assert_int_equal(h->headers.n, 2);
	assert_string_equal(h->headers.v[0].key, "Authorization");
	assert_string_equal(h->headers.v[1].key, "X-Empty");
	assert_string_equal(h->headers.v[1].val, "");

	/* Expanded: the var is in, run.id waits for the run. */
	struct diag d = DIAG_INIT;
	struct plan *plan = plan_build(p, NULL, &d);
	if (!plan) {
		dump_diags(&d);
		fail_msg("plan_build failed");
	}
	const struct plan_step *ps = &plan->workflows[0].steps[0];
	assert_non_null(ps->http);
	assert_string_equal(ps->http->url, "https://example.com/health?run=${{ run.id }}");
	assert_string_equal(ps->http->headers.v[0].val, "Bearer example.com");
	assert_string_equal(ps->http->expect_body, "\"status\": *\"(ok|ready)\"");
	assert_string_equal(ps->name, "http-check https://example.com/health?run=${{ run.id }}");
	plan_free(plan);
	diag_release(&d);
	pipeline_free(p);
}

/* Loads `text`; expects exactly one error, at line:col, containing `sub`. */
static void expect_one_error(const char *text, int line, int col, const char *sub)
{
	struct diag d = DIAG_INIT;
	struct pipeline *p = pipeline_load_text("p.yml", text, strlen(text), &d);
	if (p || d.errors != 1 || d.items[0].line != line || d.items[0].col != col ||
	    !strstr(d.items[0].message, sub)) {
		dump_diags(&d);
		pipeline_free(p);
		fail_msg("expected one error at %d:%d containing \"%s\"", line, col, sub);
	}
	diag_release(&d);
}

static void test_load_errors(void **state)
{
	(void)state;
	expect_one_error(HEAD "      - http-check: ftp://example.com/\n", 9, 21,
			 "bad url 'ftp://example.com/': only http:// and https:// urls can be checked");
	expect_one_error(HEAD "      - http-check: ftp://${{ vars.host }}/\n", 9, 21,
			 "only http:// and https://");
	expect_one_error(HEAD "      - http-check: http://${{ vars.nope }}/\n", 9, 28, "unknown var 'nope'");
	expect_one_error(HEAD "      - http-check:\n          within: 5s\n", 10, 11,
			 "http-check has no url");
	expect_one_error(HEAD "      - http-check: [a]\n", 9, 21, "http-check must be a url or a mapping");
	expect_one_error(HEAD "      - http-check:\n          url: http://h/\n          expect-body: 'a(b'\n",
			 11, 24, "bad expect-body regex 'a(b': ");
	expect_one_error(HEAD "      - http-check:\n          url: http://h/\n          expect-body: ''\n",
			 11, 24, "expect-body must not be empty");
	expect_one_error(HEAD "      - http-check:\n          url: http://h/\n          expect-body: 'a{1,32767}'\n",
			 11, 24, "bad expect-body regex 'a{1,32767}': Regular expression too big");
	expect_one_error(HEAD "      - http-check:\n          url: http://h/\n          expect-body: a${{ run.id }}\n",
			 11, 25, "${{ run.id }} is not allowed in expect-body patterns");
	expect_one_error(HEAD "      - http-check:\n          url: http://h/\n          expect-body: a${{ vars.nope }}\n",
			 11, 25, "unknown var 'nope'");
	expect_one_error(HEAD "      - http-check:\n          url: http://h/\n          expect-status: [200, 2xx]\n",
			 11, 32, "bad expect-status '2xx'");
	expect_one_error(HEAD "      - http-check:\n          url: http://h/\n          expect-status: 399..200\n",
			 11, 26, "the range is empty");
	expect_one_error(HEAD "      - http-check:\n          url: http://h/\n          expect-status: []\n",
			 11, 26, "expect-status must not be empty");
	expect_one_error(HEAD "      - http-check:\n          url: http://h/\n          interval: 0\n",
			 11, 21, "interval must be greater than 0");
	expect_one_error(HEAD "      - http-check:\n          url: http://h/\n          within: 1 minute\n",
			 11, 19, "bad duration '1 minute' for within");
	expect_one_error(HEAD "      - http-check:\n          url: http://h/\n          timeout: 5s\n",
			 11, 11, "unknown key 'timeout' in an http-check");
	expect_one_error(HEAD "      - http-check:\n          url: http://h/\n          headers:\n            'Bad Name': x\n",
			 12, 13, "bad header name 'Bad Name'");
	expect_one_error(HEAD "      - http-check:\n          url: http://h/\n          headers:\n            X-A: \"a\\nb\"\n",
			 12, 18, "cannot contain a line break");
	expect_one_error(HEAD "      - http-check: http://h/\n        dir: sub\n", 10, 14,
			 "dir applies only to run steps");
	expect_one_error(HEAD "      - http-check: http://h/\n        wait: 1s\n", 9, 9,
			 "step has more than one kind (wait and http-check)");
}

/*
 * Vars that make a url, a header value or an expect-body pattern unusable
 * are found when expanding.
 */
static void test_expand_errors(void **state)
{
	(void)state;
	const char *text = "name: p\nvars:\n  base: ftp://example.com\n  v: \"a\\nb\"\n  open: \"1.(\"\nstages:\n  - w\n"
			   "workflows:\n  w:\n    steps:\n"
			   "      - http-check: ${{ vars.base }}/health\n"
			   "      - http-check:\n          url: http://h/\n          headers: { X-V: \"${{ vars.v }}\" }\n"
			   "      - http-check:\n          url: http://h/\n          expect-body: v(${{ vars.open }}\n";
	struct diag d = DIAG_INIT;
	struct pipeline *p = pipeline_load_text("p.yml", text, strlen(text), &d);
	assert_non_null(p);
	struct plan *plan = plan_build(p, NULL, &d);
	assert_null(plan);
	assert_int_equal(d.errors, 3);
	bool url = false, header = false, body = false;
	for (size_t i = 0; i < d.n; i++) {
		url = url || strstr(d.items[i].message, "url 'ftp://example.com/health' of workflow w: only http:// and https://");
		header = header || strstr(d.items[i].message, "header X-V of workflow w: a header value cannot contain a line break");
		body = body || (strstr(d.items[i].message, "expect-body 'v(1.(' of workflow w is not a POSIX extended regex: ") &&
				d.items[i].line == 17 && d.items[i].col == 24);
	}
	if (!url || !header || !body) {
		dump_diags(&d);
		fail_msg("missing the url, the header or the expect-body error");
	}
	diag_release(&d);
	pipeline_free(p);
}

/*
 * Expressions that leave expect-body empty, or build a pattern past the
 * bounds, are found when expanding. Instances that share a pattern (it is
 * compiled once) and instances that do not each get their own.
 */
static void test_expand_body_errors(void **state)
{
	(void)state;
	const char *text = "name: p\nvars:\n  none: \"\"\n  many: \"1,1000\"\nstages:\n"
			   "  - workflow: w\n    matrix:\n      r: [eu, us]\n"
			   "workflows:\n  w:\n    steps:\n"
			   "      - http-check:\n          url: http://h/\n          expect-body: ${{ vars.none }}\n"
			   "      - http-check:\n          url: http://h/\n          expect-body: (a{${{ vars.many }}}){2}\n";
	struct diag d = DIAG_INIT;
	struct pipeline *p = pipeline_load_text("p.yml", text, strlen(text), &d);
	assert_non_null(p);
	struct plan *plan = plan_build(p, NULL, &d);
	assert_null(plan);
	/* The first instance fails: the second one is not reported again. */
	assert_int_equal(d.errors, 2);
	bool empty = false, big = false;
	for (size_t i = 0; i < d.n; i++) {
		empty = empty || (strstr(d.items[i].message, "expect-body '${{ vars.none }}' of workflow w[r=eu] is empty") &&
				  d.items[i].line == 14 && d.items[i].col == 24);
		big = big || (strstr(d.items[i].message, "expect-body '(a{1,1000}){2}' of workflow w[r=eu] is not a POSIX extended regex: Regular expression too big") &&
			      d.items[i].line == 17 && d.items[i].col == 24);
	}
	if (!empty || !big) {
		dump_diags(&d);
		fail_msg("missing the empty or the too big expect-body error");
	}
	diag_release(&d);
	pipeline_free(p);

	text = "name: p\nvars:\n  v: \"1.4\"\nstages:\n"
	       "  - workflow: w\n    matrix:\n      r: [eu, us]\n"
	       "workflows:\n  w:\n    steps:\n"
	       "      - http-check:\n          url: http://h/\n          expect-body: v${{ vars.v }} ${{ matrix.r }}\n"
	       "      - http-check:\n          url: http://h/\n          expect-body: v${{ vars.v }}\n";
	d = (struct diag)DIAG_INIT;
	p = pipeline_load_text("p.yml", text, strlen(text), &d);
	assert_non_null(p);
	plan = plan_build(p, NULL, &d);
	if (!plan || d.n) {
		dump_diags(&d);
		fail_msg("expected a clean plan");
	}
	assert_int_equal(plan->nworkflows, 2);
	assert_string_equal(plan->workflows[0].steps[0].http->expect_body, "v1.4 eu");
	assert_string_equal(plan->workflows[1].steps[0].http->expect_body, "v1.4 us");
	assert_string_equal(plan->workflows[0].steps[1].http->expect_body, "v1.4");
	assert_string_equal(plan->workflows[1].steps[1].http->expect_body, "v1.4");
	plan_free(plan);
	pipeline_free(p);
	diag_release(&d);
}

/* ---- expect-body bounds ---- */

/* `n` groups nested around "a", malloc'd. */
static char *nested_groups(size_t n)
{
	char *s = malloc(2 * n + 2);
	assert_non_null(s);
	memset(s, '(', n);
	s[n] = 'a';
	memset(s + n + 1, ')', n);
	s[2 * n + 1] = '\0';
	return s;
}

static void body_ok(const char *re)
{
	char msg[128] = "";
	if (http_body_regex_error(re, msg, sizeof(msg)))
		fail_msg("'%s' refused: %s", re, msg);
}

static void body_refused(const char *re, const char *sub)
{
	char msg[128] = "";
	if (!http_body_regex_error(re, msg, sizeof(msg)))
		fail_msg("'%.60s' accepted", re);
	if (!strstr(msg, sub))
		fail_msg("'%.60s': reason '%s' lacks '%s'", re, msg, sub);
}

static void refuse_deep_groups(void *text)
{
	char msg[128];
	if (!http_body_regex_error(text, msg, sizeof(msg)) || !strstr(msg, "too deep"))
		_exit(1);
}

static void test_body_bounds(void **state)
{
	(void)state;
	body_ok("\"status\": *\"(ok|ready)\"");
	body_ok("[0-9a-f]{40}");
	body_ok("a{1,1000}");
	body_ok("a{999,}");
	/* Braces that open no interval, in a bracket expression or escaped. */
	body_ok("[]{}]{1000}");
	body_ok("[[:alpha:]{]{500}x");
	body_ok("a\\{1,5000}");
	/* A repeated piece includes its quantifiers. */
	body_ok("a{2}+{3}");

	const char *big = "Regular expression too big (over 1000 elements";
	body_refused("a{1,1001}", big);
	body_refused("a{1,32767}", big);
	body_refused("a{5000,}", big);
	body_refused("a{,5000}", big);
	body_refused("a{1,99999999999999999999999}", big);
	body_refused("(a{1,1000}){1,1000}", big);
	body_refused("((a{1,30}){1,30}){1,30}", big);
	/* A group counts with its contents: 4 elements, 250 times, and 'x'. */
	body_refused("(a|b){250}x", big);
	body_ok("(a|b){250}");
	/* Without repetitions, the elements are the characters. */
	char *flat = malloc(1002);
	assert_non_null(flat);
	memset(flat, 'a', 1001);
	flat[1001] = '\0';
	body_refused(flat, big);
	flat[1000] = '\0';
	body_ok(flat);
	free(flat);

	char *deep = nested_groups(HTTP_BODY_MAX_DEPTH);
	body_ok(deep);
	free(deep);
	deep = nested_groups(HTTP_BODY_MAX_DEPTH + 1);
	body_refused(deep, "Regular expression too deep (groups nested over 32 levels)");
	free(deep);
	/* regcomp overflowed the stack on these; now they are not compiled. */
	assert_finishes(refuse_deep_groups, nested_groups(100000), 20,
			"refusing 100,000 nested groups");

	/* What regcomp says stays what it says. */
	body_refused("a(b", "Unmatched ( or \\(");
	body_refused("a{1", "Unmatched \\{");
}

/* ---- excerpts ---- */

static void excerpt_is(const char *body, size_t len, bool truncated, size_t max, const char *want)
{
	struct buf b = BUF_INIT;
	http_excerpt(body, len, truncated, max, &b);
	assert_string_equal(b.s, want);
	buf_release(&b);
}

static void test_excerpt(void **state)
{
	(void)state;
	excerpt_is("starting", 8, false, 200, "starting");
	excerpt_is("", 0, false, 200, "");
	excerpt_is("a\nb\tc\rd\"e\\f", 11, false, 200, "a\\nb\\tc\\rd\\\"e\\\\f");
	excerpt_is("\x01\x7f", 2, false, 200, "\\x01\\x7f");
	excerpt_is("nul\0byte", 8, false, 200, "nul\\x00byte");
	/* UTF-8 is kept; bytes that are not UTF-8 are escaped. */
	excerpt_is("caf\xc3\xa9", 5, false, 200, "caf\xc3\xa9");
	excerpt_is("\xff\xfe", 2, false, 200, "\\xff\\xfe");
	excerpt_is("\xc3", 1, false, 200, "\\xc3");           /* cut short */
	excerpt_is("\xc0\xaf", 2, false, 200, "\\xc0\\xaf");   /* overlong */
	excerpt_is("\xed\xa0\x80", 3, false, 200, "\\xed\\xa0\\x80"); /* a surrogate */
	/* Longer than `max`: cut, with "...", never inside a character. */
	excerpt_is("abcdef", 6, false, 3, "abc...");
	excerpt_is("ab\xc3\xa9z", 5, false, 3, "ab\xc3\xa9...");
	excerpt_is("abc", 3, true, 200, "abc...");
	char big[300];
	memset(big, 'x', sizeof(big));
	struct buf b = BUF_INIT;
	http_excerpt(big, sizeof(big), false, 200, &b);
	assert_int_equal(b.len, 203);
	buf_release(&b);
}

static void noproxy_is(const char *env, const char *want)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "old contents");
	http_noproxy(env, &b);
	assert_string_equal(b.s, want);
	buf_release(&b);
}

/* Loopback hosts never go through a proxy; the variable's hosts still don't. */
static void test_noproxy(void **state)
{
	(void)state;
	noproxy_is(NULL, "localhost,127.0.0.1,127.0.0.0/8,::1");
	noproxy_is("", "localhost,127.0.0.1,127.0.0.0/8,::1");
	noproxy_is("example.com,.corp", "example.com,.corp,localhost,127.0.0.1,127.0.0.0/8,::1");
	noproxy_is("*", "*");
	noproxy_is(" ,*", "*");
}

/* ---- no-progress limit and pacing ---- */

/* A quarter of request-timeout, rounded up to whole seconds, at least 1 s. */
static void test_stall_ms(void **state)
{
	(void)state;
	assert_int_equal(http_stall_ms(10000), 3000); /* the default: 2.5 s -> 3 s */
	assert_int_equal(http_stall_ms(4000), 1000);
	assert_int_equal(http_stall_ms(4001), 2000);
	assert_int_equal(http_stall_ms(12000), 3000);
	assert_int_equal(http_stall_ms(60000), 15000);
	assert_int_equal(http_stall_ms(300), 1000);
	assert_int_equal(http_stall_ms(1), 1000);
}

/* At most 10 ms, interval / n and within / 2n, in microseconds. */
static void test_pace_gap(void **state)
{
	(void)state;
	assert_int_equal(http_pace_gap_us(1, 2000, 60000), 10000);
	assert_int_equal(http_pace_gap_us(0, 2000, 60000), 10000);
	assert_int_equal(http_pace_gap_us(100, 2000, 60000), 10000);
	assert_int_equal(http_pace_gap_us(300, 2000, 60000), 6666);   /* 300 over the 2 s interval */
	assert_int_equal(http_pace_gap_us(10000, 2000, 60000), 200);
	assert_int_equal(http_pace_gap_us(10, 50, 60000), 5000);      /* interval 50ms */
	assert_int_equal(http_pace_gap_us(100, 10000, 1000), 5000);   /* half of within 1 s */
	assert_int_equal(http_pace_gap_us(1000000, 1, 1), 0);
}

/*
 * Requests due together go out one gap apart, each its own gap after the
 * one before; one due later than that goes at once.
 */
static void test_pacer(void **state)
{
	(void)state;
	struct http_pacer p = HTTP_PACER_INIT;
	assert_int_equal(http_pacer_take(&p, 1000, 6666), 0);
	assert_int_equal(http_pacer_take(&p, 1000, 6666), 7);   /* 6.666 ms, rounded up */
	assert_int_equal(http_pacer_take(&p, 1000, 6666), 14);  /* 13.332 ms */
	assert_int_equal(http_pacer_take(&p, 1005, 10000), 19); /* 1023.332 ms */
	assert_int_equal(http_pacer_take(&p, 1030, 10000), 4);  /* 1033.332 ms */
	assert_int_equal(http_pacer_take(&p, 1050, 10000), 0);  /* 1043.332 is past */
	assert_int_equal(http_pacer_take(&p, 1050, 10000), 10);
	assert_int_equal(http_pacer_take(&p, 5000, 10000), 0);
	/* A gap of 0 paces nothing. */
	struct http_pacer q = HTTP_PACER_INIT;
	for (int i = 0; i < 3; i++)
		assert_int_equal(http_pacer_take(&q, 7, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_parse),
		cmocka_unit_test(test_status_format_and_match),
		cmocka_unit_test(test_url_check),
		cmocka_unit_test(test_load_short_form_defaults),
		cmocka_unit_test(test_load_mapping),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_expand_errors),
		cmocka_unit_test(test_expand_body_errors),
		cmocka_unit_test(test_body_bounds),
		cmocka_unit_test(test_excerpt),
		cmocka_unit_test(test_noproxy),
		cmocka_unit_test(test_stall_ms),
		cmocka_unit_test(test_pace_gap),
		cmocka_unit_test(test_pacer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
