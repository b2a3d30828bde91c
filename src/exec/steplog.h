/*
 * steplog: one step attempt's log file, and the masks its output passes
 * on its way there (base/mask.h).
 *
 *   chunk of stdout/stderr ──► mask stream ──► log file (capped)
 *                                          └─► `shown` (what the caller displays)
 *
 * Each stream has its own mask stream, which holds back the end of a
 * chunk that could still be the start of a secret; steplog_flush lets it
 * go when the process ended or its output is over. A log that cannot be
 * opened or written is reported once through `warn` (then its output
 * still reaches `shown`); bytes a failed write dropped are marked in the
 * file at the next write that works, or when it is closed. Past
 * `max_bytes` the log is cut, with a marker; lockstep's own markers do
 * not count against the cap.
 */
#ifndef LS_EXEC_STEPLOG_H
#define LS_EXEC_STEPLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/mask.h"

struct steplog {
	int fd;                     /* -1: none (no path, or it could not be opened) */
	char *path;                 /* for messages; NULL without a file */
	uint64_t bytes;             /* written, within max_bytes */
	uint64_t max_bytes;
	bool truncated;             /* max_bytes reached: the rest is dropped */
	int err;                    /* errno of failed writes not yet marked in the file, or 0 */
	uint64_t lost;              /* bytes those writes dropped */
	bool warned;                /* `warn` was called */
	bool masked;                /* a mask with patterns: output goes through the streams */
	struct mask_stream mask_out, mask_err;
	void (*warn)(const char *message, void *arg);
	void *warn_arg;
};

/*
 * Opens the log at `path` (NULL: no file), emptied or, with `append`,
 * added to; masked by `mask` (borrowed; NULL: nothing is masked). `warn`
 * (may be NULL) hears of a file that cannot be opened or written.
 */
void steplog_open(struct steplog *l, const char *path, bool append, uint64_t max_bytes,
		  const struct mask *mask, void (*warn)(const char *message, void *arg), void *warn_arg);
/* Masks a chunk of stream 1 (stdout) or 2 (stderr), writes it to the
 * file and appends it to `shown`. */
void steplog_feed(struct steplog *l, int stream, const char *data, size_t len, struct buf *shown);
/* What stream 1 or 2 held back, masked, to the file and `shown`. */
void steplog_flush(struct steplog *l, int stream, struct buf *shown);
/* Writes `data` as it is (lockstep's own words: not masked, but capped). */
void steplog_put(struct steplog *l, const char *data, size_t len);
/* Closes the file with a last try at marking a gap; frees what it holds. */
void steplog_close(struct steplog *l);

#endif
