/*
 * Tests for base/opts.c, the one option parser of the commands: every
 * form of an option and its value, arguments around options and after
 * `--`, numbers and durations with their ranges, repeated options,
 * checks, abbreviations, each usage error's message, help, and the help
 * text written from the table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "base/buf.h"
#include "base/opts.h"

/* What a parse stored: one command's options. */
struct seen {
	bool json, follow, all;
	const char *state, *format, *max;
	uint64_t limit, grace;
	struct opt_list vars;
};

static int check_var(const char *arg, struct buf *why)
{
	if (strchr(arg, '=') && arg[0] != '=')
		return 0;
	buf_addf(why, "--var takes KEY=VALUE, not '%s'", arg);
	return -1;
}

#define MAX_ARGS 16

/*
 * Parses the words of `args` (NULL-terminated) into `s`. Returns what
 * opts_parse returned; `err` gets its message, `left` the arguments left
 * joined by '|'.
 */
static int parse(struct seen *s, const char *const *args, struct buf *err, struct buf *left)
{
	const struct opt opts[] = {
		OPT_FLAG(0, "json", &s->json, "JSON"),
		OPT_FLAG('f', "follow", &s->follow, "follow"),
		OPT_FLAG('a', "all", &s->all, "all"),
		OPT_STRING(0, "state", &s->state, "DIR", "state"),
		OPT_STRING('F', "format", &s->format, "FORMAT", "format"),
		OPT_NUMBER(0, "limit", &s->limit, "N", 1, 500, "runs", "limit"),
		OPT_DURATION(0, "kill-grace", &s->grace, "DUR", 100, 3600000, "0 kills at once", "grace"),
		OPT_LIST(0, "var", &s->vars, "KEY=VALUE", check_var, "var"),
		/* "max" is also the start of "max-log": its own name wins. */
		OPT_STRING(0, "max", &s->max, "M", "max"),
		OPT_STRING(0, "max-log", &s->max, "M", "max-log"),
		OPT_STRING(0, "max-parallel", &s->max, "M", "max-parallel"),
		OPT_HELP(),
		OPT_END(),
	};
	char *argv[MAX_ARGS];
	int argc = 0;
	while (args[argc]) {
		assert_true(argc < MAX_ARGS);
		argv[argc] = (char *)args[argc];
		argc++;
	}
	int n = opts_parse(opts, argc, argv, err);
	for (int i = 0; i < n; i++)
		buf_addf(left, "%s%s", i ? "|" : "", argv[i]);
	return n;
}

/* Parses `args`: it must succeed, leaving the arguments `want_left`. */
static void ok(struct seen *s, const char *want_left, const char *const *args)
{
	struct buf err = BUF_INIT, left = BUF_INIT;
	int n = parse(s, args, &err, &left);
	if (n < 0)
		fail_msg("refused (%d): %s", n, err.s);
	assert_string_equal(left.s, want_left);
	assert_int_equal(err.len, 0);
	buf_release(&err);
	buf_release(&left);
}

