#include "base/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/map.h"
#include "base/xalloc.h"

void diag_release(struct diag *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->items[i].file);
		free(d->items[i].message);
	}
	free(d->items);
	memset(d, 0, sizeof(*d));
}

bool diag_full(const struct diag *d)
{
	return d->n >= (d->max_items ? d->max_items : 1000);
}

void diag_vadd(struct diag *d, enum diag_severity sev, const char *file, int line, int col,
	       const char *fmt, va_list ap)
{
	if (sev == DIAG_ERROR)
		d->errors++;
	else if (sev == DIAG_WARNING)
		d->warnings++;
	size_t max = d->max_items ? d->max_items : 1000;
	if (d->n >= max) {
		d->dropped++;
		return;
	}
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->items = xreallocarray(d->items, d->cap, sizeof(*d->items));
	}
	struct buf msg = BUF_INIT;
	buf_vaddf(&msg, fmt, ap);
	/* Messages quote user text; a control character in it must not move
	 * the cursor or clear the user's terminal. */
	for (size_t i = 0; i < msg.len; i++)
		if ((unsigned char)msg.s[i] < 0x20 || msg.s[i] == 0x7f)
			msg.s[i] = '?';
	/* A quoted value can be megabytes (a pattern, a command): keep the
	 * line readable, cut where no UTF-8 character is split. */
	if (msg.len > DIAG_MAX_MESSAGE) {
		size_t cut = DIAG_MAX_MESSAGE;
		while (cut > 0 && ((unsigned char)msg.s[cut] & 0xc0) == 0x80)
			cut--;
		size_t rest = msg.len - cut;
		msg.len = cut;
		msg.s[cut] = '\0';
		buf_addf(&msg, "... (%zu more bytes)", rest);
	}
	struct diag_item *it = &d->items[d->n];
	it->severity = sev;
	it->file = file ? xstrdup(file) : NULL;
	it->line = line;
	it->col = col;
	it->message = buf_detach(&msg, NULL);
	it->order = d->n;
	it->key_line = line;
	it->key_col = col;
	it->key_order = d->n;
	if (sev == DIAG_NOTE) {
		/* A note travels with the diagnostic it explains. */
		for (size_t i = d->n; i-- > 0;) {
			if (d->items[i].severity != DIAG_NOTE) {
				it->key_line = d->items[i].line;
				it->key_col = d->items[i].col;
				it->key_order = d->items[i].order;
				break;
			}
		}
	}
	d->n++;
}

void diag_add(struct diag *d, enum diag_severity sev, const char *file, int line, int col,
	      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_vadd(d, sev, file, line, col, fmt, ap);
	va_end(ap);
}

static int item_cmp(const void *pa, const void *pb)
{
	const struct diag_item *a = pa, *b = pb;
	int c = strcmp(a->file ? a->file : "", b->file ? b->file : "");
	if (c)
		return c;
	if (a->key_line != b->key_line)
		return a->key_line < b->key_line ? -1 : 1;
	if (a->key_col != b->key_col)
		return a->key_col < b->key_col ? -1 : 1;
	if (a->key_order != b->key_order)
		return a->key_order < b->key_order ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

static void add_signature(struct buf *sig, const struct diag_item *it)
{
	buf_addf(sig, "%d:%s:%d:%d:%s\n", (int)it->severity, it->file ? it->file : "", it->line,
		 it->col, it->message);
}

void diag_sort(struct diag *d)
{
	if (d->n < 2)
		return;
	qsort(d->items, d->n, sizeof(*d->items), item_cmp);
	/*
	 * Matrix instances can repeat one problem; say it once. A diagnostic
	 * and the notes after it form a group, and a group identical to an
	 * earlier one (same places, same messages) is dropped whole.
	 */
	struct map seen = MAP_INIT;
	char **sigs = xcalloc(d->n, sizeof(*sigs));
	size_t nsigs = 0, out = 0;
	for (size_t i = 0; i < d->n;) {
		size_t end = i + 1;
		while (end < d->n && d->items[end].severity == DIAG_NOTE &&
		       d->items[i].severity != DIAG_NOTE)
			end++;
		struct buf sig = BUF_INIT;
		for (size_t k = i; k < end; k++)
			add_signature(&sig, &d->items[k]);
		sigs[nsigs] = buf_detach(&sig, NULL);
		bool fresh = map_add(&seen, sigs[nsigs], 0, NULL);
		nsigs++;
		/* A bare repeat of a diagnostic seen with notes adds nothing either. */
		if (fresh && end == i + 1) {
			for (size_t k = out; k-- > 0 && fresh;) {
				const struct diag_item *a = &d->items[k], *b = &d->items[i];
				if (a->severity != DIAG_NOTE && a->severity == b->severity &&
				    a->line == b->line && a->col == b->col &&
				    !strcmp(a->message, b->message) &&
				    !strcmp(a->file ? a->file : "", b->file ? b->file : ""))
					fresh = false;
				if (a->line != b->line && a->severity != DIAG_NOTE)
					break;
			}
		}
		for (size_t k = i; k < end; k++) {
			if (fresh) {
				d->items[out++] = d->items[k];
				continue;
			}
			if (d->items[k].severity == DIAG_ERROR)
				d->errors--;
			else if (d->items[k].severity == DIAG_WARNING)
				d->warnings--;
			free(d->items[k].file);
			free(d->items[k].message);
		}
		i = end;
	}
	d->n = out;
	map_release(&seen);
	for (size_t k = 0; k < nsigs; k++)
		free(sigs[k]);
	free(sigs);
}

const char *diag_severity_name(enum diag_severity sev)
{
	switch (sev) {
	case DIAG_ERROR: return "error";
	case DIAG_WARNING: return "warning";
	case DIAG_NOTE: return "note";
	}
	return "error";
}

void diag_print(const struct diag *d, FILE *out, bool color)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct diag_item *it = &d->items[i];
		const char *sc = "", *bold = "", *reset = "";
		if (color) {
			bold = "\033[1m";
			reset = "\033[0m";
			sc = it->severity == DIAG_ERROR ? "\033[1;31m"
			   : it->severity == DIAG_WARNING ? "\033[1;35m" : "\033[1;36m";
		}
		if (it->file && it->line > 0)
			fprintf(out, "%s%s:%d:%d:%s ", bold, it->file, it->line, it->col, reset);
		else if (it->file)
			fprintf(out, "%s%s:%s ", bold, it->file, reset);
		fprintf(out, "%s%s:%s %s\n", sc, diag_severity_name(it->severity), reset, it->message);
	}
	if (d->dropped)
		fprintf(out, "lockstep: %zu more diagnostics not shown\n", d->dropped);
}

char *diag_to_json(const struct diag *d)
{
	struct buf b = BUF_INIT;
	buf_addc(&b, '[');
	for (size_t i = 0; i < d->n; i++) {
		const struct diag_item *it = &d->items[i];
		if (i)
			buf_addc(&b, ',');
		buf_adds(&b, "{\"file\":");
		if (it->file)
			buf_add_json_str(&b, it->file);
		else
			buf_adds(&b, "null");
		buf_addf(&b, ",\"line\":%d,\"col\":%d,\"severity\":", it->line, it->col);
		buf_add_json_str(&b, diag_severity_name(it->severity));
		buf_adds(&b, ",\"message\":");
		buf_add_json_str(&b, it->message);
		buf_addc(&b, '}');
	}
	buf_addc(&b, ']');
	return buf_detach(&b, NULL);
}
