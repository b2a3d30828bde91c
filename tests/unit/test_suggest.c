/*
 * Tests for base/suggest.c: edit distance and "did you mean" choices.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "base/suggest.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_distance_basics(void **state)
{
	(void)state;
	assert_int_equal(suggest_distance("", ""), 0);
	assert_int_equal(suggest_distance("abc", "abc"), 0);
	assert_int_equal(suggest_distance("", "abc"), 3);
	assert_int_equal(suggest_distance("abc", ""), 3);
	assert_int_equal(suggest_distance("abc", "abd"), 1);   /* substitute */
	assert_int_equal(suggest_distance("abc", "abcd"), 1);  /* insert */
	assert_int_equal(suggest_distance("abcd", "acd"), 1);  /* delete */
	assert_int_equal(suggest_distance("kitten", "sitting"), 3);
	assert_int_equal(suggest_distance("flaw", "lawn"), 2);
}

static void test_distance_transposition(void **state)
{
	(void)state;
	assert_int_equal(suggest_distance("ab", "ba"), 1);
	assert_int_equal(suggest_distance("backend", "bakcend"), 1);
	assert_int_equal(suggest_distance("abcd", "badc"), 2);
	/* restricted transposition: "ca" -> "abc" is 3, not 2 */
	assert_int_equal(suggest_distance("ca", "abc"), 3);
}

static void test_distance_ignores_case(void **state)
{
	(void)state;
	assert_int_equal(suggest_distance("FE", "fe"), 0);
	assert_int_equal(suggest_distance("Fe", "FE"), 0);
	assert_int_equal(suggest_distance("Deploy", "dEPLOY"), 0);
	assert_int_equal(suggest_distance("AB", "ba"), 1);
}

static void test_distance_symmetric(void **state)
{
	(void)state;
	static const char *const words[] = { "", "a", "fe", "FE", "backend", "frontend",
					     "bakcend", "deploy-eu", "deploy_us" };
	for (size_t i = 0; i < N(words); i++) {
		for (size_t j = 0; j < N(words); j++)
			assert_int_equal(suggest_distance(words[i], words[j]),
					 suggest_distance(words[j], words[i]));
	}
}

static void test_distance_bytes_above_ascii(void **state)
{
	(void)state;
	/* bytes >= 0x80 must not reach tolower() as negative values */
	assert_int_equal(suggest_distance("caf\xc3\xa9", "caf\xc3\xa9"), 0);
	assert_int_equal(suggest_distance("caf\xc3\xa9", "cafe"), 2);
	assert_int_equal(suggest_distance("\xff", "\xfe"), 1);
}

static void test_distance_long_strings_bounded(void **state)
{
	(void)state;
	/* hostile lengths: no quadratic work, and a sane answer */
	static char a[100001], b[100001];
	memset(a, 'a', sizeof(a) - 1);
	memset(b, 'b', 300);
	size_t d = suggest_distance(a, b);
	assert_true(d >= sizeof(a) - 1 - 300);
	assert_true(d <= sizeof(a) - 1);
	/* long words are never "close" to a short one */
	const char *cands[] = { "a", "aa" };
	assert_null(suggest_closest(a, cands, N(cands)));
}

static void test_closest_case_typo(void **state)
{
	(void)state;
	const char *ids[] = { "BE", "FE" };
	/* docs/pipeline-format.md's B2 example: a barrier "Fe" where "FE" was meant */
	assert_string_equal(suggest_closest("Fe", ids, N(ids)), "FE");
	assert_string_equal(suggest_closest("fe", ids, N(ids)), "FE");
	assert_string_equal(suggest_closest("be", ids, N(ids)), "BE");
}

static void test_closest_skips_the_word_itself(void **state)
{
	(void)state;
	const char *names[] = { "deploy", "deploys" };
	/* "deploy" exists, but the closest other name is "deploys" */
	assert_string_equal(suggest_closest("deploy", names, N(names)), "deploys");
	const char *only[] = { "deploy" };
	assert_null(suggest_closest("deploy", only, N(only)));
}