/* Parses `args`: it must fail with message `want`. */
static void bad(const char *want, const char *const *args)
{
	struct seen s = { 0 };
	struct buf err = BUF_INIT, left = BUF_INIT;
	int n = parse(&s, args, &err, &left);
	if (n != OPTS_ERROR)
		fail_msg("want an error '%s', got %d", want, n);
	assert_string_equal(err.s, want);
	buf_release(&err);
	buf_release(&left);
	opt_list_release(&s.vars);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_values_in_every_form(void **state)
{
	(void)state;
	struct seen s = { 0 };
	ok(&s, "", ARGS("--state", "a"));
	assert_string_equal(s.state, "a");
	ok(&s, "", ARGS("--state=b"));
	assert_string_equal(s.state, "b");
	/* After '=', the rest is the value: more '=' and nothing at all. */
	ok(&s, "", ARGS("--state=c=d"));
	assert_string_equal(s.state, "c=d");
	ok(&s, "", ARGS("--state="));
	assert_string_equal(s.state, "");
	ok(&s, "", ARGS("-F", "dot"));
	assert_string_equal(s.format, "dot");
	ok(&s, "", ARGS("-Fjson"));
	assert_string_equal(s.format, "json");
	/* The last one given wins. */
	ok(&s, "", ARGS("--state", "x", "--state", "y"));
	assert_string_equal(s.state, "y");
}

static void test_a_value_may_start_with_a_dash(void **state)
{
	(void)state;
	struct seen s = { 0 };
	ok(&s, "", ARGS("--state", "-x"));
	assert_string_equal(s.state, "-x");
	ok(&s, "", ARGS("--state", "--json"));
	assert_string_equal(s.state, "--json");
	assert_false(s.json);
	/* A number's value is read as one, and refused as one. */
	bad("bad --limit '-5': a whole number of runs from 1 to 500, in digits", ARGS("--limit", "-5"));
}

static void test_arguments_around_options(void **state)
{
	(void)state;
	struct seen s = { 0 };
	ok(&s, "a|b|c", ARGS("a", "--json", "b", "--state", "d", "c"));
	assert_true(s.json);
	assert_string_equal(s.state, "d");
	/* '-' alone is an argument (standard input), and so is "". */
	ok(&s, "-||x", ARGS("-", "", "x"));
}

static void test_double_dash_ends_the_options(void **state)
{
	(void)state;
	struct seen s = { 0 };
	ok(&s, "a|--json|-f|--", ARGS("a", "--", "--json", "-f", "--"));
	assert_false(s.json);
	assert_false(s.follow);
	ok(&s, "", ARGS("--"));
}

static void test_flags(void **state)
{
	(void)state;
	struct seen s = { 0 };
	ok(&s, "x", ARGS("--follow", "x"));
	assert_true(s.follow);
	struct seen t = { 0 };
	ok(&t, "", ARGS("-fa"));
	assert_true(t.follow && t.all);
	bad("option '--json' takes no value", ARGS("--json=1"));
	bad("option '--json' takes no value", ARGS("--json="));
}

static void test_unknown_options(void **state)
{
	(void)state;
	bad("unknown option '--bogus'", ARGS("a", "--bogus", "b"));
	bad("unknown option '--jsn'; did you mean '--json'?", ARGS("--jsn"));
	bad("unknown option '--stae=x'; did you mean '--state'?", ARGS("--stae=x"));
	/* One dash short of a long option. */
	bad("unknown option '-json'; did you mean '--json'?", ARGS("-json"));
	bad("unknown option '-5'", ARGS("-5"));
	bad("unknown option '-fx'", ARGS("-fx"));
	bad("unknown option '--=x'", ARGS("--=x"));
	bad("unknown option '---json'; did you mean '--json'?", ARGS("---json"));
}

static void test_missing_values(void **state)
{
	(void)state;
	bad("option '--state' needs a value", ARGS("x", "--state"));
	bad("option '-F' needs a value", ARGS("-F"));
	bad("option '-F' needs a value", ARGS("-fF"));
	bad("option '--var' needs a value", ARGS("--var"));
}

static void test_abbreviations(void **state)
{
	(void)state;
	struct seen s = { 0 };
	ok(&s, "", ARGS("--js", "--stat", "d", "--lim=7"));
	assert_true(s.json);
	assert_string_equal(s.state, "d");
	assert_int_equal(s.limit, 7);
	ok(&s, "", ARGS("--max", "m"));
	assert_string_equal(s.max, "m");
	ok(&s, "", ARGS("--max-l", "l"));
	assert_string_equal(s.max, "l");
	bad("option '--max-' is ambiguous: '--max-log' or '--max-parallel'", ARGS("--max-", "1"));
	bad("option '--f' is ambiguous: '--follow' or '--format'", ARGS("--f"));
}

static void test_numbers(void **state)
{
	(void)state;
	struct seen s = { 0 };
	ok(&s, "", ARGS("--limit", "500"));
	assert_int_equal(s.limit, 500);
	ok(&s, "", ARGS("--limit=007"));
	assert_int_equal(s.limit, 7);
	static const char *const refused[] = {
		"0", "501", "+5", " 5", "5 ", "5x", "1e2", "", "18446744073709551617",
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct buf want = BUF_INIT;
		buf_addf(&want, "bad --limit '%s': a whole number of runs from 1 to 500, in digits", refused[i]);
		bad(want.s, ARGS("--limit", refused[i]));
		buf_release(&want);
	}
}

static void test_durations(void **state)
{
	(void)state;
	struct seen s = { 0 };
	ok(&s, "", ARGS("--kill-grace", "1h"));
	assert_int_equal(s.grace, 3600000);
	ok(&s, "", ARGS("--kill-grace=1m30s"));
	assert_int_equal(s.grace, 90000);
	ok(&s, "", ARGS("--kill-grace", "100ms"));
	assert_int_equal(s.grace, 100);
	bad("bad --kill-grace '1h1ms': at most 1h (0 kills at once)", ARGS("--kill-grace", "1h1ms"));
	bad("bad --kill-grace '99ms': at least 100ms (0 kills at once)", ARGS("--kill-grace", "99ms"));
	/* Not a duration: the reason is base/duration's. */
	struct buf err = BUF_INIT, left = BUF_INIT;
	struct seen t = { 0 };
	assert_int_equal(parse(&t, ARGS("--kill-grace", "5 s"), &err, &left), OPTS_ERROR);
	assert_true(strncmp(err.s, "bad --kill-grace '5 s': ", 24) == 0);
	assert_true(err.len > 24);
	buf_release(&err);
	buf_release(&left);
}

static void test_repeated_option_keeps_every_value(void **state)
{
	(void)state;
	struct seen s = { 0 };
	ok(&s, "f", ARGS("--var", "a=1", "f", "--var=b=2", "--var", "a=3"));
	assert_int_equal(s.vars.n, 3);
	assert_string_equal(s.vars.v[0], "a=1");
	assert_string_equal(s.vars.v[1], "b=2");
	assert_string_equal(s.vars.v[2], "a=3");
	opt_list_release(&s.vars);
	assert_int_equal(s.vars.n, 0);
	/* The check's message, as it wrote it. */
	bad("--var takes KEY=VALUE, not 'version'", ARGS("--var", "a=1", "--var", "version"));
	bad("--var takes KEY=VALUE, not '=1'", ARGS("--var==1"));
}

static void test_help_stops_the_parse(void **state)
{
	(void)state;
	struct seen s = { 0 };
	struct buf err = BUF_INIT, left = BUF_INIT;
	assert_int_equal(parse(&s, ARGS("--json", "--help", "--bogus", "--state", "x"), &err, &left), OPTS_HELP);
	assert_true(s.json);
	assert_null(s.state);
	assert_int_equal(parse(&s, ARGS("x", "-h"), &err, &left), OPTS_HELP);
	assert_int_equal(parse(&s, ARGS("-ah"), &err, &left), OPTS_HELP);
	assert_int_equal(parse(&s, ARGS("--he"), &err, &left), OPTS_HELP);
	/* An error before it is the answer. */
	assert_int_equal(parse(&s, ARGS("--bogus", "--help"), &err, &left), OPTS_ERROR);
	buf_release(&err);
	buf_release(&left);
}

static void test_help_text(void **state)
{
	(void)state;
	bool json = false, follow = false;
	const char *st = NULL;
	uint64_t n = 0;
	const struct opt opts[] = {
		OPT_FLAG('f', "follow", &follow, "follow a run"),
		OPT_STRING(0, "state", &st, "DIR", "state directory;\nmore about it"),
		OPT_NUMBER(0, "max-parallel", &n, "N", 1, 9, "step processes", "at most N"),
		OPT_FLAG(0, "json", &json, "JSON lines"),
		OPT_HELP(),
		OPT_END(),
	};
	struct buf out = BUF_INIT;
	opts_help(opts, &out);
	assert_string_equal(out.s, "  -f, --follow       follow a run\n"
				   "  --state DIR        state directory;\n"
				   "                     more about it\n"
				   "  --max-parallel N   at most N\n"
				   "  --json             JSON lines\n"
				   "  -h, --help         show this help\n");
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_in_every_form),
		cmocka_unit_test(test_a_value_may_start_with_a_dash),
		cmocka_unit_test(test_arguments_around_options),
		cmocka_unit_test(test_double_dash_ends_the_options),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_unknown_options),
		cmocka_unit_test(test_missing_values),
		cmocka_unit_test(test_abbreviations),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_repeated_option_keeps_every_value),
		cmocka_unit_test(test_help_stops_the_parse),
		cmocka_unit_test(test_help_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
