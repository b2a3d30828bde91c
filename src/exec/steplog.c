#include "exec/steplog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/xalloc.h"

static void warnf(struct steplog *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(struct steplog *l, const char *fmt, ...)
{
	if (l->warned)
		return;
	l->warned = true;
	if (!l->warn)
		return;
	struct buf msg = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	l->warn(msg.s, l->warn_arg);
	buf_release(&msg);
}

/* Writes all of `data`; 0, or the errno of the write that failed (what
 * was written before it stays written and counted). */
static int put_all(struct steplog *l, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(l->fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		data += n;
		len -= (size_t)n;
		l->bytes += (uint64_t)n;
	}
	return 0;
}

/* After failed writes: says in the file what they dropped, if the file
 * takes it now. Returns true when it did (or there was nothing to say). */
static bool mark_gap(struct steplog *l)
{
	if (!l->err)
		return true;
	char msg[160];
	int n = snprintf(msg, sizeof(msg), "\n[lockstep: log write failed: %s; %llu bytes lost]\n",
			 strerror(l->err), (unsigned long long)l->lost);
	uint64_t before = l->bytes;
	if (put_all(l, msg, (size_t)n) != 0)
		return false;
	l->bytes = before;  /* lockstep's words do not count against the cap */
	l->err = 0;
	l->lost = 0;
	return true;
}

void steplog_open(struct steplog *l, const char *path, bool append, uint64_t max_bytes,
		  const struct mask *mask, void (*warn)(const char *message, void *arg), void *warn_arg)
{
	*l = (struct steplog){ .fd = -1, .max_bytes = max_bytes, .warn = warn, .warn_arg = warn_arg,
			       .masked = mask && !mask_empty(mask) };
	mask_stream_init(&l->mask_out, mask);
	mask_stream_init(&l->mask_err, mask);
	if (!path)
		return;
	l->path = xstrdup(path);
	l->fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC) | O_CLOEXEC, 0600);
	if (l->fd < 0)
		warnf(l, "cannot open the log file %s: %s; the output of this attempt is not logged", path,
		      strerror(errno));
}

void steplog_put(struct steplog *l, const char *data, size_t len)
{
	if (l->fd < 0 || l->truncated || !len)
		return;
	bool cut = false;
	if (l->bytes + len > l->max_bytes) {
		len = (size_t)(l->max_bytes - l->bytes);
		cut = true;
	}
	int e = mark_gap(l) ? 0 : l->err;
	uint64_t before = l->bytes;
	if (!e)
		e = put_all(l, data, len);
	if (e) {
		l->err = e;
		l->lost += len - (l->bytes - before);
		warnf(l, "cannot write the log file %s: %s; output is missing from it", l->path, strerror(e));
	}
	if (cut) {
		l->truncated = true;
		char msg[96];
		int n = snprintf(msg, sizeof(msg), "\n[lockstep: log truncated at %llu bytes]\n",
				 (unsigned long long)l->max_bytes);
		if (mark_gap(l))
			put_all(l, msg, (size_t)n);
	}
}

void steplog_feed(struct steplog *l, int stream, const char *data, size_t len, struct buf *shown)
{
	if (!l->masked) {
		steplog_put(l, data, len);
		buf_add(shown, data, len);
		return;
	}
	size_t at = shown->len;
	mask_stream_feed(stream == 2 ? &l->mask_err : &l->mask_out, data, len, shown);
	steplog_put(l, shown->s + at, shown->len - at);
}

void steplog_flush(struct steplog *l, int stream, struct buf *shown)
{
	if (!l->masked)
		return;
	size_t at = shown->len;
	mask_stream_flush(stream == 2 ? &l->mask_err : &l->mask_out, shown);
	steplog_put(l, shown->s + at, shown->len - at);
}

void steplog_close(struct steplog *l)
{
	if (l->fd >= 0) {
		mark_gap(l);
		close(l->fd);
	}
	l->fd = -1;
	free(l->path);
	l->path = NULL;
	mask_stream_release(&l->mask_out);
	mask_stream_release(&l->mask_err);
}
