#include "base/map.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

static size_t hash_str(const char *s)
{
	/* FNV-1a: simple, good enough for identifiers. */
	size_t h = (size_t)14695981039346656037ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= (size_t)1099511628211ULL;
	}
	return h;
}

void map_release(struct map *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}

static struct map_slot *lookup(const struct map *m, const char *key, size_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct map_slot *s = &m->slots[i];
		if (!s->key || (s->hash == h && strcmp(s->key, key) == 0))
			return s;
	}
}

bool map_find(const struct map *m, const char *key, size_t *value)
{
	if (!m->cap)
		return false;
	struct map_slot *s = lookup(m, key, hash_str(key));
	if (!s->key)
		return false;
	if (value)
		*value = s->value;
	return true;
}

static void grow(struct map *m)
{
	struct map old = *m;
	m->cap = old.cap ? old.cap * 2 : 16;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	m->n = 0;
	for (size_t i = 0; i < old.cap; i++) {
		if (old.slots[i].key) {
			*lookup(m, old.slots[i].key, old.slots[i].hash) = old.slots[i];
			m->n++;
		}
	}
	free(old.slots);
}

bool map_add(struct map *m, const char *key, size_t value, size_t *existing)
{
	if ((m->n + 1) * 4 > m->cap * 3)
		grow(m);
	size_t h = hash_str(key);
	struct map_slot *s = lookup(m, key, h);
	if (s->key) {
		if (existing)
			*existing = s->value;
		return false;
	}
	s->key = key;
	s->hash = h;
	s->value = value;
	m->n++;
	return true;
}

/* Backward-shift deletion: the entries after the hole that may move up
 * (their home slot is not between the hole and them) fill it, so that
 * lookups never need tombstones. */
bool map_del(struct map *m, const char *key)
{
	if (!m->cap)
		return false;
	struct map_slot *s = lookup(m, key, hash_str(key));
	if (!s->key)
		return false;
	size_t mask = m->cap - 1, hole = (size_t)(s - m->slots);
	for (size_t j = (hole + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
		size_t home = m->slots[j].hash & mask;
		bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
		if (stays)
			continue;
		m->slots[hole] = m->slots[j];
		hole = j;
	}
	m->slots[hole].key = NULL;
	m->n--;
	return true;
}
