#include "base/duration.h"

#include <stdio.h>
#include <string.h>

#include "base/num.h"

int duration_parse(const char *s, uint64_t *ms, const char **why)
{
	static const struct { const char *name; uint64_t mult; } units[] = {
		{ "h", 3600000ULL }, { "m", 60000ULL }, { "s", 1000ULL }, { "ms", 1ULL },
	};
	const char *p = s;
	uint64_t total = 0;
	int last_unit = -1;
	const char *dummy;
	if (!why)
		why = &dummy;
	if (!*p) {
		*why = "empty duration";
		return -1;
	}
	while (*p) {
		if (*p < '0' || *p > '9') {
			*why = "expected a number";
			return -1;
		}
		size_t digits = strspn(p, "0123456789");
		uint64_t n;
		if (num_parse_range(p, digits, 0, DURATION_MAX_MS, &n, NULL) < 0) {
			*why = "duration too large (at most 366 days)";
			return -1;
		}
		p += digits;
		int unit;
		if (*p == '.' || *p == ',') {
			*why = "fractions are not allowed; use a smaller unit instead";
			return -1;
		}
		if (!*p) {
			if (last_unit >= 0) {
				*why = "number without a unit (use h, m, s or ms)";
				return -1;
			}
			unit = 2; /* a bare integer is seconds */
		} else if (p[0] == 'm' && p[1] == 's') {
			unit = 3;
			p += 2;
		} else if (*p == 'h') {
			unit = 0;
			p++;
		} else if (*p == 'm') {
			unit = 1;
			p++;
		} else if (*p == 's') {
			unit = 2;
			p++;
		} else {
			*why = "unknown unit (use h, m, s or ms)";
			return -1;
		}
		if (unit <= last_unit) {
			*why = "units must go from largest to smallest, each once (like 1h30m)";
			return -1;
		}
		last_unit = unit;
		total += n * units[unit].mult;
		if (total > DURATION_MAX_MS) {
			*why = "duration too large (at most 366 days)";
			return -1;
		}
	}
	*ms = total;
	return 0;
}

void duration_format(uint64_t ms, char *out, size_t outsz)
{
	size_t len = 0;
	if (!outsz)
		return; /* not even room for the terminator */
	out[0] = '\0';
	if (ms == 0) {
		snprintf(out, outsz, "0s");
		return;
	}
	uint64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, r = ms % 1000;
	if (h && len < outsz)
		len += (size_t)snprintf(out + len, outsz - len, "%lluh", (unsigned long long)h);
	if (m && len < outsz)
		len += (size_t)snprintf(out + len, outsz - len, "%llum", (unsigned long long)m);
	if (s && len < outsz)
		len += (size_t)snprintf(out + len, outsz - len, "%llus", (unsigned long long)s);
	if (r && len < outsz)
		snprintf(out + len, outsz - len, "%llums", (unsigned long long)r);
}

void duration_format_elapsed(uint64_t ms, char *out, size_t outsz)
{
	if (ms < 1000)
		snprintf(out, outsz, "%llums", (unsigned long long)ms);
	else if (ms < 60000)
		snprintf(out, outsz, "%.1fs", (double)ms / 1000.0);
	else if (ms < 3600000)
		snprintf(out, outsz, "%llum%02llus", (unsigned long long)(ms / 60000),
			 (unsigned long long)(ms / 1000 % 60));
	else
		snprintf(out, outsz, "%lluh%02llum", (unsigned long long)(ms / 3600000),
			 (unsigned long long)(ms / 60000 % 60));
}
