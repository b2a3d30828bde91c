/*
 * Tests for base/mask: secret values and their encodings become "***" in
 * whole texts and in streams cut anywhere, and a stream holds back no
 * more than it must.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mask.h"
#include "base/xalloc.h"

/* A mask of the NULL-terminated list of secrets. */
static struct mask *mask_of(const char *first, ...)
{
	struct mask *m = mask_new();
	va_list ap;
	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *))
		mask_add(m, s, strlen(s));
	va_end(ap);
	return m;
}

/* `text` masked as a whole, as a heap string. */
static char *masked(const struct mask *m, const char *text)
{
	struct buf out = BUF_INIT;
	mask_text(m, text, strlen(text), &out);
	return buf_detach(&out, NULL);
}

/* `text` fed to a stream in chunks of `chunk` bytes, then flushed. */
static char *streamed(const struct mask *m, const char *text, size_t chunk)
{
	struct mask_stream ms;
	struct buf out = BUF_INIT;
	mask_stream_init(&ms, m);
	for (size_t at = 0, n = strlen(text); at < n; at += chunk)
		mask_stream_feed(&ms, text + at, n - at < chunk ? n - at : chunk, &out);
	mask_stream_flush(&ms, &out);
	mask_stream_release(&ms);
	return buf_detach(&out, NULL);
}

/* `text` split in two at `cut`. */
static char *streamed_at(const struct mask *m, const char *text, size_t cut)
{
	struct mask_stream ms;
	struct buf out = BUF_INIT;
	mask_stream_init(&ms, m);
	mask_stream_feed(&ms, text, cut, &out);
	mask_stream_feed(&ms, text + cut, strlen(text) - cut, &out);
	mask_stream_flush(&ms, &out);
	mask_stream_release(&ms);
	return buf_detach(&out, NULL);
}

/* Masks `text` whole, in every two-piece split and byte by byte: all give `want`. */
static void expect_masked(const struct mask *m, const char *text, const char *want)
{
	char *got = masked(m, text);
	assert_string_equal(got, want);
	free(got);
	for (size_t cut = 0; cut <= strlen(text); cut++) {
		got = streamed_at(m, text, cut);
		if (strcmp(got, want) != 0)
			fail_msg("cut at %zu of '%s': got '%s', want '%s'", cut, text, got, want);
		free(got);
	}
	for (size_t chunk = 1; chunk <= 3; chunk++) {
		got = streamed(m, text, chunk);
		if (strcmp(got, want) != 0)
			fail_msg("chunks of %zu of '%s': got '%s', want '%s'", chunk, text, got, want);
		free(got);
	}
}

static void test_mask_raw(void **state)
{
	(void)state;
	struct mask *m = mask_of("hunter2-Secret", NULL);
	assert_false(mask_empty(m));
	expect_masked(m, "token=hunter2-Secret done\n", "token=*** done\n");
	expect_masked(m, "hunter2-Secrethunter2-Secret", "***");
	expect_masked(m, "a hunter2-Secret b hunter2-Secret\n", "a *** b ***\n");
	expect_masked(m, "hunter2-Secre", "hunter2-Secre");
	expect_masked(m, "nothing here\n", "nothing here\n");
	/* mask_str: NULL when nothing is secret, a copy otherwise */
	assert_null(mask_str("plain text", m));
	char *s = mask_str("x hunter2-Secret", m);
	assert_string_equal(s, "x ***");
	free(s);
	assert_null(mask_str("hunter2-Secret", NULL));
	mask_free(m);
}

static void test_mask_empty_and_blank_add_nothing(void **state)
{
	(void)state;
	struct mask *m = mask_of("", " ", "\t\n \n", NULL);
	assert_true(mask_empty(m));
	assert_int_equal(mask_longest(m), 0);
	expect_masked(m, "a b\tc\n", "a b\tc\n");
	mask_free(m);
	assert_true(mask_empty(NULL));
}

