#include "base/fsio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/xalloc.h"

int fsio_read_file(const char *path, size_t max, char **out, size_t *len)
{
	int fd = 0;
	if (path[0] != '-' || path[1]) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			close(fd);
			return -EISDIR;
		}
	}
	size_t cap = 4096, n = 0;
	char *data = xmalloc(cap + 1);
	for (;;) {
		if (n == cap) {
			if (cap > max) {
				break;
			}
			cap *= 2;
			data = xrealloc(data, cap + 1);
		}
		ssize_t r = read(fd, data + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(data);
			if (fd)
				close(fd);
			return -e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max)
			break;
	}
	if (fd)
		close(fd);
	if (n > max) {
		free(data);
		return -EFBIG;
	}
	data[n] = '\0';
	*out = data;
	*len = n;
	return 0;
}

/* 0 for an executable regular file; -ENOENT or -EACCES otherwise. */
static int executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -ENOENT;
	if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0)
		return -EACCES;
	return 0;
}

int fsio_find_program(const char *name, struct buf *out)
{
	buf_reset(out);
	if (!*name)
		return -ENOENT;
	if (strchr(name, '/')) {
		if (name[0] != '/') {
			char *cwd = getcwd(NULL, 0);
			if (cwd)
				buf_addf(out, "%s/", cwd);
			free(cwd);
		}
		buf_adds(out, name);
		return executable(out->s);
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		buf_reset(out);
		if (n == 0) {
			/* An empty entry is the current directory. */
			char *cwd = getcwd(NULL, 0);
			buf_adds(out, cwd ? cwd : ".");
			free(cwd);
		} else {
			buf_add(out, path, n);
		}
		buf_addf(out, "/%s", name);
		/* Only absolute results: a relative PATH entry is made absolute. */
		if (out->s[0] != '/') {
			char *cwd = getcwd(NULL, 0);
			struct buf abs = BUF_INIT;
			buf_addf(&abs, "%s/%s", cwd ? cwd : ".", out->s);
			free(cwd);
			buf_reset(out);
			buf_adds(out, abs.s);
			buf_release(&abs);
		}
		if (executable(out->s) == 0)
			return 0;
		path += n;
		if (*path == ':')
			path++;
	}
	buf_reset(out);
	return -ENOENT;
}

int fsio_mkdirs(const char *dir, struct buf *err)
{
	struct buf part = BUF_INIT;
	int ret = 0;
	for (const char *s = dir; *s; s++) {
		buf_addc(&part, *s);
		if (s[1] != '/' && s[1] != '\0')
			continue;
		/* Only its owner may look in: logs and the database hold what steps printed. */
		if (mkdir(part.s, 0700) == 0 || errno == EEXIST)
			continue;
		ret = -errno;
		buf_addf(err, "cannot create directory '%s': %s", part.s, strerror(-ret));
		break;
	}
	if (!ret) {
		struct stat sb;
		if (stat(dir, &sb) < 0) {
			ret = -errno;
			buf_addf(err, "cannot use directory '%s': %s", dir, strerror(-ret));
		} else if (!S_ISDIR(sb.st_mode)) {
			ret = -ENOTDIR;
			buf_addf(err, "'%s' is not a directory", dir);
		}
	}
	buf_release(&part);
	return ret;
}

/* Writes all of `data` to `fd`; 0 or -errno. */
static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int fsio_write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int r = write_all(fd, data, len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

/* fsync of the directory that holds `path`, so that a rename in it lasts. */
static int fsync_dir_of(const char *path)
{
	char *copy = xstrdup(path);
	char *slash = strrchr(copy, '/');
	const char *dir = ".";
	if (slash == copy)
		dir = "/";
	else if (slash) {
		*slash = '\0';
		dir = copy;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int fsio_replace_file(const char *path, const char *data, size_t len)
{
	struct buf tmp = BUF_INIT;
	buf_addf(&tmp, "%s.tmp", path);
	int r = 0;
	int fd = open(tmp.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		r = -errno;
	if (r == 0)
		r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (fd >= 0 && close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp.s, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp.s);
	else
		fsync_dir_of(path);
	buf_release(&tmp);
	return r;
}
