/*
 * diag: user-facing diagnostics, collected in one pass and printed at the
 * end in gcc style, `FILE:LINE:COL: error: MESSAGE`, or as JSON.
 *
 * A module that validates input never stops at the first problem: it adds
 * every problem it finds to a struct diag passed in by the caller and
 * returns. The caller decides how to print them.
 */
#ifndef LS_DIAG_H
#define LS_DIAG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>

enum diag_severity { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE };

struct diag_item {
	enum diag_severity severity;
	char *file;     /* owned; may be NULL for problems without a file */
	int line, col;  /* 1-based; 0 when unknown */
	char *message;  /* owned */
	size_t order;   /* insertion order, keeps sorting stable */
	/* Sort key: a note sorts right after the error or warning before it. */
	int key_line, key_col;
	size_t key_order;
};

struct diag {
	struct diag_item *items;
	size_t n, cap;
	size_t errors, warnings;
	size_t max_items; /* items beyond this are counted, not kept; 0 = 1000 */
	size_t dropped;
};

#define DIAG_INIT { NULL, 0, 0, 0, 0, 0, 0 }

/* Messages longer than this many bytes are cut, saying how much was left out. */
#define DIAG_MAX_MESSAGE 2000

void diag_release(struct diag *d);
/* True when further items would only be counted, not kept. */
bool diag_full(const struct diag *d);
/* Adds one diagnostic. `file` is copied; it may be NULL. */
void diag_add(struct diag *d, enum diag_severity sev, const char *file, int line, int col,
	      const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void diag_vadd(struct diag *d, enum diag_severity sev, const char *file, int line, int col,
	       const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
/*
 * Sorts by file, line, column, then insertion order, and drops exact
 * duplicates (same place, severity and message), adjusting the counts.
 */
void diag_sort(struct diag *d);
/* Prints every item in gcc style; `color` adds ANSI colours. */
void diag_print(const struct diag *d, FILE *out, bool color);
/* Formats the items as a JSON array of {file,line,col,severity,message}. */
char *diag_to_json(const struct diag *d);
const char *diag_severity_name(enum diag_severity sev);

#endif
