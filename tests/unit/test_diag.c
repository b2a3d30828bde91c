/*
 * Tests for base/diag.c: collecting, counting, sorting, printing and JSON
 * output of diagnostics, and the cap on kept items.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"

/* Prints `d` into a string (free it). */
static char *print_to_string(const struct diag *d, bool color)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	assert_non_null(f);
	diag_print(d, f, color);
	assert_int_equal(fclose(f), 0);
	return s;
}

static void test_add_copies_and_formats(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	char file[] = "pipe.yml";
	diag_add(&d, DIAG_ERROR, file, 3, 7, "unknown key '%s' (did you mean '%s'?)", "stpes", "steps");
	/* the file name was copied */
	file[0] = 'X';
	assert_int_equal(d.n, 1);
	assert_string_equal(d.items[0].file, "pipe.yml");
	assert_int_equal(d.items[0].line, 3);
	assert_int_equal(d.items[0].col, 7);
	assert_int_equal(d.items[0].severity, DIAG_ERROR);
	assert_string_equal(d.items[0].message, "unknown key 'stpes' (did you mean 'steps'?)");
	diag_add(&d, DIAG_WARNING, NULL, 0, 0, "no file");
	assert_null(d.items[1].file);
	diag_release(&d);
}

static void test_counts(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	diag_add(&d, DIAG_ERROR, "f", 1, 1, "e1");
	diag_add(&d, DIAG_WARNING, "f", 1, 1, "w1");
	diag_add(&d, DIAG_NOTE, "f", 1, 1, "n1");
	diag_add(&d, DIAG_ERROR, "f", 2, 1, "e2");
	assert_int_equal(d.n, 4);
	assert_int_equal(d.errors, 2);
	assert_int_equal(d.warnings, 1);
	assert_int_equal(d.dropped, 0);
	diag_release(&d);
	/* release resets to the initial state, ready for reuse */
	assert_int_equal(d.n, 0);
	assert_int_equal(d.errors, 0);
	assert_int_equal(d.warnings, 0);
	assert_null(d.items);
	diag_add(&d, DIAG_ERROR, "f", 1, 1, "again");
	assert_int_equal(d.n, 1);
	diag_release(&d);
}

static void test_many_items_grow(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	for (int i = 0; i < 500; i++)
		diag_add(&d, DIAG_ERROR, "f", i + 1, 1, "e%d", i);
	assert_int_equal(d.n, 500);
	assert_string_equal(d.items[499].message, "e499");
	assert_int_equal(d.items[499].line, 500);
	diag_release(&d);
}

