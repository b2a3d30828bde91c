/*
 * Tests for pipeline/expr.c: the ${{ }} grammar, every error message with
 * its offset, substitution from a scope, and hostile inputs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pipeline/expr.h"

#define KNOWN " (known: vars.X, inputs.X, matrix.X, pipeline.name, workflow.name, run.id, secrets.X)"

static struct kv var_kvs[] = {
	{ .key = "version", .val = "1.4.2" },
	{ .key = "region", .val = "eu-west-1" },
	{ .key = "empty", .val = "" },
	{ .key = "tricky", .val = "${{ vars.version }}" },
	{ .key = "with-dash", .val = "dash" },
	{ .key = "_under", .val = "under" },
};
static struct kv input_kvs[] = {
	{ .key = "replicas", .val = "3" },
};
static struct kv matrix_kvs[] = {
	{ .key = "region", .val = "us" },
	{ .key = "zone", .val = "b" },
};
static const struct kvlist vars = { var_kvs, sizeof(var_kvs) / sizeof(var_kvs[0]) };
static const struct kvlist inputs = { input_kvs, 1 };
static const struct kvlist matrix = { matrix_kvs, 2 };
static const struct kvlist nothing = { NULL, 0 };

static const struct expr_scope full = {
	.vars = &vars,
	.inputs = &inputs,
	.matrix = &matrix,
	.pipeline_name = "multi-service",
	.workflow_name = "deploy[region=us]",
	.run_id = "42",
};

/* Evaluates `s` and checks it succeeds with `want`. */
static void eval_ok(const struct expr_scope *scope, const char *s, const char *want)
{
	struct arena a = ARENA_INIT;
	struct buf err = BUF_INIT;
	size_t off = 12345;
	const char *got = expr_eval(s, scope, &a, &err, &off);
	if (!got)
		fail_msg("expr_eval(\"%s\") failed: %s", s, err.s);
	assert_string_equal(got, want);
	assert_string_equal(err.s, "");
	assert_int_equal(off, 12345); /* untouched on success */
	buf_release(&err);
	arena_release(&a);
}

/* Evaluates `s` and checks it fails with exactly `msg` at `offset`. */
static void eval_err(const struct expr_scope *scope, const char *s, const char *msg, size_t offset)
{
	struct arena a = ARENA_INIT;
	struct buf err = BUF_INIT;
	size_t off = 12345;
	const char *got = expr_eval(s, scope, &a, &err, &off);
	if (got)
		fail_msg("expr_eval(\"%s\") succeeded with \"%s\", expected \"%s\"", s, got, msg);
	assert_string_equal(err.s, msg);
	assert_int_equal(off, offset);
	buf_release(&err);
	arena_release(&a);
}

/* expr_scan must report the same syntax error as expr_eval. */
static void scan_err(const char *s, const char *msg, size_t offset)
{
	struct buf err = BUF_INIT;
	size_t off = 12345;
	assert_int_equal(expr_scan(s, NULL, NULL, &err, &off), -1);
	assert_string_equal(err.s, msg);
	assert_int_equal(off, offset);
	buf_release(&err);
	eval_err(&full, s, msg, offset);
}

/* ---- expr_scan ---- */

struct collected {
	struct expr_ref refs[8];
	size_t n;
	int stop_after; /* return this many... then non-zero; 0: never stop */
};

static int collect_cb(const struct expr_ref *ref, void *arg)
{
	struct collected *c = arg;
	assert_true(c->n < 8);
	c->refs[c->n++] = *ref;
	if (c->stop_after && (int)c->n == c->stop_after)
		return 7;
	return 0;
}

static void check_ref(const struct expr_ref *r, enum expr_root root, const char *key, size_t offset,
		      size_t length)
{
	assert_int_equal(r->root, root);
	assert_int_equal(r->keylen, strlen(key));
	assert_memory_equal(r->key, key, r->keylen);
	assert_int_equal(r->offset, offset);
	assert_int_equal(r->length, length);
}

