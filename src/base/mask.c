/*
 * mask: the patterns of secret values and the masking of text (mask.h).
 *
 * Masking a buffer w[0..n) is one pass: at each position the longest
 * pattern that starts there (if any) extends `reach`, the end of the
 * place covered so far; a byte below `reach` is covered. Covered runs
 * become one MASK_TEXT. A stream also decides where to stop: at the
 * first position, after the last newline, from which the rest of the
 * buffer is a proper prefix of some pattern (the next chunk may complete
 * it). What a match that started before that point covers beyond it is
 * carried over (`covered`), since the next pass no longer sees its start.
 */
#include "base/mask.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

struct pattern {
	char *s;
	size_t len;
};

struct mask {
	VEC(struct pattern) pats;  /* sorted by first byte, then longest first */
	size_t start[257];         /* pats of first byte c: start[c] .. start[c + 1] */
	size_t longest;
};

struct mask *mask_new(void)
{
	return xcalloc(1, sizeof(struct mask));
}

void mask_free(struct mask *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->pats.n; i++)
		free(m->pats.v[i].s);
	VEC_FREE(m->pats);
	free(m);
}

bool mask_empty(const struct mask *m)
{
	return !m || m->pats.n == 0;
}

size_t mask_longest(const struct mask *m)
{
	return m ? m->longest : 0;
}

/* ---- patterns ---- */

static void add_pattern(struct mask *m, const char *s, size_t len)
{
	if (!len)
		return;
	for (size_t i = 0; i < m->pats.n; i++)
		if (m->pats.v[i].len == len && !memcmp(m->pats.v[i].s, s, len))
			return;
	struct pattern *p = VEC_PUSH(m->pats);
	p->s = xstrndup(s, len);
	p->len = len;
}

static int pattern_order(const void *a, const void *b)
{
	const struct pattern *x = a, *y = b;
	unsigned char cx = (unsigned char)x->s[0], cy = (unsigned char)y->s[0];
	if (cx != cy)
		return cx < cy ? -1 : 1;
	return x->len > y->len ? -1 : x->len < y->len;
}

/* Sorts the patterns and rebuilds the first-byte table. */
static void index_patterns(struct mask *m)
{
	qsort(m->pats.v, m->pats.n, sizeof(*m->pats.v), pattern_order);
	memset(m->start, 0, sizeof(m->start));
	m->longest = 0;
	for (size_t i = 0; i < m->pats.n; i++) {
		m->start[(unsigned char)m->pats.v[i].s[0] + 1]++;
		if (m->pats.v[i].len > m->longest)
			m->longest = m->pats.v[i].len;
	}
	for (int c = 0; c < 256; c++)
		m->start[c + 1] += m->start[c];
}

/* ---- encoded forms ---- */

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/*
 * The base64 characters that encode only bytes of `v` when it starts
 * `skew` bytes into a group of three: character c covers bits 6c..6c+5
 * of the encoded stream, and `v` is bits 8*skew .. 8*(skew+len)-1, so
 * the characters before the first whole 6 bits of `v` and after its last
 * depend on the neighbours and are left out (as is padding).
 */
static void add_base64(struct mask *m, const unsigned char *v, size_t len, int skew, const char *alphabet)
{
	size_t bits = 8 * ((size_t)skew + len);
	size_t first = (8 * (size_t)skew + 5) / 6, end = bits / 6;
	if (end < first || end - first < MASK_MIN_ENCODED)
		return;
	struct buf out = BUF_INIT;
	for (size_t c = first; c < end; c++) {
		/* The 6 bits of character c: bits 6c..6c+5 of skew zero bytes then v. */
		unsigned val = 0;
		for (size_t b = 6 * c; b < 6 * c + 6; b++) {
			size_t byte = b / 8;
			unsigned bit = byte < (size_t)skew ? 0 : (v[byte - (size_t)skew] >> (7 - b % 8)) & 1;
			val = val << 1 | bit;
		}
		buf_addc(&out, alphabet[val]);
	}
	add_pattern(m, out.s, out.len);
	buf_release(&out);
}

static bool url_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~';
}

/* Percent-encoding (RFC 3986: all but the unreserved characters). */
static void add_url(struct mask *m, const char *v, size_t len, const char *hex)
{
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (url_unreserved(c)) {
			buf_addc(&out, (char)c);
		} else {
			buf_addc(&out, '%');
			buf_addc(&out, hex[c >> 4]);
			buf_addc(&out, hex[c & 15]);
		}
	}
	add_pattern(m, out.s, out.len);
	buf_release(&out);
}

