/*
 * Tests for the base allocators: buf (growable string), arena (bump
 * allocator) and the VEC_* macros of xalloc.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/xalloc.h"

/* ---- buf ---- */

static void test_buf_init_is_empty_string(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_non_null(b.s);
	assert_string_equal(b.s, "");
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	/* releasing an unused buffer is fine, and so is doing it twice */
	buf_release(&b);
	buf_release(&b);
	assert_string_equal(b.s, "");

	struct buf c;
	memset(&c, 0xa5, sizeof(c));
	buf_init(&c);
	assert_string_equal(c.s, "");
	assert_int_equal(c.len, 0);
	assert_int_equal(c.cap, 0);
}

static void test_buf_add_variants(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_add(&b, "abcdef", 3);
	assert_string_equal(b.s, "abc");
	assert_int_equal(b.len, 3);
	assert_true(b.cap > b.len);
	buf_adds(&b, "-de");
	buf_addc(&b, '!');
	buf_addf(&b, "[%d:%s]", 42, "x");
	assert_string_equal(b.s, "abc-de![42:x]");
	assert_int_equal(b.len, strlen(b.s));
	/* adding nothing changes nothing */
	buf_add(&b, "zzz", 0);
	buf_adds(&b, "");
	buf_addf(&b, "%s", "");
	assert_string_equal(b.s, "abc-de![42:x]");
	buf_release(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
}

static void test_buf_add_nothing_to_empty_keeps_shared_string(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_add(&b, "x", 0);
	buf_addf(&b, "%s", "");
	buf_reset(&b);
	assert_int_equal(b.cap, 0);
	assert_string_equal(b.s, "");
	/* the shared empty string was not written to */
	assert_string_equal(buf_empty_, "");
}

static void test_buf_addc_nul_byte(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_addc(&b, 'a');
	buf_addc(&b, '\0');
	buf_addc(&b, 'b');
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.s, "a\0b", 4);
	buf_release(&b);
}

static void test_buf_grows_a_lot(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	for (int i = 0; i < 100000; i++)
		buf_addc(&b, (char)('a' + i % 26));
	assert_int_equal(b.len, 100000);
	assert_int_equal(strlen(b.s), 100000);
	assert_int_equal(b.s[99999], 'a' + 99999 % 26);
	assert_true(b.cap > b.len);

	/* one big formatted addition, beyond the first capacity */
	struct buf c = BUF_INIT;
	buf_addf(&c, "%5000d|", 7);
	assert_int_equal(c.len, 5001);
	assert_int_equal(c.s[4999], '7');
	assert_int_equal(c.s[5000], '|');
	assert_int_equal(c.s[5001], '\0');
	buf_release(&b);
	buf_release(&c);
}

static void test_buf_grow_reserves(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_grow(&b, 1000);
	assert_true(b.cap >= 1001);
	assert_string_equal(b.s, "");
	char *before = b.s;
	size_t cap = b.cap;
	for (int i = 0; i < 1000; i++)
		buf_addc(&b, 'x');
	/* the reserved room was enough: no reallocation */
	assert_ptr_equal(b.s, before);
	assert_int_equal(b.cap, cap);
	buf_release(&b);
}

/*
 * Runs `fn` in a child with stderr closed and returns its wait status, so
 * a test can check that something aborts.
 */
static int status_of_child(void (*fn)(void))
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 2);
		fn();
		_exit(0);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void grow_by_size_max(void)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "abc");
	/* len + SIZE_MAX + 1 wraps around to len: must not pass as "fits" */
	buf_grow(&b, SIZE_MAX);
}

static void grow_by_size_max_minus_len(void)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "abc");
	buf_grow(&b, SIZE_MAX - 3);
}

static void test_buf_grow_overflow_aborts(void **state)
{
	(void)state;
	int st = status_of_child(grow_by_size_max);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
	st = status_of_child(grow_by_size_max_minus_len);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
}

static void test_buf_reset_keeps_memory(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_adds(&b, "hello");
	char *p = b.s;
	buf_reset(&b);
	assert_string_equal(b.s, "");
	assert_int_equal(b.len, 0);
	assert_ptr_equal(b.s, p);
	buf_adds(&b, "again");
	assert_string_equal(b.s, "again");
	buf_release(&b);
}

static void test_buf_detach(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_adds(&b, "owned");
	size_t len = 0;
	char *s = buf_detach(&b, &len);
	assert_string_equal(s, "owned");
	assert_int_equal(len, 5);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_string_equal(b.s, "");
	free(s);

	/* an empty buffer still hands out a string the caller can free */
	s = buf_detach(&b, NULL);
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_ptr_not_equal(s, buf_empty_);
	free(s);
}