static void test_scan_every_root(void **state)
{
	(void)state;
	const char *s = "${{vars.a}} ${{ inputs.b_1 }} ${{  matrix.C-d  }}"
			"${{ pipeline.name }}${{workflow.name}}${{ run.id }}";
	struct collected c = { 0 };
	struct buf err = BUF_INIT;
	size_t off = 99;
	assert_int_equal(expr_scan(s, collect_cb, &c, &err, &off), 0);
	assert_int_equal(c.n, 6);
	check_ref(&c.refs[0], EXPR_VARS, "a", 0, 11);
	check_ref(&c.refs[1], EXPR_INPUTS, "b_1", 12, 17);
	check_ref(&c.refs[2], EXPR_MATRIX, "C-d", 30, 19);
	check_ref(&c.refs[3], EXPR_PIPELINE, "name", 49, 20);
	check_ref(&c.refs[4], EXPR_WORKFLOW, "name", 69, 18);
	check_ref(&c.refs[5], EXPR_RUN, "id", 87, 13);
	/* key points into the source string */
	assert_ptr_equal(c.refs[0].key, s + 8);
	assert_string_equal(err.s, "");
	assert_int_equal(off, 99);
	buf_release(&err);
}

static void test_scan_no_refs(void **state)
{
	(void)state;
	struct collected c = { 0 };
	assert_int_equal(expr_scan("", collect_cb, &c, NULL, NULL), 0);
	assert_int_equal(expr_scan("plain text $ ${ ${x} $$ {{ }}", collect_cb, &c, NULL, NULL), 0);
	assert_int_equal(c.n, 0);
}

static void test_scan_callback_stops(void **state)
{
	(void)state;
	struct collected c = { .stop_after = 2 };
	/* The third reference is broken, but the walk stops before it. */
	const char *s = "${{ vars.a }}${{ vars.b }}${{ nope }}";
	assert_int_equal(expr_scan(s, collect_cb, &c, NULL, NULL), 7);
	assert_int_equal(c.n, 2);
	check_ref(&c.refs[1], EXPR_VARS, "b", 13, 13);
}

static int one_cb(const struct expr_ref *ref, void *arg)
{
	(void)ref;
	(*(int *)arg)++;
	return 1;
}

static void test_scan_callback_returns_one(void **state)
{
	(void)state;
	int calls = 0;
	assert_int_equal(expr_scan("x ${{ vars.a }} ${{ vars.b }}", one_cb, &calls, NULL, NULL), 1);
	assert_int_equal(calls, 1);
}

static void test_scan_error_after_refs(void **state)
{
	(void)state;
	struct collected c = { 0 };
	struct buf err = BUF_INIT;
	size_t off = 0;
	assert_int_equal(expr_scan("${{ vars.a }} and ${{ }}", collect_cb, &c, &err, &off), -1);
	/* references before the error were reported */
	assert_int_equal(c.n, 1);
	assert_string_equal(err.s, "empty expression");
	assert_int_equal(off, 18);
	buf_release(&err);
}

static void test_scan_null_err_and_fn(void **state)
{
	(void)state;
	assert_int_equal(expr_scan("${{ vars.a }}", NULL, NULL, NULL, NULL), 0);
	assert_int_equal(expr_scan("${{ vars.a", NULL, NULL, NULL, NULL), -1);
}

static void test_scan_error_appends(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	buf_adds(&err, "run: ");
	assert_int_equal(expr_scan("${{}}", NULL, NULL, &err, NULL), -1);
	assert_string_equal(err.s, "run: empty expression");
	buf_release(&err);
}

/* ---- syntax errors (same for scan and eval) ---- */

static void test_err_unterminated(void **state)
{
	(void)state;
	scan_err("${{ vars.a", "unterminated expression: missing '}}'", 0);
	scan_err("abc ${{", "unterminated expression: missing '}}'", 4);
	scan_err("${{ vars.a }", "unterminated expression: missing '}}'", 0);
	scan_err("${{ vars.a } }", "unterminated expression: missing '}}'", 0);
	/* the "}}" belongs to the second expression, the first is open */
	scan_err("x ${{ vars.a ${{ vars.b }}", "unterminated expression: missing '}}'", 2);
	/* a good one, then an open one */
	scan_err("${{ vars.version }} ${{ vars.b", "unterminated expression: missing '}}'", 20);
}

static void test_err_empty(void **state)
{
	(void)state;
	scan_err("${{}}", "empty expression", 0);
	scan_err("ab${{    }}", "empty expression", 2);
	scan_err("${{\t \t}}", "empty expression", 0);
}

