#include "pipeline/load.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/duration.h"
#include "base/fsio.h"
#include "base/map.h"
#include "base/suggest.h"
#include "base/xalloc.h"
#include "pipeline/expr.h"
#include "pipeline/yaml.h"

#define MAX_RETRIES 100

/*
 * What ${{ }} may name in environments (docs/pipeline-format.md,
 * Environments). An environment is declared once and shared by every
 * workflow that runs in it, so its fields cannot depend on one instance:
 * vars and the pipeline name only, plus the run id in env values (which
 * are substituted when a step starts, like every env value). Where an
 * environment is chosen (environment: NAME), every name known before the
 * run may be used, as in barrier ids.
 */
#define ENVIRONMENT_EXPRS (EXPR_VARS | EXPR_PIPELINE)
#define ENVIRONMENT_ENV_EXPRS (EXPR_VARS | EXPR_PIPELINE | EXPR_RUN)
#define ENVIRONMENT_USE_EXPRS (EXPR_ALL & ~EXPR_RUN)

struct loader {
	const char *file;
	struct diag *d;
	struct pipeline *p;
	struct arena *a;
	struct map vars;       /* var name -> index, for expression checks */
	struct map workflows;  /* workflow name -> index */
	struct map environments; /* environment name -> index */
};

static void verr(struct loader *L, enum diag_severity sev, int line, int col, const char *fmt,
		 va_list ap) __attribute__((format(printf, 5, 0)));
static void verr(struct loader *L, enum diag_severity sev, int line, int col, const char *fmt,
		 va_list ap)
{
	diag_vadd(L->d, sev, L->file, line, col, fmt, ap);
}

