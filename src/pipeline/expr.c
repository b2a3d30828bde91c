/*
 * expr: finding and evaluating ${{ }} references.
 *
 * expr_scan() and expr_eval() share one walker, scan_next(), which finds the
 * next "${{", its closing "}}" and parses what lies between. Every search is
 * bounded by the string's terminator or by that "}}", and the walk always
 * resumes after what it consumed, so a walk is linear in the length of the
 * string whatever the string holds. Values are substituted in one pass: a
 * value that itself contains "${{" is copied as is, never evaluated again,
 * so a value cannot inject references or make evaluation recurse.
 */
#include "pipeline/expr.h"

#include <stdlib.h>
#include <string.h>

#include "base/suggest.h"
#include "base/xalloc.h"

/* Longest piece of user text quoted back in a message. */
enum { QUOTE_MAX = 40 };

/*
 * The longest result expr_eval() returns. Without a bound, a 4 MiB file
 * could ask for terabytes: thousands of references to one long var.
 */
#define EXPR_MAX_RESULT ((size_t)PIPELINE_MAX_BYTES)

#define KNOWN_NAMES "vars.X, inputs.X, matrix.X, pipeline.name, workflow.name, run.id, secrets.X"

struct root_info {
	enum expr_root root;
	const char *name;
	const char *only_key; /* the one key a fixed root has; NULL: any key */
};

static const struct root_info roots[] = {
	{ EXPR_VARS, "vars", NULL },
	{ EXPR_INPUTS, "inputs", NULL },
	{ EXPR_MATRIX, "matrix", NULL },
	{ EXPR_PIPELINE, "pipeline", "name" },
	{ EXPR_WORKFLOW, "workflow", "name" },
	{ EXPR_RUN, "run", "id" },
	{ EXPR_SECRETS, "secrets", NULL },
	{ EXPR_ENV, "env", NULL },
};

#define NROOTS (sizeof(roots) / sizeof(roots[0]))

/* ASCII only on purpose: the locale must not change what a name is. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_key_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_key_char(char c)
{
	return is_key_start(c) || (c >= '0' && c <= '9') || c == '-';
}

/*
 * The searches below are loops rather than strstr(): sanitizer builds check
 * strstr()'s whole haystack on every call, which makes a walk over a long
 * string with many references quadratic exactly where the fuzzer runs.
 * The && chains stop at the terminator, so no byte past it is read.
 */
static const char *find_open(const char *p)
{
	for (; *p; p++) {
		if (p[0] == '$' && p[1] == '{' && p[2] == '{')
			return p;
	}
	return NULL;
}

/*
 * Returns the "}}" that closes the expression whose body starts at `p`, or
 * NULL when it is not closed. A "${{" before any "}}" means this expression
 * was never closed: that "}}" belongs to the later one, and saying
 * "unterminated" beats quoting a mess of two expressions.
 */
static const char *find_close(const char *p)
{
	for (; *p; p++) {
		if (p[0] == '}' && p[1] == '}')
			return p;
		if (p[0] == '$' && p[1] == '{' && p[2] == '{')
			return NULL;
	}
	return NULL;
}

/* Length of the run of name characters starting at `p`, not past `end`. */
static size_t span_key(const char *p, const char *end)
{
	const char *q = p;
	while (q < end && is_key_char(*q))
		q++;
	return (size_t)(q - p);
}

/*
 * Appends user text for quoting in a message: at most QUOTE_MAX bytes, cut
 * at a UTF-8 character boundary and marked with "..." when cut; control
 * characters become '?' so a message stays one printable line.
 */
