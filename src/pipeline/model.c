#include "pipeline/model.h"

#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"

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

bool step_kind_is_process(enum step_kind k)
{
	return k == STEP_RUN || k == STEP_K8S_ROLLING || k == STEP_K8S_ROLLBACK;
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

/* A status: three digits, 100 to 599. */
static bool parse_status(const char *s, size_t n, int *out)
{
	if (n != 3)
		return false;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 100 || v > 599)
		return false;
	*out = v;
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
	if (hlen && host[0] != '[') {
		const char *colon = memchr(host, ':', hlen);
		if (colon)
			hlen = (size_t)(colon - host);
	}
	if (!hlen) {
		*why = "the url has no host";
		return -1;
	}
	return 0;
}

bool http_body_regex_error(const char *re, char *msg, size_t size)
{
	regex_t rx;
	int rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
	if (!rc) {
		regfree(&rx);
		return false;
	}
	regerror(rc, &rx, msg, size);
	return true;
}
