/*
 * Tests for base/num.c: the one strict decimal parser. Every form it
 * refuses (signs, spaces, prefixes, fractions, exponents, empty text),
 * ranges at both ends, and values past 64 bits, which must be "too
 * large" rather than wrap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "base/num.h"

static void ok(const char *s, uint64_t min, uint64_t max, uint64_t want)
{
	uint64_t v = 12345;
	const char *why = "untouched";
	if (num_parse(s, min, max, &v, &why) != 0)
		fail_msg("'%s' in %llu..%llu refused: %s", s, (unsigned long long)min,
			 (unsigned long long)max, why);
	if (v != want)
		fail_msg("'%s' gave %llu, want %llu", s, (unsigned long long)v, (unsigned long long)want);
}

static void bad(const char *s, uint64_t min, uint64_t max, const char *want_why)
{
	uint64_t v = 12345;
	const char *why = NULL;
	if (num_parse(s, min, max, &v, &why) == 0)
		fail_msg("'%s' in %llu..%llu accepted as %llu", s, (unsigned long long)min,
			 (unsigned long long)max, (unsigned long long)v);
	assert_non_null(why);
	if (strcmp(why, want_why))
		fail_msg("'%s': reason '%s', want '%s'", s, why, want_why);
	/* A refused number leaves the output alone. */
	assert_int_equal(v, 12345);
}

static void test_accepts_plain_decimal(void **state)
{
	(void)state;
	ok("0", 0, 100, 0);
	ok("7", 0, 100, 7);
	ok("100", 0, 100, 100);
	ok("1", 1, 65535, 1);
	ok("65535", 1, 65535, 65535);
	/* Leading zeros change nothing: decimal, never octal. */
	ok("010", 0, 100, 10);
	ok("0000000000000000000000000000042", 0, 100, 42);
	ok("18446744073709551615", 0, UINT64_MAX, UINT64_MAX);
}

static void test_refuses_other_forms(void **state)
{
	(void)state;
	static const char *const forms[] = {
		"+1", "-1", " 1", "1 ", "\t1", "1\n", "1.0", "1.", ".5", "1e3", "0x10", "0b1",
		"1_000", "1,000", "one", "٣", "１", "~",
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		bad(forms[i], 0, UINT64_MAX, "not a whole number");
	bad("", 0, 100, "no digits");
	/* The form is judged before the size: junk after many digits is junk. */
	bad("99999999999999999999x", 0, 100, "not a whole number");
}

static void test_range(void **state)
{
	(void)state;
	bad("101", 0, 100, "too large");
	bad("0", 1, 65535, "too small");
	bad("65536", 1, 65535, "too large");
	bad("99", 100, 599, "too small");
	bad("600", 100, 599, "too large");
	/* Past 64 bits: too large, never wrapped to something small. */
	bad("18446744073709551616", 0, UINT64_MAX, "too large");
	bad("18446744073709551626", 0, UINT64_MAX, "too large");
	bad("36893488147419103232", 0, UINT64_MAX, "too large"); /* 2^65: wraps to 0 */
	bad("99999999999999999999999999999999", 0, 100, "too large");
	bad("4294967297", 0, 65535, "too large");                /* 2^32 + 1 */
	/* An empty range refuses everything. */
	bad("5", 6, 5, "too small");
	bad("1", 0, 0, "too large");
	ok("0", 0, 0, 0);
}

static void test_length_bounds_the_text(void **state)
{
	(void)state;
	uint64_t v = 0;
	const char *why = NULL;
	/* Only `len` bytes count: "8080/health" read as a port. */
	assert_int_equal(num_parse_range("8080/health", 4, 1, 65535, &v, &why), 0);
	assert_int_equal(v, 8080);
	assert_int_equal(num_parse_range("8080/health", 5, 1, 65535, &v, &why), -1);
	assert_string_equal(why, "not a whole number");
	/* A NUL inside the counted bytes is not a digit. */
	assert_int_equal(num_parse_range("1\0002", 3, 0, 1000, &v, &why), -1);
	assert_string_equal(why, "not a whole number");
	/* `why` may be NULL. */
	assert_int_equal(num_parse_range("x", 1, 0, 9, &v, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_plain_decimal),
		cmocka_unit_test(test_refuses_other_forms),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_length_bounds_the_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
