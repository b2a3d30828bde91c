/*
 * map: an open-addressing hash map from NUL-terminated strings to size_t
 * values (typically indexes into an array). Keys are borrowed: they must
 * outlive the map.
 */
#ifndef LS_MAP_H
#define LS_MAP_H

#include <stdbool.h>
#include <stddef.h>

struct map_slot {
	const char *key;  /* NULL: empty */
	size_t hash;
	size_t value;
};

struct map {
	struct map_slot *slots;
	size_t cap;       /* a power of two, or 0 */
	size_t n;
};

#define MAP_INIT { NULL, 0, 0 }

void map_release(struct map *m);
/* Returns true and sets *value when `key` is present. */
bool map_find(const struct map *m, const char *key, size_t *value);
/*
 * Adds `key` -> `value` unless the key is present. Returns true when added;
 * false (with the existing value in *existing, if not NULL) otherwise.
 */
bool map_add(struct map *m, const char *key, size_t value, size_t *existing);
/* Removes `key`; returns true when it was present. */
bool map_del(struct map *m, const char *key);

#endif
