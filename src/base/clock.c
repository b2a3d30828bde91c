#include "base/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t ms_of(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000 + (uint64_t)t->tv_nsec / 1000000;
}

int64_t clock_wall_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)ms_of(&t);
}

uint64_t clock_mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return ms_of(&t);
}

void clock_format_rfc3339(int64_t ms, char out[CLOCK_RFC3339_SIZE])
{
	/* Rounded down, also before the epoch: -1 is 23:59:59.999 of 1969. */
	int64_t secs = ms / 1000, frac = ms % 1000;
	if (frac < 0) {
		secs--;
		frac += 1000;
	}
	time_t t = (time_t)secs;
	struct tm tm = { 0 };
	gmtime_r(&t, &tm);
	snprintf(out, CLOCK_RFC3339_SIZE, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
}

int64_t clock_parse_rfc3339(const char *s)
{
	struct tm tm;
	int ms, n = 0;
	memset(&tm, 0, sizeof(tm));
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			 &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &n) != 7 || s[n])
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t secs = timegm(&tm);
	return secs < 0 ? 0 : (int64_t)secs * 1000 + ms;
}
