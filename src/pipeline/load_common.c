/* load_common: diagnostics, typed values, expressions and string maps of the loader (load_internal.h). */
#include "pipeline/load_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/duration.h"
#include "base/map.h"
#include "base/num.h"
#include "base/suggest.h"
#include "base/xalloc.h"
#include "pipeline/expr.h"
#include "pipeline/yaml.h"

static void verr(struct loader *L, enum diag_severity sev, int line, int col, const char *fmt,
		 va_list ap) __attribute__((format(printf, 5, 0)));
static void verr(struct loader *L, enum diag_severity sev, int line, int col, const char *fmt,
		 va_list ap)
{
	diag_vadd(L->d, sev, L->file, line, col, fmt, ap);
}

void ld_err(struct loader *L, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(L, DIAG_ERROR, n ? n->line : 0, n ? n->col : 0, fmt, ap);
	va_end(ap);
}

void ld_err_at(struct loader *L, struct pos pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(L, DIAG_ERROR, pos.line, pos.col, fmt, ap);
	va_end(ap);
}

void ld_warn_at(struct loader *L, struct pos pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(L, DIAG_WARNING, pos.line, pos.col, fmt, ap);
	va_end(ap);
}

struct pos ld_pos_of(const struct ynode *n)
{
	struct pos p = { n ? n->line : 0, n ? n->col : 0 };
	return p;
}

bool ld_single_line_plain(const struct ynode *n)
{
	return n->kind == YNODE_SCALAR && n->plain && !memchr(n->str, '\n', n->len);
}

/* ---- names ---- */

bool ld_is_key_name(const char *s)
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

bool ld_is_step_id(const char *s)
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
void ld_check_keys(struct loader *L, const struct ynode *map, const char *const *allowed,
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
			ld_err(L, k, "YAML merge keys (<<) are not supported; repeat the keys instead");
			continue;
		}
		const char *s = suggest_closest(k->str, allowed, nallowed);
		if (s)
			ld_err(L, k, "unknown key '%s' in %s; did you mean '%s'?", k->str, where, s);
		else
			ld_err(L, k, "unknown key '%s' in %s", k->str, where);
	}
}

/* A string value: any scalar but null, taken as written. */
const char *ld_get_str(struct loader *L, const struct ynode *n, const char *what)
{
	if (n->kind != YNODE_SCALAR || ynode_is_null(n)) {
		ld_err(L, n, "%s must be a string, not %s", what, ynode_kind_name(n));
		return NULL;
	}
	return n->str;
}

bool ld_get_bool(struct loader *L, const struct ynode *n, const char *what, bool *out)
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
		ld_err(L, n, "%s must be true or false, not '%s'", what, n->str);
	else
		ld_err(L, n, "%s must be true or false, not %s", what, ynode_kind_name(n));
	return false;
}

bool ld_get_int(struct loader *L, const struct ynode *n, const char *what, long max, int *out)
{
	uint64_t v;
	const char *why = "not a whole number";
	/* A quoted "3" is a string: numbers are written plain. */
	if (n->kind == YNODE_SCALAR && n->plain &&
	    num_parse_range(n->str, n->len, 0, (uint64_t)max, &v, &why) == 0) {
		*out = (int)v;
		return true;
	}
	if (n->kind != YNODE_SCALAR)
		ld_err(L, n, "%s must be a whole number, not %s", what, ynode_kind_name(n));
	else if (n->plain && !strcmp(why, "too large"))
		ld_err(L, n, "%s must be at most %ld, not %s", what, max, n->str);
	else
		ld_err(L, n, "%s must be a whole number from 0 to %ld, not '%s'", what, max, n->str);
	return false;
}

bool ld_get_duration(struct loader *L, const struct ynode *n, const char *what, bool positive,
			 uint64_t *out)
{
	if (n->kind != YNODE_SCALAR || ynode_is_null(n)) {
		ld_err(L, n, "%s must be a duration like 30s, 10m or 1h30m, not %s", what,
		    ynode_kind_name(n));
		return false;
	}
	const char *why;
	if (duration_parse(n->str, out, &why) < 0) {
		ld_err(L, n, "bad duration '%s' for %s: %s (examples: 250ms, 30s, 10m, 1h30m)", n->str,
		    what, why);
		return false;
	}
	if (positive && *out == 0) {
		ld_err(L, n, "%s must be greater than 0", what);
		return false;
	}
	return true;
}

bool ld_expect_kind(struct loader *L, const struct ynode *n, enum ynode_kind kind,
			const char *what)
{
	if (n->kind == kind)
		return true;
	const char *want = kind == YNODE_MAP ? "a mapping" : kind == YNODE_SEQ ? "a list" : "a string";
	ld_err(L, n, "%s must be %s, not %s", what, want, ynode_kind_name(n));
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
		return ld_pos_of(n);
	return pipeline_text_pos(L->p, ld_pos_of(n), n->str, offset);
}

