/*
 * num: whole numbers as people type them on the command line and in
 * environment variables: decimal digits only. No sign, no space, no
 * base prefix, no unit, nothing after the digits: strtoull's leniency
 * (" 7", "+9", "-5" read as 18446744073709551611) has no place where a
 * typo must be an error.
 */
#ifndef LS_NUM_H
#define LS_NUM_H

#include <stdint.h>

/*
 * Parses `s` (borrowed) as a decimal number from `min` to `max`. Returns
 * 0 and sets *out; -EINVAL when `s` is empty or holds anything but the
 * digits 0-9; -ERANGE when the number is outside min..max, however many
 * digits it has (no overflow). *out is left alone on failure.
 */
int num_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