static void test_closest_short_words_only_case(void **state)
{
	(void)state;
	/* for a two-letter id, another id one edit away is another barrier,
	 * not a typo: "FE" must not suggest "BE" */
	const char *ids[] = { "FE", "BE" };
	assert_null(suggest_closest("FE", ids, N(ids)));
	assert_null(suggest_closest("XE", ids, N(ids)));
	const char *ab[] = { "abc", "AB" };
	assert_string_equal(suggest_closest("ab", ab, N(ab)), "AB");
	const char *longer[] = { "ab" };
	assert_null(suggest_closest("a", longer, 1));
	const char *c1[] = { "c" };
	assert_null(suggest_closest("", c1, 1));
	assert_string_equal(suggest_closest("C", c1, 1), "c");
}

static void test_closest_picks_nearest(void **state)
{
	(void)state;
	const char *names[] = { "frontend-deploy", "backend-deploy", "smoke-tests" };
	assert_string_equal(suggest_closest("bakcend-deploy", names, N(names)), "backend-deploy");
	assert_string_equal(suggest_closest("frontend-deplyo", names, N(names)), "frontend-deploy");
	assert_string_equal(suggest_closest("smoke-test", names, N(names)), "smoke-tests");
	assert_null(suggest_closest("database", names, N(names)));
}

static void test_closest_limit(void **state)
{
	(void)state;
	/* a six-letter word allows two edits, not three */
	const char *two[] = { "abcxyf" };
	const char *three[] = { "axyzef" };
	assert_string_equal(suggest_closest("abcdef", two, 1), "abcxyf");
	assert_null(suggest_closest("abcdef", three, 1));
	/* three to five letters allow one edit */
	const char *one[] = { "abd" };
	const char *far[] = { "axy" };
	assert_string_equal(suggest_closest("abc", one, 1), "abd");
	assert_null(suggest_closest("abc", far, 1));
	assert_null(suggest_closest("abc", one, 0));
}

static void test_closest_ties_and_nulls(void **state)
{
	(void)state;
	/* equally close: the first candidate wins, so output is stable */
	const char *tie[] = { "cat", "bat", "hat" };
	assert_string_equal(suggest_closest("rat", tie, N(tie)), "cat");
	/* NULL entries are skipped */
	const char *holes[] = { NULL, "steps", NULL };
	assert_string_equal(suggest_closest("stpes", holes, N(holes)), "steps");
	assert_null(suggest_closest("steps", NULL, 0));
}

static void test_closest_keys(void **state)
{
	(void)state;
	/* the loader's use: a typo in a key of the pipeline file */
	const char *keys[] = { "name", "description", "vars", "on-failure", "barriers",
			       "stages", "workflows" };
	assert_string_equal(suggest_closest("workflow", keys, N(keys)), "workflows");
	assert_string_equal(suggest_closest("stage", keys, N(keys)), "stages");
	assert_string_equal(suggest_closest("on_failure", keys, N(keys)), "on-failure");
	assert_string_equal(suggest_closest("Barriers", keys, N(keys)), "barriers");
	assert_null(suggest_closest("timeout", keys, N(keys)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distance_basics),
		cmocka_unit_test(test_distance_transposition),
		cmocka_unit_test(test_distance_ignores_case),
		cmocka_unit_test(test_distance_symmetric),
		cmocka_unit_test(test_distance_bytes_above_ascii),
		cmocka_unit_test(test_distance_long_strings_bounded),
		cmocka_unit_test(test_closest_case_typo),
		cmocka_unit_test(test_closest_skips_the_word_itself),
		cmocka_unit_test(test_closest_short_words_only_case),
		cmocka_unit_test(test_closest_picks_nearest),
		cmocka_unit_test(test_closest_limit),
		cmocka_unit_test(test_closest_ties_and_nulls),
		cmocka_unit_test(test_closest_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