static void add_quoted(struct buf *b, const char *p, size_t len)
{
	size_t n = len;
	if (n > QUOTE_MAX) {
		n = QUOTE_MAX;
		while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		buf_addc(b, c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
	if (n < len)
		buf_adds(b, "...");
}

static const struct root_info *root_find(const char *name, size_t len)
{
	for (size_t i = 0; i < NROOTS; i++) {
		if (strlen(roots[i].name) == len && memcmp(roots[i].name, name, len) == 0)
			return &roots[i];
	}
	return NULL;
}

/* "unknown name 'X.Y'", with a suggestion when the root looks like a typo. */
static void add_unknown_name(struct buf *err, const char *root, size_t rootlen, const char *rest,
			     size_t restlen)
{
	const char *cands[NROOTS];
	for (size_t i = 0; i < NROOTS; i++)
		cands[i] = roots[i].name;
	char *word = xstrndup(root, rootlen);
	const char *best = suggest_closest(word, cands, NROOTS);
	free(word);

	buf_adds(err, "unknown name '");
	add_quoted(err, root, rootlen + restlen);
	buf_addc(err, '\'');
	if (best) {
		/* Suggest the whole name with the root fixed, as it would be written. */
		buf_adds(err, "; did you mean '");
		buf_adds(err, best);
		add_quoted(err, rest, restlen);
		buf_adds(err, "'?");
	}
	buf_adds(err, " (known: " KNOWN_NAMES ")");
}

/*
 * Parses the reference whose "${{" is at `open`: fills `ref` and returns 0,
 * or appends a message to `err` and returns -1.
 */
static int parse_ref(const char *s, const char *open, struct expr_ref *ref, struct buf *err)
{
	const char *body = open + 3;
	const char *close = find_close(body);
	if (!close) {
		buf_adds(err, "unterminated expression: missing '}}'");
		return -1;
	}

	const char *p = body, *end = close;
	while (p < end && is_blank(*p))
		p++;
	while (end > p && is_blank(end[-1]))
		end--;
	if (p == end) {
		buf_adds(err, "empty expression");
		return -1;
	}

	const char *root = p;
	size_t rootlen = span_key(p, end);
	if (!rootlen) {
		buf_adds(err, "invalid expression '");
		add_quoted(err, p, (size_t)(end - p));
		buf_adds(err, "' (expected a name like vars.X)");
		return -1;
	}
	const char *q = root + rootlen;
	bool dot = q < end && *q == '.';
	const char *key = q;
	size_t keylen = 0;
	if (dot) {
		key = q + 1;
		keylen = span_key(key, end);
		q = key + keylen;
	}
	if (q < end) {
		buf_adds(err, "unexpected '");
		add_quoted(err, q, (size_t)(end - q));
		buf_adds(err, "' after '");
		add_quoted(err, root, (size_t)(q - root));
		buf_adds(err, "' (an expression is a single name, like vars.X)");
		return -1;
	}

	const struct root_info *ri = root_find(root, rootlen);
	if (!ri) {
		add_unknown_name(err, root, rootlen, root + rootlen, (size_t)(end - root) - rootlen);
		return -1;
	}
	if (ri->only_key) {
		if (!dot || keylen != strlen(ri->only_key) || memcmp(key, ri->only_key, keylen) != 0) {
			buf_addf(err, "'%s' has only '%s'", ri->name, ri->only_key);
			return -1;
		}
	} else if (!keylen) {
		buf_addf(err, "'%s' needs a key, like %s.X", ri->name, ri->name);
		return -1;
	} else if (!is_key_start(*key)) {
		buf_adds(err, "invalid key '");
		add_quoted(err, key, keylen);
		buf_addf(err, "' in '%s.", ri->name);
		add_quoted(err, key, keylen);
		buf_adds(err, "' (a key matches [A-Za-z_][A-Za-z0-9_-]*)");
		return -1;
	}

	ref->root = ri->root;
	ref->key = key;
	ref->keylen = keylen;
	ref->offset = (size_t)(open - s);
	ref->length = (size_t)(close + 2 - open);
	return 0;
}

/*
 * Finds the first reference at or after byte `from`. Returns 1 with `ref`
 * filled, 0 when there is none, or -1 with the message in `err` and the
 * offset of the bad "${{" in `*err_offset`.
 */
static int scan_next(const char *s, size_t from, struct expr_ref *ref, struct buf *err,
		     size_t *err_offset)
{
	const char *open = find_open(s + from);
	if (!open)
		return 0;
	if (parse_ref(s, open, ref, err) < 0) {
		*err_offset = (size_t)(open - s);
		return -1;
	}
	return 1;
}

/*
 * The message goes to `err` when one is given; callers that only want to
 * know whether a string is well formed may pass NULL for `err`, for
 * `err_offset` and for `fn`.
 */
int expr_scan(const char *s, int (*fn)(const struct expr_ref *ref, void *arg), void *arg,
	      struct buf *err, size_t *err_offset)
{
	struct buf dummy = BUF_INIT;
	size_t dummy_offset;
	struct expr_ref ref;
	size_t pos = 0;
	int r;

	if (!err)
		err = &dummy;
	if (!err_offset)
		err_offset = &dummy_offset;
	while ((r = scan_next(s, pos, &ref, err, err_offset)) > 0) {
		int rc = fn ? fn(&ref, arg) : 0;
		if (rc) {
			r = rc;
			goto out;
		}
		pos = ref.offset + ref.length;
	}
out:
	buf_release(&dummy);
	return r;
}

bool expr_has(const char *s)
{
	return s && find_open(s) != NULL;
}

/*
 * Looks `ref`'s key up in `list`. `missing` starts the message for a key
 * the list lacks ("unknown var"); the closest key is suggested, since a
 * typo in a key is the likeliest cause.
 */
static const char *kv_lookup(const struct kvlist *list, const struct map *index,
			     const struct expr_ref *ref, const char *unavailable, const char *missing,
			     struct buf *err)
{
	if (!list) {
		buf_adds(err, unavailable);
		return NULL;
	}
	if (index) {
		char *key = xstrndup(ref->key, ref->keylen);
		size_t i;
		bool found = map_find(index, key, &i) && i < list->n;
		free(key);
		if (found)
			return list->v[i].val ? list->v[i].val : "";
	}
	for (size_t i = 0; !index && i < list->n; i++) {
		const char *k = list->v[i].key;
		/* strncmp stops at k's terminator, so a shorter k is safe. */
		if (k && strncmp(k, ref->key, ref->keylen) == 0 && k[ref->keylen] == '\0')
			return list->v[i].val ? list->v[i].val : "";
	}

	buf_addf(err, "%s '", missing);
	add_quoted(err, ref->key, ref->keylen);
	buf_addc(err, '\'');
	/* What env.X reads is not the environment lockstep runs in: say so. */
	if (ref->root == EXPR_ENV)
		buf_adds(err, " is set by neither the workflow's env nor its environment's");
	if (list->n) {
		const char **cands = xreallocarray(NULL, list->n, sizeof(*cands));
		for (size_t i = 0; i < list->n; i++)
			cands[i] = list->v[i].key;
		char *word = xstrndup(ref->key, ref->keylen);
		const char *best = suggest_closest(word, cands, list->n);
		if (best) {
			buf_adds(err, " (did you mean '");
			add_quoted(err, best, strlen(best));
			buf_adds(err, "'?)");
		}
		free(word);
		free(cands);
	}
	return NULL;
}

/* A name's value, or NULL with a message in `err`. */
static const char *resolve(const struct expr_scope *scope, const struct expr_ref *ref,
			   struct buf *err)
{
	static const struct expr_scope none;
	if (!scope)
		scope = &none;
	switch (ref->root) {
	case EXPR_VARS:
		return kv_lookup(scope->vars, scope->vars_index, ref, "vars are not available here", "unknown var", err);
	case EXPR_INPUTS:
		return kv_lookup(scope->inputs, scope->inputs_index, ref, "inputs are not available here", "no input", err);
	case EXPR_MATRIX:
		return kv_lookup(scope->matrix, NULL, ref, "matrix values are not available here",
				 "no matrix key", err);
	case EXPR_PIPELINE:
		if (!scope->pipeline_name)
			buf_adds(err, "pipeline.name is not available here");
		return scope->pipeline_name;
	case EXPR_WORKFLOW:
		if (!scope->workflow_name)
			buf_adds(err, "workflow.name is not available here");
		return scope->workflow_name;
	case EXPR_RUN:
		/* The caller keeps the text when there is no run id yet. */
		return scope->run_id;
	case EXPR_SECRETS:
		return kv_lookup(scope->secrets, NULL, ref,
				 "secrets are not available here (only in env: values and http-check headers)",
				 "unknown secret", err);
	case EXPR_ENV: {
		const char *v = kv_lookup(scope->env, NULL, ref, "env.X is available only in http-check urls and headers",
					  "env", err);
		if (v && expr_has(v)) {
			buf_adds(err, "env '");
			add_quoted(err, ref->key, ref->keylen);
			buf_adds(err, "' is known only when the run starts (its value uses ${{ run.id }})");
			return NULL;
		}
		return v;
	}
	case EXPR_ALL:
		break;
	}
	/* parse_ref() only makes single roots; this is not reachable. */
	buf_adds(err, "not a name");
	return NULL;
}

/*
 * Besides syntax errors and undefined names, fails when the result would
 * exceed EXPR_MAX_RESULT bytes. `err` and `err_offset` may be NULL;
 * `scope` may be NULL, which makes every name but run.id unavailable.
 */
const char *expr_eval(const char *s, const struct expr_scope *scope, struct arena *a,
		      struct buf *err, size_t *err_offset)
{
	struct buf dummy = BUF_INIT;
	size_t dummy_offset;
	struct buf out = BUF_INIT;
	struct expr_ref ref;
	const char *result = NULL;
	size_t pos = 0;
	int r;

	if (!err)
		err = &dummy;
	if (!err_offset)
		err_offset = &dummy_offset;
	while ((r = scan_next(s, pos, &ref, err, err_offset)) > 0) {
		const char *val;
		size_t vlen;
		buf_add(&out, s + pos, ref.offset - pos);
		pos = ref.offset + ref.length;
		if ((ref.root == EXPR_RUN && (!scope || !scope->run_id)) ||
		    (ref.root == EXPR_SECRETS && scope && scope->keep_secrets)) {
			/* Known only when the run (or the step) starts: keep the text as written. */
			val = s + ref.offset;
			vlen = ref.length;
		} else {
			val = resolve(scope, &ref, err);
			if (!val) {
				*err_offset = ref.offset;
				goto out;
			}
			vlen = strlen(val);
		}
		if (vlen > EXPR_MAX_RESULT || out.len > EXPR_MAX_RESULT - vlen) {
			buf_addf(err, "text too long after substitution (limit %zu MiB)",
				 EXPR_MAX_RESULT >> 20);
			*err_offset = ref.offset;
			goto out;
		}
		buf_add(&out, val, vlen);
	}
	if (r < 0)
		goto out;
	buf_adds(&out, s + pos);
	result = arena_strndup(a, out.s, out.len);
out:
	buf_release(&out);
	buf_release(&dummy);
	return result;
}

const char *expr_root_name(enum expr_root root)
{
	for (size_t i = 0; i < NROOTS; i++) {
		if (roots[i].root == root)
			return roots[i].name;
	}
	/* Not a single root (EXPR_ALL or a mask): never NULL, so it can be printed. */
	return "?";
}
