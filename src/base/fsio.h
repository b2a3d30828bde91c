/*
 * Small file helpers with limits: input from outside is never read without
 * a bound.
 */
#ifndef LS_FSIO_H
#define LS_FSIO_H

#include <stddef.h>

/*
 * Reads the whole file at `path` (or standard input for "-") into a
 * NUL-terminated heap buffer, refusing files larger than `max` bytes.
 * Returns 0, -errno, or -EFBIG when the file is too large.
 */
int fsio_read_file(const char *path, size_t max, char **out, size_t *len);

#endif