__attribute__((format(printf, 2, 3)))
static void vaddf_helper(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

static void test_buf_vaddf(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_adds(&b, ">");
	vaddf_helper(&b, "%s=%zu", "n", (size_t)12);
	assert_string_equal(b.s, ">n=12");
	buf_release(&b);
}

static void json_is(const char *in, const char *want)
{
	struct buf b = BUF_INIT;
	buf_add_json_str(&b, in);
	assert_string_equal(b.s, want);
	buf_release(&b);
}

static void test_buf_json_str(void **state)
{
	(void)state;
	json_is("", "\"\"");
	json_is("plain", "\"plain\"");
	json_is("say \"hi\"", "\"say \\\"hi\\\"\"");
	json_is("C:\\dir", "\"C:\\\\dir\"");
	json_is("a\nb\rc\td", "\"a\\nb\\rc\\td\"");
	json_is("\x01\x1f\b\f", "\"\\u0001\\u001f\\u0008\\u000c\"");
	/* DEL and UTF-8 need no escape in JSON */
	json_is("\x7f", "\"\x7f\"");
	json_is("caf\xc3\xa9 \xe2\x9c\x93", "\"caf\xc3\xa9 \xe2\x9c\x93\"");
	json_is("/", "\"/\"");

	/* appends, it does not replace */
	struct buf b = BUF_INIT;
	buf_adds(&b, "x=");
	buf_add_json_str(&b, "y");
	assert_string_equal(b.s, "x=\"y\"");
	buf_release(&b);
}

/* ---- arena ---- */

static void test_arena_alloc_zeroed_and_aligned(void **state)
{
	(void)state;
	struct arena a = ARENA_INIT;
	for (size_t n = 0; n < 200; n++) {
		unsigned char *p = arena_alloc(&a, n);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(p[i], 0);
		memset(p, 0xff, n); /* all of it is ours (ASan checks) */
	}
	assert_true(a.total >= 199 * 200 / 2);
	arena_release(&a);
	assert_null(a.head);
	assert_int_equal(a.used, 0);
	assert_int_equal(a.total, 0);
}

static void test_arena_zero_size_distinct(void **state)
{
	(void)state;
	struct arena a = ARENA_INIT;
	void *p = arena_alloc(&a, 0);
	void *q = arena_alloc(&a, 0);
	assert_non_null(p);
	assert_non_null(q);
	assert_ptr_not_equal(p, q);
	arena_release(&a);
}

static void test_arena_many_blocks(void **state)
{
	(void)state;
	struct arena a = ARENA_INIT;
	/* ~4 MiB in small pieces: many blocks, earlier ones stay valid */
	char *first = arena_strdup(&a, "first");
	char *ptrs[4096];
	for (int i = 0; i < 4096; i++) {
		ptrs[i] = arena_alloc(&a, 1000);
		memset(ptrs[i], i & 0xff, 1000);
	}
	for (int i = 0; i < 4096; i++) {
		assert_int_equal((unsigned char)ptrs[i][0], i & 0xff);
		assert_int_equal((unsigned char)ptrs[i][999], i & 0xff);
	}
	assert_string_equal(first, "first");
	arena_release(&a);
}

static void test_arena_big_allocations(void **state)
{
	(void)state;
	struct arena a = ARENA_INIT;
	const size_t al = alignof(max_align_t);
	char *p1 = arena_alloc(&a, al);
	/* a big one-off allocation while the current block has room... */
	char *big = arena_alloc(&a, 1000000);
	memset(big, 'b', 1000000);
	/* ...does not waste that room: the next small one follows p1 */
	char *p2 = arena_alloc(&a, al);
	assert_ptr_equal(p2, p1 + al);
	/* bigger than a block with an empty arena */
	struct arena b = ARENA_INIT;
	char *huge = arena_alloc(&b, 300000);
	memset(huge, 'h', 300000);
	char *after = arena_alloc(&b, 10);
	memset(after, 'a', 10);
	assert_int_equal(huge[299999], 'h');
	arena_release(&a);
	arena_release(&b);
}

static void test_arena_strings(void **state)
{
	(void)state;
	struct arena a = ARENA_INIT;
	assert_string_equal(arena_strdup(&a, ""), "");
	assert_string_equal(arena_strdup(&a, "hello"), "hello");
	assert_string_equal(arena_strndup(&a, "hello world", 5), "hello");
	/* strndup copies exactly n bytes: the source need not be terminated */
	char raw[3] = { 'x', 'y', 'z' };
	assert_string_equal(arena_strndup(&a, raw, 3), "xyz");
	assert_string_equal(arena_printf(&a, "%s-%03d", "id", 7), "id-007");
	assert_string_equal(arena_printf(&a, "%s", ""), "");
	char *long_one = arena_printf(&a, "%100000d", 5);
	assert_int_equal(strlen(long_one), 100000);
	assert_int_equal(long_one[99999], '5');
	arena_release(&a);
}

static void test_arena_array(void **state)
{
	(void)state;
	struct arena a = ARENA_INIT;
	uint64_t *v = arena_array(&a, 1000, sizeof(*v));
	for (size_t i = 0; i < 1000; i++) {
		assert_int_equal(v[i], 0);
		v[i] = i;
	}
	assert_int_equal(v[999], 999);
	assert_non_null(arena_array(&a, 0, 8));
	arena_release(&a);
}

static void array_overflow(void)
{
	struct arena a = ARENA_INIT;
	arena_array(&a, SIZE_MAX / 2, 4);
}

static void alloc_overflow(void)
{
	struct arena a = ARENA_INIT;
	arena_alloc(&a, SIZE_MAX - 3);
}

static void test_arena_overflow_aborts(void **state)
{
	(void)state;
	int st = status_of_child(array_overflow);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
	st = status_of_child(alloc_overflow);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
}

/* ---- xalloc and VEC ---- */

struct point {
	int x, y;
};

static void test_vec_push(void **state)
{
	(void)state;
	VEC(struct point) pts = { 0 };
	for (int i = 0; i < 1000; i++) {
		struct point *p = VEC_PUSH(pts);
		/* every new slot starts zeroed */
		assert_int_equal(p->x, 0);
		assert_int_equal(p->y, 0);
		p->x = i;
		p->y = -i;
	}
	assert_int_equal(pts.n, 1000);
	assert_true(pts.cap >= 1000);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(pts.v[i].x, i);
		assert_int_equal(pts.v[i].y, -i);
	}
	VEC_FREE(pts);
	assert_null(pts.v);
	assert_int_equal(pts.n, 0);
	assert_int_equal(pts.cap, 0);

	/* usable again after VEC_FREE */
	*VEC_PUSH(pts) = (struct point){ 7, 8 };
	assert_int_equal(pts.n, 1);
	assert_int_equal(pts.v[0].y, 8);
	VEC_FREE(pts);
}

