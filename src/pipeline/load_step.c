/* load_step: the steps of a workflow and their kinds (run, barrier, wait, http-check, k8s-*). */
#include "pipeline/load_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/duration.h"
#include "base/logname.h"
#include "base/xalloc.h"
#include "pipeline/expr.h"
#include "pipeline/yaml.h"

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

/*
 * What ${{ }} may name in an http-check's url and header values: every
 * root, and env.X, the env its workflow and environment give it (a check
 * runs no process, so it has no environment of its own to read).
 */
#define HTTP_REQUEST_EXPRS (EXPR_ALL | EXPR_ENV)

static bool load_http_url(struct loader *L, const struct ynode *v, struct http_check *h)
{
	h->url = ld_get_str(L, v, "url");
	if (!h->url)
		return false;
	h->url_pos = ld_pos_of(v);
	h->url_plain_single_line = ld_single_line_plain(v);
	if (!ld_check_exprs(L, v, HTTP_REQUEST_EXPRS, "http-check urls"))
		return false;
	const char *why;
	if (!expr_has(h->url)) {
		if (http_url_check(h->url, &why) < 0) {
			ld_err(L, v, "bad url '%s': %s", h->url, why);
			return false;
		}
		return true;
	}
	/* The rest is checked once the expressions are known (expand.c); a
	 * written scheme can be checked now. */
	size_t lit = (size_t)(strstr(h->url, "${{") - h->url);
	if (lit && strncasecmp(h->url, "http://", lit < 7 ? lit : 7) &&
	    strncasecmp(h->url, "https://", lit < 8 ? lit : 8)) {
		ld_err(L, v, "bad url '%s': only http:// and https:// urls can be checked", h->url);
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
			ld_err(L, v, "expect-status must not be empty (leave it out for 200..399)");
			return false;
		}
		if (n > HTTP_MAX_STATUS_RANGES) {
			ld_err(L, v, "expect-status has %zu items; at most %d", n, HTTP_MAX_STATUS_RANGES);
			return false;
		}
	}
	struct status_range *r = arena_array(L->a, n, sizeof(*r));
	bool ok = true;
	for (size_t i = 0; i < n; i++) {
		const struct ynode *x = items[i];
		const char *why;
		if (x->kind != YNODE_SCALAR || ynode_is_null(x)) {
			ld_err(L, x, "expect-status must be a status, a range like 200..399, or a list of those, not %s",
			    ynode_kind_name(x));
			ok = false;
		} else if (http_status_parse(x->str, &r[i], &why) < 0) {
			ld_err(L, x, "bad expect-status '%s': %s", x->str, why);
			ok = false;
		}
	}
	if (ok) {
		h->status = r;
		h->nstatus = n;
	}
	return ok;
}

/*
 * What ${{ }} may name in expect-body: everything known before the run, so
 * that `check` can compile the pattern of every instance.
 */
#define HTTP_BODY_EXPRS (EXPR_ALL & ~EXPR_RUN)

static bool load_http_body(struct loader *L, const struct ynode *v, struct http_check *h)
{
	const char *re = ld_get_str(L, v, "expect-body");
	if (!re || !ld_check_exprs(L, v, HTTP_BODY_EXPRS, "expect-body patterns"))
		return false;
	if (!*re) {
		ld_err(L, v, "expect-body must not be empty (leave it out to accept any body)");
		return false;
	}
	h->expect_body = re;
	h->body_pos = ld_pos_of(v);
	h->body_plain_single_line = ld_single_line_plain(v);
	if (expr_has(re))
		return true; /* compiled once the expressions are known (expand.c) */
	/* Compiled here so that `check` finds a bad pattern; the engine
	 * compiles it again for each check (a regex_t is not kept in the
	 * plan's arena). */
	char msg[128];
	if (http_body_regex_error(re, msg, sizeof(msg))) {
		ld_err(L, v, "bad expect-body regex '%s': %s (a POSIX extended regex)", re, msg);
		h->expect_body = NULL;
		return false;
	}
	return true;
}

