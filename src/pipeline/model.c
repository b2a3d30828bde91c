#include "pipeline/model.h"

#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/num.h"

const char *step_default_run_name(struct arena *a, const char *run)
{
	while (*run == ' ' || *run == '\t' || *run == '\n')
		run++;
	size_t len = strcspn(run, "\n");
	while (len && (run[len - 1] == ' ' || run[len - 1] == '\t' || run[len - 1] == '\r'))
		len--;
	if (!len)
		return "run";
	if (len > 60) {
		/* Cut at 57 bytes without splitting a UTF-8 character. */
		size_t cut = 57;
		while (cut && ((unsigned char)run[cut] & 0xC0) == 0x80)
			cut--;
		return arena_printf(a, "%.*s...", (int)cut, run);
	}
	return arena_strndup(a, run, len);
}

const char *step_default_http_name(struct arena *a, const char *url)
{
	return step_default_run_name(a, arena_printf(a, "http-check %s", url));
}

const char *step_default_k8s_name(struct arena *a, const char *const *manifests, size_t n)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "k8s-rolling");
	for (size_t i = 0; i < n; i++)
		buf_addf(&b, "%s%s", i ? ", " : " ", manifests[i]);
	const char *name = step_default_run_name(a, b.s);
	buf_release(&b);
	return name;
}

bool name_is_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return false;
	return true;
}

bool kube_namespace_is_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= '0' && *s <= '9') && *s != '-')
			return false;
	return true;
}

const char *step_kind_name(enum step_kind k)
{
	switch (k) {
	case STEP_RUN: return "run";
	case STEP_BARRIER: return "barrier";
	case STEP_WAIT: return "wait";
	case STEP_HTTP_CHECK: return "http-check";
	case STEP_K8S_ROLLING: return "k8s-rolling";
	case STEP_K8S_ROLLBACK: return "k8s-rollback";
	case STEP_KIND_COUNT: break;
	}
	return "unknown";
}

bool step_kind_parse(const char *name, enum step_kind *out)
{
	for (int k = 0; name && k < STEP_KIND_COUNT; k++) {
		if (!strcmp(name, step_kind_name((enum step_kind)k))) {
			*out = (enum step_kind)k;
			return true;
		}
	}
	return false;
}

const char *on_failure_name(enum on_failure f)
{
	switch (f) {
	case ON_FAILURE_ROLLBACK: return "rollback";
	case ON_FAILURE_STOP: return "stop";
	case ON_FAILURE_IGNORE: return "ignore";
	case ON_FAILURE_ROLLBACK_ALL: return "rollback-all";
	}
	return "unknown";
}

/* ---- http-check ---- */

/* A status: three digits, 100 to 599, as HTTP writes it ("0200" is not one). */
static bool parse_status(const char *s, size_t n, int *out)
{
	uint64_t v;
	if (n != 3 || num_parse_range(s, n, 100, 599, &v, NULL) < 0)
		return false;
	*out = (int)v;
	return true;
}

int http_status_parse(const char *s, struct status_range *out, const char **why)
{
	const char *dots = strstr(s, "..");
	if (!dots) {
		if (!parse_status(s, strlen(s), &out->lo)) {
			*why = "a status is a number from 100 to 599";
			return -1;
		}
		out->hi = out->lo;
		return 0;
	}
	if (!parse_status(s, (size_t)(dots - s), &out->lo) ||
	    !parse_status(dots + 2, strlen(dots + 2), &out->hi)) {
		*why = "a range is two statuses from 100 to 599 joined by '..', like 200..399";
		return -1;
	}
	if (out->lo > out->hi) {
		*why = "the range is empty: its first status is above its last";
		return -1;
	}
	return 0;
}

void http_status_format(const struct status_range *v, size_t n, struct buf *b)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_adds(b, ", ");
		if (v[i].lo == v[i].hi)
			buf_addf(b, "%d", v[i].lo);
		else
			buf_addf(b, "%d..%d", v[i].lo, v[i].hi);
	}
}