static void test_vec_push_zeroes_reused_slots(void **state)
{
	(void)state;
	VEC(int) v = { 0 };
	for (int i = 0; i < 8; i++)
		*VEC_PUSH(v) = i + 1;
	/* emptied by hand, then pushed again within the capacity: each
	 * slot VEC_PUSH returns is still zeroed, as its contract says */
	v.n = 0;
	for (int i = 0; i < 8; i++)
		assert_int_equal(*VEC_PUSH(v), 0);
	VEC_FREE(v);
}

static void test_xalloc_basics(void **state)
{
	(void)state;
	char *s = xstrdup("dup");
	assert_string_equal(s, "dup");
	free(s);
	s = xstrndup("abcdef", 2);
	assert_string_equal(s, "ab");
	free(s);
	int *z = xcalloc(16, sizeof(int));
	for (int i = 0; i < 16; i++)
		assert_int_equal(z[i], 0);
	z = xreallocarray(z, 32, sizeof(int));
	z[31] = 1;
	free(z);
	/* zero sizes still give freeable memory */
	free(xmalloc(0));
	free(xcalloc(0, 0));
}

static void reallocarray_overflow(void)
{
	xreallocarray(NULL, SIZE_MAX / 2, 3);
}

static void test_xreallocarray_overflow_aborts(void **state)
{
	(void)state;
	int st = status_of_child(reallocarray_overflow);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_init_is_empty_string),
		cmocka_unit_test(test_buf_add_variants),
		cmocka_unit_test(test_buf_add_nothing_to_empty_keeps_shared_string),
		cmocka_unit_test(test_buf_addc_nul_byte),
		cmocka_unit_test(test_buf_grows_a_lot),
		cmocka_unit_test(test_buf_grow_reserves),
		cmocka_unit_test(test_buf_grow_overflow_aborts),
		cmocka_unit_test(test_buf_reset_keeps_memory),
		cmocka_unit_test(test_buf_detach),
		cmocka_unit_test(test_buf_vaddf),
		cmocka_unit_test(test_buf_json_str),
		cmocka_unit_test(test_arena_alloc_zeroed_and_aligned),
		cmocka_unit_test(test_arena_zero_size_distinct),
		cmocka_unit_test(test_arena_many_blocks),
		cmocka_unit_test(test_arena_big_allocations),
		cmocka_unit_test(test_arena_strings),
		cmocka_unit_test(test_arena_array),
		cmocka_unit_test(test_arena_overflow_aborts),
		cmocka_unit_test(test_vec_push),
		cmocka_unit_test(test_vec_push_zeroes_reused_slots),
		cmocka_unit_test(test_xalloc_basics),
		cmocka_unit_test(test_xreallocarray_overflow_aborts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