static bool load_http_headers(struct loader *L, const struct ynode *n, struct http_check *h)
{
	if (ynode_is_null(n))
		return true;
	if (!ld_expect_kind(L, n, YNODE_MAP, "headers"))
		return false;
	bool all = true;
	h->headers.v = arena_array(L->a, n->n, sizeof(*h->headers.v));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->keys[i], *v = n->vals[i];
		if (k->kind != YNODE_SCALAR)
			continue;
		bool ok = true;
		if (!is_header_name(k->str)) {
			ld_err(L, k, "bad header name '%s': use letters, digits and !#$%%&'*+-.^_`|~", k->str);
			ok = false;
		}
		const char *val = ynode_is_null(v) ? "" : ld_get_str(L, v, "a header value");
		if (!val) {
			all = false;
			continue;
		}
		if (strpbrk(val, "\r\n")) {
			ld_err(L, v, "header %s: a header value cannot contain a line break", k->str);
			ok = false;
		} else {
			ok = ld_check_exprs(L, v, HTTP_REQUEST_EXPRS | EXPR_SECRETS, "header values") && ok;
		}
		all = all && ok;
		if (!ok)
			continue;
		struct kv *kv = &h->headers.v[h->headers.n++];
		kv->key = k->str;
		kv->val = val;
		kv->key_pos = ld_pos_of(k);
		kv->val_pos = ld_pos_of(v);
		kv->val_plain_single_line = ld_single_line_plain(v);
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
		ld_err(L, v, "http-check must be a url or a mapping with url:, not %s", ynode_kind_name(v));
		return false;
	}
	ld_check_keys(L, v, http_keys, sizeof(http_keys) / sizeof(http_keys[0]), "an http-check");
	bool ok = true;
	const struct ynode *x;
	if ((x = ynode_get(v, "url")))
		ok = load_http_url(L, x, h) && ok;
	else {
		ld_err(L, v, "http-check has no url (add url: http://...)");
		ok = false;
	}
	if ((x = ynode_get(v, "expect-status")))
		ok = load_http_status(L, x, h) && ok;
	if ((x = ynode_get(v, "expect-body")))
		ok = load_http_body(L, x, h) && ok;
	if ((x = ynode_get(v, "interval")))
		ok = ld_get_duration(L, x, "interval", true, &h->interval_ms) && ok;
	if ((x = ynode_get(v, "within")))
		ok = ld_get_duration(L, x, "within", true, &h->within_ms) && ok;
	if ((x = ynode_get(v, "request-timeout")))
		ok = ld_get_duration(L, x, "request-timeout", true, &h->request_timeout_ms) && ok;
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
	const char *s = ld_get_str(L, v, "a manifest path");
	if (!s)
		return false;
	if (!*s) {
		ld_err(L, v, "a manifest path must not be empty");
		return false;
	}
	if (!ld_check_exprs(L, v, K8S_EXPRS, "manifest paths"))
		return false;
	k->manifest_pos[k->nmanifests] = ld_pos_of(v);
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
			ld_err(L, v, "manifests must not be empty: give the files, directories or globs to apply");
			return false;
		}
		if (n > K8S_MAX_MANIFESTS) {
			ld_err(L, v, "manifests has %zu items; at most %d", n, K8S_MAX_MANIFESTS);
			return false;
		}
	} else if (v->kind != YNODE_SCALAR || ynode_is_null(v)) {
		ld_err(L, v, "manifests must be a path or a list of paths, not %s", ynode_kind_name(v));
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
	*pos = ld_pos_of(v);
	const char *s = ld_get_str(L, v, key);
	if (!s)
		return NULL;
	if (!*s) {
		ld_err(L, v, "%s must not be empty (leave the key out to use the environment's)", key);
		return NULL;
	}
	if (!ld_check_exprs(L, v, K8S_EXPRS, !strcmp(key, "namespace") ? "namespaces" : "contexts"))
		return NULL;
	if (!strcmp(key, "namespace") && !expr_has(s) && !kube_namespace_is_valid(s)) {
		ld_err(L, v, "bad Kubernetes namespace '%s': use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters",
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
		ld_err(L, v, "k8s-rolling must be a manifest path, a list of them, or a mapping with manifests:, not %s",
		    ynode_kind_name(v));
		return false;
	}
	ld_check_keys(L, v, k8s_keys, sizeof(k8s_keys) / sizeof(k8s_keys[0]), "a k8s-rolling step");
	bool ok = true;
	const struct ynode *x;
	if ((x = ynode_get(v, "manifests"))) {
		ok = load_k8s_manifests(L, x, k) && ok;
	} else {
		ld_err(L, v, "k8s-rolling has no manifests (add manifests: with files, directories or globs)");
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
			ld_check_keys(L, v, NULL, 0, "a k8s-rollback step");
		else
			ld_err(L, v, "k8s-rollback takes no settings: leave its value empty (k8s-rollback:) or write {}");
		ok = false;
	}
	if (!rollback) {
		ld_err(L, key, "k8s-rollback belongs in a rollback list: it undoes what the workflow's k8s-rolling steps did");
		ok = false;
	}
	return ok;
}

static bool load_step(struct loader *L, const struct ynode *n, size_t index, bool rollback,
		      const char *wfname, struct step *st)
{
	if (!ld_expect_kind(L, n, YNODE_MAP, "a step"))
		return false;
	bool ok = true;
	/* Specified-but-later kinds get their own message, not "unknown key". */
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->keys[i];
		for (size_t j = 0; j < sizeof(later_kinds) / sizeof(later_kinds[0]); j++) {
			if (k->kind == YNODE_SCALAR && !strcmp(k->str, later_kinds[j])) {
				ld_err(L, k, "step kind '%s' is not supported by this version of lockstep",
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
	ld_check_keys(L, n, allowed, nallowed, "a step");

	st->pos = ld_pos_of(n);
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
			ld_err(L, n, "step has no kind: give it exactly one of run, barrier, wait, http-check, k8s-rolling or k8s-rollback");
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
		ld_err(L, n, "step has more than one kind (%s); a step does exactly one thing", b.s);
		buf_release(&b);
		ok = false;
	}
	if (nkinds == 0) {
		/* No kind-specific checks below can apply. */
	} else if (kinds[0]) {
		const struct ynode *v = kinds[0];
		st->kind = STEP_RUN;
		st->kind_pos = ld_pos_of(v);
		st->run = ld_get_str(L, v, "run");
		if (!st->run)
			ok = false;
		else if (!*st->run) {
			ld_err(L, v, "run must not be empty");
			ok = false;
		} else {
			ok = ld_check_exprs(L, v, EXPR_ALL, "run") && ok;
		}
		st->run_plain_single_line = ld_single_line_plain(v);
	} else if (kinds[1]) {
		const struct ynode *v = kinds[1];
		st->kind = STEP_BARRIER;
		st->kind_pos = ld_pos_of(v);
		st->barrier = ld_get_str(L, v, "barrier");
		if (!st->barrier) {
			ok = false;
		} else if (!expr_has(st->barrier) && !name_is_valid(st->barrier)) {
			ld_err(L, v, "bad barrier id '%s': use letters, digits, '.', '_' and '-'", st->barrier);
			ok = false;
		} else {
			ok = ld_check_exprs(L, v, EXPR_ALL & ~EXPR_RUN, "barrier ids") && ok;
		}
		st->barrier_plain_single_line = ld_single_line_plain(v);
	} else if (kinds[2]) {
		const struct ynode *v = kinds[2];
		st->kind = STEP_WAIT;
		st->kind_pos = ld_pos_of(v);
		ok = ld_get_duration(L, v, "wait", false, &st->wait_ms) && ok;
	} else if (kinds[3]) {
		const struct ynode *v = kinds[3];
		st->kind = STEP_HTTP_CHECK;
		st->kind_pos = ld_pos_of(v);
		ok = load_http_check(L, v, st) && ok;
	} else if (kinds[4]) {
		const struct ynode *v = kinds[4];
		st->kind = STEP_K8S_ROLLING;
		st->kind_pos = ld_pos_of(v);
		ok = load_k8s_rolling(L, v, st) && ok;
	} else {
		const struct ynode *v = kinds[5];
		st->kind = STEP_K8S_ROLLBACK;
		st->kind_pos = ld_pos_of(v);
		const struct ynode *key = n;
		for (size_t i = 0; i < n->n; i++)
			if (n->keys[i]->kind == YNODE_SCALAR && !strcmp(n->keys[i]->str, "k8s-rollback"))
				key = n->keys[i];
		ok = load_k8s_rollback(L, key, v, rollback) && ok;
	}

	const struct ynode *v;
	if ((v = ynode_get(n, "name"))) {
		st->name = ld_get_str(L, v, "name");
		st->name_explicit = st->name != NULL;
		st->name_pos = ld_pos_of(v);
		if (st->name)
			ok = ld_check_exprs(L, v, EXPR_ALL, "step names") && ok;
		else
			ok = false;
	}
	if ((v = ynode_get(n, "id"))) {
		st->id = ld_get_str(L, v, "id");
		st->id_pos = ld_pos_of(v);
		if (st->id && !ld_is_step_id(st->id)) {
			ld_err(L, v, "bad step id '%s': use lowercase letters, digits, '_' and '-'", st->id);
			ok = false;
		} else if (st->id && strlen(st->id) > LOG_STEP_ID_MAX) {
			ld_err(L, v, "step id is too long: %zu bytes, at most %zu, so that the names of its log files (ID.ATTEMPT.log, ID.ATTEMPT.k8s-spec.json) fit in %d bytes",
			    strlen(st->id), LOG_STEP_ID_MAX, LOG_NAME_MAX);
			ok = false;
		} else if (!st->id) {
			ok = false;
		}
		st->id_explicit = st->id != NULL;
	}
	if ((v = ynode_get(n, "timeout")))
		ok = ld_get_duration(L, v, "timeout", true, &st->timeout_ms) && ok;
	if ((v = ynode_get(n, "retries"))) {
		ok = ld_get_int(L, v, "retries", MAX_RETRIES, &st->retries) && ok;
		if (nkinds && st->kind == STEP_BARRIER) {
			ld_err(L, v, "a barrier step cannot be retried: a workflow crosses a barrier once");
			ok = false;
		}
	}
	if ((v = ynode_get(n, "retry-delay"))) {
		ok = ld_get_duration(L, v, "retry-delay", false, &st->retry_delay_ms) && ok;
		if (nkinds && st->kind == STEP_BARRIER) {
			ld_err(L, v, "a barrier step cannot be retried: a workflow crosses a barrier once");
			ok = false;
		}
	}
	if ((v = ynode_get(n, "continue-on-error")))
		ok = ld_get_bool(L, v, "continue-on-error", &st->continue_on_error) && ok;
	if ((v = ynode_get(n, "env")))
		ld_load_kvlist(L, v, KV_ENV, "step env", &st->env);
	if ((v = ynode_get(n, "dir"))) {
		st->dir_pos = ld_pos_of(v);
		if (nkinds && st->kind != STEP_RUN) {
			ld_err(L, v, "dir applies only to run steps");
			ok = false;
		} else if (!(st->dir = ld_get_str(L, v, "dir"))) {
			ok = false;
		} else {
			ok = ld_check_exprs(L, v, EXPR_ALL, "dir") && ok;
		}
	}
	if ((v = ynode_get(n, "shell"))) {
		const char *s = ld_get_str(L, v, "shell");
		if (nkinds && st->kind != STEP_RUN) {
			ld_err(L, v, "shell applies only to run steps");
			ok = false;
		} else if (s && !strcmp(s, "sh")) {
			st->shell = SHELL_SH;
		} else if (s && !strcmp(s, "bash")) {
			st->shell = SHELL_BASH;
		} else if (s) {
			ld_err(L, v, "bad shell '%s': expected sh or bash", s);
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

void ld_load_steplist(struct loader *L, const struct ynode *n, bool rollback,
			  const char *wfname, struct steplist *out)
{
	const char *what = rollback ? "rollback" : "steps";
	if (!ld_expect_kind(L, n, YNODE_SEQ, what))
		return;
	if (!rollback && n->n == 0) {
		ld_err(L, n, "steps must not be empty");
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
void ld_check_step_ids(struct loader *L, struct workflow *wf)
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
		ld_err_at(L, p, "duplicate step id '%s' in workflow %s (first at line %d)", all[i]->id,
		       wf->name, all[first]->pos.line);
	}
	free(all);
}

