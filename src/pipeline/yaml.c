#include "pipeline/yaml.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/map.h"
#include "base/xalloc.h"

/* One mapping or sequence being built, with its children so far. */
struct frame {
	struct ynode *node;
	VEC(struct ynode *) keys;
	VEC(struct ynode *) vals;
	size_t weight;    /* nodes below, aliases counted at full size */
};

struct anchor {
	char *name;
	struct ynode *node;
	size_t weight;
};

struct parser {
	const char *file;
	struct arena *arena;      /* nodes and their arrays */
	struct arena *strings;    /* scalar values (they outlive the tree) */
	struct diag *d;
	VEC(struct frame) stack;
	VEC(struct anchor) anchors;
	struct map anchor_index;  /* name -> index into anchors */
	struct ynode *root;
	size_t total;     /* weight of the whole document so far */
	int docs;
	bool failed;
};

/*
 * Checks that `text` is UTF-8 without NUL bytes before libyaml sees it, so
 * that a binary file gets one clear message with a position instead of a
 * parser error about an octet.
 */
static bool check_text(const char *file, const unsigned char *s, size_t len, struct diag *d)
{
	int line = 1, col = 1;
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t n;
		if (c == 0) {
			diag_add(d, DIAG_ERROR, file, line, col,
				 "binary file: NUL byte found; a pipeline file is UTF-8 text");
			return false;
		}
		if (c < 0x80)
			n = 1;
		else if ((c & 0xE0) == 0xC0 && c >= 0xC2)
			n = 2;
		else if ((c & 0xF0) == 0xE0)
			n = 3;
		else if ((c & 0xF8) == 0xF0 && c <= 0xF4)
			n = 4;
		else
			n = 0;
		bool ok = n > 0 && i + n <= len;
		for (size_t k = 1; ok && k < n; k++)
			ok = (s[i + k] & 0xC0) == 0x80;
		if (ok && n == 3) {
			unsigned cp = (c & 0x0Fu) << 12 | (s[i + 1] & 0x3Fu) << 6 | (s[i + 2] & 0x3Fu);
			ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
		} else if (ok && n == 4) {
			unsigned cp = (c & 0x07u) << 18 | (s[i + 1] & 0x3Fu) << 12;
			ok = cp >= 0x10000 && cp <= 0x10FFFF;
		}
		if (!ok) {
			diag_add(d, DIAG_ERROR, file, line, col,
				 "binary file: invalid UTF-8 byte 0x%02x; a pipeline file is UTF-8 text", c);
			return false;
		}
		if (c == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
		i += n;
	}
	return true;
}

static struct ynode *node_new(struct parser *p, enum ynode_kind kind, yaml_mark_t mark)
{
	struct ynode *n = arena_alloc(p->arena, sizeof(*n));
	n->kind = kind;
	n->line = (int)mark.line + 1;
	n->col = (int)mark.column + 1;
	return n;
}

static void fail(struct parser *p, yaml_mark_t mark, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct parser *p, yaml_mark_t mark, const char *fmt, ...)
{
	if (!p->failed) {
		va_list ap;
		va_start(ap, fmt);
		diag_vadd(p->d, DIAG_ERROR, p->file, (int)mark.line + 1, (int)mark.column + 1, fmt, ap);
		va_end(ap);
	}
	p->failed = true;
}

static void add_anchor(struct parser *p, const yaml_char_t *name, struct ynode *n, size_t weight)
{
	if (!name)
		return;
	size_t i;
	if (map_find(&p->anchor_index, (const char *)name, &i)) {
		/* YAML lets a later anchor of the same name replace the earlier one. */
		p->anchors.v[i].node = n;
		p->anchors.v[i].weight = weight;
		return;
	}
	struct anchor *a = VEC_PUSH(p->anchors);
	a->name = xstrdup((const char *)name);
	map_add(&p->anchor_index, a->name, p->anchors.n - 1, NULL);
	a->node = n;
	a->weight = weight;
}

/* Attaches a finished node to its parent (or makes it the root). */
static void attach(struct parser *p, struct ynode *n, size_t weight, size_t added,
		   yaml_mark_t mark)
{
	p->total += added;
	if (p->total > YAML_MAX_NODES) {
		fail(p, mark, "document too large: more than %d nodes after expanding aliases",
		     YAML_MAX_NODES);
		return;
	}
	if (!p->stack.n) {
		p->root = n;
		return;
	}
	struct frame *f = &p->stack.v[p->stack.n - 1];
	f->weight += weight;
	if (f->node->kind == YNODE_MAP) {
		if (f->keys.n == f->vals.n)
			*VEC_PUSH(f->keys) = n;
		else
			*VEC_PUSH(f->vals) = n;
	} else {
		*VEC_PUSH(f->vals) = n;
	}
}

