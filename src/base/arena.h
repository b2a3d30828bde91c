/*
 * arena: a bump allocator. Everything allocated from one arena is freed at
 * once by arena_release(). The parsed pipeline and the plan live in one
 * arena, so their many small strings and arrays need no individual owners.
 */
#ifndef LS_ARENA_H
#define LS_ARENA_H

#include <stddef.h>

struct arena_block;
struct arena {
	struct arena_block *head;
	size_t used;   /* bytes used in head */
	size_t total;  /* bytes handed out, for limits and statistics */
};

#define ARENA_INIT { NULL, 0, 0 }

/* Returns zeroed memory aligned for any type. Never NULL. */
void *arena_alloc(struct arena *a, size_t n);
void *arena_array(struct arena *a, size_t count, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void arena_release(struct arena *a);

#endif
