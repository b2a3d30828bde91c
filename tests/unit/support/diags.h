/*
 * diags: the diagnostics a unit test expects, and a dump of the ones it
 * got. Shared by the tests of the loader, the checks and the expansion:
 *
 *   dump_diags     every item, one line each, on stderr (before a failure)
 *   want_diag      one expected item: severity, position, whole message
 *   assert_diags   the items are exactly these, in this order
 *
 * The helpers assert with cmocka: call them from inside a cmocka test
 * only. They live in test programs only.
 */
#ifndef LS_TEST_DIAGS_H
#define LS_TEST_DIAGS_H

#include <stddef.h>

#include "base/diag.h"

/* At most this many items in a table row's list of expected ones. */
#define WANT_MAX 12

/* One expected diagnostic. A list of them ends at the first with no msg. */
struct want_diag {
	enum diag_severity sev;
	int line, col;
	const char *msg; /* the whole message */
};

/* Prints every item of `d` to stderr: [i] FILE:LINE:COL: SEVERITY: MESSAGE. */
void dump_diags(const struct diag *d);

/* How many items `want` lists (up to WANT_MAX, or the first without msg). */
size_t want_count(const struct want_diag *want);

/*
 * Asserts that `d` holds exactly the `n` items of `want`, in order, each
 * with its severity, line, column and whole message, and, when `file` is
 * not NULL, that file. On failure, names `what`, says which item differs
 * and dumps them all.
 */
void assert_diags(const struct diag *d, const struct want_diag *want, size_t n, const char *file,
		  const char *what);

#endif