static void test_err_unknown_name(void **state)
{
	(void)state;
	scan_err("${{ foo.bar }}", "unknown name 'foo.bar'" KNOWN, 0);
	scan_err("x${{ version }}", "unknown name 'version'" KNOWN, 1);
	scan_err("${{ secret.TOKEN }}", "unknown name 'secret.TOKEN'; did you mean 'secrets.TOKEN'?" KNOWN, 0);
	scan_err("${{ envs.HOME }}", "unknown name 'envs.HOME'; did you mean 'env.HOME'?" KNOWN, 0);
}

static void test_err_unknown_name_suggests(void **state)
{
	(void)state;
	scan_err("${{ var.version }}",
		 "unknown name 'var.version'; did you mean 'vars.version'?" KNOWN, 0);
	/* case differences are typos too: roots are lower case */
	scan_err("${{ Vars.x }}", "unknown name 'Vars.x'; did you mean 'vars.x'?" KNOWN, 0);
	scan_err("${{ pipline.name }}",
		 "unknown name 'pipline.name'; did you mean 'pipeline.name'?" KNOWN, 0);
	scan_err("${{ input }}", "unknown name 'input'; did you mean 'inputs'?" KNOWN, 0);
}

static void test_err_fixed_roots(void **state)
{
	(void)state;
	scan_err("${{ pipeline.id }}", "'pipeline' has only 'name'", 0);
	scan_err("${{ pipeline }}", "'pipeline' has only 'name'", 0);
	scan_err("${{ pipeline. }}", "'pipeline' has only 'name'", 0);
	scan_err("${{ pipeline.Name }}", "'pipeline' has only 'name'", 0);
	scan_err("${{ pipeline.names }}", "'pipeline' has only 'name'", 0);
	scan_err("a ${{ workflow.id }}", "'workflow' has only 'name'", 2);
	scan_err("${{ run.name }}", "'run' has only 'id'", 0);
	scan_err("${{ run }}", "'run' has only 'id'", 0);
}

static void test_err_missing_key(void **state)
{
	(void)state;
	scan_err("${{ vars }}", "'vars' needs a key, like vars.X", 0);
	scan_err("${{ inputs. }}", "'inputs' needs a key, like inputs.X", 0);
	scan_err("${{matrix.}}", "'matrix' needs a key, like matrix.X", 0);
}

static void test_err_invalid_key(void **state)
{
	(void)state;
	scan_err("${{ vars.1abc }}",
		 "invalid key '1abc' in 'vars.1abc' (a key matches [A-Za-z_][A-Za-z0-9_-]*)", 0);
	scan_err("${{ matrix.-x }}",
		 "invalid key '-x' in 'matrix.-x' (a key matches [A-Za-z_][A-Za-z0-9_-]*)", 0);
}

static void test_err_invalid_expression(void **state)
{
	(void)state;
	scan_err("${{ 'x' }}", "invalid expression ''x'' (expected a name like vars.X)", 0);
	scan_err("${{ .vars }}", "invalid expression '.vars' (expected a name like vars.X)", 0);
	scan_err("${{ {vars.a} }}", "invalid expression '{vars.a}' (expected a name like vars.X)", 0);
}

static void test_err_unexpected(void **state)
{
	(void)state;
	scan_err("${{ vars.a.b }}",
		 "unexpected '.b' after 'vars.a' (an expression is a single name, like vars.X)", 0);
	scan_err("${{ vars . a }}",
		 "unexpected ' . a' after 'vars' (an expression is a single name, like vars.X)", 0);
	scan_err("${{ vars.a || 'x' }}",
		 "unexpected ' || 'x'' after 'vars.a' (an expression is a single name, like vars.X)",
		 0);
	scan_err("${{ vars.a\n}}",
		 "unexpected '?' after 'vars.a' (an expression is a single name, like vars.X)", 0);
	scan_err("${{ format(vars.a) }}",
		 "unexpected '(vars.a)' after 'format' (an expression is a single name, like vars.X)",
		 0);
}

static void test_err_long_text_is_cut(void **state)
{
	(void)state;
	char s[300];
	memset(s, 'x', sizeof(s));
	memcpy(s, "${{ !", 5);
	memcpy(s + sizeof(s) - 4, " }}", 4);
	/* 40 bytes of the text, then "..." */
	scan_err(s,
		 "invalid expression '!xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' "
		 "(expected a name like vars.X)",
		 0);
}