/* Base64 of the secret inside a longer text, at each of the three alignments. */
static void test_mask_base64_alignments(void **state)
{
	(void)state;
	struct mask *m = mask_of("hunter2-Secret", NULL);
	/* base64 of "hunter2-Secret" alone, of "hunter2-Secret!", "x" + it + "!", "xy" + it + "!" */
	expect_masked(m, "aHVudGVyMi1TZWNyZXQ=\n", "***Q=\n");
	expect_masked(m, "aHVudGVyMi1TZWNyZXQh\n", "***Qh\n");
	expect_masked(m, "eGh1bnRlcjItU2VjcmV0IQ==\n", "eG***IQ==\n");
	expect_masked(m, "eHlodW50ZXIyLVNlY3JldCE=\n", "eHl***CE=\n");
	mask_free(m);

	/* url-safe base64: "~~~>>>secret???" has '+' and '/' in standard base64 */
	m = mask_of("~~~>>>secret???", NULL);
	expect_masked(m, "fn5+Pj4+c2VjcmV0Pz8/", "***");
	expect_masked(m, "fn5-Pj4-c2VjcmV0Pz8_", "***");
	mask_free(m);

	/* A short secret's base64 fragments would be a few letters: not masked. */
	m = mask_of("ab", NULL);
	expect_masked(m, "YWI= ab", "YWI= ***");
	mask_free(m);
}

static void test_mask_url_and_json(void **state)
{
	(void)state;
	struct mask *m = mask_of("p@ss w/rd!", NULL);
	expect_masked(m, "GET /?pw=p%40ss%20w%2Frd%21&x=1\n", "GET /?pw=***&x=1\n");
	expect_masked(m, "GET /?pw=p%40ss%20w%2frd%21&x=1\n", "GET /?pw=***&x=1\n");
	mask_free(m);

	m = mask_of("a\"b\\c\td", NULL);
	expect_masked(m, "{\"k\":\"a\\\"b\\\\c\\td\"}", "{\"k\":\"***\"}");
	expect_masked(m, "raw a\"b\\c\td.", "raw ***.");
	mask_free(m);

	/* Non-ASCII: as UTF-8, and as \uXXXX the way Python writes JSON */
	m = mask_of("p\xc3\xa4ssw\xc3\xb6rd-\xf0\x9f\x94\x91", NULL);
	expect_masked(m, "{\"k\": \"p\\u00e4ssw\\u00f6rd-\\ud83d\\udd11\"}", "{\"k\": \"***\"}");
	expect_masked(m, "k=p\xc3\xa4ssw\xc3\xb6rd-\xf0\x9f\x94\x91;", "k=***;");
	mask_free(m);
}

static void test_mask_multi_line(void **state)
{
	(void)state;
	struct mask *m = mask_of("first-line-of-it\r\nsecond-line-too\n", NULL);
	/* Each line where it appears, even alone */
	expect_masked(m, "x first-line-of-it y\nsecond-line-too\n", "x *** y\n***\n");
	expect_masked(m, "only second-line-too here\n", "only *** here\n");
	/* The whole value as one JSON string */
	expect_masked(m, "\"first-line-of-it\\r\\nsecond-line-too\\n\"", "\"***\"");
	/* base64 of the whole value: no newline in it */
	expect_masked(m, "Zmlyc3QtbGluZS1vZi1pdA0Kc2Vjb25kLWxpbmUtdG9vCg==\n", "***g==\n");
	mask_free(m);
}

static void test_mask_overlapping_secrets(void **state)
{
	(void)state;
	struct mask *m = mask_of("abcdef", "defghi", NULL);
	/* Nothing of either shows where they overlap */
	expect_masked(m, "<abcdefghi>", "<***>");
	expect_masked(m, "<abcdef|defghi>", "<***|***>");
	expect_masked(m, "<abcdefdefghi>", "<***>");
	expect_masked(m, "<abcde defgh>", "<abcde defgh>");
	mask_free(m);
}

static void test_mask_prefix_of_another(void **state)
{
	(void)state;
	struct mask *m = mask_of("abc", "abcdef", NULL);
	expect_masked(m, "x abcdef y", "x *** y");
	expect_masked(m, "x abcxyz y", "x ***xyz y");
	expect_masked(m, "x abcde", "x ***de");
	expect_masked(m, "abcabcdef", "***");
	mask_free(m);
	/* The same declared the other way round */
	m = mask_of("abcdef", "abc", NULL);
	expect_masked(m, "x abcdef abc abcd", "x *** *** ***d");
	mask_free(m);
}

/*
 * A match that starts before where a stream stops covers bytes it held
 * back: they stay covered though the next chunk no longer sees its start.
 */