static void err(struct loader *L, const struct ynode *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void err(struct loader *L, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(L, DIAG_ERROR, n ? n->line : 0, n ? n->col : 0, fmt, ap);
	va_end(ap);
}

static void err_at(struct loader *L, struct pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void err_at(struct loader *L, struct pos pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(L, DIAG_ERROR, pos.line, pos.col, fmt, ap);
	va_end(ap);
}

static void warn_at(struct loader *L, struct pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void warn_at(struct loader *L, struct pos pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(L, DIAG_WARNING, pos.line, pos.col, fmt, ap);
	va_end(ap);
}

static struct pos pos_of(const struct ynode *n)
{
	struct pos p = { n ? n->line : 0, n ? n->col : 0 };
	return p;
}

static bool single_line_plain(const struct ynode *n)
{
	return n->kind == YNODE_SCALAR && n->plain && !memchr(n->str, '\n', n->len);
}

/* ---- names ---- */

static bool is_key_name(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return false;
	for (s++; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

static bool is_env_name(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return false;
	for (s++; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

static bool is_step_id(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !isdigit((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

/* ---- typed values ---- */

/* Every key a mapping may have must be in `allowed`; reports the others. */
static void check_keys(struct loader *L, const struct ynode *map, const char *const *allowed,
		       size_t nallowed, const char *where)
{
	for (size_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->keys[i];
		if (k->kind != YNODE_SCALAR)
			continue; /* reported by the YAML layer */
		bool ok = false;
		for (size_t j = 0; j < nallowed && !ok; j++)
			ok = strcmp(k->str, allowed[j]) == 0;
		if (ok)
			continue;
		if (strcmp(k->str, "<<") == 0) {
			err(L, k, "YAML merge keys (<<) are not supported; repeat the keys instead");
			continue;
		}
		const char *s = suggest_closest(k->str, allowed, nallowed);
		if (s)
			err(L, k, "unknown key '%s' in %s; did you mean '%s'?", k->str, where, s);
		else
			err(L, k, "unknown key '%s' in %s", k->str, where);
	}
}

/* A string value: any scalar but null, taken as written. */
static const char *get_str(struct loader *L, const struct ynode *n, const char *what)
{
	if (n->kind != YNODE_SCALAR || ynode_is_null(n)) {
		err(L, n, "%s must be a string, not %s", what, ynode_kind_name(n));
		return NULL;
	}
	return n->str;
}

static bool get_bool(struct loader *L, const struct ynode *n, const char *what, bool *out)
{
	if (n->kind == YNODE_SCALAR && n->plain) {
		const char *s = n->str;
		/* Only the lowercase spellings: one way to write it, as documented. */
		if (!strcmp(s, "true")) {
			*out = true;
			return true;
		}
		if (!strcmp(s, "false")) {
			*out = false;
			return true;
		}
	}
	if (n->kind == YNODE_SCALAR)
		err(L, n, "%s must be true or false, not '%s'", what, n->str);
	else
		err(L, n, "%s must be true or false, not %s", what, ynode_kind_name(n));
	return false;
}

static bool get_int(struct loader *L, const struct ynode *n, const char *what, long max, int *out)
{
	if (n->kind == YNODE_SCALAR && n->plain && n->len && n->len <= 9) {
		bool digits = true;
		for (size_t i = 0; i < n->len; i++)
			digits = digits && isdigit((unsigned char)n->str[i]);
		if (digits) {
			long v = strtol(n->str, NULL, 10);
			if (v <= max) {
				*out = (int)v;
				return true;
			}
			err(L, n, "%s must be at most %ld, not %ld", what, max, v);
			return false;
		}
	}
	if (n->kind == YNODE_SCALAR)
		err(L, n, "%s must be a whole number from 0 to %ld, not '%s'", what, max, n->str);
	else
		err(L, n, "%s must be a whole number, not %s", what, ynode_kind_name(n));
	return false;
}

static bool get_duration(struct loader *L, const struct ynode *n, const char *what, bool positive,
			 uint64_t *out)
{
	if (n->kind != YNODE_SCALAR || ynode_is_null(n)) {
		err(L, n, "%s must be a duration like 30s, 10m or 1h30m, not %s", what,
		    ynode_kind_name(n));
		return false;
	}
	const char *why;
	if (duration_parse(n->str, out, &why) < 0) {
		err(L, n, "bad duration '%s' for %s: %s (examples: 250ms, 30s, 10m, 1h30m)", n->str,
		    what, why);
		return false;
	}
	if (positive && *out == 0) {
		err(L, n, "%s must be greater than 0", what);
		return false;
	}
	return true;
}

static bool expect_kind(struct loader *L, const struct ynode *n, enum ynode_kind kind,
			const char *what)
{
	if (n->kind == kind)
		return true;
	const char *want = kind == YNODE_MAP ? "a mapping" : kind == YNODE_SEQ ? "a list" : "a string";
	err(L, n, "%s must be %s, not %s", what, want, ynode_kind_name(n));
	return false;
}

/* ---- expressions ---- */

struct expr_check_ctx {
	struct loader *L;
	const struct ynode *n;
	unsigned allowed;
	const char *where;
	bool ok;
};

/* The position of an expression: a walk through the file, so only on error. */
static struct pos expr_pos(struct loader *L, const struct ynode *n, size_t offset)
{
	/* Past the diagnostics that are kept, the position is never shown. */
	if (diag_full(L->d))
		return pos_of(n);
	return pipeline_text_pos(L->p, pos_of(n), n->str, offset);
}

static int expr_check_cb(const struct expr_ref *ref, void *arg)
{
	struct expr_check_ctx *c = arg;
	struct loader *L = c->L;
	if (!(ref->root & c->allowed)) {
		if (ref->root == EXPR_RUN)
			err_at(L, expr_pos(L, c->n, ref->offset), "${{ run.id }} is not allowed in %s: its value is known only when the run starts",
			       c->where);
		else
			err_at(L, expr_pos(L, c->n, ref->offset), "%s.* is not available in %s", expr_root_name(ref->root), c->where);
		c->ok = false;
		return 0;
	}
	if (ref->root == EXPR_VARS) {
		char *key = xstrndup(ref->key, ref->keylen);
		if (!map_find(&L->vars, key, NULL)) {
			const struct kvlist *vars = &L->p->vars;
			const char **names = xmalloc((vars->n + 1) * sizeof(*names));
			for (size_t i = 0; i < vars->n; i++)
				names[i] = vars->v[i].key;
			const char *s = suggest_closest(key, names, vars->n);
			if (s)
				err_at(L, expr_pos(L, c->n, ref->offset), "unknown var '%s'; did you mean '%s'?", key, s);
			else
				err_at(L, expr_pos(L, c->n, ref->offset), "unknown var '%s' (declare it under vars:)", key);
			free(names);
			c->ok = false;
		}
		free(key);
	}
	return 0;
}

/*
 * Checks the syntax of every ${{ }} in scalar `n` and that each root is
 * allowed here; inputs and matrix keys are checked during expansion, where
 * the stage entry that gives them is known.
 */
static bool check_exprs(struct loader *L, const struct ynode *n, unsigned allowed, const char *where)
{
	if (n->kind != YNODE_SCALAR || !expr_has(n->str))
		return true;
	struct expr_check_ctx c = { L, n, allowed, where, true };
	struct buf e = BUF_INIT;
	size_t off = 0;
	if (expr_scan(n->str, expr_check_cb, &c, &e, &off) < 0) {
		err_at(L, expr_pos(L, n, off), "%s", e.s);
		c.ok = false;
	}
	buf_release(&e);
	return c.ok;
}

static bool no_exprs(struct loader *L, const struct ynode *n, const char *where)
{
	if (n->kind == YNODE_SCALAR && expr_has(n->str)) {
		err(L, n, "expressions are not allowed in %s", where);
		return false;
	}
	return true;
}

/* ---- string maps ---- */

/* KV_ENVIRONMENT: the env of a declared environment, shared by every
 * workflow that runs in it, so nothing per instance (matrix, inputs). */
enum kv_rule { KV_VARS, KV_ENV, KV_WITH, KV_ENVIRONMENT };

static void load_kvlist(struct loader *L, const struct ynode *n, enum kv_rule rule,
			const char *what, struct kvlist *out)
{
	if (ynode_is_null(n))
		return;
	if (!expect_kind(L, n, YNODE_MAP, what))
		return;
	out->v = arena_array(L->a, n->n, sizeof(*out->v));
	out->n = 0;
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->keys[i], *v = n->vals[i];
		if (k->kind != YNODE_SCALAR)
			continue;
		bool ok = true;
		if (rule == KV_ENV || rule == KV_ENVIRONMENT) {
			if (!is_env_name(k->str)) {
				err(L, k, "bad environment variable name '%s' in %s: use letters, digits and _, not starting with a digit",
				    k->str, what);
				ok = false;
			} else if (!strncmp(k->str, "LOCKSTEP_", 9)) {
				err(L, k, "environment variable '%s' in %s: names starting with LOCKSTEP_ are reserved for lockstep",
				    k->str, what);
				ok = false;
			}
		} else if (!is_key_name(k->str)) {
			err(L, k, "bad name '%s' in %s: use letters, digits, _ and -, starting with a letter or _",
			    k->str, what);
			ok = false;
		}
		const char *val;
		if (v->kind == YNODE_SCALAR && ynode_is_null(v))
			val = "";
		else
			val = get_str(L, v, "a value here");
		if (!val)
			continue;
		if (rule == KV_VARS)
			ok = no_exprs(L, v, "vars values") && ok;
		else if (rule == KV_WITH)
			ok = check_exprs(L, v, EXPR_VARS | EXPR_PIPELINE, "stage inputs (with:)") && ok;
		else if (rule == KV_ENVIRONMENT)
			ok = check_exprs(L, v, ENVIRONMENT_ENV_EXPRS, what) && ok;
		else
			ok = check_exprs(L, v, EXPR_ALL, what) && ok;
		if (!ok)
			continue;
		struct kv *kv = &out->v[out->n++];
		kv->key = k->str;
		kv->val = val;
		kv->key_pos = pos_of(k);
		kv->val_pos = pos_of(v);
		kv->val_plain_single_line = single_line_plain(v);
	}
}

static int on_failure_parse(const char *s, enum on_failure *out)
{
	static const struct { const char *name; enum on_failure v; } t[] = {
		{ "rollback", ON_FAILURE_ROLLBACK }, { "stop", ON_FAILURE_STOP },
		{ "ignore", ON_FAILURE_IGNORE }, { "rollback-all", ON_FAILURE_ROLLBACK_ALL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (!strcmp(s, t[i].name)) {
			*out = t[i].v;
			return 0;
		}
	}
	return -1;
}

static bool load_on_failure(struct loader *L, const struct ynode *n, bool pipeline,
			    enum on_failure *out)
{
	const char *s = get_str(L, n, "on-failure");
	if (!s)
		return false;
	enum on_failure v;
	if (on_failure_parse(s, &v) == 0 &&
	    (pipeline ? (v == ON_FAILURE_STOP || v == ON_FAILURE_ROLLBACK_ALL)
		      : v != ON_FAILURE_ROLLBACK_ALL)) {
		*out = v;
		return true;
	}
	static const char *const pl[] = { "stop", "rollback-all" };
	static const char *const wf[] = { "rollback", "stop", "ignore" };
	const char *sug = pipeline ? suggest_closest(s, pl, 2) : suggest_closest(s, wf, 3);
	if (sug)
		err(L, n, "bad on-failure '%s': expected %s; did you mean '%s'?", s,
		    pipeline ? "stop or rollback-all" : "rollback, stop or ignore", sug);
	else
		err(L, n, "bad on-failure '%s': expected %s", s,
		    pipeline ? "stop or rollback-all" : "rollback, stop or ignore");
	return false;
}

/* ---- steps ---- */

static const char *const step_keys[] = {
	"run", "barrier", "wait", "http-check", "k8s-rolling", "k8s-rollback", "name", "id",
	"timeout", "retries", "retry-delay", "continue-on-error", "env", "dir", "shell",
};
/* In the order of enum step_kind. */
static const char *const kind_keys[] = {
	"run", "barrier", "wait", "http-check", "k8s-rolling", "k8s-rollback",
};
#define NKINDS (sizeof(kind_keys) / sizeof(kind_keys[0]))
/* Step kinds that are specified but not implemented yet. */
static const char *const later_kinds[] = { "approval" };

/* ---- http-check ---- */

static const char *const http_keys[] = {
	"url", "expect-status", "expect-body", "interval", "within", "request-timeout", "headers",
};
static const struct status_range default_status[] = { { 200, 399 } };

/* A header name is a token (RFC 9110): no separators, no spaces. */
static bool is_header_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
			return false;
	return true;
}

static bool load_http_url(struct loader *L, const struct ynode *v, struct http_check *h)
{
	h->url = get_str(L, v, "url");
	if (!h->url)
		return false;
	h->url_pos = pos_of(v);
	h->url_plain_single_line = single_line_plain(v);
	if (!check_exprs(L, v, EXPR_ALL, "http-check urls"))
		return false;
	const char *why;
	if (!expr_has(h->url)) {
		if (http_url_check(h->url, &why) < 0) {
			err(L, v, "bad url '%s': %s", h->url, why);
			return false;
		}
		return true;
	}
	/* The rest is checked once the expressions are known (expand.c); a
	 * written scheme can be checked now. */
	size_t lit = (size_t)(strstr(h->url, "${{") - h->url);
	if (lit && strncasecmp(h->url, "http://", lit < 7 ? lit : 7) &&
	    strncasecmp(h->url, "https://", lit < 8 ? lit : 8)) {
		err(L, v, "bad url '%s': only http:// and https:// urls can be checked", h->url);
		return false;
	}
	return true;
}

static bool load_http_status(struct loader *L, const struct ynode *v, struct http_check *h)
{
	const struct ynode *const *items = &v;
	size_t n = 1;
	if (v->kind == YNODE_SEQ) {
		items = (const struct ynode *const *)v->vals;
		n = v->n;
		if (!n) {
			err(L, v, "expect-status must not be empty (leave it out for 200..399)");
			return false;
		}
		if (n > HTTP_MAX_STATUS_RANGES) {
			err(L, v, "expect-status has %zu items; at most %d", n, HTTP_MAX_STATUS_RANGES);
			return false;
		}
	}
	struct status_range *r = arena_array(L->a, n, sizeof(*r));
	bool ok = true;
	for (size_t i = 0; i < n; i++) {
		const struct ynode *x = items[i];
		const char *why;
		if (x->kind != YNODE_SCALAR || ynode_is_null(x)) {
			err(L, x, "expect-status must be a status, a range like 200..399, or a list of those, not %s",
			    ynode_kind_name(x));
			ok = false;
		} else if (http_status_parse(x->str, &r[i], &why) < 0) {
			err(L, x, "bad expect-status '%s': %s", x->str, why);
			ok = false;
		}
	}
	if (ok) {
		h->status = r;
		h->nstatus = n;
	}
	return ok;
}

static bool load_http_body(struct loader *L, const struct ynode *v, struct http_check *h)
{
	const char *re = get_str(L, v, "expect-body");
	if (!re || !no_exprs(L, v, "expect-body"))
		return false;
	if (!*re) {
		err(L, v, "expect-body must not be empty (leave it out to accept any body)");
		return false;
	}
	/* Compiled here so that `check` finds a bad pattern; the engine
	 * compiles it again for each check (a regex_t is not kept in the
	 * plan's arena). */
	regex_t rx;
	int rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
	if (rc) {
		char msg[128];
		regerror(rc, &rx, msg, sizeof(msg));
		err(L, v, "bad expect-body regex '%s': %s (a POSIX extended regex)", re, msg);
		return false;
	}
	regfree(&rx);
	h->expect_body = re;
	return true;
}

static bool load_http_headers(struct loader *L, const struct ynode *n, struct http_check *h)
{
	if (ynode_is_null(n))
		return true;
	if (!expect_kind(L, n, YNODE_MAP, "headers"))
		return false;
	bool all = true;
	h->headers.v = arena_array(L->a, n->n, sizeof(*h->headers.v));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->keys[i], *v = n->vals[i];
		if (k->kind != YNODE_SCALAR)
			continue;
		bool ok = true;
		if (!is_header_name(k->str)) {
			err(L, k, "bad header name '%s': use letters, digits and !#$%%&'*+-.^_`|~", k->str);
			ok = false;
		}
		const char *val = ynode_is_null(v) ? "" : get_str(L, v, "a header value");
		if (!val) {
			all = false;
			continue;
		}
		if (strpbrk(val, "\r\n")) {
			err(L, v, "header %s: a header value cannot contain a line break", k->str);
			ok = false;
		} else {
			ok = check_exprs(L, v, EXPR_ALL, "header values") && ok;
		}
		all = all && ok;
		if (!ok)
			continue;
		struct kv *kv = &h->headers.v[h->headers.n++];
		kv->key = k->str;
		kv->val = val;
		kv->key_pos = pos_of(k);
		kv->val_pos = pos_of(v);
		kv->val_plain_single_line = single_line_plain(v);
	}
	return all;
}

/* The value of `http-check:`: a url, or a mapping with url and the expectations. */
static bool load_http_check(struct loader *L, const struct ynode *v, struct step *st)
{
	struct http_check *h = arena_array(L->a, 1, sizeof(*h));
	h->status = default_status;
	h->nstatus = 1;
	h->interval_ms = HTTP_DEFAULT_INTERVAL_MS;
	h->within_ms = HTTP_DEFAULT_WITHIN_MS;
	h->request_timeout_ms = HTTP_DEFAULT_REQUEST_TIMEOUT_MS;
	st->http = h;
	if (v->kind == YNODE_SCALAR && !ynode_is_null(v))
		return load_http_url(L, v, h);
	if (v->kind != YNODE_MAP) {
		err(L, v, "http-check must be a url or a mapping with url:, not %s", ynode_kind_name(v));
		return false;
	}
	check_keys(L, v, http_keys, sizeof(http_keys) / sizeof(http_keys[0]), "an http-check");
	bool ok = true;
	const struct ynode *x;
	if ((x = ynode_get(v, "url")))
		ok = load_http_url(L, x, h) && ok;
	else {
		err(L, v, "http-check has no url (add url: http://...)");
		ok = false;
	}
	if ((x = ynode_get(v, "expect-status")))
		ok = load_http_status(L, x, h) && ok;
	if ((x = ynode_get(v, "expect-body")))
		ok = load_http_body(L, x, h) && ok;
	if ((x = ynode_get(v, "interval")))
		ok = get_duration(L, x, "interval", true, &h->interval_ms) && ok;
	if ((x = ynode_get(v, "within")))
		ok = get_duration(L, x, "within", true, &h->within_ms) && ok;
	if ((x = ynode_get(v, "request-timeout")))
		ok = get_duration(L, x, "request-timeout", true, &h->request_timeout_ms) && ok;
	if ((x = ynode_get(v, "headers")))
		ok = load_http_headers(L, x, h) && ok;
	return ok;
}

/* ---- k8s-rolling ---- */

static const char *const k8s_keys[] = { "manifests", "namespace", "context" };

/*
 * What ${{ }} may name in a k8s-rolling step's paths, namespace and
 * context: everything known before the run, so that `check` can find the
 * manifests and judge the namespace of every instance.
 */
#define K8S_EXPRS (EXPR_ALL & ~EXPR_RUN)

/* One manifest path: a non-empty string. */
static bool load_k8s_manifest(struct loader *L, const struct ynode *v, struct k8s_rolling *k)
{
	const char *s = get_str(L, v, "a manifest path");
	if (!s)
		return false;
	if (!*s) {
		err(L, v, "a manifest path must not be empty");
		return false;
	}
	if (!check_exprs(L, v, K8S_EXPRS, "manifest paths"))
		return false;
	k->manifest_pos[k->nmanifests] = pos_of(v);
	k->manifests[k->nmanifests++] = s;
	return true;
}

/* manifests: a path, or a non-empty list of paths. */
static bool load_k8s_manifests(struct loader *L, const struct ynode *v, struct k8s_rolling *k)
{
	const struct ynode *const *items = &v;
	size_t n = 1;
	if (v->kind == YNODE_SEQ) {
		items = (const struct ynode *const *)v->vals;
		n = v->n;
		if (!n) {
			err(L, v, "manifests must not be empty: give the files, directories or globs to apply");
			return false;
		}
		if (n > K8S_MAX_MANIFESTS) {
			err(L, v, "manifests has %zu items; at most %d", n, K8S_MAX_MANIFESTS);
			return false;
		}
	} else if (v->kind != YNODE_SCALAR || ynode_is_null(v)) {
		err(L, v, "manifests must be a path or a list of paths, not %s", ynode_kind_name(v));
		return false;
	}
	k->manifests = arena_array(L->a, n, sizeof(*k->manifests));
	k->manifest_pos = arena_array(L->a, n, sizeof(*k->manifest_pos));
	bool ok = true;
	for (size_t i = 0; i < n; i++)
		ok = load_k8s_manifest(L, items[i], k) && ok;
	return ok;
}

/* namespace: or context: of a k8s-rolling step: a non-empty string. */
static const char *load_k8s_where(struct loader *L, const struct ynode *v, const char *key,
				  struct pos *pos)
{
	*pos = pos_of(v);
	const char *s = get_str(L, v, key);
	if (!s)
		return NULL;
	if (!*s) {
		err(L, v, "%s must not be empty (leave the key out to use the environment's)", key);
		return NULL;
	}
	if (!check_exprs(L, v, K8S_EXPRS, !strcmp(key, "namespace") ? "namespaces" : "contexts"))
		return NULL;
	if (!strcmp(key, "namespace") && !expr_has(s) && !kube_namespace_is_valid(s)) {
		err(L, v, "bad Kubernetes namespace '%s': use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters",
		    s);
		return NULL;
	}
	return s;
}

/* The value of `k8s-rolling:`: manifests (a path or a list), or a mapping. */
static bool load_k8s_rolling(struct loader *L, const struct ynode *v, struct step *st)
{
	struct k8s_rolling *k = arena_array(L->a, 1, sizeof(*k));
	st->k8s = k;
	if (v->kind == YNODE_SEQ || (v->kind == YNODE_SCALAR && !ynode_is_null(v)))
		return load_k8s_manifests(L, v, k);
	if (v->kind != YNODE_MAP) {
		err(L, v, "k8s-rolling must be a manifest path, a list of them, or a mapping with manifests:, not %s",
		    ynode_kind_name(v));
		return false;
	}
	check_keys(L, v, k8s_keys, sizeof(k8s_keys) / sizeof(k8s_keys[0]), "a k8s-rolling step");
	bool ok = true;
	const struct ynode *x;
	if ((x = ynode_get(v, "manifests"))) {
		ok = load_k8s_manifests(L, x, k) && ok;
	} else {
		err(L, v, "k8s-rolling has no manifests (add manifests: with files, directories or globs)");
		ok = false;
	}
	if ((x = ynode_get(v, "namespace")))
		ok = (k->kube_namespace = load_k8s_where(L, x, "namespace", &k->namespace_pos)) && ok;
	if ((x = ynode_get(v, "context")))
		ok = (k->kube_context = load_k8s_where(L, x, "context", &k->context_pos)) && ok;
	return ok;
}

/*
 * The value of `k8s-rollback:`: nothing (or an empty mapping). It undoes
 * what the workflow's k8s-rolling steps recorded, so it has no settings.
 */
static bool load_k8s_rollback(struct loader *L, const struct ynode *key, const struct ynode *v,
			      bool rollback)
{
	bool ok = true;
	if (!ynode_is_null(v) && !(v->kind == YNODE_MAP && v->n == 0)) {
		if (v->kind == YNODE_MAP)
			check_keys(L, v, NULL, 0, "a k8s-rollback step");
		else
			err(L, v, "k8s-rollback takes no settings: leave its value empty (k8s-rollback:) or write {}");
		ok = false;
	}
	if (!rollback) {
		err(L, key, "k8s-rollback belongs in a rollback list: it undoes what the workflow's k8s-rolling steps did");
		ok = false;
	}
	return ok;
}

static bool load_step(struct loader *L, const struct ynode *n, size_t index, bool rollback,
		      const char *wfname, struct step *st)
{
	if (!expect_kind(L, n, YNODE_MAP, "a step"))
		return false;
	bool ok = true;
	/* Specified-but-later kinds get their own message, not "unknown key". */
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->keys[i];
		for (size_t j = 0; j < sizeof(later_kinds) / sizeof(later_kinds[0]); j++) {
			if (k->kind == YNODE_SCALAR && !strcmp(k->str, later_kinds[j])) {
				err(L, k, "step kind '%s' is not supported by this version of lockstep",
				    k->str);
				ok = false;
			}
		}
	}
	const char *allowed[sizeof(step_keys) / sizeof(step_keys[0]) + 4];
	size_t nallowed = 0;
	for (size_t i = 0; i < sizeof(step_keys) / sizeof(step_keys[0]); i++)
		allowed[nallowed++] = step_keys[i];
	for (size_t j = 0; j < sizeof(later_kinds) / sizeof(later_kinds[0]); j++)
		allowed[nallowed++] = later_kinds[j];
	check_keys(L, n, allowed, nallowed, "a step");

	st->pos = pos_of(n);
	st->retry_delay_ms = DEFAULT_RETRY_DELAY_MS;
	const struct ynode *kinds[NKINDS] = { 0 };
	size_t nkinds = 0;
	for (size_t i = 0; i < NKINDS; i++) {
		kinds[i] = ynode_get(n, kind_keys[i]);
		nkinds += kinds[i] != NULL;
	}
	/* A step without one clear kind is still checked key by key, so that
	 * its other problems are reported in the same pass. */
	if (nkinds == 0) {
		if (ok)
			err(L, n, "step has no kind: give it exactly one of run, barrier, wait, http-check, k8s-rolling or k8s-rollback");
		ok = false;
	}
	if (nkinds > 1) {
		struct buf b = BUF_INIT;
		for (size_t i = 0; i < NKINDS; i++) {
			if (!kinds[i])
				continue;
			if (b.len)
				buf_adds(&b, " and ");
			buf_adds(&b, kind_keys[i]);
		}
		err(L, n, "step has more than one kind (%s); a step does exactly one thing", b.s);
		buf_release(&b);
		ok = false;
	}
	if (nkinds == 0) {
		/* No kind-specific checks below can apply. */
	} else if (kinds[0]) {
		const struct ynode *v = kinds[0];
		st->kind = STEP_RUN;
		st->kind_pos = pos_of(v);
		st->run = get_str(L, v, "run");
		if (!st->run)
			ok = false;
		else if (!*st->run) {
			err(L, v, "run must not be empty");
			ok = false;
		} else {
			ok = check_exprs(L, v, EXPR_ALL, "run") && ok;
		}
		st->run_plain_single_line = single_line_plain(v);
	} else if (kinds[1]) {
		const struct ynode *v = kinds[1];
		st->kind = STEP_BARRIER;
		st->kind_pos = pos_of(v);
		st->barrier = get_str(L, v, "barrier");
		if (!st->barrier) {
			ok = false;
		} else if (!expr_has(st->barrier) && !name_is_valid(st->barrier)) {
			err(L, v, "bad barrier id '%s': use letters, digits, '.', '_' and '-'", st->barrier);
			ok = false;
		} else {
			ok = check_exprs(L, v, EXPR_ALL & ~EXPR_RUN, "barrier ids") && ok;
		}
		st->barrier_plain_single_line = single_line_plain(v);
	} else if (kinds[2]) {
		const struct ynode *v = kinds[2];
		st->kind = STEP_WAIT;
		st->kind_pos = pos_of(v);
		ok = get_duration(L, v, "wait", false, &st->wait_ms) && ok;
	} else if (kinds[3]) {
		const struct ynode *v = kinds[3];
		st->kind = STEP_HTTP_CHECK;
		st->kind_pos = pos_of(v);
		ok = load_http_check(L, v, st) && ok;
	} else if (kinds[4]) {
		const struct ynode *v = kinds[4];
		st->kind = STEP_K8S_ROLLING;
		st->kind_pos = pos_of(v);
		ok = load_k8s_rolling(L, v, st) && ok;
	} else {
		const struct ynode *v = kinds[5];
		st->kind = STEP_K8S_ROLLBACK;
		st->kind_pos = pos_of(v);
		const struct ynode *key = n;
		for (size_t i = 0; i < n->n; i++)
			if (n->keys[i]->kind == YNODE_SCALAR && !strcmp(n->keys[i]->str, "k8s-rollback"))
				key = n->keys[i];
		ok = load_k8s_rollback(L, key, v, rollback) && ok;
	}

	const struct ynode *v;
	if ((v = ynode_get(n, "name"))) {
		st->name = get_str(L, v, "name");
		st->name_explicit = st->name != NULL;
		st->name_pos = pos_of(v);
		if (st->name)
			ok = check_exprs(L, v, EXPR_ALL, "step names") && ok;
		else
			ok = false;
	}
	if ((v = ynode_get(n, "id"))) {
		st->id = get_str(L, v, "id");
		st->id_pos = pos_of(v);
		if (st->id && !is_step_id(st->id)) {
			err(L, v, "bad step id '%s': use lowercase letters, digits, '_' and '-'", st->id);
			ok = false;
		} else if (!st->id) {
			ok = false;
		}
		st->id_explicit = st->id != NULL;
	}
	if ((v = ynode_get(n, "timeout")))
		ok = get_duration(L, v, "timeout", true, &st->timeout_ms) && ok;
	if ((v = ynode_get(n, "retries"))) {
		ok = get_int(L, v, "retries", MAX_RETRIES, &st->retries) && ok;
		if (nkinds && st->kind == STEP_BARRIER) {
			err(L, v, "a barrier step cannot be retried: a workflow crosses a barrier once");
			ok = false;
		}
	}
	if ((v = ynode_get(n, "retry-delay"))) {
		ok = get_duration(L, v, "retry-delay", false, &st->retry_delay_ms) && ok;
		if (nkinds && st->kind == STEP_BARRIER) {
			err(L, v, "a barrier step cannot be retried: a workflow crosses a barrier once");
			ok = false;
		}
	}
	if ((v = ynode_get(n, "continue-on-error")))
		ok = get_bool(L, v, "continue-on-error", &st->continue_on_error) && ok;
	if ((v = ynode_get(n, "env")))
		load_kvlist(L, v, KV_ENV, "step env", &st->env);
	if ((v = ynode_get(n, "dir"))) {
		st->dir_pos = pos_of(v);
		if (nkinds && st->kind != STEP_RUN) {
			err(L, v, "dir applies only to run steps");
			ok = false;
		} else if (!(st->dir = get_str(L, v, "dir"))) {
			ok = false;
		} else {
			ok = check_exprs(L, v, EXPR_ALL, "dir") && ok;
		}
	}
	if ((v = ynode_get(n, "shell"))) {
		const char *s = get_str(L, v, "shell");
		if (nkinds && st->kind != STEP_RUN) {
			err(L, v, "shell applies only to run steps");
			ok = false;
		} else if (s && !strcmp(s, "sh")) {
			st->shell = SHELL_SH;
		} else if (s && !strcmp(s, "bash")) {
			st->shell = SHELL_BASH;
		} else if (s) {
			err(L, v, "bad shell '%s': expected sh or bash", s);
			ok = false;
		}
	}

	if (!st->id)
		st->id = arena_printf(L->a, "%s-%zu", rollback ? "rollback" : "step", index + 1);
	if (!st->name) {
		if (st->kind == STEP_RUN && st->run) {
			st->name = step_default_run_name(L->a, st->run);
		} else if (st->kind == STEP_BARRIER && st->barrier) {
			st->name = arena_printf(L->a, "barrier %s", st->barrier);
		} else if (st->kind == STEP_WAIT) {
			char d[32];
			duration_format(st->wait_ms, d, sizeof(d));
			st->name = arena_printf(L->a, "wait %s", d);
		} else if (st->kind == STEP_HTTP_CHECK && st->http && st->http->url) {
			st->name = step_default_http_name(L->a, st->http->url);
		} else if (st->kind == STEP_K8S_ROLLING && st->k8s && st->k8s->nmanifests) {
			st->name = step_default_k8s_name(L->a, st->k8s->manifests, st->k8s->nmanifests);
		} else {
			st->name = step_kind_name(st->kind);
		}
	}
	return ok;
}

static void load_steplist(struct loader *L, const struct ynode *n, bool rollback,
			  const char *wfname, struct steplist *out)
{
	const char *what = rollback ? "rollback" : "steps";
	if (!expect_kind(L, n, YNODE_SEQ, what))
		return;
	if (!rollback && n->n == 0) {
		err(L, n, "steps must not be empty");
		return;
	}
	out->v = arena_array(L->a, n->n, sizeof(*out->v));
	out->n = 0;
	for (size_t i = 0; i < n->n; i++) {
		struct step *st = &out->v[out->n];
		memset(st, 0, sizeof(*st));
		if (load_step(L, n->vals[i], i, rollback, wfname, st))
			out->n++;
	}
}

static int step_id_cmp(const void *a, const void *b)
{
	const struct step *x = *(const struct step *const *)a, *y = *(const struct step *const *)b;
	int c = strcmp(x->id, y->id);
	if (c)
		return c;
	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	return x->pos.col < y->pos.col ? -1 : x->pos.col > y->pos.col;
}

/* Step ids are unique across a workflow's steps and rollback lists. */
static void check_step_ids(struct loader *L, struct workflow *wf)
{
	size_t total = wf->steps.n + wf->rollback.n;
	if (total < 2)
		return;
	const struct step **all = xmalloc(total * sizeof(*all));
	for (size_t i = 0; i < wf->steps.n; i++)
		all[i] = &wf->steps.v[i];
	for (size_t i = 0; i < wf->rollback.n; i++)
		all[wf->steps.n + i] = &wf->rollback.v[i];
	qsort(all, total, sizeof(*all), step_id_cmp);
	size_t first = 0;
	for (size_t i = 1; i < total; i++) {
		if (strcmp(all[i]->id, all[first]->id)) {
			first = i;
			continue;
		}
		struct pos p = all[i]->id_explicit ? all[i]->id_pos : all[i]->pos;
		err_at(L, p, "duplicate step id '%s' in workflow %s (first at line %d)", all[i]->id,
		       wf->name, all[first]->pos.line);
	}
	free(all);
}

/* ---- environments ---- */

static const char *const environment_keys[] = { "description", "kubernetes", "env" };
static const char *const kubernetes_keys[] = { "context", "namespace", "kubeconfig" };

/* One string of a kubernetes: mapping: non-empty, with vars and pipeline.name only. */
static const char *load_kube_str(struct loader *L, const struct ynode *map, const char *key,
				 const struct environment *env, struct pos *pos)
{
	const struct ynode *v = ynode_get(map, key);
	if (!v)
		return NULL;
	*pos = pos_of(v);
	char *what = arena_printf(L->a, "kubernetes %s of environment %s", key, env->name);
	const char *s = get_str(L, v, what);
	if (!s)
		return NULL;
	if (!*s) {
		err(L, v, "%s must not be empty (leave the key out instead)", what);
		return NULL;
	}
	if (!check_exprs(L, v, ENVIRONMENT_EXPRS, what))
		return NULL;
	if (!strcmp(key, "namespace") && !expr_has(s) && !kube_namespace_is_valid(s)) {
		err(L, v, "bad Kubernetes namespace '%s' for environment %s: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters",
		    s, env->name);
		return NULL;
	}
	return s;
}

static void load_kubernetes(struct loader *L, const struct ynode *key, const struct ynode *n,
			    struct environment *env)
{
	env->has_kubernetes = true;
	env->kubernetes_pos = pos_of(key);
	/* kubernetes: with nothing under it says "a Kubernetes environment"
	 * and nothing more; check warns that it has no namespace. */
	if (ynode_is_null(n) || !expect_kind(L, n, YNODE_MAP, "kubernetes"))
		return;
	check_keys(L, n, kubernetes_keys, sizeof(kubernetes_keys) / sizeof(kubernetes_keys[0]),
		   "kubernetes");
	env->kube_context = load_kube_str(L, n, "context", env, &env->kube_context_pos);
	env->kube_namespace = load_kube_str(L, n, "namespace", env, &env->kube_namespace_pos);
	env->kubeconfig = load_kube_str(L, n, "kubeconfig", env, &env->kubeconfig_pos);
}

static void load_environments(struct loader *L, const struct ynode *n)
{
	if (ynode_is_null(n) || !expect_kind(L, n, YNODE_MAP, "environments"))
		return;
	struct pipeline *p = L->p;
	p->environments = arena_array(L->a, n->n, sizeof(*p->environments));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->keys[i], *v = n->vals[i];
		if (k->kind != YNODE_SCALAR)
			continue;
		if (!name_is_valid(k->str)) {
			err(L, k, "bad environment name '%s': use letters, digits, '.', '_' and '-'",
			    k->str);
			continue;
		}
		/* The slot may hold a rejected environment: start afresh. */
		struct environment *env = &p->environments[p->nenvironments];
		memset(env, 0, sizeof(*env));
		env->name = k->str;
		env->pos = pos_of(k);
		/* A duplicate name was reported by the YAML layer; keep the first. */
		if (!map_add(&L->environments, env->name, p->nenvironments, NULL))
			continue;
		p->nenvironments++;
		/* A name alone (staging:) is an environment without settings. */
		if (ynode_is_null(v) || !expect_kind(L, v, YNODE_MAP, "an environment"))
			continue;
		check_keys(L, v, environment_keys,
			   sizeof(environment_keys) / sizeof(environment_keys[0]), "an environment");
		const struct ynode *x;
		if ((x = ynode_get(v, "description")))
			env->description = get_str(L, x, "description");
		/* By its key, which check's warnings point at. */
		for (size_t j = 0; j < v->n; j++) {
			if (v->keys[j]->kind == YNODE_SCALAR && !strcmp(v->keys[j]->str, "kubernetes")) {
				load_kubernetes(L, v->keys[j], v->vals[j], env);
				break;
			}
		}
		if ((x = ynode_get(v, "env"))) {
			load_kvlist(L, x, KV_ENVIRONMENT, "environment env", &env->env);
			/* Two layers of one environment setting one variable: say which. */
			for (size_t j = 0; env->kubeconfig && j < env->env.n; j++)
				if (!strcmp(env->env.v[j].key, "KUBECONFIG"))
					err_at(L, env->env.v[j].key_pos,
					       "environment %s sets KUBECONFIG in env and kubernetes.kubeconfig (line %d): give only one of them",
					       env->name, env->kubeconfig_pos.line);
		}
	}
}

/*
 * environment: NAME on a workflow or a stage entry (`where`). A plain name
 * must be declared (with a "did you mean"); a name with expressions is
 * looked up for each instance during expansion. Returns the name as
 * written, or NULL when it is rejected.
 */
static const char *load_environment_use(struct loader *L, const struct ynode *n, const char *where)
{
	const char *s = get_str(L, n, "environment");
	if (!s)
		return NULL;
	if (!*s) {
		err(L, n, "environment must not be empty: give the name of an environment declared under environments:");
		return NULL;
	}
	if (expr_has(s))
		return check_exprs(L, n, ENVIRONMENT_USE_EXPRS, "environment names") ? s : NULL;
	if (!name_is_valid(s)) {
		err(L, n, "bad environment name '%s': use letters, digits, '.', '_' and '-'", s);
		return NULL;
	}
	if (map_find(&L->environments, s, NULL))
		return s;
	const struct pipeline *p = L->p;
	const char **names = xmalloc((p->nenvironments + 1) * sizeof(*names));
	for (size_t i = 0; i < p->nenvironments; i++)
		names[i] = p->environments[i].name;
	const char *sug = suggest_closest(s, names, p->nenvironments);
	if (sug)
		err(L, n, "unknown environment '%s' in %s; did you mean '%s'?", s, where, sug);
	else
		err(L, n, "unknown environment '%s' in %s (declare it under environments:)", s, where);
	free(names);
	return NULL;
}

/* ---- workflows, stages, barriers ---- */

static const char *const workflow_keys[] = {
	"steps", "rollback", "env", "on-failure", "description", "environment",
};

/*
 * A workflow with k8s-rolling steps and no rollback key rolls back what
 * they did: as if it said `rollback: [k8s-rollback: ]`. `rollback: []`
 * opts out. The step's id is rollback-1, as written it would be, unless
 * a step already has that id.
 */
static void add_default_rollback(struct loader *L, struct workflow *wf)
{
	bool rolling = false;
	for (size_t i = 0; i < wf->steps.n && !rolling; i++)
		rolling = wf->steps.v[i].kind == STEP_K8S_ROLLING;
	if (!rolling)
		return;
	bool taken = false;
	for (size_t i = 0; i < wf->steps.n && !taken; i++)
		taken = !strcmp(wf->steps.v[i].id, "rollback-1");
	struct step *st = arena_array(L->a, 1, sizeof(*st));
	st->kind = STEP_K8S_ROLLBACK;
	st->implicit = true;
	st->pos = st->kind_pos = wf->pos;
	st->id = taken ? "k8s-rollback" : "rollback-1";
	st->name = "k8s-rollback (default)";
	st->retry_delay_ms = DEFAULT_RETRY_DELAY_MS;
	wf->rollback.v = st;
	wf->rollback.n = 1;
}

static bool load_workflow(struct loader *L, const struct ynode *k, const struct ynode *n,
			  struct workflow *wf)
{
	wf->name = k->str;
	wf->pos = pos_of(k);
	wf->on_failure = ON_FAILURE_ROLLBACK;
	bool ok = true;
	if (!name_is_valid(k->str)) {
		err(L, k, "bad workflow name '%s': use letters, digits, '.', '_' and '-'", k->str);
		ok = false;
	}
	if (!expect_kind(L, n, YNODE_MAP, "a workflow"))
		return false;
	check_keys(L, n, workflow_keys, sizeof(workflow_keys) / sizeof(workflow_keys[0]),
		   "a workflow");
	const struct ynode *v;
	if ((v = ynode_get(n, "description")))
		wf->description = get_str(L, v, "description");
	if ((v = ynode_get(n, "environment"))) {
		wf->environment_pos = pos_of(v);
		char *where = arena_printf(L->a, "workflow %s", wf->name);
		wf->environment = load_environment_use(L, v, where);
		ok = wf->environment && ok;
	}
	if ((v = ynode_get(n, "env")))
		load_kvlist(L, v, KV_ENV, "workflow env", &wf->env);
	if ((v = ynode_get(n, "on-failure")))
		ok = load_on_failure(L, v, false, &wf->on_failure) && ok;
	if ((v = ynode_get(n, "steps")))
		load_steplist(L, v, false, wf->name, &wf->steps);
	else
		err_at(L, wf->pos, "workflow %s has no steps (add a steps: list)", wf->name);
	if ((v = ynode_get(n, "rollback"))) {
		wf->has_rollback = true;
		wf->rollback_pos = pos_of(v);
		if (!ynode_is_null(v))
			load_steplist(L, v, true, wf->name, &wf->rollback);
	} else {
		add_default_rollback(L, wf);
	}
	check_step_ids(L, wf);
	return ok;
}

static const char *const stage_keys[] = { "workflow", "parallel", "with", "matrix", "environment" };

static void load_matrix(struct loader *L, const struct ynode *n, struct stage *sg)
{
	sg->matrix_pos = pos_of(n);
	if (!expect_kind(L, n, YNODE_MAP, "matrix"))
		return;
	if (n->n == 0) {
		err(L, n, "matrix must have at least one key");
		return;
	}
	sg->matrix = arena_array(L->a, n->n, sizeof(*sg->matrix));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->keys[i], *v = n->vals[i];
		if (k->kind != YNODE_SCALAR)
			continue;
		if (!is_key_name(k->str)) {
			err(L, k, "bad matrix key '%s': use letters, digits, _ and -, starting with a letter or _",
			    k->str);
			continue;
		}
		if (!expect_kind(L, v, YNODE_SEQ, "a matrix axis"))
			continue;
		if (v->n == 0) {
			err(L, v, "matrix axis '%s' must have at least one value", k->str);
			continue;
		}
		/* The slot may hold a rejected axis: start afresh. */
		struct matrix_axis *ax = &sg->matrix[sg->nmatrix];
		memset(ax, 0, sizeof(*ax));
		ax->key = k->str;
		ax->pos = pos_of(k);
		ax->values = arena_array(L->a, v->n, sizeof(*ax->values));
		ax->value_pos = arena_array(L->a, v->n, sizeof(*ax->value_pos));
		bool ok = true;
		struct map seen = MAP_INIT;
		for (size_t j = 0; j < v->n; j++) {
			const struct ynode *x = v->vals[j];
			const char *s = get_str(L, x, "a matrix value");
			if (!s || !no_exprs(L, x, "matrix values")) {
				ok = false;
				continue;
			}
			if (!*s || strpbrk(s, "[]=,\n")) {
				err(L, x, "bad matrix value '%s': it becomes part of an instance name, so it must be non-empty and free of '[', ']', '=', ',' and newlines",
				    s);
				ok = false;
				continue;
			}
			size_t first;
			if (!map_add(&seen, s, j, &first)) {
				err(L, x, "duplicate matrix value '%s' for '%s' (first at line %d)", s, k->str,
				    v->vals[first]->line);
				ok = false;
				continue;
			}
			ax->value_pos[ax->n] = pos_of(x);
			ax->values[ax->n++] = s;
		}
		map_release(&seen);
		if (ok)
			sg->nmatrix++;
		else
			sg->incomplete = true;
	}
}

static size_t find_workflow(struct loader *L, const char *name)
{
	size_t i;
	return map_find(&L->workflows, name, &i) ? i : SIZE_MAX;
}

static void unknown_workflow(struct loader *L, const struct ynode *n, const char *name)
{
	const char **names = xmalloc((L->p->nworkflows + 1) * sizeof(*names));
	for (size_t i = 0; i < L->p->nworkflows; i++)
		names[i] = L->p->workflows[i].name;
	const char *s = suggest_closest(name, names, L->p->nworkflows);
	if (s)
		err(L, n, "unknown workflow '%s' in stages; did you mean '%s'?", name, s);
	else
		err(L, n, "unknown workflow '%s' in stages (define it under workflows:)", name);
	free(names);
}

static bool load_stage(struct loader *L, const struct ynode *n, size_t index, struct stage *sg)
{
	/* The slot may hold a rejected entry: start afresh. */
	memset(sg, 0, sizeof(*sg));
	sg->pos = pos_of(n);
	sg->wf = SIZE_MAX;
	const struct ynode *name = n;
	if (n->kind == YNODE_MAP) {
		check_keys(L, n, stage_keys, sizeof(stage_keys) / sizeof(stage_keys[0]),
			   "a stage entry");
		name = ynode_get(n, "workflow");
		if (!name)
			err(L, n, "stage entry has no workflow (write '- workflow: NAME' or '- NAME')");
		const struct ynode *v;
		if ((v = ynode_get(n, "parallel"))) {
			if (get_bool(L, v, "parallel", &sg->parallel) && sg->parallel && index == 0) {
				err(L, v, "the first stage entry cannot run in parallel with a previous one: there is none");
				sg->parallel = false;
			}
		}
		if ((v = ynode_get(n, "with"))) {
			size_t before = L->d->errors;
			load_kvlist(L, v, KV_WITH, "with", &sg->with);
			sg->incomplete = sg->incomplete || L->d->errors > before;
		}
		if ((v = ynode_get(n, "matrix"))) {
			size_t before = L->d->errors;
			load_matrix(L, v, sg);
			sg->incomplete = sg->incomplete || L->d->errors > before;
		}
		if ((v = ynode_get(n, "environment"))) {
			sg->environment_pos = pos_of(v);
			sg->environment = load_environment_use(L, v, "a stage entry");
			sg->incomplete = sg->incomplete || !sg->environment;
		}
		if (!name)
			return false;
	} else if (n->kind != YNODE_SCALAR || ynode_is_null(n)) {
		err(L, n, "a stage entry must be a workflow name or a mapping with 'workflow:', not %s",
		    ynode_kind_name(n));
		return false;
	}
	sg->workflow = get_str(L, name, "workflow");
	if (!sg->workflow)
		return false;
	sg->workflow_pos = pos_of(name);
	sg->wf = find_workflow(L, sg->workflow);
	if (sg->wf == SIZE_MAX) {
		unknown_workflow(L, name, sg->workflow);
		return false;
	}
	L->p->workflows[sg->wf].used = true;
	return true;
}

static const char *const barrier_keys[] = { "name", "timeout" };

static void load_barriers(struct loader *L, const struct ynode *n)
{
	if (ynode_is_null(n) || !expect_kind(L, n, YNODE_MAP, "barriers"))
		return;
	struct pipeline *p = L->p;
	p->barriers = arena_array(L->a, n->n, sizeof(*p->barriers));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->keys[i], *v = n->vals[i];
		if (k->kind != YNODE_SCALAR)
			continue;
		if (!name_is_valid(k->str)) {
			err(L, k, "bad barrier id '%s': use letters, digits, '.', '_' and '-'", k->str);
			continue;
		}
		struct barrier_decl *b = &p->barriers[p->nbarriers];
		memset(b, 0, sizeof(*b));
		b->id = k->str;
		b->pos = pos_of(k);
		b->timeout_ms = DEFAULT_BARRIER_TIMEOUT_MS;
		bool ok = true;
		if (!ynode_is_null(v)) {
			if (!expect_kind(L, v, YNODE_MAP, "a barrier declaration"))
				continue;
			check_keys(L, v, barrier_keys, 2, "a barrier declaration");
			const struct ynode *x;
			if ((x = ynode_get(v, "name"))) {
				b->name = get_str(L, x, "name");
				ok = b->name && no_exprs(L, x, "barrier names") && ok;
			}
			if ((x = ynode_get(v, "timeout")))
				ok = get_duration(L, x, "timeout", true, &b->timeout_ms) && ok;
		}
		if (ok)
			p->nbarriers++;
	}
}

static const char *const top_keys[] = {
	"name", "description", "vars", "on-failure", "barriers", "environments", "stages", "workflows",
};

static void load_pipeline(struct loader *L, const struct ynode *root)
{
	struct pipeline *p = L->p;
	p->on_failure = ON_FAILURE_STOP;
	if (root->kind != YNODE_MAP) {
		err(L, root, "a pipeline file must be a mapping with name, stages and workflows, not %s",
		    ynode_kind_name(root));
		return;
	}
	check_keys(L, root, top_keys, sizeof(top_keys) / sizeof(top_keys[0]), "the pipeline");
	const struct ynode *v;
	if ((v = ynode_get(root, "name"))) {
		p->name = get_str(L, v, "name");
		if (p->name && !name_is_valid(p->name)) {
			err(L, v, "bad pipeline name '%s': use letters, digits, '.', '_' and '-'", p->name);
			p->name = NULL;
		}
	} else {
		err(L, root, "missing required key 'name' (the pipeline's name)");
	}
	if ((v = ynode_get(root, "description")))
		p->description = get_str(L, v, "description");
	if ((v = ynode_get(root, "vars")))
		load_kvlist(L, v, KV_VARS, "vars", &p->vars);
	for (size_t i = 0; i < p->vars.n; i++)
		map_add(&L->vars, p->vars.v[i].key, i, NULL);
	if ((v = ynode_get(root, "on-failure")))
		load_on_failure(L, v, true, &p->on_failure);
	if ((v = ynode_get(root, "barriers")))
		load_barriers(L, v);
	/* Before workflows and stages, which name them. */
	if ((v = ynode_get(root, "environments")))
		load_environments(L, v);

	const struct ynode *wfs = ynode_get(root, "workflows");
	if (!wfs) {
		err(L, root, "missing required key 'workflows'");
	} else if (expect_kind(L, wfs, YNODE_MAP, "workflows")) {
		if (wfs->n == 0)
			err(L, wfs, "workflows must not be empty");
		p->workflows = arena_array(L->a, wfs->n, sizeof(*p->workflows));
		for (size_t i = 0; i < wfs->n; i++) {
			if (wfs->keys[i]->kind != YNODE_SCALAR)
				continue;
			/* A duplicate name was reported by the YAML layer; keep the first. */
			if (!map_add(&L->workflows, wfs->keys[i]->str, p->nworkflows, NULL))
				continue;
			load_workflow(L, wfs->keys[i], wfs->vals[i], &p->workflows[p->nworkflows]);
			p->nworkflows++;
		}
	}

	const struct ynode *stages = ynode_get(root, "stages");
	if (!stages) {
		err(L, root, "missing required key 'stages' (the workflows to run, in order)");
	} else if (expect_kind(L, stages, YNODE_SEQ, "stages")) {
		if (stages->n == 0)
			err(L, stages, "stages must not be empty");
		p->stages = arena_array(L->a, stages->n, sizeof(*p->stages));
		for (size_t i = 0; i < stages->n; i++) {
			if (load_stage(L, stages->vals[i], i, &p->stages[p->nstages]))
				p->nstages++;
		}
	}

	for (size_t i = 0; i < p->nworkflows; i++)
		if (!p->workflows[i].used && stages)
			warn_at(L, p->workflows[i].pos,
				"workflow %s is never used: no stage entry names it",
				p->workflows[i].name);
}

struct pipeline *pipeline_load_text_lenient(const char *file, const char *text, size_t len,
					    struct diag *d, bool *had_errors)
{
	size_t errors = d->errors;
	*had_errors = true;
	if (len > PIPELINE_MAX_BYTES) {
		diag_add(d, DIAG_ERROR, file, 0, 0, "file is larger than 4 MiB (%zu bytes); refusing to read it",
			 len);
		return NULL;
	}
	struct pipeline *p = xcalloc(1, sizeof(*p));
	p->file = arena_strdup(&p->arena, file);
	p->source = arena_strndup(&p->arena, text, len);
	p->source_len = len;
	struct loader L = { .file = p->file, .d = d, .p = p, .a = &p->arena };
	/* The tree is only needed while loading: the model keeps the scalar
	 * strings (in the pipeline's arena) and copies of positions, not the
	 * nodes, which are a fifth of a big pipeline's memory. */
	struct arena tree = ARENA_INIT;
	struct ynode *root = yaml_parse_split(p->file, p->source, len, &tree, &p->arena, d);
	if (root)
		load_pipeline(&L, root);
	map_release(&L.vars);
	map_release(&L.workflows);
	map_release(&L.environments);
	bool usable = root && root->kind == YNODE_MAP && p->name;
	arena_release(&tree);
	if (!usable) {
		if (d->errors == errors)
			diag_add(d, DIAG_ERROR, file, 0, 0, "not a usable pipeline");
		pipeline_free(p);
		return NULL;
	}
	*had_errors = d->errors > errors;
	return p;
}

struct pipeline *pipeline_load_text(const char *file, const char *text, size_t len, struct diag *d)
{
	bool had_errors;
	struct pipeline *p = pipeline_load_text_lenient(file, text, len, d, &had_errors);
	if (p && had_errors) {
		pipeline_free(p);
		return NULL;
	}
	return p;
}

bool pipeline_read(const char *file, char **text, size_t *len, struct diag *d)
{
	int r = fsio_read_file(file, PIPELINE_MAX_BYTES, text, len);
	if (r == -EFBIG) {
		diag_add(d, DIAG_ERROR, file, 0, 0, "file is larger than 4 MiB; refusing to read it");
		return false;
	}
	if (r < 0) {
		diag_add(d, DIAG_ERROR, file, 0, 0, "cannot read the pipeline file: %s", strerror(-r));
		return false;
	}
	return true;
}

struct pipeline *pipeline_load_lenient(const char *file, struct diag *d, bool *had_errors)
{
	char *text;
	size_t len;
	*had_errors = true;
	if (!pipeline_read(file, &text, &len, d))
		return NULL;
	struct pipeline *p = pipeline_load_text_lenient(file, text, len, d, had_errors);
	free(text);
	return p;
}

struct pipeline *pipeline_load(const char *file, struct diag *d)
{
	bool had_errors;
	struct pipeline *p = pipeline_load_lenient(file, d, &had_errors);
	if (p && had_errors) {
		pipeline_free(p);
		return NULL;
	}
	return p;
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	arena_release(&p->arena);
	free(p);
}

/* ---- positions inside scalars ---- */

static void build_line_table(struct pipeline *p)
{
	size_t n = 1;
	for (size_t i = 0; i < p->source_len; i++)
		n += p->source[i] == '\n';
	p->line_starts = arena_array(&p->arena, n, sizeof(size_t));
	p->nlines = 0;
	p->line_starts[p->nlines++] = 0;
	for (size_t i = 0; i < p->source_len; i++)
		if (p->source[i] == '\n')
			p->line_starts[p->nlines++] = i + 1;
}

/* Byte offset of 1-based (line, col), columns counted in characters. */
static size_t byte_of(const struct pipeline *p, struct pos at)
{
	if (at.line < 1 || (size_t)at.line > p->nlines)
		return SIZE_MAX;
	size_t i = p->line_starts[at.line - 1];
	for (int c = 1; c < at.col && i < p->source_len && p->source[i] != '\n'; c++) {
		i++;
		while (i < p->source_len && ((unsigned char)p->source[i] & 0xC0) == 0x80)
			i++;
	}
	return i;
}

static struct pos pos_of_byte(const struct pipeline *p, size_t b)
{
	size_t lo = 0, hi = p->nlines;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (p->line_starts[mid] <= b)
			lo = mid;
		else
			hi = mid;
	}
	struct pos r = { (int)lo + 1, 1 };
	for (size_t i = p->line_starts[lo]; i < b; i++)
		if (((unsigned char)p->source[i] & 0xC0) != 0x80)
			r.col++;
	return r;
}

struct pos pipeline_text_pos(const struct pipeline *cp, struct pos start, const char *value,
			     size_t offset)
{
	if (!cp->source || !value || offset > strlen(value))
		return start;
	/* The line table is a cache; building it does not change the pipeline's meaning. */
	struct pipeline *p = (struct pipeline *)cp;
	if (!p->line_starts)
		build_line_table(p);
	/* Which "${{" of the value holds the offset, and how far into it. */
	size_t k = 0, last = SIZE_MAX;
	for (const char *s = value; (s = strstr(s, "${{")) && (size_t)(s - value) <= offset; s += 3) {
		last = (size_t)(s - value);
		k++;
	}
	if (last == SIZE_MAX)
		return start;
	size_t delta = offset - last;
	const char *expr = value + last;
	const char *close = strstr(expr, "}}");
	size_t elen = close ? (size_t)(close - expr) + 2 : strlen(expr);
	if (delta > elen)
		return start;
	size_t b = byte_of(p, start);
	if (b == SIZE_MAX)
		return start;
	const char *src = p->source, *end = p->source + p->source_len;
	const char *at = src + b;
	for (size_t i = 0; i < k; i++) {
		at = memmem(at, (size_t)(end - at), "${{", 3);
		if (!at)
			return start;
		if (i + 1 < k)
			at += 3;
	}
	/* Only trust the match when the expression is there verbatim. */
	if ((size_t)(end - at) < elen || memcmp(at, expr, elen) != 0)
		return start;
	return pos_of_byte(p, (size_t)(at - src) + delta);
}