static void test_err_cut_keeps_utf8_whole(void **state)
{
	(void)state;
	/* "!" + 38 x + "é" (2 bytes) straddles byte 40: the cut must not split it. */
	char s[128];
	size_t n = 0;
	memcpy(s, "${{ !", 5);
	n = 5;
	memset(s + n, 'x', 38);
	n += 38;
	memcpy(s + n, "\xc3\xa9tail }}", 9);
	n += 9;
	s[n] = '\0';
	scan_err(s,
		 "invalid expression '!xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' "
		 "(expected a name like vars.X)",
		 0);
}

/* ---- expr_eval ---- */

static void test_eval_every_root(void **state)
{
	(void)state;
	eval_ok(&full, "${{ vars.version }}", "1.4.2");
	eval_ok(&full, "${{ inputs.replicas }}", "3");
	eval_ok(&full, "${{ matrix.region }}", "us");
	eval_ok(&full, "${{ pipeline.name }}", "multi-service");
	eval_ok(&full, "${{ workflow.name }}", "deploy[region=us]");
	eval_ok(&full, "${{ run.id }}", "42");
}

static void test_eval_spaces(void **state)
{
	(void)state;
	eval_ok(&full, "${{vars.version}}", "1.4.2");
	eval_ok(&full, "${{    vars.version}}", "1.4.2");
	eval_ok(&full, "${{vars.version     }}", "1.4.2");
	eval_ok(&full, "${{\tvars.version\t}}", "1.4.2");
}

static void test_eval_keys(void **state)
{
	(void)state;
	eval_ok(&full, "${{ vars.with-dash }}", "dash");
	eval_ok(&full, "${{ vars._under }}", "under");
	eval_ok(&full, "[${{ vars.empty }}]", "[]");
	/* same key name under different roots */
	eval_ok(&full, "${{ vars.region }}/${{ matrix.region }}", "eu-west-1/us");
}

static void test_eval_multiple_and_literal(void **state)
{
	(void)state;
	eval_ok(&full, "./deploy.sh ${{ vars.version }} --zone=${{matrix.zone}} # ${{ run.id }}!",
		"./deploy.sh 1.4.2 --zone=b # 42!");
	eval_ok(&full, "${{ vars.version }}${{ vars.version }}", "1.4.21.4.2");
	eval_ok(&full, "", "");
	eval_ok(&full, "no expressions here", "no expressions here");
}

static void test_eval_literal_dollars(void **state)
{
	(void)state;
	eval_ok(&full, "$", "$");
	eval_ok(&full, "${", "${");
	eval_ok(&full, "${HOME} $HOME ${ {x} }", "${HOME} $HOME ${ {x} }");
	eval_ok(&full, "{{ vars.version }}", "{{ vars.version }}");
	eval_ok(&full, "$ {{ vars.version }}", "$ {{ vars.version }}");
	eval_ok(&full, "}} stray", "}} stray");
	/* "$${{" has no escape meaning: the "$" is text, then an expression */
	eval_ok(&full, "$${{ vars.version }}", "$1.4.2");
	eval_ok(&full, "${{ vars.version }}}", "1.4.2}");
	eval_ok(&full, "echo ${x}${{ vars.version }}$", "echo ${x}1.4.2$");
}

static void test_eval_values_not_reevaluated(void **state)
{
	(void)state;
	eval_ok(&full, "${{ vars.tricky }}", "${{ vars.version }}");
}

static void test_eval_run_id_passthrough(void **state)
{
	(void)state;
	struct expr_scope scope = full;
	scope.run_id = NULL;
	eval_ok(&scope, "id=${{ run.id }}", "id=${{ run.id }}");
	/* kept exactly as written, spaces included */
	eval_ok(&scope, "${{run.id}} ${{   run.id\t}}", "${{run.id}} ${{   run.id\t}}");
	eval_ok(&scope, "${{ vars.version }}-${{ run.id }}", "1.4.2-${{ run.id }}");
	/* and a NULL scope also keeps run.id */
	eval_ok(NULL, "x ${{ run.id }} y", "x ${{ run.id }} y");
}

/*
 * Secrets: their values where a scope has them (when a step starts),
 * kept as written where it says so (the plan), an error elsewhere.
 */
