#include "base/fsio.h"

#include <errno.h>
#include <fcntl.h>
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