bool http_status_matches(const struct status_range *v, size_t n, long status)
{
	for (size_t i = 0; i < n; i++)
		if (status >= v[i].lo && status <= v[i].hi)
			return true;
	return false;
}

int http_url_check(const char *url, const char **why)
{
	const char *rest;
	if (!strncasecmp(url, "http://", 7))
		rest = url + 7;
	else if (!strncasecmp(url, "https://", 8))
		rest = url + 8;
	else {
		*why = "only http:// and https:// urls can be checked";
		return -1;
	}
	for (const char *c = url; *c; c++) {
		if ((unsigned char)*c <= 0x20 || *c == 0x7f) {
			*why = "a url cannot contain spaces or control characters (write a space as %20)";
			return -1;
		}
	}
	/* The authority: up to the first '/', '?' or '#'; its host part is
	 * what follows any "user@" and precedes any ":port". */
	size_t alen = strcspn(rest, "/?#");
	const char *host = rest;
	const char *at = memrchr(rest, '@', alen);
	if (at)
		host = at + 1;
	size_t hlen = (size_t)(rest + alen - host);
	const char *port = NULL;
	if (hlen && host[0] == '[') {
		/* An IPv6 address: [::1] or [::1]:8080. */
		const char *close = memchr(host, ']', hlen);
		if (!close) {
			*why = "the url's IPv6 host has no closing ']'";
			return -1;
		}
		size_t after = hlen - (size_t)(close + 1 - host);
		if (after && close[1] != ':') {
			*why = "only :PORT may follow the url's IPv6 host";
			return -1;
		}
		port = after ? close + 1 : NULL;
		hlen = (size_t)(close + 1 - host);
	} else if (hlen) {
		port = memchr(host, ':', hlen);
		if (port)
			hlen = (size_t)(port - host);
	}
	if (!hlen || (host[0] == '[' && hlen == 2)) {
		*why = "the url has no host";
		return -1;
	}
	/* libcurl would take anything here and fail only when the step runs. */
	uint64_t pnum;
	if (port && num_parse_range(port + 1, (size_t)(rest + alen - port - 1), 1, 65535, &pnum,
				    NULL) < 0) {
		*why = "the port must be a number from 1 to 65535";
		return -1;
	}
	return 0;
}

/*
 * Where the bracket expression that opens at `p` ("[") ends: past its "]",
 * or at the NUL when it is not closed (regcomp reports that). A "]" first
 * in the list, or inside [:class:], [=equiv=] or [.coll.], does not close it.
 */
static const char *bracket_end(const char *p)
{
	p++;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;
	while (*p && *p != ']') {
		if (p[0] == '[' && (p[1] == ':' || p[1] == '=' || p[1] == '.')) {
			char kind = p[1];
			p += 2;
			while (*p && !(p[0] == kind && p[1] == ']'))
				p++;
			if (!*p)
				return p;
			p += 2;
		} else {
			p++;
		}
	}
	return *p ? p + 1 : p;
}

/*
 * Parses the interval that opens at `p` ("{"): {n}, {m,}, {m,n} or {,n}.
 * Returns where it ends and sets `*copies` to how many times it repeats
 * its piece, at least 1 and at most HTTP_BODY_MAX_ELEMENTS + 1; NULL when
 * the "{" does not open an interval (regcomp decides what it is).
 */
static const char *interval_end(const char *p, size_t *copies)
{
	size_t lo = 0, hi = 0;
	bool has_lo = false, comma = false, has_hi = false;
	p++;
	for (; isdigit((unsigned char)*p); p++, has_lo = true)
		if (lo <= HTTP_BODY_MAX_ELEMENTS)
			lo = lo * 10 + (size_t)(*p - '0');
	if (*p == ',') {
		comma = true;
		for (p++; isdigit((unsigned char)*p); p++, has_hi = true)
			if (hi <= HTTP_BODY_MAX_ELEMENTS)
				hi = hi * 10 + (size_t)(*p - '0');
	}
	if (*p != '}' || (!has_lo && !comma))
		return NULL;
	/* {m,} is m copies then a starred one. */
	size_t n = has_hi ? (hi > lo ? hi : lo) : comma ? lo + 1 : lo;
	if (n < 1)
		n = 1;
	*copies = n > HTTP_BODY_MAX_ELEMENTS ? HTTP_BODY_MAX_ELEMENTS + 1 : n;
	return p + 1;
}