static void test_eval_secrets(void **state)
{
	(void)state;
	static struct kv secret_kvs[] = {
		{ .key = "api-token", .val = "s3cr3t" },
		{ .key = "looks", .val = "${{ run.id }}" },
	};
	static const struct kvlist secrets = { secret_kvs, 2 };
	struct expr_scope scope = full;
	scope.secrets = &secrets;
	eval_ok(&scope, "Bearer ${{ secrets.api-token }}", "Bearer s3cr3t");
	/* a value is never evaluated again */
	eval_ok(&scope, "${{ secrets.looks }}", "${{ run.id }}");
	eval_err(&scope, "${{ secrets.api-tokn }}", "unknown secret 'api-tokn' (did you mean 'api-token'?)", 0);

	scope.secrets = NULL;
	scope.keep_secrets = true;
	eval_ok(&scope, "${{ vars.version }}:${{secrets.api-token}}", "1.4.2:${{secrets.api-token}}");

	scope.keep_secrets = false;
	eval_err(&scope, "x ${{ secrets.api-token }}",
		 "secrets are not available here (only in env: values and http-check headers)", 2);
	eval_err(NULL, "${{ secrets.api-token }}",
		 "secrets are not available here (only in env: values and http-check headers)", 0);
}

static void test_eval_null_scopes(void **state)
{
	(void)state;
	struct expr_scope scope = { 0 };
	eval_err(&scope, "${{ vars.version }}", "vars are not available here", 0);
	eval_err(&scope, "ab ${{ inputs.replicas }}", "inputs are not available here", 3);
	eval_err(&scope, "${{ matrix.region }}", "matrix values are not available here", 0);
	eval_err(&scope, "${{ pipeline.name }}", "pipeline.name is not available here", 0);
	eval_err(&scope, "${{ workflow.name }}", "workflow.name is not available here", 0);
	eval_err(NULL, "${{ vars.version }}", "vars are not available here", 0);
	eval_ok(&scope, "plain", "plain");
}

static void test_eval_missing_keys(void **state)
{
	(void)state;
	eval_err(&full, "${{ vars.nope }}", "unknown var 'nope'", 0);
	eval_err(&full, "x ${{ inputs.count }}", "no input 'count'", 2);
	eval_err(&full, "${{ matrix.os }}", "no matrix key 'os'", 0);
	/* an empty list is available but has no keys */
	struct expr_scope scope = full;
	scope.inputs = &nothing;
	eval_err(&scope, "${{ inputs.replicas }}", "no input 'replicas'", 0);
}

static void test_eval_missing_key_suggests(void **state)
{
	(void)state;
	eval_err(&full, "${{ vars.verison }}", "unknown var 'verison' (did you mean 'version'?)", 0);
	eval_err(&full, "${{ vars.Version }}", "unknown var 'Version' (did you mean 'version'?)", 0);
	eval_err(&full, "${{ inputs.replica }}", "no input 'replica' (did you mean 'replicas'?)", 0);
	eval_err(&full, "${{ matrix.zones }}", "no matrix key 'zones' (did you mean 'zone'?)", 0);
}

static void test_eval_key_prefix_is_not_a_match(void **state)
{
	(void)state;
	/* "versio" is a prefix of "version", "version2" extends it: neither matches */
	eval_err(&full, "${{ vars.versio }}", "unknown var 'versio' (did you mean 'version'?)", 0);
	eval_err(&full, "${{ vars.version2 }}", "unknown var 'version2' (did you mean 'version'?)", 0);
}

static void test_eval_error_offset_of_later_ref(void **state)
{
	(void)state;
	eval_err(&full, "${{ vars.version }} ${{ vars.nope }}", "unknown var 'nope'", 20);
}

static void test_eval_null_err(void **state)
{
	(void)state;
	struct arena a = ARENA_INIT;
	assert_null(expr_eval("${{ vars.nope }}", &full, &a, NULL, NULL));
	assert_null(expr_eval("${{ vars.", &full, &a, NULL, NULL));
	assert_string_equal(expr_eval("${{ vars.version }}", &full, &a, NULL, NULL), "1.4.2");
	arena_release(&a);
}

static void test_eval_result_in_arena(void **state)
{
	(void)state;
	struct arena a = ARENA_INIT;
	char s[] = "v=${{ vars.version }}";
	const char *got = expr_eval(s, &full, &a, NULL, NULL);
	assert_non_null(got);
	/* the result does not alias the source */
	assert_ptr_not_equal(got, s);
	s[0] = 'X';
	assert_string_equal(got, "v=1.4.2");
	arena_release(&a);
}