static int key_cmp(const void *a, const void *b)
{
	const struct ynode *x = *(struct ynode *const *)a, *y = *(struct ynode *const *)b;
	int c = strcmp(x->str, y->str);
	if (c)
		return c;
	/* Same key: order by position so the later one is reported. */
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->col < y->col ? -1 : x->col > y->col;
}

/* Reports non-string keys and duplicate keys of a finished mapping. */
static void check_keys(struct parser *p, struct ynode *map)
{
	size_t nstr = 0;
	for (size_t i = 0; i < map->n; i++) {
		if (map->keys[i]->kind != YNODE_SCALAR)
			diag_add(p->d, DIAG_ERROR, p->file, map->keys[i]->line, map->keys[i]->col,
				 "mapping keys must be plain strings, not %s",
				 ynode_kind_name(map->keys[i]));
		else
			nstr++;
	}
	if (nstr < 2)
		return;
	struct ynode **sorted = xmalloc(nstr * sizeof(*sorted));
	size_t k = 0;
	for (size_t i = 0; i < map->n; i++)
		if (map->keys[i]->kind == YNODE_SCALAR)
			sorted[k++] = map->keys[i];
	qsort(sorted, nstr, sizeof(*sorted), key_cmp);
	size_t first = 0;
	for (size_t i = 1; i < nstr; i++) {
		if (strcmp(sorted[first]->str, sorted[i]->str) != 0) {
			first = i;
			continue;
		}
		diag_add(p->d, DIAG_ERROR, p->file, sorted[i]->line, sorted[i]->col,
			 "duplicate key '%s' (first at line %d)", sorted[i]->str, sorted[first]->line);
	}
	free(sorted);
}

static void push(struct parser *p, enum ynode_kind kind, yaml_event_t *ev, const yaml_char_t *anchor)
{
	if (p->stack.n >= YAML_MAX_DEPTH) {
		fail(p, ev->start_mark, "nesting deeper than %d levels", YAML_MAX_DEPTH);
		return;
	}
	struct frame *f = VEC_PUSH(p->stack);
	f->node = node_new(p, kind, ev->start_mark);
	f->weight = 1;
	/* The anchor is registered when the node is complete: see pop(). */
	f->node->str = anchor ? arena_strdup(p->arena, (const char *)anchor) : NULL;
}

static void pop(struct parser *p, yaml_mark_t mark)
{
	struct frame f = p->stack.v[--p->stack.n];
	struct ynode *n = f.node;
	const char *anchor = n->str;
	n->str = NULL;
	if (n->kind == YNODE_MAP && f.keys.n != f.vals.n) {
		/* Cannot happen with a well-formed event stream; stay safe anyway. */
		f.keys.n = f.vals.n;
	}
	n->n = f.vals.n;
	if (n->n) {
		n->vals = arena_array(p->arena, n->n, sizeof(*n->vals));
		memcpy(n->vals, f.vals.v, n->n * sizeof(*n->vals));
		if (n->kind == YNODE_MAP) {
			n->keys = arena_array(p->arena, n->n, sizeof(*n->keys));
			memcpy(n->keys, f.keys.v, n->n * sizeof(*n->keys));
		}
	}
	VEC_FREE(f.keys);
	VEC_FREE(f.vals);
	if (n->kind == YNODE_MAP)
		check_keys(p, n);
	add_anchor(p, (const yaml_char_t *)anchor, n, f.weight);
	/* The children were counted as they were attached; count the node. */
	attach(p, n, f.weight, 1, mark);
}

static void on_scalar(struct parser *p, yaml_event_t *ev)
{
	struct ynode *n = node_new(p, YNODE_SCALAR, ev->start_mark);
	size_t len = ev->data.scalar.length;
	if (memchr(ev->data.scalar.value, '\0', len)) {
		fail(p, ev->start_mark, "string contains a NUL character");
		return;
	}
	n->str = arena_strndup(p->strings, (const char *)ev->data.scalar.value, len);
	n->len = len;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag;
	add_anchor(p, ev->data.scalar.anchor, n, 1);
	attach(p, n, 1, 1, ev->start_mark);
}

static void on_alias(struct parser *p, yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	size_t i;
	if (map_find(&p->anchor_index, name, &i)) {
		size_t w = p->anchors.v[i].weight;
		attach(p, p->anchors.v[i].node, w, w, ev->start_mark);
		return;
	}
	fail(p, ev->start_mark, "unknown alias '*%s' (no complete anchor of that name before it)", name);
}

