/*
 * outq: output to a file descriptor (a terminal, a pipe, a file) written
 * by a thread of its own, so that the thread that produces it (the run's
 * event loop) never waits for a slow reader.
 *
 * A reader that does not keep up (`lockstep run | less` left at a prompt,
 * a terminal paused with Ctrl-S, a CI log shipper that stalls) would
 * otherwise block write() on the loop thread, and with it every timer of
 * the run: step timeouts, barrier deadlines, the kill grace, abort. Here
 * the producer only appends to a memory buffer; the writer thread takes
 * everything buffered at once and writes it with blocking writes.
 *
 *   producer ── outq_put ──► in (bytes accepted, at most `limit`) ──► writer thread ── write(fd)
 *                                                                   └─ gap: fill(from, to) ──┘
 *
 * What happens when the reader falls behind is the producer's choice,
 * made per call:
 *   - outq_put() accepts a chunk only while the backlog (accepted, not
 *     yet written) stays within the limit it passes, so a chunk is
 *     written whole or not at all; SIZE_MAX accepts always.
 *   - outq_put_lines() is outq_put for whole lines that may be lost: a
 *     refused chunk is counted, and before the next accepted one the
 *     queue writes "... N lines dropped; NOTE" (outq_set_note).
 *   - outq_put_seq() never loses anything and never grows past its
 *     limit: each chunk carries a sequence number, and past the limit
 *     the queue only remembers the numbers it did not take (a gap). The
 *     writer thread asks `fill` for the text of the gap when it gets
 *     there, from a durable copy the producer has elsewhere (lockstep:
 *     the events in the store).
 *
 * A reader that goes away (EPIPE, or any other write error) makes the
 * queue broken: everything after is discarded, and outq_broken() says so.
 * A descriptor someone made non-blocking is waited for with poll().
 *
 * Threads: outq_new, outq_put*, outq_backlog, outq_drain and outq_free
 * are called from one producer thread; `fill` runs on the writer thread.
 * The writer thread blocks every signal, so signals reach the producer.
 */
#ifndef LS_BASE_OUTQ_H
#define LS_BASE_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct outq;

/*
 * Fills `out` with the text of the chunks numbered `from` up to at most
 * `to` (a page of them, in order) and returns the number of the last
 * chunk it covered (>= from), or a negative code: then the gap is given
 * up and counted (outq_lost). Runs on the writer thread.
 */
typedef int64_t (*outq_fill_fn)(uint64_t from, uint64_t to, struct buf *out, void *arg);

/* A queue writing to `fd` (borrowed: never closed). Starts its thread. */
struct outq *outq_new(int fd);
/* Text written after lines were dropped: "... N lines dropped; NOTE". Copied. */
void outq_set_note(struct outq *q, const char *note);
/* Sets the gap filler of outq_put_seq (before the first put). */
void outq_set_fill(struct outq *q, outq_fill_fn fill, void *arg);

/*
 * Accepts `n` bytes if the backlog stays within `limit` (SIZE_MAX: always)
 * and returns true; else takes nothing and returns false. A broken queue
 * accepts (and discards) everything.
 */
bool outq_put(struct outq *q, const char *s, size_t n, size_t limit);
/* outq_put for whole lines that may be dropped (counted, then noted). */
bool outq_put_lines(struct outq *q, const char *s, size_t n, size_t limit);
/*
 * Chunk number `seq` (numbers increase by one from call to call): kept
 * in memory while the backlog stays within `limit`, else left to `fill`
 * (or, without a filler, kept in memory anyway). A chunk that must be
 * kept (limit SIZE_MAX: the filler cannot give it) while a gap is open
 * waits behind the gap, and so does everything after it: order first.
 * (lockstep: events that could not be recorded, after which none are.)
 */
void outq_put_seq(struct outq *q, uint64_t seq, const char *s, size_t n, size_t limit);

/* Bytes accepted and not yet written (0 once broken). */
size_t outq_backlog(struct outq *q);
/* True once a write failed (the reader went away); errno of it in *err if not NULL. */
bool outq_broken(struct outq *q, int *err);
/* Lines dropped by outq_put_lines, and chunks of gaps `fill` could not give, in all. */
uint64_t outq_dropped(struct outq *q);
uint64_t outq_lost(struct outq *q);

/*
 * Waits until everything accepted (and every gap) is written, or the
 * queue is broken. A pending "lines dropped" note is written first.
 * Blocks: for the end of a run, when nothing else waits on this thread.
 */
void outq_drain(struct outq *q);
/* Drains, stops the thread and frees the queue. NULL is fine. */
void outq_free(struct outq *q);

#endif