static void test_eval_duplicate_key_first_wins(void **state)
{
	(void)state;
	struct kv kvs[] = { { .key = "a", .val = "first" }, { .key = "a", .val = "second" } };
	struct kvlist list = { kvs, 2 };
	struct expr_scope scope = { .vars = &list };
	eval_ok(&scope, "${{ vars.a }}", "first");
}

/* env.X: the list it is given (an http-check's workflow env, then its environment's). */
static void test_eval_env(void **state)
{
	(void)state;
	struct kv kvs[] = { { .key = "PORT", .val = "8080" }, { .key = "PORT", .val = "9090" },
			    { .key = "TOKEN", .val = "t-${{ run.id }}" } };
	struct kvlist list = { kvs, 3 };
	struct expr_scope scope = { .env = &list };
	eval_ok(&scope, "http://h:${{ env.PORT }}/", "http://h:8080/");
	eval_err(&scope, "x${{ env.PROT }}",
		 "env 'PROT' is set by neither the workflow's env nor its environment's (did you mean 'PORT'?)", 1);
	eval_err(&scope, "${{ env.TOKEN }}",
		 "env 'TOKEN' is known only when the run starts (its value uses ${{ run.id }})", 0);
	struct expr_scope none = { 0 };
	eval_err(&none, "${{ env.PORT }}", "env.X is available only in http-check urls and headers", 0);
}

static void test_eval_result_limit(void **state)
{
	(void)state;
	/* 1 MiB value referenced 5 times: more than the 4 MiB limit */
	size_t big = 1u << 20;
	char *val = malloc(big + 1);
	assert_non_null(val);
	memset(val, 'v', big);
	val[big] = '\0';
	struct kv kvs[] = { { .key = "big", .val = val } };
	struct kvlist list = { kvs, 1 };
	struct expr_scope scope = { .vars = &list };
	struct arena a = ARENA_INIT;
	struct buf err = BUF_INIT;
	size_t off = 0;
	const char *four = "${{vars.big}}${{vars.big}}${{vars.big}}${{vars.big}}";
	const char *got = expr_eval(four, &scope, &a, &err, &off);
	assert_non_null(got);
	assert_int_equal(strlen(got), 4 * big);
	const char *five = "${{vars.big}}${{vars.big}}${{vars.big}}${{vars.big}}${{vars.big}}";
	assert_null(expr_eval(five, &scope, &a, &err, &off));
	assert_string_equal(err.s, "text too long after substitution (limit 4 MiB)");
	assert_int_equal(off, 52);
	buf_release(&err);
	arena_release(&a);
	free(val);
}

/* ---- hostile inputs: these must finish quickly and stay in bounds ---- */

static void test_hostile_many_opens(void **state)
{
	(void)state;
	size_t n = 200000;
	char *s = malloc(3 * n + 1);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + 3 * i, "${{", 3);
	s[3 * n] = '\0';
	scan_err(s, "unterminated expression: missing '}}'", 0);
	free(s);
}

static void test_hostile_many_refs(void **state)
{
	(void)state;
	const char *ref = "${{ vars.version }}";
	size_t rl = strlen(ref), n = 100000;
	char *s = malloc(rl * n + 1);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + rl * i, ref, rl);
	s[rl * n] = '\0';
	assert_int_equal(expr_scan(s, NULL, NULL, NULL, NULL), 0);
	struct arena a = ARENA_INIT;
	const char *got = expr_eval(s, &full, &a, NULL, NULL);
	assert_non_null(got);
	assert_int_equal(strlen(got), 5 * n);
	arena_release(&a);
	/* break the last one: the error offset points at it */
	s[rl * n - 2] = ' ';
	s[rl * n - 1] = ' ';
	scan_err(s, "unterminated expression: missing '}}'", rl * (n - 1));
	free(s);
}

static void test_hostile_long_name(void **state)
{
	(void)state;
	size_t n = 100000;
	char *s = malloc(n + 16);
	assert_non_null(s);
	memcpy(s, "${{ vars.", 9);
	memset(s + 9, 'k', n);
	memcpy(s + 9 + n, " }}", 4);
	struct arena a = ARENA_INIT;
	struct buf err = BUF_INIT;
	size_t off = 1;
	assert_null(expr_eval(s, &full, &a, &err, &off));
	assert_string_equal(err.s, "unknown var 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...'");
	assert_int_equal(off, 0);
	/* the same length as a root */
	memset(s + 4, 'r', n);
	buf_reset(&err);
	assert_null(expr_eval(s, &full, &a, &err, &off));
	assert_string_equal(err.s, "unknown name 'rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr...'" KNOWN);
	buf_release(&err);
	arena_release(&a);
	free(s);
}

