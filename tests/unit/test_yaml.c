/*
 * Tests for pipeline/yaml.c: the node tree and its positions, the limits
 * (nesting depth, alias expansion, one document, NUL bytes, UTF-8) and the
 * duplicate and non-scalar key checks. Most tests call yaml_parse()
 * directly; a few go through pipeline_load_text() to show that a YAML
 * problem fails the whole load with the right position.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "guard.h"
#include "support/diags.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/diag.h"
#include "pipeline/load.h"
#include "pipeline/model.h"
#include "pipeline/yaml.h"

/* One parse: the arena and diagnostics the tree lives in. */
struct parsed {
	struct arena arena;
	struct diag d;
	struct ynode *root;
};

static void parse_len(struct parsed *P, const char *text, size_t len)
{
	memset(P, 0, sizeof(*P));
	P->root = yaml_parse("p.yml", text, len, &P->arena, &P->d);
}

static void parse(struct parsed *P, const char *text)
{
	parse_len(P, text, strlen(text));
}

static void done(struct parsed *P)
{
	arena_release(&P->arena);
	diag_release(&P->d);
}

/* Asserts that item `i` is an error at line:col whose message contains `sub`. */
static void assert_diag(const struct diag *d, size_t i, enum diag_severity sev, int line, int col,
			const char *sub)
{
	if (i >= d->n || d->items[i].severity != sev || d->items[i].line != line ||
	    d->items[i].col != col || !strstr(d->items[i].message, sub)) {
		dump_diags(d);
		fail_msg("expected diagnostic %zu: %s at %d:%d containing \"%s\"", i,
			 diag_severity_name(sev), line, col, sub);
	}
	assert_string_equal(d->items[i].file, "p.yml");
}

static const struct ynode *get(const struct ynode *map, const char *key)
{
	const struct ynode *n = ynode_get(map, key);
	if (!n)
		fail_msg("no key '%s'", key);
	return n;
}

static void assert_pos(const struct ynode *n, enum ynode_kind kind, int line, int col)
{
	assert_non_null(n);
	assert_int_equal(n->kind, kind);
	assert_int_equal(n->line, line);
	assert_int_equal(n->col, col);
}

/* ---- positions and scalar styles ---- */

static void test_positions(void **state)
{
	(void)state;
	static const char text[] =
		"name: demo\n"                    /* 1 */
		"list:\n"                         /* 2 */
		"  - one\n"                       /* 3 */
		"  - \"two\"\n"                   /* 4 */
		"map:\n"                          /* 5 */
		"    k: 'v'\n"                    /* 6 */
		"flow: {a: 1, b: [x, y]}\n"       /* 7 */
		"block: |\n"                      /* 8 */
		"  line one\n"                    /* 9 */
		"  line two\n"                    /* 10 */
		"nested:\n"                       /* 11 */
		"- - inner\n";                    /* 12 */
	struct parsed P;
	parse(&P, text);
	assert_int_equal(P.d.n, 0);
	const struct ynode *root = P.root;
	assert_pos(root, YNODE_MAP, 1, 1);
	assert_int_equal(root->n, 6);
	/* Keys keep their positions too, in the order written. */
	assert_pos(root->keys[0], YNODE_SCALAR, 1, 1);
	assert_string_equal(root->keys[0]->str, "name");
	assert_pos(root->keys[5], YNODE_SCALAR, 11, 1);
	assert_string_equal(root->keys[5]->str, "nested");

	const struct ynode *name = get(root, "name");
	assert_pos(name, YNODE_SCALAR, 1, 7);
	assert_string_equal(name->str, "demo");
	assert_int_equal(name->len, 4);

	const struct ynode *list = get(root, "list");
	assert_pos(list, YNODE_SEQ, 3, 3);
	assert_int_equal(list->n, 2);
	assert_null(list->keys);
	assert_pos(list->vals[0], YNODE_SCALAR, 3, 5);
	assert_string_equal(list->vals[0]->str, "one");
	assert_pos(list->vals[1], YNODE_SCALAR, 4, 5); /* at the opening quote */
	assert_string_equal(list->vals[1]->str, "two");

	const struct ynode *map = get(root, "map");
	assert_pos(map, YNODE_MAP, 6, 5);
	assert_pos(map->keys[0], YNODE_SCALAR, 6, 5);
	assert_pos(get(map, "k"), YNODE_SCALAR, 6, 8);
	assert_string_equal(get(map, "k")->str, "v");

	const struct ynode *flow = get(root, "flow");
	assert_pos(flow, YNODE_MAP, 7, 7);
	assert_pos(get(flow, "a"), YNODE_SCALAR, 7, 11);
	const struct ynode *b = get(flow, "b");
	assert_pos(b, YNODE_SEQ, 7, 17);
	assert_pos(b->vals[0], YNODE_SCALAR, 7, 18);
	assert_pos(b->vals[1], YNODE_SCALAR, 7, 21);

	const struct ynode *block = get(root, "block");
	assert_pos(block, YNODE_SCALAR, 8, 8);
	assert_string_equal(block->str, "line one\nline two\n");
	assert_int_equal(block->len, strlen("line one\nline two\n"));

	const struct ynode *nested = get(root, "nested");
	assert_pos(nested, YNODE_SEQ, 12, 1);
	assert_pos(nested->vals[0], YNODE_SEQ, 12, 3);
	assert_pos(nested->vals[0]->vals[0], YNODE_SCALAR, 12, 5);
	done(&P);
}