static int expr_check_cb(const struct expr_ref *ref, void *arg)
{
	struct expr_check_ctx *c = arg;
	struct loader *L = c->L;
	if (!(ref->root & c->allowed)) {
		if (ref->root == EXPR_SECRETS)
			ld_secret_misplaced(L, expr_pos(L, c->n, ref->offset), ref, c->where);
		else if (ref->root == EXPR_RUN)
			ld_err_at(L, expr_pos(L, c->n, ref->offset), "${{ run.id }} is not allowed in %s: its value is known only when the run starts",
			       c->where);
		else if (ref->root == EXPR_ENV)
			ld_err_at(L, expr_pos(L, c->n, ref->offset),
				  "env.* is not available in %s: only http-check urls and headers read it (a run step reads $NAME)",
				  c->where);
		else
			ld_err_at(L, expr_pos(L, c->n, ref->offset), "%s.* is not available in %s", expr_root_name(ref->root), c->where);
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
				ld_err_at(L, expr_pos(L, c->n, ref->offset), "unknown var '%s'; did you mean '%s'?", key, s);
			else
				ld_err_at(L, expr_pos(L, c->n, ref->offset), "unknown var '%s' (declare it under vars:)", key);
			free(names);
			c->ok = false;
		}
		free(key);
	}
	if (ref->root == EXPR_SECRETS) {
		char *key = xstrndup(ref->key, ref->keylen);
		if (!map_find(&L->secrets, key, NULL)) {
			ld_secret_unknown(L, expr_pos(L, c->n, ref->offset), ref);
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
bool ld_check_exprs(struct loader *L, const struct ynode *n, unsigned allowed, const char *where)
{
	if (n->kind != YNODE_SCALAR || !expr_has(n->str))
		return true;
	struct expr_check_ctx c = { L, n, allowed, where, true };
	struct buf e = BUF_INIT;
	size_t off = 0;
	if (expr_scan(n->str, expr_check_cb, &c, &e, &off) < 0) {
		ld_err_at(L, expr_pos(L, n, off), "%s", e.s);
		c.ok = false;
	}
	buf_release(&e);
	return c.ok;
}

bool ld_no_exprs(struct loader *L, const struct ynode *n, const char *where)
{
	if (n->kind == YNODE_SCALAR && expr_has(n->str)) {
		ld_err(L, n, "expressions are not allowed in %s", where);
		return false;
	}
	return true;
}

/* ---- string maps ---- */


void ld_load_kvlist(struct loader *L, const struct ynode *n, enum kv_rule rule,
			const char *what, struct kvlist *out)
{
	if (ynode_is_null(n))
		return;
	if (!ld_expect_kind(L, n, YNODE_MAP, what))
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
				ld_err(L, k, "bad environment variable name '%s' in %s: use letters, digits and _, not starting with a digit",
				    k->str, what);
				ok = false;
			} else if (!strncmp(k->str, "LOCKSTEP_", 9)) {
				ld_err(L, k, "environment variable '%s' in %s: names starting with LOCKSTEP_ are reserved for lockstep",
				    k->str, what);
				ok = false;
			}
		} else if (!ld_is_key_name(k->str)) {
			ld_err(L, k, "bad name '%s' in %s: use letters, digits, _ and -, starting with a letter or _",
			    k->str, what);
			ok = false;
		}
		const char *val;
		if (v->kind == YNODE_SCALAR && ynode_is_null(v))
			val = "";
		else
			val = ld_get_str(L, v, "a value here");
		if (!val)
			continue;
		if (rule == KV_VARS)
			ok = ld_no_exprs(L, v, "vars values") && ok;
		else if (rule == KV_WITH)
			ok = ld_check_exprs(L, v, EXPR_VARS | EXPR_PIPELINE, "stage inputs (with:)") && ok;
		else if (rule == KV_ENVIRONMENT)
			ok = ld_check_exprs(L, v, ENVIRONMENT_ENV_EXPRS | EXPR_SECRETS, what) && ok;
		else
			ok = ld_check_exprs(L, v, ENV_EXPRS, what) && ok;
		if (!ok)
			continue;
		struct kv *kv = &out->v[out->n++];
		kv->key = k->str;
		kv->val = val;
		kv->key_pos = ld_pos_of(k);
		kv->val_pos = ld_pos_of(v);
		kv->val_plain_single_line = ld_single_line_plain(v);
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

bool ld_load_on_failure(struct loader *L, const struct ynode *n, bool pipeline,
			    enum on_failure *out)
{
	const char *s = ld_get_str(L, n, "on-failure");
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
		ld_err(L, n, "bad on-failure '%s': expected %s; did you mean '%s'?", s,
		    pipeline ? "stop or rollback-all" : "rollback, stop or ignore", sug);
	else
		ld_err(L, n, "bad on-failure '%s': expected %s", s,
		    pipeline ? "stop or rollback-all" : "rollback, stop or ignore");
	return false;
}

