/*
 * Allocation wrappers. lockstep treats out-of-memory as fatal: every
 * function here either returns memory or prints a message and aborts, so
 * callers never check for NULL.
 */
#ifndef LS_XALLOC_H
#define LS_XALLOC_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void xalloc_die(void);
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* Grows an array of `size`-byte elements to hold at least `need`. */
void *xreallocarray(void *p, size_t count, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/*
 * Typed growable arrays: `struct { T *v; size_t n, cap; }`.
 * VEC_PUSH(vec) returns a pointer to a new zeroed slot at the end.
 */
void vec_grow_(void **v, size_t *cap, size_t need, size_t elem);
#define VEC(T) struct { T *v; size_t n, cap; }
#define VEC_PUSH(vec) \
	(vec_grow_((void **)&(vec).v, &(vec).cap, (vec).n + 1, sizeof(*(vec).v)), \
	 memset(&(vec).v[(vec).n], 0, sizeof(*(vec).v)), &(vec).v[(vec).n++])
#define VEC_FREE(vec) do { free((vec).v); (vec).v = NULL; (vec).n = (vec).cap = 0; } while (0)

#endif
