/*
 * Tests for base/logname.c: how a workflow instance name becomes one
 * directory name of the log tree, and that log_component_len() counts
 * exactly what log_component() writes, whole or in parts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "base/buf.h"
#include "base/logname.h"

static void component_is(const char *name, const char *want)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "dir/");
	log_component(&b, name);
	assert_string_equal(b.s + 4, want);
	assert_int_equal(log_component_len(name, strlen(name), true), strlen(want));
	buf_release(&b);
}

static void test_escaping(void **state)
{
	(void)state;
	component_is("deploy", "deploy");
	component_is("deploy[region=eu-west]", "deploy[region=eu-west]");
	/* A matrix value may hold '/': one directory, not two. */
	component_is("deploy[path=a/b]", "deploy[path=a%2Fb]");
	component_is("w[p=100%]", "w[p=100%25]");
	/* A leading '.' only: ".." cannot climb out of the tree. */
	component_is("..", "%2E.");
	component_is(".hidden[x=.y]", "%2Ehidden[x=.y]");
	component_is("w[x=a\tb\x7f]", "w[x=a%09b%7F]");
	/* Bytes of UTF-8 characters are kept. */
	component_is("w[r=zürich]", "w[r=zürich]");
	component_is("", "");
}

static void test_parts_add_up(void **state)
{
	(void)state;
	/* NAME, then [KEY=VALUE]: the parts' lengths are the whole name's. */
	static const char *const values[] = { ".x", "a/b", "%", "plain", "\x01" };
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct buf name = BUF_INIT;
		buf_addf(&name, ".w[k=%s]", values[i]);
		size_t parts = log_component_len(".w", 2, true) + strlen("[k=") +
			       log_component_len(values[i], strlen(values[i]), false) + strlen("]");
		assert_int_equal(parts, log_component_len(name.s, name.len, true));
		buf_release(&name);
	}
	/* Only the first `len` bytes count. */
	assert_int_equal(log_component_len("a/b/c", 3, true), 5);
	assert_int_equal(log_component_len(".a", 1, false), 1);
}

static void test_limits(void **state)
{
	(void)state;
	/* ID.101.k8s-spec.json is the longest name of a step's files. */
	assert_int_equal(LOG_STEP_SUFFIX_MAX, strlen(".101.k8s-spec.json"));
	assert_int_equal(LOG_STEP_ID_MAX + strlen(".101.k8s-spec.json"), LOG_NAME_MAX);
	assert_true(strlen(".101.k8s.json.tmp") <= LOG_STEP_SUFFIX_MAX);
	assert_true(strlen(".101.manifests") <= LOG_STEP_SUFFIX_MAX);
	assert_true(strlen(".101.log") <= LOG_STEP_SUFFIX_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_parts_add_up),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
