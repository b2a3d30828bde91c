/*
 * num: strict decimal numbers from text that comes from outside (pipeline
 * files, command-line options). One rule everywhere: ASCII digits only,
 * at least one, no sign, no spaces, no base prefix, no fraction or
 * exponent; leading zeros are allowed and change nothing ("010" is ten,
 * never octal). A value outside the caller's range, including one too
 * large for 64 bits, is an error and never wraps or saturates.
 */
#ifndef LS_NUM_H
#define LS_NUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses the `len` bytes at `s` (no terminator needed; a NUL among them
 * is not a digit) as a decimal number from `min` to `max`, both included.
 * Returns 0 with the value in `*out`, or -1 with a short reason in `*why`
 * (a static string, never NULL; `why` may be NULL) and `*out` untouched:
 *   "no digits"            `len` is 0
 *   "not a whole number"   a byte that is not 0-9 ("+1", " 1", "1.5", "1e3")
 *   "too small"            below `min`
 *   "too large"            above `max`, however many digits it has
 */
int num_parse_range(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out,
		    const char **why);

/* The same for a NUL-terminated string. */
int num_parse(const char *s, uint64_t min, uint64_t max, uint64_t *out, const char **why);

#endif