static void test_positions_count_characters_not_bytes(void **state)
{
	(void)state;
	/* "é" is two bytes but one column, as an editor shows it. */
	struct parsed P;
	parse(&P, "k: [\xc3\xa9\xc3\xa9, x]\n");
	assert_int_equal(P.d.n, 0);
	const struct ynode *seq = get(P.root, "k");
	assert_pos(seq->vals[0], YNODE_SCALAR, 1, 5);
	assert_string_equal(seq->vals[0]->str, "\xc3\xa9\xc3\xa9");
	assert_int_equal(seq->vals[0]->len, 4);
	assert_pos(seq->vals[1], YNODE_SCALAR, 1, 9);
	done(&P);
}

static void test_plain_and_quoted(void **state)
{
	(void)state;
	static const char text[] =
		"a: plain\n"
		"b: \"double\"\n"
		"c: 'single'\n"
		"d: |\n"
		"  literal\n"
		"e: >\n"
		"  folded\n"
		"f: !!str tagged\n"
		"g: 1.10\n"
		"h: true\n"
		"i: \"true\"\n";
	struct parsed P;
	parse(&P, text);
	assert_int_equal(P.d.n, 0);
	assert_true(get(P.root, "a")->plain);
	assert_false(get(P.root, "b")->plain);
	assert_string_equal(get(P.root, "b")->str, "double");
	assert_false(get(P.root, "c")->plain);
	assert_false(get(P.root, "d")->plain);
	assert_false(get(P.root, "e")->plain);
	assert_string_equal(get(P.root, "e")->str, "folded\n");
	/* A tag makes the value explicitly typed, so it is not "plain". */
	assert_false(get(P.root, "f")->plain);
	assert_string_equal(get(P.root, "f")->str, "tagged");
	/* Plain scalars are taken as written: no number conversion. */
	assert_true(get(P.root, "g")->plain);
	assert_string_equal(get(P.root, "g")->str, "1.10");
	assert_true(get(P.root, "h")->plain);
	assert_false(get(P.root, "i")->plain);
	assert_string_equal(get(P.root, "i")->str, "true");
	done(&P);
}

static void test_syntax_error_has_position(void **state)
{
	(void)state;
	struct parsed P;
	parse(&P, "a: 1\nb: [1, 2\nc: 3\n");
	assert_null(P.root);
	assert_int_equal(P.d.errors, 1);
	assert_true(P.d.items[0].line >= 2);
	assert_true(P.d.items[0].col >= 1);
	assert_non_null(strstr(P.d.items[0].message, "YAML syntax error"));
	done(&P);

	parse(&P, "a: 1\n\tb: 2\n");
	assert_null(P.root);
	assert_int_equal(P.d.errors, 1);
	assert_int_equal(P.d.items[0].line, 2);
	assert_non_null(strstr(P.d.items[0].message, "YAML syntax error"));
	done(&P);
}

/* ---- duplicate and non-scalar keys ---- */

