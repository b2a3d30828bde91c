/*
 * Tests for base/num.c: what is a number (digits only), the range at
 * both ends, overflow at any length, and that a failure leaves the output
 * alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "base/num.h"

static void parse_is(const char *s, uint64_t min, uint64_t max, int want_rc, uint64_t want)
{
	uint64_t v = 4242;
	int rc = num_parse_u64(s, min, max, &v);
	if (rc != want_rc)
		fail_msg("num_parse_u64(\"%s\", %llu, %llu) = %d, want %d", s ? s : "(null)",
			 (unsigned long long)min, (unsigned long long)max, rc, want_rc);
	assert_int_equal(v, rc == 0 ? want : 4242);
}

static void test_digits(void **state)
{
	(void)state;
	parse_is("0", 0, 10, 0, 0);
	parse_is("7", 0, 10, 0, 7);
	parse_is("10", 0, 10, 0, 10);
	parse_is("0042", 0, 100, 0, 42);
	parse_is("18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX);
}

static void test_not_a_number(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", " 7", "7 ", "+9", "-5", "-0", "0x10", "1e3", "5ms", "1.5", "1,000", "1_000", "\t3",
		"3\n", "\xd9\xa3", "abc",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_is(bad[i], 0, UINT64_MAX, -EINVAL, 0);
	parse_is(NULL, 0, UINT64_MAX, -EINVAL, 0);
	/* Syntax first: a long bad string is not a range error. */
	parse_is("99999999999999999999999x", 0, UINT64_MAX, -EINVAL, 0);
}

static void test_range(void **state)
{
	(void)state;
	parse_is("0", 1, 10, -ERANGE, 0);
	parse_is("11", 1, 10, -ERANGE, 0);
	parse_is("1", 1, 10, 0, 1);
	parse_is("9223372036854775807", 1, INT64_MAX, 0, INT64_MAX);
	parse_is("9223372036854775808", 1, INT64_MAX, -ERANGE, 0);
	/* Overflow at any length is out of range, never a wrapped value. */
	parse_is("18446744073709551616", 0, UINT64_MAX, -ERANGE, 0);
	parse_is("18446744073709551621", 0, UINT64_MAX, -ERANGE, 0);
	parse_is("99999999999999999999999999999999999999", 0, UINT64_MAX, -ERANGE, 0);
	parse_is("36893488147419103232", 0, UINT64_MAX, -ERANGE, 0); /* 2^65: wraps to 0 mod 2^64 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digits),
		cmocka_unit_test(test_not_a_number),
		cmocka_unit_test(test_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