/* Says that the pattern is over HTTP_BODY_MAX_ELEMENTS; returns true. */
static bool too_big(char *msg, size_t size)
{
	snprintf(msg, size,
		 "Regular expression too big (over %d elements once its {n,m} repetitions are written out)",
		 HTTP_BODY_MAX_ELEMENTS);
	return true;
}

/*
 * Checks `re` against HTTP_BODY_MAX_DEPTH and HTTP_BODY_MAX_ELEMENTS
 * without recursion. Each open group has a frame: the elements counted in
 * it so far, and those of its last piece, which an interval multiplies.
 * A frame's count only grows, and every count is checked against the
 * bound as soon as it changes, so none exceeds (bound + 1)^2.
 */
static bool body_regex_too_big(const char *re, size_t *elements, char *msg, size_t size)
{
	struct {
		size_t total, last;
	} f[HTTP_BODY_MAX_DEPTH + 1] = { { 0, 0 } };
	size_t depth = 0;
	const char *p = re;
	while (*p) {
		size_t piece = 1; /* elements of the piece that starts at p */
		switch (*p) {
		case '\\':
			p += p[1] ? 2 : 1;
			break;
		case '[':
			p = bracket_end(p);
			break;
		case '(':
			if (depth == HTTP_BODY_MAX_DEPTH) {
				snprintf(msg, size, "Regular expression too deep (groups nested over %d levels)",
					 HTTP_BODY_MAX_DEPTH);
				return true;
			}
			depth++;
			f[depth].total = 1; /* the group itself */
			f[depth].last = 0;
			p++;
			continue;
		case ')':
			p++;
			if (!depth)
				break; /* a plain ')' */
			piece = f[depth--].total;
			break;
		case '|':
			f[depth].total++;
			f[depth].last = 0;
			p++;
			continue;
		case '*':
		case '+':
		case '?':
			/* Part of the piece before: a{2}+{3} repeats a{2}+. */
			f[depth].total++;
			f[depth].last++;
			p++;
			continue;
		case '{': {
			size_t copies;
			const char *end = interval_end(p, &copies);
			if (!end) {
				p++;
				break; /* a plain '{' */
			}
			f[depth].total += f[depth].last * (copies - 1);
			f[depth].last *= copies;
			if (f[depth].total > HTTP_BODY_MAX_ELEMENTS)
				return too_big(msg, size);
			p = end;
			continue;
		}
		default:
			p++;
			break;
		}
		f[depth].total += piece;
		f[depth].last = piece;
		if (f[depth].total > HTTP_BODY_MAX_ELEMENTS)
			return too_big(msg, size);
	}
	/* Groups left open: regcomp reports them; count them all the same. */
	while (depth) {
		size_t inner = f[depth--].total;
		f[depth].total += inner;
	}
	*elements = f[0].total;
	return f[0].total > HTTP_BODY_MAX_ELEMENTS ? too_big(msg, size) : false;
}

bool http_body_regex_error(const char *re, char *msg, size_t size)
{
	size_t elements;
	return http_body_regex_error_size(re, &elements, msg, size);
}

bool http_body_regex_error_size(const char *re, size_t *elements, char *msg, size_t size)
{
	*elements = 0;
	if (body_regex_too_big(re, elements, msg, size))
		return true;
	regex_t rx;
	int rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
	if (!rc) {
		regfree(&rx);
		return false;
	}
	regerror(rc, &rx, msg, size);
	return true;
}
