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

struct buf;
/*
 * Finds program `name` as a shell would: a name with a '/' is taken as a
 * path (made absolute from the current directory); any other name is
 * looked up in the directories of $PATH. Writes the absolute path of an
 * executable regular file to `out` and returns 0; returns -ENOENT when
 * there is none, or -EACCES when `name` names a file that cannot be
 * executed (or a directory).
 */
int fsio_find_program(const char *name, struct buf *out);
/*
 * Creates directory `dir` and its missing parents (mkdir -p, mode 0700:
 * lockstep's directories hold what steps printed).
 * Returns 0, or -errno with a message for a person appended to `err`
 * ("cannot create directory 'X': Permission denied", "'X' is not a
 * directory").
 */
int fsio_mkdirs(const char *dir, struct buf *err);
/*
 * Writes `len` bytes of `data` to `path`, a new file (mode 0600) or one
 * emptied first. Returns 0 or -errno (what was written stays).
 */
int fsio_write_file(const char *path, const char *data, size_t len);
/*
 * Replaces `path` with `len` bytes of `data` atomically and durably: a
 * temporary file next to it (PATH.tmp, mode 0600), fsync, rename over
 * `path`, fsync of the directory. After a crash the file is either the
 * old one or the new one, whole. Returns 0 or -errno (nothing changed).
 */
int fsio_replace_file(const char *path, const char *data, size_t len);

#endif
