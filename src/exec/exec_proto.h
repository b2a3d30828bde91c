/*
 * exec_proto: what the engine and a run's supervisor say to each other
 * over their Unix stream socket (exec/exec.h; docs/design.md,
 * "Executors and the supervisor").
 *
 * A message is a frame: a 4-byte length (of what follows it, host byte
 * order: both ends are on one host), a 1-byte type, then its fields in
 * order: numbers as 8 bytes (host order), strings and byte strings as a
 * 4-byte length and the bytes. Every message about a process starts
 * with its key.
 *
 *   engine ──► supervisor                supervisor ──► engine
 *   HELLO    version, secrets (the mask)  PROC      what it knows of a
 *   SPAWN    key, shell, script, cwd,               process (after HELLO)
 *            env, grace, log, append,     READY     end of that list
 *            cap                          STARTED   key, pid, start time
 *   KILL     key, now                     OUTPUT    key, stream, bytes
 *   LEFTOVERS (kill what is left)         EXIT      key, status
 *   BYE      (the run is over)            CLOSED    key
 *                                         GONE      key
 *                                         WARNING   key, message
 *                                         KILLED    how many (LEFTOVERS)
 *
 * A frame is at most XPROTO_MAX bytes; a peer that sends a longer one or
 * a frame that does not parse is cut off.
 */
#ifndef LS_EXEC_PROTO_H
#define LS_EXEC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "base/buf.h"
#include "engine/proc.h"

#define XPROTO_MAX (64u << 20)

/*
 * The first field of HELLO. A supervisor answers only an engine that
 * speaks its version: a resume by another lockstep stops it instead
 * (exec_client.c). Change it with any change to the messages.
 */
#define XPROTO_VERSION 1

enum xmsg {
	XM_HELLO = 1,
	XM_SPAWN,
	XM_KILL,
	XM_LEFTOVERS,
	XM_BYE,
	XM_PROC,
	XM_READY,
	XM_STARTED,
	XM_OUTPUT,
	XM_EXIT,
	XM_CLOSED,
	XM_GONE,
	XM_WARNING,
	XM_KILLED,
};

/* Writing a frame: begin, add its fields, end (which fills in the length). */
void xproto_begin(struct buf *b, enum xmsg type);
void xproto_u64(struct buf *b, uint64_t v);
void xproto_str(struct buf *b, const char *s);
void xproto_bytes(struct buf *b, const void *data, size_t len);
void xproto_status(struct buf *b, const struct proc_status *st);
void xproto_end(struct buf *b, size_t start);

/*
 * Queues `len` bytes of whole frames (`data`, a heap buffer it takes) for
 * writing on `s`; they are freed once written. Returns 0, or a negative
 * libuv error (then `data` is freed already, and the peer is lost).
 */
int xproto_send(uv_stream_t *s, char *data, size_t len);

/* Reading the fields of one frame (after its length). */
struct xreader {
	const char *p, *end;
	bool bad;                  /* a field ran past the frame */
};
uint64_t xproto_get_u64(struct xreader *r);
/* A string's bytes (not NUL-terminated) and length; NULL when bad. */
const char *xproto_get_bytes(struct xreader *r, size_t *len);
/* A string as a heap copy (free it); NULL when bad. */
char *xproto_get_str(struct xreader *r);
void xproto_get_status(struct xreader *r, struct proc_status *st);

/*
 * Splits frames off the front of `in` (bytes received so far): calls
 * `frame` for each complete one with its type and a reader of its
 * fields, and removes them from `in`. Returns 0, or -1 when a frame is
 * longer than XPROTO_MAX or `frame` returned non-zero (the peer is to be
 * cut off).
 */
int xproto_split(struct buf *in, int (*frame)(enum xmsg type, struct xreader *r, void *arg), void *arg);

#endif