static void test_sort_by_position(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	diag_add(&d, DIAG_ERROR, "b.yml", 1, 1, "b1");
	diag_add(&d, DIAG_ERROR, "a.yml", 10, 2, "a10.2");
	diag_add(&d, DIAG_ERROR, "a.yml", 2, 5, "a2.5");
	diag_add(&d, DIAG_ERROR, "a.yml", 10, 1, "a10.1");
	diag_add(&d, DIAG_ERROR, NULL, 0, 0, "nofile");
	diag_add(&d, DIAG_ERROR, "a.yml", 9, 30, "a9.30");
	diag_sort(&d);
	static const char *const want[] = { "nofile", "a2.5", "a9.30", "a10.1", "a10.2", "b1" };
	assert_int_equal(d.n, 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(d.items[i].message, want[i]);
	diag_release(&d);
}

static void test_sort_is_stable(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	/* 50 items at two positions, interleaved: each position keeps
	 * insertion order (qsort alone is not stable; `order` makes it so) */
	for (int i = 0; i < 50; i++)
		diag_add(&d, i % 3 ? DIAG_ERROR : DIAG_WARNING, "f.yml", i % 2 ? 4 : 2, 3, "m%02d", i);
	diag_sort(&d);
	int prev_line = 0, prev = -1;
	for (size_t i = 0; i < d.n; i++) {
		int line = d.items[i].line, num = atoi(d.items[i].message + 1);
		assert_true(line >= prev_line);
		if (line == prev_line)
			assert_true(num > prev);
		assert_int_equal(num % 2 ? 4 : 2, line);
		prev_line = line;
		prev = num;
	}
	assert_string_equal(d.items[0].message, "m00");
	assert_string_equal(d.items[25].message, "m01");
	/* sorting again changes nothing; adding after a sort still works */
	diag_sort(&d);
	assert_string_equal(d.items[0].message, "m00");
	diag_add(&d, DIAG_ERROR, "f.yml", 1, 1, "late");
	diag_sort(&d);
	assert_string_equal(d.items[0].message, "late");
	assert_string_equal(d.items[1].message, "m00");
	diag_release(&d);
}

static void test_sort_empty_and_single(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	diag_sort(&d);
	assert_int_equal(d.n, 0);
	diag_add(&d, DIAG_NOTE, "x", 1, 1, "only");
	diag_sort(&d);
	assert_string_equal(d.items[0].message, "only");
	diag_release(&d);
}

static void test_print_format(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	diag_add(&d, DIAG_ERROR, "deploy.yml", 12, 5, "barrier 'Fe' has one participant");
	diag_add(&d, DIAG_WARNING, "deploy.yml", 3, 1, "workflow 'old' is never used");
	diag_add(&d, DIAG_NOTE, "deploy.yml", 4, 9, "declared here");
	diag_add(&d, DIAG_ERROR, "deploy.yml", 0, 0, "file is larger than 4 MiB");
	diag_add(&d, DIAG_ERROR, NULL, 0, 0, "no file at all");
	char *s = print_to_string(&d, false);
	assert_string_equal(s,
			    "deploy.yml:12:5: error: barrier 'Fe' has one participant\n"
			    "deploy.yml:3:1: warning: workflow 'old' is never used\n"
			    "deploy.yml:4:9: note: declared here\n"
			    "deploy.yml: error: file is larger than 4 MiB\n"
			    "error: no file at all\n");
	free(s);
	diag_release(&d);
}

static void test_print_message_verbatim(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	/* a '%' in an argument is not a format directive again */
	diag_add(&d, DIAG_ERROR, "f", 1, 2, "%s", "100%s sure %d");
	char *s = print_to_string(&d, false);
	assert_string_equal(s, "f:1:2: error: 100%s sure %d\n");
	free(s);
	diag_release(&d);
}

static void test_print_color(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	diag_add(&d, DIAG_ERROR, "f.yml", 1, 2, "bad");
	diag_add(&d, DIAG_WARNING, "f.yml", 3, 4, "meh");
	diag_add(&d, DIAG_NOTE, NULL, 0, 0, "fyi");
	char *s = print_to_string(&d, true);
	assert_string_equal(s,
			    "\033[1mf.yml:1:2:\033[0m \033[1;31merror:\033[0m bad\n"
			    "\033[1mf.yml:3:4:\033[0m \033[1;35mwarning:\033[0m meh\n"
			    "\033[1;36mnote:\033[0m fyi\n");
	free(s);
	diag_release(&d);
}

static void test_print_empty(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	char *s = print_to_string(&d, false);
	assert_string_equal(s, "");
	free(s);
	char *j = diag_to_json(&d);
	assert_string_equal(j, "[]");
	free(j);
}

static void test_json(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	diag_add(&d, DIAG_ERROR, "a.yml", 2, 3, "unknown key 'x'");
	diag_add(&d, DIAG_WARNING, NULL, 0, 0, "w");
	diag_add(&d, DIAG_NOTE, "b.yml", 1, 1, "n");
	char *j = diag_to_json(&d);
	assert_string_equal(j,
			    "[{\"file\":\"a.yml\",\"line\":2,\"col\":3,\"severity\":\"error\","
			    "\"message\":\"unknown key 'x'\"},"
			    "{\"file\":null,\"line\":0,\"col\":0,\"severity\":\"warning\","
			    "\"message\":\"w\"},"
			    "{\"file\":\"b.yml\",\"line\":1,\"col\":1,\"severity\":\"note\","
			    "\"message\":\"n\"}]");
	free(j);
	diag_release(&d);
}

static void test_json_escaping(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	/* quotes and backslashes in file and message; control characters in a
	 * file name are escaped by the JSON writer */
	diag_add(&d, DIAG_ERROR, "dir\\\"q\".yml\n", 1, 1, "say \"hi\" back\\slash caf\xc3\xa9");
	char *j = diag_to_json(&d);
	assert_string_equal(j,
			    "[{\"file\":\"dir\\\\\\\"q\\\".yml\\n\",\"line\":1,\"col\":1,"
			    "\"severity\":\"error\","
			    "\"message\":\"say \\\"hi\\\" back\\\\slash caf\xc3\xa9\"}]");
	free(j);
	diag_release(&d);
}

static void test_message_control_chars_neutralised(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	/* messages quote user text: an escape sequence or newline in it must
	 * not reach the terminal, nor a JSON reader as a control character */
	diag_add(&d, DIAG_ERROR, "f", 1, 1, "bad id '%s'", "a\nb\tc\033[2J\x7f\x01");
	assert_string_equal(d.items[0].message, "bad id 'a?b?c?[2J?\?'");
	char *s = print_to_string(&d, false);
	assert_string_equal(s, "f:1:1: error: bad id 'a?b?c?[2J?\?'\n");
	free(s);
	char *j = diag_to_json(&d);
	assert_non_null(strstr(j, "\"message\":\"bad id 'a?b?c?[2J?\?'\""));
	free(j);
	diag_release(&d);
}

/* A message quoting megabytes is cut, never inside a UTF-8 character. */
static void test_long_message_cut(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	char *big = malloc(50001);
	assert_non_null(big);
	memset(big, 'a', 50000);
	big[50000] = '\0';
	diag_add(&d, DIAG_ERROR, "p.yml", 1, 1, "bad '%s'", big);
	const char *m = d.items[0].message;
	assert_int_equal(strncmp(m, "bad 'aaa", 8), 0);
	assert_string_equal(m + DIAG_MAX_MESSAGE, "... (48006 more bytes)");
	assert_int_equal(strlen(m), DIAG_MAX_MESSAGE + strlen("... (48006 more bytes)"));
	/* An e with an accent (2 bytes) across the cut (message bytes 1999
	 * and 2000) moves it back one byte: the character goes whole. */
	memset(big, 'a', 50000);
	big[DIAG_MAX_MESSAGE - 6] = (char)0xc3;
	big[DIAG_MAX_MESSAGE - 5] = (char)0xa9;
	diag_add(&d, DIAG_ERROR, "p.yml", 1, 1, "bad '%s'", big);
	m = d.items[1].message;
	assert_int_equal(m[DIAG_MAX_MESSAGE - 2], 'a');
	assert_string_equal(m + DIAG_MAX_MESSAGE - 1, "... (48007 more bytes)");
	/* Short ones are left alone. */
	diag_add(&d, DIAG_ERROR, "p.yml", 1, 1, "bad '%s'", "x");
	assert_string_equal(d.items[2].message, "bad 'x'");
	free(big);
	diag_release(&d);
}

static void test_sort_keeps_notes_with_their_item(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	diag_add(&d, DIAG_ERROR, "f", 20, 1, "cycle");
	diag_add(&d, DIAG_NOTE, "f", 5, 1, "a crosses X here");
	diag_add(&d, DIAG_NOTE, "f", 30, 1, "b crosses Y here");
	diag_add(&d, DIAG_ERROR, "f", 10, 1, "other");
	diag_add(&d, DIAG_WARNING, "f", 20, 1, "same place, later");
	diag_sort(&d);
	static const char *const want[] = { "other", "cycle", "a crosses X here",
					    "b crosses Y here", "same place, later" };
	assert_int_equal(d.n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(d.items[i].message, want[i]);
	/* a note keeps its own position for printing */
	assert_int_equal(d.items[2].line, 5);
	diag_release(&d);
}

static void test_sort_drops_exact_duplicates(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	/* matrix instances repeat one problem */
	for (int i = 0; i < 3; i++)
		diag_add(&d, DIAG_ERROR, "f", 4, 2, "unknown var 'x'");
	diag_add(&d, DIAG_WARNING, "f", 4, 2, "unknown var 'x'"); /* other severity */
	diag_add(&d, DIAG_WARNING, "f", 4, 2, "unknown var 'x'");
	diag_add(&d, DIAG_ERROR, "f", 4, 3, "unknown var 'x'");  /* other place */
	diag_add(&d, DIAG_ERROR, "g", 4, 2, "unknown var 'x'");  /* other file */
	diag_add(&d, DIAG_ERROR, "f", 4, 2, "unknown var 'y'");  /* other text */
	assert_int_equal(d.errors, 6);
	assert_int_equal(d.warnings, 2);
	diag_sort(&d);
	assert_int_equal(d.n, 5);
	assert_int_equal(d.errors, 4);
	assert_int_equal(d.warnings, 1);
	char *s = print_to_string(&d, false);
	assert_string_equal(s,
			    "f:4:2: error: unknown var 'x'\n"
			    "f:4:2: warning: unknown var 'x'\n"
			    "f:4:2: error: unknown var 'y'\n"
			    "f:4:3: error: unknown var 'x'\n"
			    "g:4:2: error: unknown var 'x'\n");
	free(s);
	diag_release(&d);
}

static void test_max_items_drops(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	d.max_items = 3;
	for (int i = 0; i < 5; i++)
		diag_add(&d, DIAG_ERROR, "f", i + 1, 1, "e%d", i);
	diag_add(&d, DIAG_WARNING, "f", 9, 1, "w");
	/* kept: the first three; the rest counted */
	assert_int_equal(d.n, 3);
	assert_int_equal(d.dropped, 3);
	assert_int_equal(d.errors, 5);
	assert_int_equal(d.warnings, 1);
	assert_string_equal(d.items[2].message, "e2");
	char *s = print_to_string(&d, false);
	assert_string_equal(s,
			    "f:1:1: error: e0\n"
			    "f:2:1: error: e1\n"
			    "f:3:1: error: e2\n"
			    "lockstep: 3 more diagnostics not shown\n");
	free(s);
	/* JSON holds only the kept items */
	char *j = diag_to_json(&d);
	assert_non_null(strstr(j, "\"e2\""));
	assert_null(strstr(j, "\"e3\""));
	free(j);
	diag_release(&d);
}

static void test_max_items_default(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	for (int i = 0; i < 1005; i++)
		diag_add(&d, DIAG_ERROR, "f", 1, 1, "e");
	assert_int_equal(d.n, 1000);
	assert_int_equal(d.dropped, 5);
	assert_int_equal(d.errors, 1005);
	diag_release(&d);
}

__attribute__((format(printf, 2, 3)))
static void vadd_helper(struct diag *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_vadd(d, DIAG_WARNING, "v.yml", 5, 6, fmt, ap);
	va_end(ap);
}

static void test_vadd(void **state)
{
	(void)state;
	struct diag d = DIAG_INIT;
	vadd_helper(&d, "%d %s", 7, "ok");
	assert_int_equal(d.n, 1);
	assert_int_equal(d.warnings, 1);
	assert_string_equal(d.items[0].message, "7 ok");
	assert_string_equal(d.items[0].file, "v.yml");
	/* an empty message is still an item with a string */
	vadd_helper(&d, "%s", "");
	assert_non_null(d.items[1].message);
	assert_string_equal(d.items[1].message, "");
	diag_release(&d);
}

static void test_severity_names(void **state)
{
	(void)state;
	assert_string_equal(diag_severity_name(DIAG_ERROR), "error");
	assert_string_equal(diag_severity_name(DIAG_WARNING), "warning");
	assert_string_equal(diag_severity_name(DIAG_NOTE), "note");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_copies_and_formats),
		cmocka_unit_test(test_long_message_cut),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_many_items_grow),
		cmocka_unit_test(test_sort_by_position),
		cmocka_unit_test(test_sort_is_stable),
		cmocka_unit_test(test_sort_empty_and_single),
		cmocka_unit_test(test_print_format),
		cmocka_unit_test(test_print_message_verbatim),
		cmocka_unit_test(test_print_color),
		cmocka_unit_test(test_print_empty),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_message_control_chars_neutralised),
		cmocka_unit_test(test_sort_keeps_notes_with_their_item),
		cmocka_unit_test(test_sort_drops_exact_duplicates),
		cmocka_unit_test(test_max_items_drops),
		cmocka_unit_test(test_max_items_default),
		cmocka_unit_test(test_vadd),
		cmocka_unit_test(test_severity_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
