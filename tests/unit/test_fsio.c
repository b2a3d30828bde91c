/*
 * Tests for base/fsio: bounded reads, mkdir -p with a message, and the
 * two ways of writing a whole file (plain, and atomic + durable).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsio.h"

static char dir[] = "/tmp/lockstep-fsio.XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_of(struct buf *p, const char *name)
{
	buf_reset(p);
	buf_addf(p, "%s/%s", dir, name);
}

static void test_write_then_read(void **state)
{
	(void)state;
	struct buf p = BUF_INIT;
	path_of(&p, "plain");
	assert_int_equal(fsio_write_file(p.s, "hello\n", 6), 0);
	/* Written again: emptied first, not appended to. */
	assert_int_equal(fsio_write_file(p.s, "hi\n", 3), 0);
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(fsio_read_file(p.s, 100, &text, &len), 0);
	assert_int_equal(len, 3);
	assert_string_equal(text, "hi\n");
	free(text);
	/* Private to its owner: state files may say what a step did. */
	struct stat st;
	assert_int_equal(stat(p.s, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Bounded: a file larger than the limit is refused. */
	assert_int_equal(fsio_read_file(p.s, 2, &text, &len), -EFBIG);
	path_of(&p, "no-such-dir/x");
	assert_int_equal(fsio_write_file(p.s, "x", 1), -ENOENT);
	buf_release(&p);
}

static void test_replace_is_whole_and_leaves_no_temporary(void **state)
{
	(void)state;
	struct buf p = BUF_INIT, tmp = BUF_INIT;
	path_of(&p, "record.json");
	assert_int_equal(fsio_replace_file(p.s, "{\"v\":1}\n", 8), 0);
	assert_int_equal(fsio_replace_file(p.s, "{\"v\":2}\n", 8), 0);
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(fsio_read_file(p.s, 100, &text, &len), 0);
	assert_string_equal(text, "{\"v\":2}\n");
	free(text);
	buf_addf(&tmp, "%s.tmp", p.s);
	assert_int_equal(access(tmp.s, F_OK), -1);
	/* A failed replace changes nothing and leaves no temporary. */
	path_of(&p, "no-such-dir/record.json");
	assert_int_equal(fsio_replace_file(p.s, "x", 1), -ENOENT);
	buf_release(&p);
	buf_release(&tmp);
}

static void test_mkdirs(void **state)
{
	(void)state;
	struct buf p = BUF_INIT, err = BUF_INIT;
	path_of(&p, "a/b/c");
	assert_int_equal(fsio_mkdirs(p.s, &err), 0);
	assert_int_equal(fsio_mkdirs(p.s, &err), 0);
	struct stat st;
	assert_int_equal(stat(p.s, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	path_of(&p, "plain/sub");
	assert_true(fsio_mkdirs(p.s, &err) < 0);
	assert_non_null(strstr(err.s, "plain"));
	assert_non_null(strstr(err.s, "ot a directory"));
	buf_release(&p);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_then_read),
		cmocka_unit_test(test_replace_is_whole_and_leaves_no_temporary),
		cmocka_unit_test(test_mkdirs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