static void test_mask_stream_carries_cover(void **state)
{
	(void)state;
	struct mask *m = mask_of("xab", "abcd", NULL);
	struct mask_stream ms;
	struct buf out = BUF_INIT;
	mask_stream_init(&ms, m);
	mask_stream_feed(&ms, "Qxab", 4, &out);
	/* "ab" may begin "abcd": held back, known covered by "xab" */
	assert_string_equal(out.s, "Q***");
	mask_stream_feed(&ms, "zz\n", 3, &out);
	assert_string_equal(out.s, "Q***zz\n");
	mask_stream_flush(&ms, &out);
	assert_string_equal(out.s, "Q***zz\n");
	buf_release(&out);
	mask_stream_release(&ms);
	expect_masked(m, "Qxabzz", "Q***zz");
	expect_masked(m, "Qxabcdzz", "Q***zz");
	mask_free(m);
}

/* A stream shows at once what cannot start a secret, and holds back little. */
static void test_mask_stream_holds_back_little(void **state)
{
	(void)state;
	struct mask *m = mask_of("0123456789abcdef", NULL);
	size_t longest = mask_longest(m);
	assert_true(longest >= 16);
	struct mask_stream ms;
	struct buf out = BUF_INIT;
	mask_stream_init(&ms, m);

	/* Nothing like the secret: all of it at once, newline or not */
	mask_stream_feed(&ms, "progress: 50%", 13, &out);
	assert_string_equal(out.s, "progress: 50%");

	/* The start of the secret is held back until it is decided */
	buf_reset(&out);
	mask_stream_feed(&ms, "key 01234", 9, &out);
	assert_string_equal(out.s, "key ");
	mask_stream_feed(&ms, "56789abcdef!", 12, &out);
	assert_string_equal(out.s, "key ***!");

	/* A long line without a newline: at most longest - 1 bytes stay back */
	buf_reset(&out);
	char *line = xmalloc(100000);
	memset(line, '0', 100000);
	mask_stream_feed(&ms, line, 100000, &out);
	assert_true(out.len >= 100000 - (longest - 1));
	assert_true(ms.held.len <= longest - 1);
	free(line);

	/* Everything up to a newline comes out: a match never spans one */
	buf_reset(&out);
	mask_stream_flush(&ms, &out);
	buf_reset(&out);
	mask_stream_feed(&ms, "012345\n0123", 11, &out);
	assert_string_equal(out.s, "012345\n");
	mask_stream_flush(&ms, &out);
	assert_string_equal(out.s, "012345\n0123");
	buf_release(&out);
	mask_stream_release(&ms);
	mask_free(m);
}

/* Without secrets a stream passes everything through at once. */
static void test_mask_stream_without_secrets(void **state)
{
	(void)state;
	struct mask_stream ms;
	struct buf out = BUF_INIT;
	mask_stream_init(&ms, NULL);
	mask_stream_feed(&ms, "abc", 3, &out);
	mask_stream_flush(&ms, &out);
	assert_string_equal(out.s, "abc");
	mask_stream_release(&ms);
	buf_release(&out);
}

/* Many secrets over megabytes of output: linear, not quadratic. */
static void test_mask_large_text(void **state)
{
	(void)state;
	struct mask *m = mask_new();
	char secret[64];
	for (int i = 0; i < 50; i++) {
		snprintf(secret, sizeof(secret), "s3cr3t-value-number-%02d-%s", i, "xxxxxxxxxx");
		mask_add(m, secret, strlen(secret));
	}
	size_t n = 8u << 20;
	char *text = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		text[i] = "s3cr3t-value-number-0 abc\n"[i % 26];
	text[n] = '\0';
	memcpy(text + n / 2, "s3cr3t-value-number-07-xxxxxxxxxx", 34);
	char *got = streamed(m, text, 65536);
	assert_non_null(strstr(got, "***"));
	assert_null(strstr(got, "number-07-"));
	free(got);
	free(text);
	mask_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mask_raw),
		cmocka_unit_test(test_mask_empty_and_blank_add_nothing),
		cmocka_unit_test(test_mask_base64_alignments),
		cmocka_unit_test(test_mask_url_and_json),
		cmocka_unit_test(test_mask_multi_line),
		cmocka_unit_test(test_mask_overlapping_secrets),
		cmocka_unit_test(test_mask_prefix_of_another),
		cmocka_unit_test(test_mask_stream_carries_cover),
		cmocka_unit_test(test_mask_stream_holds_back_little),
		cmocka_unit_test(test_mask_stream_without_secrets),
		cmocka_unit_test(test_mask_large_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
