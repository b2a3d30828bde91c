/*
 * yaml: libyaml's event stream turned into a small tree of nodes that keep
 * their source positions, so that every later error can point at a line
 * and column.
 *
 * Limits enforced here, each with a clear diagnostic: nesting deeper than
 * YAML_MAX_DEPTH, more than one document, alias expansion beyond
 * YAML_MAX_NODES nodes (the "billion laughs" attack), NUL bytes and
 * invalid UTF-8. Duplicate mapping keys are reported here too.
 */
#ifndef LS_YAML_H
#define LS_YAML_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "base/arena.h"
#include "base/diag.h"

#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 1000000

enum ynode_kind { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ };

/* Packed to 48 bytes: a big pipeline has hundreds of thousands of nodes
 * (a file is at most 4 MiB, so lengths and counts fit in 32 bits). */
struct ynode {
	uint8_t kind;       /* enum ynode_kind */
	bool plain;         /* YNODE_SCALAR: unquoted, not a block scalar: may be null/bool/int */
	int line, col;      /* 1-based position of the node's first character */
	uint32_t n;         /* YNODE_MAP, YNODE_SEQ: number of entries */
	uint32_t len;       /* YNODE_SCALAR: length of str */
	/* YNODE_SCALAR */
	const char *str;    /* NUL-terminated value (may contain no NULs) */
	/* YNODE_MAP: keys[i] -> vals[i]; YNODE_SEQ: vals[i] */
	struct ynode **keys;
	struct ynode **vals;
};

/*
 * Parses `text` (`len` bytes, NUL-terminated) from `file`. The tree is
 * allocated in `arena`. Problems go to `d` with `file` as their file name.
 * Returns the root node, or NULL when the text is not usable YAML (the
 * reasons are in `d`). An empty document gives NULL with an error too.
 */
struct ynode *yaml_parse(const char *file, const char *text, size_t len, struct arena *arena,
			 struct diag *d);
/*
 * The same, with the nodes and their arrays in `nodes` and the scalar
 * values (ynode.str of scalars) in `strings`: a loader that keeps only
 * strings can release `nodes` once it is done with the tree.
 */
struct ynode *yaml_parse_split(const char *file, const char *text, size_t len, struct arena *nodes,
			       struct arena *strings, struct diag *d);

/* Scalar helpers: true when the plain scalar spells null (`~`, `null`, empty). */
bool ynode_is_null(const struct ynode *n);
/* Returns the value node for `key` in mapping `map`, or NULL. */
struct ynode *ynode_get(const struct ynode *map, const char *key);
/* "a mapping", "a list", "a string" - for "expected X, got Y" messages. */
const char *ynode_kind_name(const struct ynode *n);

#endif
