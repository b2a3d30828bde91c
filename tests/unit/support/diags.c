/*
 * diags: expected diagnostics for the unit tests. See diags.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "diags.h"

void dump_diags(const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "  [%zu] %s:%d:%d: %s: %s\n", i, d->items[i].file ? d->items[i].file : "-",
			d->items[i].line, d->items[i].col, diag_severity_name(d->items[i].severity),
			d->items[i].message);
}

size_t want_count(const struct want_diag *want)
{
	size_t n = 0;
	while (n < WANT_MAX && want[n].msg)
		n++;
	return n;
}

void assert_diags(const struct diag *d, const struct want_diag *want, size_t n, const char *file,
		  const char *what)
{
	if (d->n != n) {
		dump_diags(d);
		fail_msg("%s: %zu diagnostics, want %zu", what, d->n, n);
	}
	for (size_t i = 0; i < n; i++) {
		const struct diag_item *it = &d->items[i];
		const struct want_diag *w = &want[i];
		if (it->severity != w->sev || it->line != w->line || it->col != w->col ||
		    strcmp(it->message, w->msg) != 0 || (file && (!it->file || strcmp(it->file, file) != 0))) {
			dump_diags(d);
			fail_msg("%s: item %zu is not %s:%d:%d: %s: %s", what, i, file ? file : "-", w->line,
				 w->col, diag_severity_name(w->sev), w->msg);
		}
	}
}