/* The byte at a libyaml mark (line and column count characters). */
static int char_at(const char *text, size_t len, yaml_mark_t mark)
{
	size_t i = 0, line = 0;
	while (i < len && line < mark.line)
		if (text[i++] == '\n')
			line++;
	for (size_t c = 0; i < len && c < mark.column && text[i] != '\n'; c++) {
		i++;
		while (i < len && ((unsigned char)text[i] & 0xC0) == 0x80)
			i++;
	}
	return i < len ? (unsigned char)text[i] : -1;
}

struct ynode *yaml_parse(const char *file, const char *text, size_t len, struct arena *arena,
			 struct diag *d)
{
	return yaml_parse_split(file, text, len, arena, arena, d);
}

struct ynode *yaml_parse_split(const char *file, const char *text, size_t len, struct arena *nodes,
			       struct arena *strings, struct diag *d)
{
	if (!check_text(file, (const unsigned char *)text, len, d))
		return NULL;
	/* A UTF-8 byte order mark carries no meaning; columns start after it. */
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
		text += 3;
		len -= 3;
	}

	struct parser p = { .file = file, .arena = nodes, .strings = strings, .d = d };
	yaml_parser_t yp;
	if (!yaml_parser_initialize(&yp))
		xalloc_die();
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	yaml_parser_set_encoding(&yp, YAML_UTF8_ENCODING);

	bool done = false;
	while (!done && !p.failed) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&yp, &ev)) {
			const char *problem = yp.problem ? yp.problem : "unknown problem";
			yaml_mark_t mark = yp.problem_mark;
			if (char_at(text, len, mark) == '\t') {
				diag_add(d, DIAG_ERROR, file, (int)mark.line + 1, (int)mark.column + 1,
					 "YAML syntax error: tab character in indentation; indent with spaces");
				p.failed = true;
				break;
			}
			/* For an unterminated quote or flow collection, the place it
			 * started is more useful than the end of the file. */
			if (yp.context && strstr(problem, "end of stream"))
				mark = yp.context_mark;
			if (yp.context)
				diag_add(d, DIAG_ERROR, file, (int)mark.line + 1, (int)mark.column + 1,
					 "YAML syntax error: %s %s", problem, yp.context);
			else
				diag_add(d, DIAG_ERROR, file, (int)mark.line + 1, (int)mark.column + 1,
					 "YAML syntax error: %s", problem);
			p.failed = true;
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++p.docs > 1)
				fail(&p, ev.start_mark,
				     "more than one YAML document; a pipeline file holds exactly one");
			break;
		case YAML_SCALAR_EVENT:
			on_scalar(&p, &ev);
			break;
		case YAML_ALIAS_EVENT:
			on_alias(&p, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			push(&p, YNODE_SEQ, &ev, ev.data.sequence_start.anchor);
			break;
		case YAML_MAPPING_START_EVENT:
			push(&p, YNODE_MAP, &ev, ev.data.mapping_start.anchor);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (p.stack.n)
				pop(&p, ev.start_mark);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);

	for (size_t i = 0; i < p.stack.n; i++) {
		VEC_FREE(p.stack.v[i].keys);
		VEC_FREE(p.stack.v[i].vals);
	}
	VEC_FREE(p.stack);
	map_release(&p.anchor_index);
	for (size_t i = 0; i < p.anchors.n; i++)
		free(p.anchors.v[i].name);
	VEC_FREE(p.anchors);

	if (p.failed)
		return NULL;
	if (!p.root || (p.root->kind == YNODE_SCALAR && ynode_is_null(p.root))) {
		diag_add(d, DIAG_ERROR, file, 1, 1, "empty file: expected a pipeline (a mapping with name, stages and workflows)");
		return NULL;
	}
	return p.root;
}

bool ynode_is_null(const struct ynode *n)
{
	if (!n || n->kind != YNODE_SCALAR || !n->plain)
		return false;
	return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
	       strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

struct ynode *ynode_get(const struct ynode *map, const char *key)
{
	if (!map || map->kind != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (map->keys[i]->kind == YNODE_SCALAR && strcmp(map->keys[i]->str, key) == 0)
			return map->vals[i];
	return NULL;
}

const char *ynode_kind_name(const struct ynode *n)
{
	if (!n)
		return "nothing";
	switch (n->kind) {
	case YNODE_MAP: return "a mapping";
	case YNODE_SEQ: return "a list";
	case YNODE_SCALAR:
		if (ynode_is_null(n))
			return "null";
		return "a string";
	}
	return "a value";
}