static void test_duplicate_keys(void **state)
{
	(void)state;
	struct parsed P;
	parse(&P, "a: 1\nb: 2\na: 3\n");
	/* Not fatal for the tree: the load reports every problem. */
	assert_non_null(P.root);
	assert_int_equal(P.d.errors, 1);
	assert_int_equal(P.d.n, 1);
	assert_diag(&P.d, 0, DIAG_ERROR, 3, 1, "duplicate key 'a' (first at line 1)");
	done(&P);

	/* Three times: the second and the third are reported. */
	parse(&P, "x:\n  k: 1\n  j: 0\n  k: 2\n  k: 3\n");
	assert_int_equal(P.d.errors, 2);
	assert_diag(&P.d, 0, DIAG_ERROR, 4, 3, "duplicate key 'k'");
	assert_diag(&P.d, 1, DIAG_ERROR, 5, 3, "duplicate key 'k'");
	done(&P);

	/* Flow mappings too; a key spelled differently is not a duplicate. */
	parse(&P, "m: {a: 1, A: 2, b: 3, a: 4}\n");
	assert_int_equal(P.d.errors, 1);
	assert_diag(&P.d, 0, DIAG_ERROR, 1, 23, "duplicate key 'a' (first at line 1)");
	done(&P);

	/* Quoted and plain spellings of one key are the same key. */
	parse(&P, "a: 1\n\"a\": 2\n");
	assert_int_equal(P.d.errors, 1);
	assert_diag(&P.d, 0, DIAG_ERROR, 2, 1, "duplicate key 'a'");
	done(&P);

	/* Through the loader: a duplicate workflow name fails the load. */
	static const char wf[] =
		"name: p\n"
		"stages: [w]\n"
		"workflows:\n"
		"  w:\n"
		"    steps: [{run: a}]\n"
		"  w:\n"
		"    steps: [{run: b}]\n";
	struct diag d = DIAG_INIT;
	struct pipeline *p = pipeline_load_text("p.yml", wf, strlen(wf), &d);
	assert_null(p);
	assert_true(d.errors >= 1);
	assert_diag(&d, 0, DIAG_ERROR, 6, 3, "duplicate key 'w' (first at line 4)");
	diag_release(&d);
}

static void test_non_scalar_keys(void **state)
{
	(void)state;
	struct parsed P;
	parse(&P, "? [a, b]\n: 1\nok: 2\n");
	assert_non_null(P.root);
	assert_int_equal(P.d.errors, 1);
	assert_diag(&P.d, 0, DIAG_ERROR, 1, 3, "mapping keys must be plain strings, not a list");
	/* ynode_get skips the non-scalar key and still finds the others. */
	assert_string_equal(get(P.root, "ok")->str, "2");
	done(&P);

	parse(&P, "? {x: 1}\n: 1\n");
	assert_int_equal(P.d.errors, 1);
	assert_diag(&P.d, 0, DIAG_ERROR, 1, 3, "not a mapping");
	done(&P);
}

/* ---- nesting depth ---- */

/* `depth` nested flow lists: [[[...]]]. */
static char *nested_lists(int depth)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < depth; i++)
		buf_addc(&b, '[');
	for (int i = 0; i < depth; i++)
		buf_addc(&b, ']');
	buf_addc(&b, '\n');
	return buf_detach(&b, NULL);
}

static void test_depth_limit(void **state)
{
	(void)state;
	struct parsed P;
	for (int depth = YAML_MAX_DEPTH - 1; depth <= YAML_MAX_DEPTH; depth++) {
		char *t = nested_lists(depth);
		parse(&P, t);
		if (P.d.n)
			dump_diags(&P.d);
		assert_int_equal(P.d.n, 0);
		const struct ynode *n = P.root;
		int seen = 0;
		while (n && n->kind == YNODE_SEQ) {
			seen++;
			n = n->n ? n->vals[0] : NULL;
		}
		assert_int_equal(seen, depth);
		done(&P);
		free(t);
	}

	char *t = nested_lists(YAML_MAX_DEPTH + 1);
	parse(&P, t);
	assert_null(P.root);
	assert_int_equal(P.d.errors, 1);
	/* At the first collection too many: the 65th '['. */
	assert_diag(&P.d, 0, DIAG_ERROR, 1, YAML_MAX_DEPTH + 1, "nesting deeper than 64 levels");
	done(&P);
	free(t);

	/* Block style counts the same way: 65 nested mappings. */
	struct buf b = BUF_INIT;
	for (int i = 0; i < YAML_MAX_DEPTH + 1; i++) {
		for (int k = 0; k < i; k++)
			buf_adds(&b, " ");
		buf_adds(&b, "k:\n");
	}
	for (int k = 0; k < YAML_MAX_DEPTH + 1; k++)
		buf_adds(&b, " ");
	buf_adds(&b, "k: v\n");
	parse(&P, b.s);
	assert_null(P.root);
	assert_int_equal(P.d.errors, 1);
	assert_diag(&P.d, 0, DIAG_ERROR, YAML_MAX_DEPTH + 1, YAML_MAX_DEPTH + 1,
		    "nesting deeper than 64 levels");
	done(&P);
	buf_release(&b);

	/* A deep file that would overflow a recursive parser is refused cleanly. */
	t = nested_lists(100000);
	parse(&P, t);
	assert_null(P.root);
	assert_int_equal(P.d.errors, 1);
	assert_non_null(strstr(P.d.items[0].message, "nesting deeper"));
	done(&P);
	free(t);
}

