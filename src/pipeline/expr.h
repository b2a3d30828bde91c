/*
 * expr: the ${{ ... }} expressions of pipeline files.
 *
 * An expression is a reference to one name: `vars.X`, `inputs.X`,
 * `matrix.X`, `pipeline.name`, `workflow.name`, `run.id`, `secrets.X`
 * (env values and http-check headers only) or `env.X` (an http-check's
 * url and headers only), with optional spaces inside the braces:
 * `${{ vars.version }}`. X is
 * [A-Za-z_][A-Za-z0-9_-]*. Text outside expressions is copied as is; `$${{`
 * is not special. Anything else inside ${{ }} is a syntax error.
 */
#ifndef LS_EXPR_H
#define LS_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/map.h"
#include "pipeline/model.h"

enum expr_root {
	EXPR_VARS = 1 << 0,
	EXPR_INPUTS = 1 << 1,
	EXPR_MATRIX = 1 << 2,
	EXPR_PIPELINE = 1 << 3,
	EXPR_WORKFLOW = 1 << 4,
	EXPR_RUN = 1 << 5,
	/* Every root but secrets and env, which only a few fields take. */
	EXPR_ALL = (1 << 6) - 1,
	/* secrets.X: env values and http-check headers, put in when a step starts. */
	EXPR_SECRETS = 1 << 6,
	/* env.X: the step's environment's and workflow's env, known before the run. */
	EXPR_ENV = 1 << 7,
};

/* One reference found in a string. */
struct expr_ref {
	enum expr_root root;
	const char *key;   /* points into the source string; not NUL-terminated */
	size_t keylen;
	size_t offset;     /* byte offset of "${{" in the string */
	size_t length;     /* bytes up to and including "}}" */
};

/*
 * Calls `fn` for each reference in `s`, in order. Stops at the first
 * syntax error: returns -1 with the message in `err` and its byte offset in
 * `*err_offset`. Returns 0 when the whole string is well formed. A non-zero
 * return from `fn` stops the walk and is returned.
 */
int expr_scan(const char *s, int (*fn)(const struct expr_ref *ref, void *arg), void *arg,
	      struct buf *err, size_t *err_offset);

/* True when `s` contains "${{". */
bool expr_has(const char *s);

/* The values names resolve to. A NULL list means "not available here". */
struct expr_scope {
	const struct kvlist *vars;
	const struct kvlist *inputs;
	const struct kvlist *matrix;
	const char *pipeline_name;
	const char *workflow_name;
	const char *run_id;        /* NULL: keep ${{ run.id }} in the output */
	/* Secret values (name -> value); NULL: secrets are not available here. */
	const struct kvlist *secrets;
	/* Keep ${{ secrets.X }} as written: its value is put in when a step starts. */
	bool keep_secrets;
	/*
	 * env.X: the first X in the list (the workflow's env, then its
	 * environment's). A value that still holds ${{ run.id }} is known only
	 * when the run starts, and refused.
	 */
	const struct kvlist *env;
	/* Optional indexes (key -> position in the list) for long lists, so
	 * that many references to many vars cost linear time, not quadratic. */
	const struct map *vars_index;
	const struct map *inputs_index;
};

/*
 * Substitutes every reference in `s` using `scope` and returns the result
 * allocated in `a`. Fails too when the result would exceed 4 MiB. Returns NULL with a message in `err` (and the offset of
 * the bad reference in `*err_offset`) for a syntax error or a name the
 * scope does not define.
 */
const char *expr_eval(const char *s, const struct expr_scope *scope, struct arena *a,
		      struct buf *err, size_t *err_offset);

const char *expr_root_name(enum expr_root root);

#endif
