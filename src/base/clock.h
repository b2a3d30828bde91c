/*
 * clock: the two clocks lockstep reads, in milliseconds, and the one way
 * a wall-clock time is written for people and programs (events, logs).
 *
 * The wall clock (CLOCK_REALTIME) says when something happened; it can
 * jump. The monotonic clock (CLOCK_MONOTONIC) never goes back and only
 * measures: deadlines, durations, how long ago. The loop's own clock
 * (uv_now) is the monotonic one too.
 */
#ifndef LS_CLOCK_H
#define LS_CLOCK_H

#include <stdint.h>

/* Milliseconds since the epoch, on the wall clock. */
int64_t clock_wall_ms(void);
/* Milliseconds on the monotonic clock (since some fixed point: boot). */
uint64_t clock_mono_ms(void);

/* Room for clock_format_rfc3339's text, the NUL included, for any `ms`. */
#define CLOCK_RFC3339_SIZE 64

/*
 * Writes wall-clock time `ms` (milliseconds since the epoch, before it
 * when negative) as RFC 3339 in UTC with milliseconds:
 * "2026-11-26T10:00:00.123Z". Years past 9999 take more digits.
 */
void clock_format_rfc3339(int64_t ms, char out[CLOCK_RFC3339_SIZE]);
/*
 * The inverse, for the times lockstep writes: "2026-01-02T03:04:05.678Z"
 * (years 1970 to 9999) in milliseconds since the epoch; 0 when `s` is not
 * such a time.
 */
int64_t clock_parse_rfc3339(const char *s);

#endif
