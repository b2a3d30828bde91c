/*
 * Tests for base/clock.c: the RFC 3339 text of wall-clock times (the
 * epoch, a leap day, the last millisecond of a second, of a year, and
 * before the epoch), and the two clocks: the wall clock near time(), the
 * monotonic one never going back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "base/clock.h"

static void formats(int64_t ms, const char *want)
{
	char out[CLOCK_RFC3339_SIZE];
	memset(out, 'X', sizeof(out));
	clock_format_rfc3339(ms, out);
	if (strcmp(out, want))
		fail_msg("%lld: '%s', want '%s'", (long long)ms, out, want);
}

static void test_format(void **state)
{
	(void)state;
	formats(0, "1970-01-01T00:00:00.000Z");
	formats(999, "1970-01-01T00:00:00.999Z");
	formats(1000, "1970-01-01T00:00:01.000Z");
	/* 2024-02-29, a leap day, and the day after it. */
	formats(1709164800000, "2024-02-29T00:00:00.000Z");
	formats(1709251199999, "2024-02-29T23:59:59.999Z");
	formats(1709251200000, "2024-03-01T00:00:00.000Z");
	/* 2000 is a leap year although a century (divisible by 400). */
	formats(951782400123, "2000-02-29T00:00:00.123Z");
	/* The last millisecond of a year, and the next. */
	formats(1767225599999, "2025-12-31T23:59:59.999Z");
	formats(1767225600000, "2026-01-01T00:00:00.000Z");
	/* Past 2038 (a 32-bit time_t would wrap) and past 9999. */
	formats(4102444800000, "2100-01-01T00:00:00.000Z");
	formats(253402300800000, "10000-01-01T00:00:00.000Z");
}

static void test_format_before_epoch(void **state)
{
	(void)state;
	/* Rounded down: one millisecond before the epoch is .999 of 1969. */
	formats(-1, "1969-12-31T23:59:59.999Z");
	formats(-1000, "1969-12-31T23:59:59.000Z");
	formats(-1001, "1969-12-31T23:59:58.999Z");
}

static void test_format_extremes_fit(void **state)
{
	(void)state;
	char out[CLOCK_RFC3339_SIZE];
	clock_format_rfc3339(INT64_MAX, out);
	assert_true(strlen(out) < sizeof(out) - 1);
	assert_int_equal(out[strlen(out) - 1], 'Z');
	clock_format_rfc3339(INT64_MIN, out);
	assert_true(strlen(out) < sizeof(out) - 1);
	assert_int_equal(out[strlen(out) - 1], 'Z');
}

/* What the formatter writes (1970 to 9999) reads back to the same ms. */
static void test_parse_is_the_inverse(void **state)
{
	(void)state;
	static const int64_t at[] = {
		0, 999, 1000, 951782400000LL /* 2000-02-29 */, 1709164800123LL /* 2024-02-29 */,
		1798761599999LL /* 2026-12-31T23:59:59.999 */, 4102444800000LL /* 2100 */,
		253402300799999LL /* 9999-12-31T23:59:59.999 */,
	};
	char ts[CLOCK_RFC3339_SIZE];
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		clock_format_rfc3339(at[i], ts);
		assert_int_equal(clock_parse_rfc3339(ts), at[i]);
	}
	/* Anything else is 0: not a time lockstep writes. */
	assert_int_equal(clock_parse_rfc3339(NULL), 0);
	assert_int_equal(clock_parse_rfc3339(""), 0);
	assert_int_equal(clock_parse_rfc3339("2026-01-02T03:04:05Z"), 0);
	assert_int_equal(clock_parse_rfc3339("2026-01-02T03:04:05.678Z trailing"), 0);
	assert_int_equal(clock_parse_rfc3339("2026-01-02 03:04:05.678Z"), 0);
}

static void test_wall_is_time(void **state)
{
	(void)state;
	int64_t before = (int64_t)time(NULL) * 1000;
	int64_t ms = clock_wall_ms();
	int64_t after = (int64_t)time(NULL) * 1000 + 1000;
	assert_true(ms >= before && ms < after);
}

static void test_mono_never_goes_back(void **state)
{
	(void)state;
	uint64_t last = clock_mono_ms();
	/* It moves: a few milliseconds pass within a bound of spins. */
	uint64_t start = last;
	for (long i = 0; i < 2000000000L && last < start + 5; i++) {
		uint64_t now = clock_mono_ms();
		assert_true(now >= last);
		last = now;
	}
	assert_true(last >= start + 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_before_epoch),
		cmocka_unit_test(test_format_extremes_fit),
		cmocka_unit_test(test_parse_is_the_inverse),
		cmocka_unit_test(test_wall_is_time),
		cmocka_unit_test(test_mono_never_goes_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
