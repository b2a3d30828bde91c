#include "base/outq.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/thread.h"
#include "base/xalloc.h"

struct outq {
	int fd;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t more;       /* to the writer: something to write, or stop */
	pthread_cond_t progress;   /* to outq_drain: the writer wrote something */
	struct buf in;             /* accepted, not yet taken by the writer */
	size_t writing;            /* bytes the writer has taken and is writing */
	bool stop;
	bool broken;
	int err;                   /* errno of the write that failed */
	/* outq_put_lines */
	char *note;
	uint64_t dropped;          /* since the last note */
	uint64_t dropped_total;
	/* outq_put_seq: the numbers not kept in memory, from..to */
	outq_fill_fn fill;
	void *fill_arg;
	bool gap;
	uint64_t gap_from, gap_to;
	struct buf held;           /* kept chunks that came after the gap: written once it is */
	uint64_t lost;
};

/* Writes all of `s` or fails with errno; waits out a non-blocking descriptor. */
static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w > 0) {
			s += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		return w < 0 ? -errno : -EIO;
	}
	return 0;
}

/* With q->mu held: writes `b` without the lock, then takes it back. */
static void write_unlocked(struct outq *q, struct buf *b)
{
	bool broken = q->broken;
	pthread_mutex_unlock(&q->mu);
	int r = broken || !b->len ? 0 : write_all(q->fd, b->s, b->len);
	pthread_mutex_lock(&q->mu);
	if (r < 0 && !q->broken) {
		q->broken = true;
		q->err = -r;
		buf_reset(&q->in);
		buf_reset(&q->held);
		q->gap = false;
	}
}

/*
 * After a write: a buffer that a burst made big is given back rather than
 * kept for the next one (the two buffers swap, so each would otherwise
 * keep the largest burst's size for the rest of the run).
 */
#define KEEP_CAP (64u * 1024)
static void release_or_reset(struct buf *b)
{
	if (b->cap > KEEP_CAP)
		buf_release(b);
	else
		buf_reset(b);
}

static void *writer(void *arg)
{
	struct outq *q = arg;
	struct buf out = BUF_INIT;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->in.len && !q->gap && !q->stop)
			pthread_cond_wait(&q->more, &q->mu);
		if (q->in.len) {
			/* Take everything at once: one write for a burst. */
			struct buf t = q->in;
			q->in = out;
			out = t;
			q->writing = out.len;
			write_unlocked(q, &out);
			release_or_reset(&out);
			q->writing = 0;
		} else if (q->gap) {
			uint64_t from = q->gap_from, to = q->gap_to;
			pthread_mutex_unlock(&q->mu);
			int64_t last = q->fill(from, to, &out, q->fill_arg);
			pthread_mutex_lock(&q->mu);
			if (last < (int64_t)from) {
				/* Cannot be had: give the rest of the gap up. */
				q->lost += to - from + 1;
				last = (int64_t)to;
			} else if ((uint64_t)last > to) {
				last = (int64_t)to;
			}
			write_unlocked(q, &out);
			release_or_reset(&out);
			q->gap_from = (uint64_t)last + 1;
			/* Caught up with the producer: it keeps in memory again. */
			if (q->gap_from > q->gap_to) {
				q->gap = false;
				buf_add(&q->in, q->held.s, q->held.len);
				buf_reset(&q->held);
			}
		} else {
			break; /* stop, and nothing left */
		}
		pthread_cond_broadcast(&q->progress);
	}
	pthread_cond_broadcast(&q->progress);
	pthread_mutex_unlock(&q->mu);
	buf_release(&out);
	return NULL;
}

struct outq *outq_new(int fd)
{
	struct outq *q = xcalloc(1, sizeof(*q));
	q->fd = fd;
	buf_init(&q->in);
	buf_init(&q->held);
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->more, NULL);
	pthread_cond_init(&q->progress, NULL);
	/* Signals are for the producer's thread (libuv's handlers). */
	thread_start(&q->thread, writer, q, "an output thread");
	return q;
}

void outq_set_note(struct outq *q, const char *note)
{
	pthread_mutex_lock(&q->mu);
	free(q->note);
	q->note = note ? xstrdup(note) : NULL;
	pthread_mutex_unlock(&q->mu);
}

void outq_set_fill(struct outq *q, outq_fill_fn fill, void *arg)
{
	pthread_mutex_lock(&q->mu);
	q->fill = fill;
	q->fill_arg = arg;
	pthread_mutex_unlock(&q->mu);
}