/* ---- aliases ---- */

static void test_alias_shares_node(void **state)
{
	(void)state;
	struct parsed P;
	parse(&P, "base: &b {x: 1, y: [1, 2]}\ncopy: *b\nlist: [&s hello, *s]\n");
	assert_int_equal(P.d.n, 0);
	const struct ynode *base = get(P.root, "base"), *copy = get(P.root, "copy");
	assert_ptr_equal(base, copy);
	/* The node starts at its properties: the anchor, not the '{'. */
	assert_pos(copy, YNODE_MAP, 1, 7);
	assert_string_equal(get(copy, "x")->str, "1");
	/* The anchor name is not left in the node's string. */
	assert_null(base->str);
	const struct ynode *list = get(P.root, "list");
	assert_int_equal(list->n, 2);
	assert_ptr_equal(list->vals[0], list->vals[1]);
	assert_string_equal(list->vals[1]->str, "hello");
	done(&P);

	/* A later anchor with the same name replaces the earlier one. */
	parse(&P, "a: &n one\nb: &n two\nc: *n\n");
	assert_int_equal(P.d.n, 0);
	assert_string_equal(get(P.root, "c")->str, "two");
	done(&P);
}

static void test_alias_bomb(void **state)
{
	(void)state;
	/* Billion laughs: 10^9 strings after expansion, a few hundred bytes before. */
	static const char text[] =
		"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		"h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		"i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	struct parsed P;
	parse(&P, text);
	assert_null(P.root);
	assert_int_equal(P.d.errors, 1);
	assert_non_null(strstr(P.d.items[0].message, "document too large"));
	/*
	 * a weighs 11 nodes, b 111, ... e 111,111: the limit is hit while
	 * expanding f's aliases, at one of them, before g is even read.
	 */
	assert_int_equal(P.d.items[0].line, 6);
	assert_true(P.d.items[0].col > 8);
	done(&P);

	/* Through the loader: the load fails with the same message. */
	struct diag d = DIAG_INIT;
	struct pipeline *p = pipeline_load_text("p.yml", text, strlen(text), &d);
	assert_null(p);
	assert_int_equal(d.errors, 1);
	assert_non_null(strstr(d.items[0].message, "document too large"));
	diag_release(&d);

	/* A modest use of aliases stays under the limit. */
	parse(&P, "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		  "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		  "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n");
	assert_non_null(P.root);
	assert_int_equal(P.d.n, 0);
	done(&P);
}

static void test_unknown_alias(void **state)
{
	(void)state;
	struct parsed P;
	parse(&P, "a: 1\nb: *nope\n");
	assert_null(P.root);
	assert_int_equal(P.d.errors, 1);
	assert_diag(&P.d, 0, DIAG_ERROR, 2, 4, "unknown alias '*nope'");
	done(&P);

	/* An alias to a node that is not complete yet (itself) is refused too. */
	parse(&P, "a: &x [1, *x]\n");
	assert_null(P.root);
	assert_int_equal(P.d.errors, 1);
	assert_diag(&P.d, 0, DIAG_ERROR, 1, 11, "unknown alias '*x'");
	done(&P);
}

/* ---- documents ---- */

static void test_multiple_documents(void **state)
{
	(void)state;
	struct parsed P;
	parse(&P, "a: 1\n---\nb: 2\n");
	assert_null(P.root);
	assert_int_equal(P.d.errors, 1);
	assert_diag(&P.d, 0, DIAG_ERROR, 2, 1, "more than one YAML document");
	done(&P);

	/* One explicit document with an end marker is fine. */
	parse(&P, "---\na: 1\n...\n");
	assert_non_null(P.root);
	assert_int_equal(P.d.n, 0);
	assert_string_equal(get(P.root, "a")->str, "1");
	done(&P);
}

