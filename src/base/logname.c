#include "base/logname.h"

#include "base/buf.h"

/* True for the bytes log_component() writes as %XX. */
static bool escaped(unsigned char u, bool first)
{
	return u == '/' || u == '%' || u < 0x20 || u == 0x7f || (first && u == '.');
}

void log_component(struct buf *path, const char *name)
{
	for (const char *c = name; *c; c++) {
		unsigned char u = (unsigned char)*c;
		if (escaped(u, c == name))
			buf_addf(path, "%%%02X", u);
		else
			buf_addc(path, *c);
	}
}

size_t log_component_len(const char *s, size_t len, bool start)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += escaped((unsigned char)s[i], start && i == 0) ? 3 : 1;
	return n;
}
