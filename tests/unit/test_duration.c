/*
 * Tests for base/duration.c: every accepted form, every error, the limit,
 * and canonical formatting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "base/duration.h"

static void parse_ok(const char *s, uint64_t want)
{
	uint64_t ms = 987654321;
	const char *why = "untouched";
	if (duration_parse(s, &ms, &why) != 0)
		fail_msg("duration_parse(\"%s\") failed: %s", s, why);
	assert_int_equal(ms, want);
}

static void parse_err(const char *s, const char *want_why)
{
	uint64_t ms = 987654321;
	const char *why = NULL;
	assert_int_equal(duration_parse(s, &ms, &why), -1);
	assert_non_null(why);
	assert_string_equal(why, want_why);
	/* a failed parse leaves the output alone */
	assert_int_equal(ms, 987654321);
}

static void format_is(uint64_t ms, const char *want)
{
	char out[64];
	memset(out, 'X', sizeof(out));
	duration_format(ms, out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_single_units(void **state)
{
	(void)state;
	parse_ok("250ms", 250);
	parse_ok("30s", 30000);
	parse_ok("10m", 600000);
	parse_ok("2h", 7200000);
	parse_ok("0s", 0);
	parse_ok("0ms", 0);
	parse_ok("1ms", 1);
}

static void test_bare_integer_is_seconds(void **state)
{
	(void)state;
	parse_ok("0", 0);
	parse_ok("1", 1000);
	parse_ok("90", 90000);
	parse_ok("007", 7000);
}

static void test_compound(void **state)
{
	(void)state;
	parse_ok("1h30m", 5400000);
	parse_ok("1m30s500ms", 90500);
	parse_ok("1h1ms", 3600001);
	parse_ok("2h0m5s", 7205000);
	parse_ok("1h2m3s4ms", 3723004);
	/* units need not be "normalised": 90m is fine */
	parse_ok("90m", 5400000);
	parse_ok("1500ms", 1500);
}

static void test_limit(void **state)
{
	(void)state;
	parse_ok("8784h", DURATION_MAX_MS);           /* 366 days exactly */
	parse_ok("527040m", DURATION_MAX_MS);
	parse_ok("31622400", DURATION_MAX_MS);        /* bare seconds */
	parse_ok("31622400000ms", DURATION_MAX_MS);
	parse_err("8785h", "duration too large (at most 366 days)");
	parse_err("8784h1ms", "duration too large (at most 366 days)");
	parse_err("31622401", "duration too large (at most 366 days)");
	parse_err("31622400001ms", "duration too large (at most 366 days)");
	/* a number too long for 64 bits is refused, not wrapped */
	parse_err("99999999999999999999999999s", "duration too large (at most 366 days)");
	parse_err("18446744073709551617ms", "duration too large (at most 366 days)");
}

static void test_errors(void **state)
{
	(void)state;
	parse_err("", "empty duration");
	parse_err("s", "expected a number");
	parse_err("ms", "expected a number");
	parse_err("-1s", "expected a number");
	parse_err("+1s", "expected a number");
	parse_err(" 1s", "expected a number");
	parse_err("1s ", "expected a number");
	parse_err("1hm", "expected a number");
	parse_err("1d", "unknown unit (use h, m, s or ms)");
	parse_err("1 s", "unknown unit (use h, m, s or ms)");
	parse_err("10S", "unknown unit (use h, m, s or ms)");
	parse_err("5us", "unknown unit (use h, m, s or ms)");
	parse_err("1m30", "number without a unit (use h, m, s or ms)");
	parse_err("1.5h", "fractions are not allowed; use a smaller unit instead");
	parse_err("1,5s", "fractions are not allowed; use a smaller unit instead");
	parse_err("1h0.5m", "fractions are not allowed; use a smaller unit instead");
	parse_err("2.", "fractions are not allowed; use a smaller unit instead");
	parse_err("1h30m20", "number without a unit (use h, m, s or ms)");
}

static void test_unit_order(void **state)
{
	(void)state;
	const char *why = "units must go from largest to smallest, each once (like 1h30m)";
	parse_err("30m1h", why);
	parse_err("1s1m", why);
	parse_err("1ms1s", why);
	parse_err("1s1s", why);
	parse_err("1h1h", why);
	parse_err("1m2m", why);
}

static void test_null_why(void **state)
{
	(void)state;
	uint64_t ms = 5;
	assert_int_equal(duration_parse("bogus", &ms, NULL), -1);
	assert_int_equal(ms, 5);
	assert_int_equal(duration_parse("2s", &ms, NULL), 0);
	assert_int_equal(ms, 2000);
}

static void test_format(void **state)
{
	(void)state;
	format_is(0, "0s");
	format_is(1, "1ms");
	format_is(250, "250ms");
	format_is(1000, "1s");
	format_is(1500, "1s500ms");
	format_is(60000, "1m");
	format_is(90000, "1m30s");
	format_is(90500, "1m30s500ms");
	format_is(3600000, "1h");
	format_is(5400000, "1h30m");
	format_is(3600001, "1h1ms");
	format_is(7205000, "2h5s");
	format_is(3723004, "1h2m3s4ms");
	format_is(DURATION_MAX_MS, "8784h");
	format_is(UINT64_MAX, "5124095576030h25m51s615ms");
}

static void test_format_round_trip(void **state)
{
	(void)state;
	static const uint64_t values[] = {
		0, 1, 999, 1000, 59999, 60000, 3599999, 3600000, 86400000, 123456789,
		DURATION_MAX_MS - 1, DURATION_MAX_MS,
	};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char out[64];
		uint64_t back = 0;
		duration_format(values[i], out, sizeof(out));
		assert_int_equal(duration_parse(out, &back, NULL), 0);
		assert_int_equal(back, values[i]);
	}
}

static void test_format_truncates_safely(void **state)
{
	(void)state;
	char out[8];

	memset(out, 'X', sizeof(out));
	duration_format(3723004, out, 4); /* "1h2m3s4ms" cut to 3 chars */
	assert_string_equal(out, "1h2");
	assert_int_equal(out[4], 'X');

	memset(out, 'X', sizeof(out));
	duration_format(3723004, out, 1);
	assert_string_equal(out, "");
	assert_int_equal(out[1], 'X');

	memset(out, 'X', sizeof(out));
	duration_format(0, out, 2);
	assert_string_equal(out, "0");

	/* no room at all: nothing may be written */
	memset(out, 'X', sizeof(out));
	duration_format(1000, out, 0);
	assert_int_equal(out[0], 'X');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_units),
		cmocka_unit_test(test_bare_integer_is_seconds),
		cmocka_unit_test(test_compound),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_unit_order),
		cmocka_unit_test(test_null_why),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_format_truncates_safely),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