static void test_empty_and_comment_only(void **state)
{
	(void)state;
	static const char *const empties[] = {
		"", "\n", "# only a comment\n", "# one\n\n# two\n", "---\n", "~\n", "null\n",
	};
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		struct parsed P;
		parse(&P, empties[i]);
		assert_null(P.root);
		if (P.d.errors != 1)
			fail_msg("input %zu: %zu errors", i, P.d.errors);
		assert_diag(&P.d, 0, DIAG_ERROR, 1, 1, "empty file");
		done(&P);

		struct diag d = DIAG_INIT;
		struct pipeline *p = pipeline_load_text("p.yml", empties[i], strlen(empties[i]), &d);
		assert_null(p);
		assert_int_equal(d.errors, 1);
		assert_non_null(strstr(d.items[0].message, "empty file"));
		diag_release(&d);
	}
}

/* ---- bytes: NUL and UTF-8 ---- */

static void test_nul_byte(void **state)
{
	(void)state;
	static const char text[] = "name: a\nb: x\0y\n";
	struct parsed P;
	parse_len(&P, text, sizeof(text) - 1);
	assert_null(P.root);
	assert_int_equal(P.d.errors, 1);
	assert_diag(&P.d, 0, DIAG_ERROR, 2, 5, "NUL byte");
	done(&P);

	/* A NUL at the very start. */
	parse_len(&P, "\0a: 1\n", 6);
	assert_null(P.root);
	assert_diag(&P.d, 0, DIAG_ERROR, 1, 1, "NUL byte");
	done(&P);

	/* The loader passes the full length: the NUL is seen, not a short file. */
	struct diag d = DIAG_INIT;
	struct pipeline *p = pipeline_load_text("p.yml", text, sizeof(text) - 1, &d);
	assert_null(p);
	assert_int_equal(d.errors, 1);
	assert_diag(&d, 0, DIAG_ERROR, 2, 5, "NUL byte");
	diag_release(&d);
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		int line, col;
		const char *msg;
	} cases[] = {
		/* Latin-1 é. */
		{ "a: 1\nb: caf\xe9\n", 2, 7, "invalid UTF-8 byte 0xe9" },
		/* Columns count characters: é is column 4, the bad byte column 5. */
		{ "a: \xc3\xa9\xff\n", 1, 5, "invalid UTF-8 byte 0xff" },
		/* Overlong encoding of '/'. */
		{ "a: \xc0\xaf\n", 1, 4, "invalid UTF-8 byte 0xc0" },
		/* Overlong three-byte encoding. */
		{ "a: \xe0\x80\xaf\n", 1, 4, "invalid UTF-8 byte 0xe0" },
		/* A UTF-16 surrogate. */
		{ "x\ny\na: \xed\xa0\x80\n", 3, 4, "invalid UTF-8 byte 0xed" },
		/* Beyond U+10FFFF. */
		{ "a: \xf4\x90\x80\x80\n", 1, 4, "invalid UTF-8 byte 0xf4" },
		/* A lone continuation byte. */
		{ "a: \x80\n", 1, 4, "invalid UTF-8 byte 0x80" },
		/* A sequence cut off by the end of the text. */
		{ "a: \xe2\x82", 1, 4, "invalid UTF-8 byte 0xe2" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct parsed P;
		parse(&P, cases[i].text);
		assert_null(P.root);
		if (P.d.errors != 1)
			fail_msg("case %zu: %zu errors", i, P.d.errors);
		assert_diag(&P.d, 0, DIAG_ERROR, cases[i].line, cases[i].col, cases[i].msg);
		done(&P);
	}

	/* Valid multi-byte text of every length is accepted. */
	struct parsed P;
	parse(&P, "a: \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n");
	assert_non_null(P.root);
	assert_int_equal(P.d.n, 0);
	assert_string_equal(get(P.root, "a")->str, "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	done(&P);
}

static void test_escaped_nul_in_quoted_string(void **state)
{
	(void)state;
	/* The text has no NUL byte; the escape makes one inside the value. */
	struct parsed P;
	parse(&P, "a: 1\nb: \"x\\0y\"\n");
	assert_null(P.root);
	assert_int_equal(P.d.errors, 1);
	assert_diag(&P.d, 0, DIAG_ERROR, 2, 4, "string contains a NUL character");
	done(&P);

	parse(&P, "a: \"\\x00\"\n");
	assert_null(P.root);
	assert_diag(&P.d, 0, DIAG_ERROR, 1, 4, "NUL character");
	done(&P);
}

static void test_byte_order_mark(void **state)
{
	(void)state;
	struct parsed P;
	parse(&P, "\xef\xbb\xbf" "a: 1\nb: 2\n");
	assert_int_equal(P.d.n, 0);
	assert_non_null(P.root);
	assert_string_equal(get(P.root, "a")->str, "1");
	assert_pos(get(P.root, "b"), YNODE_SCALAR, 2, 4);
	done(&P);
}

/* ---- big inputs under the size limit finish ---- */

static void parse_and_check_many_anchors(void *arg)
{
	struct parsed P;
	parse(&P, arg);
	if (!P.root || P.d.n || get(P.root, "x")->n != 250000)
		_exit(1);
	/* The last alias names the first anchor. */
	const struct ynode *y = get(P.root, "y");
	if (y->n != 1 || y->vals[0] != get(P.root, "x")->vals[0])
		_exit(2);
	done(&P);
}

/* 250,000 anchors (about 3.3 MB): anchor lookup must not be quadratic. */
static void test_many_anchors_parse_in_bounded_time(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_adds(&b, "x:\n");
	for (int i = 0; i < 250000; i++)
		buf_addf(&b, "- &a%d v\n", i);
	buf_adds(&b, "y: [*a0]\n");
	assert_true(b.len < PIPELINE_MAX_BYTES);
	assert_finishes(parse_and_check_many_anchors, buf_detach(&b, NULL), 20, "parsing 250,000 anchors");
}

/* ---- helpers ---- */

static void test_ynode_get(void **state)
{
	(void)state;
	struct parsed P;
	parse(&P, "a: 1\nb: [x]\nc: {d: 2}\n");
	assert_int_equal(P.d.n, 0);
	assert_string_equal(ynode_get(P.root, "a")->str, "1");
	assert_int_equal(ynode_get(P.root, "b")->kind, YNODE_SEQ);
	assert_null(ynode_get(P.root, "missing"));
	assert_null(ynode_get(P.root, "A"));          /* case matters */
	assert_null(ynode_get(P.root, "d"));          /* not recursive */
	assert_null(ynode_get(ynode_get(P.root, "b"), "x")); /* a list is no map */
	assert_null(ynode_get(ynode_get(P.root, "a"), "a")); /* nor a scalar */
	assert_null(ynode_get(NULL, "a"));
	assert_string_equal(ynode_get(ynode_get(P.root, "c"), "d")->str, "2");
	assert_string_equal(ynode_kind_name(ynode_get(P.root, "b")), "a list");
	assert_string_equal(ynode_kind_name(ynode_get(P.root, "c")), "a mapping");
	assert_string_equal(ynode_kind_name(ynode_get(P.root, "a")), "a string");
	assert_string_equal(ynode_kind_name(NULL), "nothing");
	done(&P);
}

static void test_ynode_is_null(void **state)
{
	(void)state;
	struct parsed P;
	parse(&P, "a:\n"
		  "b: ~\n"
		  "c: null\n"
		  "d: Null\n"
		  "e: NULL\n"
		  "f: \"\"\n"
		  "g: 'null'\n"
		  "h: nil\n"
		  "i: nulls\n"
		  "j: []\n"
		  "k: {}\n"
		  "l: \"~\"\n");
	assert_int_equal(P.d.n, 0);
	static const char *const nulls[] = { "a", "b", "c", "d", "e" };
	static const char *const not_nulls[] = { "f", "g", "h", "i", "j", "k", "l" };
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (!ynode_is_null(get(P.root, nulls[i])))
			fail_msg("%s should be null", nulls[i]);
	for (size_t i = 0; i < sizeof(not_nulls) / sizeof(not_nulls[0]); i++)
		if (ynode_is_null(get(P.root, not_nulls[i])))
			fail_msg("%s should not be null", not_nulls[i]);
	assert_false(ynode_is_null(NULL));
	assert_string_equal(ynode_kind_name(get(P.root, "b")), "null");
	assert_string_equal(ynode_kind_name(get(P.root, "f")), "a string");
	done(&P);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_positions_count_characters_not_bytes),
		cmocka_unit_test(test_plain_and_quoted),
		cmocka_unit_test(test_syntax_error_has_position),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_non_scalar_keys),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_alias_shares_node),
		cmocka_unit_test(test_alias_bomb),
		cmocka_unit_test(test_unknown_alias),
		cmocka_unit_test(test_multiple_documents),
		cmocka_unit_test(test_empty_and_comment_only),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_escaped_nul_in_quoted_string),
		cmocka_unit_test(test_byte_order_mark),
		cmocka_unit_test(test_many_anchors_parse_in_bounded_time),
		cmocka_unit_test(test_ynode_get),
		cmocka_unit_test(test_ynode_is_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
