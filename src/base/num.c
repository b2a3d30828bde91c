#include "base/num.h"

#include <errno.h>
#include <stdbool.h>

int num_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!s || !*s)
		return -EINVAL;
	uint64_t v = 0;
	bool over = false;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return -EINVAL;
		unsigned d = (unsigned)(*c - '0');
		/* Past UINT64_MAX, only the syntax of the rest still matters. */
		if (over || v > (UINT64_MAX - d) / 10)
			over = true;
		else
			v = v * 10 + d;
	}
	if (over || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}