static void test_hostile_binary_bytes(void **state)
{
	(void)state;
	eval_ok(&full, "\x01\x7f\xff${{ vars.version }}\xfe", "\x01\x7f\xff" "1.4.2\xfe");
	scan_err("${{ \x01\x02 }}", "invalid expression '?\?' (expected a name like vars.X)", 0);
}

/* ---- small helpers ---- */

static void test_has(void **state)
{
	(void)state;
	assert_true(expr_has("${{"));
	assert_true(expr_has("a ${{ vars.x }}"));
	assert_true(expr_has("${{ broken"));
	assert_false(expr_has(""));
	assert_false(expr_has("${ {"));
	assert_false(expr_has("$ {{"));
	assert_false(expr_has("${x}"));
	assert_false(expr_has(NULL));
}

static void test_root_name(void **state)
{
	(void)state;
	assert_string_equal(expr_root_name(EXPR_VARS), "vars");
	assert_string_equal(expr_root_name(EXPR_INPUTS), "inputs");
	assert_string_equal(expr_root_name(EXPR_MATRIX), "matrix");
	assert_string_equal(expr_root_name(EXPR_PIPELINE), "pipeline");
	assert_string_equal(expr_root_name(EXPR_WORKFLOW), "workflow");
	assert_string_equal(expr_root_name(EXPR_RUN), "run");
	assert_string_equal(expr_root_name(EXPR_ALL), "?");
	assert_string_equal(expr_root_name(EXPR_VARS | EXPR_RUN), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_every_root),
		cmocka_unit_test(test_scan_no_refs),
		cmocka_unit_test(test_scan_callback_stops),
		cmocka_unit_test(test_scan_callback_returns_one),
		cmocka_unit_test(test_scan_error_after_refs),
		cmocka_unit_test(test_scan_null_err_and_fn),
		cmocka_unit_test(test_scan_error_appends),
		cmocka_unit_test(test_err_unterminated),
		cmocka_unit_test(test_err_empty),
		cmocka_unit_test(test_err_unknown_name),
		cmocka_unit_test(test_err_unknown_name_suggests),
		cmocka_unit_test(test_err_fixed_roots),
		cmocka_unit_test(test_err_missing_key),
		cmocka_unit_test(test_err_invalid_key),
		cmocka_unit_test(test_err_invalid_expression),
		cmocka_unit_test(test_err_unexpected),
		cmocka_unit_test(test_err_long_text_is_cut),
		cmocka_unit_test(test_err_cut_keeps_utf8_whole),
		cmocka_unit_test(test_eval_every_root),
		cmocka_unit_test(test_eval_spaces),
		cmocka_unit_test(test_eval_keys),
		cmocka_unit_test(test_eval_multiple_and_literal),
		cmocka_unit_test(test_eval_literal_dollars),
		cmocka_unit_test(test_eval_values_not_reevaluated),
		cmocka_unit_test(test_eval_run_id_passthrough),
		cmocka_unit_test(test_eval_secrets),
		cmocka_unit_test(test_eval_null_scopes),
		cmocka_unit_test(test_eval_missing_keys),
		cmocka_unit_test(test_eval_missing_key_suggests),
		cmocka_unit_test(test_eval_key_prefix_is_not_a_match),
		cmocka_unit_test(test_eval_error_offset_of_later_ref),
		cmocka_unit_test(test_eval_null_err),
		cmocka_unit_test(test_eval_result_in_arena),
		cmocka_unit_test(test_eval_duplicate_key_first_wins),
		cmocka_unit_test(test_eval_env),
		cmocka_unit_test(test_eval_result_limit),
		cmocka_unit_test(test_hostile_many_opens),
		cmocka_unit_test(test_hostile_many_refs),
		cmocka_unit_test(test_hostile_long_name),
		cmocka_unit_test(test_hostile_binary_bytes),
		cmocka_unit_test(test_has),
		cmocka_unit_test(test_root_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
