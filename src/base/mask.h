/*
 * mask: hides secret values in text that lockstep shows or keeps (step
 * output, failure reasons), replacing each one by "***".
 *
 * A mask holds patterns: for every secret its value and the forms a step
 * is likely to print it in: base64 (standard and url-safe, at each of the
 * three byte alignments it may start at in a longer encoded text, without
 * the characters that depend on its neighbours), percent-encoding
 * (upper- and lower-case hex) and JSON string escaping (minimal, and with
 * non-ASCII as \uXXXX). A multi-line secret is masked line by line, and
 * its encoded forms are those of the whole value. Every place covered by
 * any pattern is hidden, and overlapping or adjacent places make one
 * "***": two secrets that overlap in the text leave nothing of either.
 *
 *   text ──► mask_text ──► text with "***"          (a whole string: reasons)
 *   chunk ─► mask_stream_feed ─► what is certain ─► ... mask_stream_flush
 *                                                    (a stream: step output)
 *
 * Streaming: a secret may be split across two chunks of output, so a
 * stream holds back the end of a chunk while it could still be the start
 * of a pattern: at most (longest pattern - 1) bytes, and never anything
 * up to a newline (no pattern holds a newline, so no match spans one).
 * Output without a newline thus still comes out, a few bytes late.
 *
 * Patterns are found by their first byte (a table of 256 buckets, longest
 * first in each), so masking costs about one table lookup per byte when
 * no secret is near.
 */
#ifndef LS_MASK_H
#define LS_MASK_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/* What replaces a secret. */
#define MASK_TEXT "***"
/*
 * Encoded forms (base64 fragments) shorter than this are not masked:
 * those of a secret of a few bytes are a few letters, which ordinary
 * text is full of. The secret itself is always masked, however short.
 */
#define MASK_MIN_ENCODED 6

struct mask;

/* An empty mask (masks nothing). Free with mask_free. */
struct mask *mask_new(void);
/* NULL is fine. */
void mask_free(struct mask *m);
/*
 * Adds secret `value` (`len` bytes, borrowed: copied) and its encoded
 * forms. An empty value, and the empty or blank lines of a multi-line
 * one, add nothing: there is nothing to hide in them.
 */
void mask_add(struct mask *m, const char *value, size_t len);
/* True when the mask has no pattern: masking copies the text. */
bool mask_empty(const struct mask *m);
/* The length of the longest pattern (0 when empty). */
size_t mask_longest(const struct mask *m);

/*
 * Appends `s` (`len` bytes) to `out` with every secret replaced. Returns
 * true when something was replaced.
 */
bool mask_text(const struct mask *m, const char *s, size_t len, struct buf *out);
/*
 * The NUL-terminated string `s` with every secret replaced, as a heap
 * string (free it), or NULL when nothing in it is secret. A mask NULL
 * masks nothing. Fits events_set_mask().
 */
char *mask_str(const char *s, void *mask);

/* One output stream being masked (a step's stdout or stderr). */
struct mask_stream {
	const struct mask *m;      /* borrowed */
	struct buf held;           /* bytes not shown yet: they may start a secret */
	size_t covered;            /* bytes at the start of `held` a match seen before covers */
	bool masking;              /* the last thing shown was "***" for a place that goes on */
};

/* Starts a stream masked by `m` (borrowed; NULL: nothing is masked). */
void mask_stream_init(struct mask_stream *ms, const struct mask *m);
/*
 * Takes the next chunk of the stream and appends to `out` what can be
 * shown now, masked; keeps back what could still turn out to be part of
 * a secret.
 */
void mask_stream_feed(struct mask_stream *ms, const char *data, size_t len, struct buf *out);
/* The stream ended: appends what was held back, masked. The stream can then start again. */
void mask_stream_flush(struct mask_stream *ms, struct buf *out);
/* Frees what the stream holds (what was held back is dropped). */
void mask_stream_release(struct mask_stream *ms);

#endif
