#include "exec/exec_proto.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

void xproto_begin(struct buf *b, enum xmsg type)
{
	uint32_t zero = 0;
	buf_add(b, &zero, sizeof(zero));
	char t = (char)type;
	buf_add(b, &t, 1);
}

void xproto_u64(struct buf *b, uint64_t v)
{
	buf_add(b, &v, sizeof(v));
}

void xproto_bytes(struct buf *b, const void *data, size_t len)
{
	uint32_t n = (uint32_t)len;
	buf_add(b, &n, sizeof(n));
	buf_add(b, data, len);
}

void xproto_str(struct buf *b, const char *s)
{
	xproto_bytes(b, s ? s : "", s ? strlen(s) : 0);
}

void xproto_status(struct buf *b, const struct proc_status *st)
{
	xproto_u64(b, st->spawned);
	xproto_u64(b, (uint64_t)(int64_t)st->exit_code);
	xproto_u64(b, (uint64_t)(int64_t)st->term_signal);
	xproto_u64(b, st->killed | (uint64_t)st->timed_out << 1);
	xproto_u64(b, (uint64_t)(int64_t)st->error_code);
	xproto_u64(b, st->duration_ms);
	xproto_str(b, st->error);
}

void xproto_end(struct buf *b, size_t start)
{
	uint32_t n = (uint32_t)(b->len - start - sizeof(uint32_t));
	memcpy(b->s + start, &n, sizeof(n));
}

struct wreq {
	uv_write_t req;
	char *data;
};

static void write_cb(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	(void)status;
	free(w->data);
	free(w);
}

int xproto_send(uv_stream_t *s, char *data, size_t len)
{
	struct wreq *w = xmalloc(sizeof(*w));
	w->data = data;
	uv_buf_t ub = uv_buf_init(data, (unsigned)len);
	int rc = uv_write(&w->req, s, &ub, 1, write_cb);
	if (rc < 0) {
		free(data);
		free(w);
	}
	return rc;
}

uint64_t xproto_get_u64(struct xreader *r)
{
	uint64_t v = 0;
	if (r->bad || (size_t)(r->end - r->p) < sizeof(v)) {
		r->bad = true;
		return 0;
	}
	memcpy(&v, r->p, sizeof(v));
	r->p += sizeof(v);
	return v;
}

const char *xproto_get_bytes(struct xreader *r, size_t *len)
{
	uint32_t n;
	if (r->bad || (size_t)(r->end - r->p) < sizeof(n)) {
		r->bad = true;
		return NULL;
	}
	memcpy(&n, r->p, sizeof(n));
	r->p += sizeof(n);
	if ((size_t)(r->end - r->p) < n) {
		r->bad = true;
		return NULL;
	}
	const char *s = r->p;
	r->p += n;
	*len = n;
	return s;
}

char *xproto_get_str(struct xreader *r)
{
	size_t n;
	const char *s = xproto_get_bytes(r, &n);
	return s ? xstrndup(s, n) : NULL;
}

void xproto_get_status(struct xreader *r, struct proc_status *st)
{
	*st = (struct proc_status){ 0 };
	st->spawned = xproto_get_u64(r) != 0;
	st->exit_code = (int)(int64_t)xproto_get_u64(r);
	st->term_signal = (int)(int64_t)xproto_get_u64(r);
	uint64_t k = xproto_get_u64(r);
	st->killed = k & 1;
	st->timed_out = (k & 2) != 0;
	st->error_code = (int)(int64_t)xproto_get_u64(r);
	st->duration_ms = xproto_get_u64(r);
	size_t n;
	const char *e = xproto_get_bytes(r, &n);
	if (e) {
		if (n >= sizeof(st->error))
			n = sizeof(st->error) - 1;
		memcpy(st->error, e, n);
		st->error[n] = '\0';
	}
}

int xproto_split(struct buf *in, int (*frame)(enum xmsg type, struct xreader *r, void *arg), void *arg)
{
	size_t at = 0;
	int rc = 0;
	while (in->len - at >= sizeof(uint32_t)) {
		uint32_t n;
		memcpy(&n, in->s + at, sizeof(n));
		if (n < 1 || n > XPROTO_MAX) {
			rc = -1;
			break;
		}
		if (in->len - at - sizeof(n) < n)
			break;
		const char *body = in->s + at + sizeof(n);
		struct xreader r = { body + 1, body + n, false };
		at += sizeof(n) + n;
		if (frame((enum xmsg)(unsigned char)body[0], &r, arg) != 0 || r.bad) {
			rc = -1;
			break;
		}
	}
	if (at) {
		memmove(in->s, in->s + at, in->len - at);
		in->len -= at;
		in->s[in->len] = '\0';
	}
	return rc;
}
