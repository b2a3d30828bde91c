/*
 * Tests for exec/exec_proto.c, the frames between the engine and a run's
 * supervisor: fields round-trip, frames are split however the bytes
 * arrive (one at a time, several at once), and what a hostile or broken
 * peer sends (a frame past XPROTO_MAX, a zero length, a field running
 * past its frame) cuts the peer off instead of being read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "exec/exec_proto.h"

/* What the frames of a test said, in order. */
struct seen {
	int n;
	enum xmsg type[8];
	char *key[8];
	uint64_t num[8];
	struct proc_status st;
	int stop_at;               /* return non-zero at this frame (0: never) */
};

static int record(enum xmsg type, struct xreader *r, void *arg)
{
	struct seen *s = arg;
	int i = s->n++;
	s->type[i] = type;
	s->key[i] = xproto_get_str(r);
	if (type == XM_EXIT)
		xproto_get_status(r, &s->st);
	else
		s->num[i] = xproto_get_u64(r);
	return s->stop_at && s->n == s->stop_at ? -1 : 0;
}

static void release(struct seen *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->key[i]);
}

static void frame_key_num(struct buf *b, enum xmsg t, const char *key, uint64_t v)
{
	size_t start = b->len;
	xproto_begin(b, t);
	xproto_str(b, key);
	xproto_u64(b, v);
	xproto_end(b, start);
}

static void test_round_trip(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	frame_key_num(&b, XM_KILL, "0/s/1/2", 1);
	size_t start = b.len;
	xproto_begin(&b, XM_EXIT);
	xproto_str(&b, "3/r/0/1");
	struct proc_status st = { .spawned = true, .exit_code = -1, .term_signal = 15, .killed = true,
				  .error_code = -24, .duration_ms = 1503 };
	strcpy(st.error, "too many open files");
	xproto_status(&b, &st);
	xproto_end(&b, start);
	struct seen s = { 0 };
	assert_int_equal(xproto_split(&b, record, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.type[0], XM_KILL);
	assert_string_equal(s.key[0], "0/s/1/2");
	assert_int_equal(s.num[0], 1);
	assert_int_equal(s.type[1], XM_EXIT);
	assert_string_equal(s.key[1], "3/r/0/1");
	assert_true(s.st.spawned && s.st.killed);
	assert_int_equal(s.st.exit_code, -1);
	assert_int_equal(s.st.term_signal, 15);
	assert_int_equal(s.st.error_code, -24);
	assert_int_equal(s.st.duration_ms, 1503);
	assert_string_equal(s.st.error, "too many open files");
	assert_int_equal(b.len, 0); /* every frame taken */
	release(&s);
	buf_release(&b);
}

/* Bytes arrive one at a time: each frame is read once it is whole. */
static void test_split_byte_by_byte(void **state)
{
	(void)state;
	struct buf all = BUF_INIT, in = BUF_INIT;
	frame_key_num(&all, XM_STARTED, "a", 42);
	frame_key_num(&all, XM_CLOSED, "bb", 7);
	struct seen s = { 0 };
	for (size_t i = 0; i < all.len; i++) {
		buf_add(&in, all.s + i, 1);
		assert_int_equal(xproto_split(&in, record, &s), 0);
	}
	assert_int_equal(s.n, 2);
	assert_string_equal(s.key[0], "a");
	assert_int_equal(s.num[0], 42);
	assert_string_equal(s.key[1], "bb");
	assert_int_equal(in.len, 0);
	release(&s);
	buf_release(&all);
	buf_release(&in);
}

/* A half frame stays for later; the whole ones before it are read. */
static void test_partial_frame_kept(void **state)
{
	(void)state;
	struct buf in = BUF_INIT;
	frame_key_num(&in, XM_GONE, "k", 1);
	size_t one = in.len;
	frame_key_num(&in, XM_GONE, "later", 2);
	size_t two = in.len - one;
	in.len -= 3;
	in.s[in.len] = '\0';
	struct seen s = { 0 };
	assert_int_equal(xproto_split(&in, record, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(in.len, two - 3);
	/* The rest comes: the second frame is read. */
	frame_key_num(&in, XM_GONE, "later", 2);
	memmove(in.s + two - 3, in.s + two - 3 + two - 3, 3);
	in.len = two;
	assert_int_equal(xproto_split(&in, record, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.key[1], "later");
	assert_int_equal(s.num[1], 2);
	release(&s);
	buf_release(&in);
}

static void test_hostile_frames(void **state)
{
	(void)state;
	struct seen s = { 0 };
	/* A length past XPROTO_MAX: cut off, whatever follows. */
	struct buf b = BUF_INIT;
	uint32_t huge = XPROTO_MAX + 1;
	buf_add(&b, &huge, sizeof(huge));
	assert_int_equal(xproto_split(&b, record, &s), -1);
	assert_int_equal(s.n, 0);
	buf_release(&b);
	/* A zero length (no type). */
	uint32_t zero = 0;
	buf_add(&b, &zero, sizeof(zero));
	assert_int_equal(xproto_split(&b, record, &s), -1);
	buf_release(&b);
	/* A string whose length runs past its frame. */
	size_t start = b.len;
	xproto_begin(&b, XM_OUTPUT);
	uint32_t n = 1000;
	buf_add(&b, &n, sizeof(n));
	buf_adds(&b, "short");
	xproto_end(&b, start);
	assert_int_equal(xproto_split(&b, record, &s), -1);
	assert_null(s.key[0]);
	release(&s);
	buf_release(&b);
	/* A reader asked past the end of its frame says so. */
	struct xreader r = { "abc", "abc" + 3, false };
	xproto_get_u64(&r);
	assert_true(r.bad);
}

/* The handler's refusal stops the split there. */
static void test_handler_refusal_stops(void **state)
{
	(void)state;
	struct buf in = BUF_INIT;
	frame_key_num(&in, XM_GONE, "1", 1);
	frame_key_num(&in, XM_GONE, "2", 2);
	struct seen s = { .stop_at = 1 };
	assert_int_equal(xproto_split(&in, record, &s), -1);
	assert_int_equal(s.n, 1);
	release(&s);
	buf_release(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_split_byte_by_byte),
		cmocka_unit_test(test_partial_frame_kept),
		cmocka_unit_test(test_hostile_frames),
		cmocka_unit_test(test_handler_refusal_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