/* The code point of the UTF-8 sequence at s (at most n bytes), its length in *len; -1 if invalid. */
static long utf8_decode(const unsigned char *s, size_t n, size_t *len)
{
	int extra = s[0] >= 0xF0 && s[0] <= 0xF4 ? 3 : s[0] >= 0xE0 && s[0] < 0xF0 ? 2 : s[0] >= 0xC2 && s[0] < 0xE0 ? 1 : -1;
	if (extra < 0 || (size_t)extra >= n)
		return -1;
	long cp = s[0] & (0x3F >> extra);
	for (int i = 1; i <= extra; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	static const long min[] = { 0, 0x80, 0x800, 0x10000 };
	if (cp < min[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	*len = (size_t)extra + 1;
	return cp;
}

/*
 * JSON string escaping as encoders write it: quote, backslash and
 * control characters always (\n, \r, \t, \b, \f, else \u00xx); with
 * `ascii`, every non-ASCII character as \uxxxx too (surrogate pairs
 * beyond U+FFFF), as Python's json.dumps does by default. A value that
 * is not UTF-8 has no ASCII form.
 */
static void add_json(struct mask *m, const char *v, size_t len, bool ascii)
{
	struct buf out = BUF_INIT;
	const unsigned char *s = (const unsigned char *)v;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		switch (c) {
		case '"': buf_adds(&out, "\\\""); continue;
		case '\\': buf_adds(&out, "\\\\"); continue;
		case '\n': buf_adds(&out, "\\n"); continue;
		case '\r': buf_adds(&out, "\\r"); continue;
		case '\t': buf_adds(&out, "\\t"); continue;
		case '\b': buf_adds(&out, "\\b"); continue;
		case '\f': buf_adds(&out, "\\f"); continue;
		default: break;
		}
		if (c < 0x20) {
			buf_addf(&out, "\\u%04x", c);
		} else if (c < 0x80 || !ascii) {
			buf_addc(&out, (char)c);
		} else {
			size_t n;
			long cp = utf8_decode(s + i, len - i, &n);
			if (cp < 0) {
				buf_release(&out);
				return;
			}
			if (cp >= 0x10000)
				buf_addf(&out, "\\u%04lx\\u%04lx", 0xD800 + ((cp - 0x10000) >> 10),
					 0xDC00 + ((cp - 0x10000) & 0x3FF));
			else
				buf_addf(&out, "\\u%04lx", cp);
			i += n - 1;
		}
	}
	add_pattern(m, out.s, out.len);
	buf_release(&out);
}

/* The value as it is, and as it is written inside JSON strings and urls. */
static void add_plain_forms(struct mask *m, const char *v, size_t len)
{
	add_pattern(m, v, len);
	add_json(m, v, len, false);
	add_json(m, v, len, true);
	add_url(m, v, len, "0123456789ABCDEF");
	add_url(m, v, len, "0123456789abcdef");
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

void mask_add(struct mask *m, const char *value, size_t len)
{
	if (!len || blank(value, len))
		return;
	/* Each line as it is: no pattern holds a newline (see mask_stream_feed). */
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(value + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - value) : len;
		size_t n = end - at;
		if (n && value[at + n - 1] == '\r')
			n--;
		if (!blank(value + at, n))
			add_plain_forms(m, value + at, n);
		at = end + 1;
	}
	/* The encoded forms of the whole value are single lines. */
	const unsigned char *u = (const unsigned char *)value;
	for (int skew = 0; skew < 3; skew++) {
		add_base64(m, u, len, skew, b64_std);
		add_base64(m, u, len, skew, b64_url);
	}
	if (memchr(value, '\n', len)) {
		add_json(m, value, len, false);
		add_json(m, value, len, true);
		add_url(m, value, len, "0123456789ABCDEF");
		add_url(m, value, len, "0123456789abcdef");
	}
	index_patterns(m);
}

/* ---- matching ---- */

/* The length of the longest pattern that w[0..n) starts with, or 0. */
static size_t longest_match(const struct mask *m, const char *w, size_t n)
{
	unsigned char c = (unsigned char)w[0];
	for (size_t i = m->start[c]; i < m->start[c + 1]; i++) {
		const struct pattern *p = &m->pats.v[i];
		if (p->len <= n && !memcmp(p->s, w, p->len))
			return p->len;
	}
	return 0;
}

/* True when w[0..n) is the start of a longer pattern: more may complete it. */
static bool starts_pattern(const struct mask *m, const char *w, size_t n)
{
	unsigned char c = (unsigned char)w[0];
	for (size_t i = m->start[c]; i < m->start[c + 1]; i++) {
		const struct pattern *p = &m->pats.v[i];
		if (p->len <= n)
			break; /* longest first: the rest are shorter still */
		if (!memcmp(p->s, w, n))
			return true;
	}
	return false;
}

/*
 * Where a stream must stop showing w[0..n): the first position, after
 * the last newline and less than the longest pattern from the end, from
 * which the rest could still grow into a pattern; n when there is none.
 */
static size_t hold_point(const struct mask *m, const char *w, size_t n)
{
	size_t from = n > m->longest - 1 ? n - (m->longest - 1) : 0;
	const char *nl = memrchr(w, '\n', n);
	if (nl && (size_t)(nl - w) + 1 > from)
		from = (size_t)(nl - w) + 1;
	for (size_t j = from; j < n; j++)
		if (starts_pattern(m, w + j, n - j))
			return j;
	return n;
}

/* Shows w[from..to): as it is, or as MASK_TEXT unless that continues the one shown last. */
static void show_run(const char *w, size_t from, size_t to, bool covered, bool *masking,
		     struct buf *out)
{
	if (from == to)
		return;
	if (!covered)
		buf_add(out, w + from, to - from);
	else if (!(from == 0 && *masking))
		buf_adds(out, MASK_TEXT);
	*masking = covered;
}

/*
 * Masks w[0..n) into `out` up to `stop` (the first `cov` bytes are
 * covered already). `*masking` says whether what was shown last was a
 * MASK_TEXT that a covered byte at 0 continues; it is updated. Returns
 * how many bytes past `stop` the matches seen cover.
 */
static size_t mask_span(const struct mask *m, const char *w, size_t n, size_t stop, size_t cov,
			bool *masking, struct buf *out)
{
	size_t reach = cov, seg = 0;
	bool seg_covered = cov > 0;
	for (size_t i = 0; i < stop; i++) {
		unsigned char c = (unsigned char)w[i];
		if (m->start[c] != m->start[c + 1]) {
			size_t l = longest_match(m, w + i, n - i);
			if (i + l > reach)
				reach = i + l;
		}
		bool covered = i < reach;
		if (covered != seg_covered) {
			show_run(w, seg, i, seg_covered, masking, out);
			seg = i;
			seg_covered = covered;
		}
	}
	show_run(w, seg, stop, seg_covered, masking, out);
	return reach > stop ? reach - stop : 0;
}

bool mask_text(const struct mask *m, const char *s, size_t len, struct buf *out)
{
	if (mask_empty(m)) {
		buf_add(out, s, len);
		return false;
	}
	size_t before = out->len;
	bool masking = false;
	mask_span(m, s, len, len, 0, &masking, out);
	return out->len != before + len || memcmp(out->s + before, s, len) != 0;
}

char *mask_str(const char *s, void *mask)
{
	const struct mask *m = mask;
	if (!s || mask_empty(m))
		return NULL;
	struct buf out = BUF_INIT;
	if (!mask_text(m, s, strlen(s), &out)) {
		buf_release(&out);
		return NULL;
	}
	return buf_detach(&out, NULL);
}

/* ---- streams ---- */

void mask_stream_init(struct mask_stream *ms, const struct mask *m)
{
	ms->m = m;
	buf_init(&ms->held);
	ms->covered = 0;
	ms->masking = false;
}

void mask_stream_feed(struct mask_stream *ms, const char *data, size_t len, struct buf *out)
{
	const struct mask *m = ms->m;
	if (mask_empty(m)) {
		buf_add(out, data, len);
		return;
	}
	struct buf *h = &ms->held;
	buf_add(h, data, len);
	size_t stop = hold_point(m, h->s, h->len);
	size_t carry = mask_span(m, h->s, h->len, stop, ms->covered, &ms->masking, out);
	/* A match that started before `stop` may cover held bytes, not all. */
	ms->covered = carry < h->len - stop ? carry : h->len - stop;
	memmove(h->s, h->s + stop, h->len - stop);
	h->len -= stop;
	if (h->cap)
		h->s[h->len] = '\0';
}

void mask_stream_flush(struct mask_stream *ms, struct buf *out)
{
	struct buf *h = &ms->held;
	if (h->len && !mask_empty(ms->m))
		mask_span(ms->m, h->s, h->len, h->len, ms->covered, &ms->masking, out);
	else
		buf_add(out, h->s, h->len);
	buf_reset(h);
	ms->covered = 0;
	ms->masking = false;
}

void mask_stream_release(struct mask_stream *ms)
{
	buf_release(&ms->held);
	ms->covered = 0;
	ms->masking = false;
}
