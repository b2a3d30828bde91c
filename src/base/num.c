#include "base/num.h"

#include <string.h>

int num_parse_range(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out,
		    const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	if (!len) {
		*why = "no digits";
		return -1;
	}
	/* Every byte is looked at, so "99999999999999999999x" is "not a whole
	 * number" rather than "too large": the form is judged first. */
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			*why = "not a whole number";
			return -1;
		}
	}
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		uint64_t d = (uint64_t)(s[i] - '0');
		/* v * 10 + d > max, asked without overflowing. */
		if (d > max || v > (max - d) / 10) {
			*why = "too large";
			return -1;
		}
		v = v * 10 + d;
	}
	if (v < min) {
		*why = "too small";
		return -1;
	}
	*out = v;
	return 0;
}

int num_parse(const char *s, uint64_t min, uint64_t max, uint64_t *out, const char **why)
{
	return num_parse_range(s, strlen(s), min, max, out, why);
}