/*
 * With q->mu held: appends to what the writer takes next. The writer
 * sleeps only on an empty buffer: it is woken when this one was empty,
 * not for every line of a burst (a context switch each). Every append to
 * `in` by the producer goes through here, or a sleeping writer would
 * miss it.
 */
static void add(struct outq *q, const char *s, size_t n)
{
	bool was_empty = !q->in.len;
	buf_add(&q->in, s, n);
	if (was_empty)
		pthread_cond_signal(&q->more);
}

/* With q->mu held: the note of the lines dropped since the last one. */
static void add_note(struct outq *q)
{
	if (!q->dropped)
		return;
	struct buf note = BUF_INIT;
	buf_addf(&note, "... %llu line%s dropped%s%s\n", (unsigned long long)q->dropped,
		 q->dropped == 1 ? "" : "s", q->note ? "; " : "", q->note ? q->note : "");
	add(q, note.s, note.len);
	buf_release(&note);
	q->dropped = 0;
}

/* With q->mu held: does `n` more bytes fit the limit? */
static bool fits(const struct outq *q, size_t n, size_t limit)
{
	size_t backlog = q->in.len + q->writing;
	return limit == SIZE_MAX || (backlog <= limit && n <= limit - backlog);
}


bool outq_put(struct outq *q, const char *s, size_t n, size_t limit)
{
	pthread_mutex_lock(&q->mu);
	bool ok = q->broken || fits(q, n, limit);
	if (ok && !q->broken)
		add(q, s, n);
	pthread_mutex_unlock(&q->mu);
	return ok;
}

static uint64_t count_lines(const char *s, size_t n)
{
	uint64_t lines = 0;
	for (const char *p = s; (p = memchr(p, '\n', n - (size_t)(p - s))) != NULL; p++)
		lines++;
	return lines ? lines : 1;
}

bool outq_put_lines(struct outq *q, const char *s, size_t n, size_t limit)
{
	pthread_mutex_lock(&q->mu);
	bool ok = q->broken || fits(q, n, limit);
	if (q->broken) {
		/* discarded: nobody reads any more */
	} else if (ok) {
		add_note(q);
		add(q, s, n);
	} else {
		uint64_t lines = count_lines(s, n);
		q->dropped += lines;
		q->dropped_total += lines;
	}
	pthread_mutex_unlock(&q->mu);
	return ok;
}

void outq_put_seq(struct outq *q, uint64_t seq, const char *s, size_t n, size_t limit)
{
	pthread_mutex_lock(&q->mu);
	if (q->broken) {
		/* discarded */
	} else if (q->gap && (limit == SIZE_MAX || q->held.len)) {
		/* Must be kept, and come after the gap: held until it is written. */
		buf_add(&q->held, s, n);
	} else if (q->gap) {
		q->gap_to = seq;
		pthread_cond_signal(&q->more);
	} else if (q->fill && !fits(q, n, limit)) {
		q->gap = true;
		q->gap_from = q->gap_to = seq;
		pthread_cond_signal(&q->more);
	} else {
		add(q, s, n);
	}
	pthread_mutex_unlock(&q->mu);
}

size_t outq_backlog(struct outq *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->broken ? 0 : q->in.len + q->writing + q->held.len;
	pthread_mutex_unlock(&q->mu);
	return n;
}

bool outq_broken(struct outq *q, int *err)
{
	pthread_mutex_lock(&q->mu);
	bool b = q->broken;
	if (err)
		*err = q->err;
	pthread_mutex_unlock(&q->mu);
	return b;
}

uint64_t outq_dropped(struct outq *q)
{
	pthread_mutex_lock(&q->mu);
	uint64_t n = q->dropped_total;
	pthread_mutex_unlock(&q->mu);
	return n;
}

uint64_t outq_lost(struct outq *q)
{
	pthread_mutex_lock(&q->mu);
	uint64_t n = q->lost;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void outq_drain(struct outq *q)
{
	pthread_mutex_lock(&q->mu);
	if (!q->broken && q->dropped) {
		add_note(q);
	}
	while (!q->broken && (q->in.len || q->writing || q->gap))
		pthread_cond_wait(&q->progress, &q->mu);
	pthread_mutex_unlock(&q->mu);
}

void outq_free(struct outq *q)
{
	if (!q)
		return;
	outq_drain(q);
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_signal(&q->more);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->more);
	pthread_cond_destroy(&q->progress);
	buf_release(&q->in);
	buf_release(&q->held);
	free(q->note);
	free(q);
}
