#include "pipeline/manifests.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool has_glob_magic(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static bool is_manifest_name(const char *name)
{
	if (name[0] == '.')
		return false;
	size_t n = strlen(name);
	static const char *const ext[] = { ".yaml", ".yml", ".json" };
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		size_t e = strlen(ext[i]);
		if (n > e && !strcmp(name + n - e, ext[i]))
			return true;
	}
	return false;
}

static void add_file(struct manifest_list *out, const char *path, const char *shown)
{
	for (size_t i = 0; i < out->files.n; i++)
		if (!strcmp(out->files.v[i].path, path))
			return;
	struct manifest_file *f = VEC_PUSH(out->files);
	f->path = xstrdup(path);
	f->shown = xstrdup(shown);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The manifests of directory `path` (shown as `shown`), sorted; how many. */
static int add_dir(struct manifest_list *out, const char *path, const char *shown, struct buf *err)
{
	DIR *d = opendir(path);
	if (!d) {
		buf_addf(err, "cannot read manifest directory '%s': %s", shown, strerror(errno));
		return -1;
	}
	VEC(char *) names = { 0 };
	struct dirent *e;
	while ((e = readdir(d))) {
		if (is_manifest_name(e->d_name))
			*VEC_PUSH(names) = xstrdup(e->d_name);
	}
	closedir(d);
	if (names.n)
		qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	int found = 0;
	struct buf p = BUF_INIT, s = BUF_INIT;
	for (size_t i = 0; i < names.n; i++) {
		buf_reset(&p);
		buf_reset(&s);
		size_t pl = strlen(path), sl = strlen(shown);
		buf_addf(&p, "%s%s%s", path, pl && path[pl - 1] == '/' ? "" : "/", names.v[i]);
		buf_addf(&s, "%s%s%s", shown, sl && shown[sl - 1] == '/' ? "" : "/", names.v[i]);
		struct stat st;
		if (stat(p.s, &st) == 0 && S_ISREG(st.st_mode)) {
			add_file(out, p.s, s.s);
			found++;
		}
		free(names.v[i]);
	}
	buf_release(&p);
	buf_release(&s);
	VEC_FREE(names);
	return found;
}

/* `s` with glob's special characters escaped, so that base_dir matches itself. */
static void add_escaped(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (strchr("*?[]\\", *s))
			buf_addc(b, '\\');
		buf_addc(b, *s);
	}
}

int manifests_resolve(const char *base_dir, const char *entry, struct manifest_list *out,
		      struct buf *err)
{
	bool abs = entry[0] == '/';
	struct buf path = BUF_INIT;
	if (!abs && base_dir && *base_dir)
		buf_addf(&path, "%s/", base_dir);
	size_t prefix = path.len;
	int rc = 0;
	if (has_glob_magic(entry)) {
		struct buf pat = BUF_INIT;
		if (prefix)
			add_escaped(&pat, path.s);
		buf_adds(&pat, entry);
		glob_t g;
		memset(&g, 0, sizeof(g));
		int r = glob(pat.s, 0, NULL, &g);
		buf_release(&pat);
		int found = 0;
		for (size_t i = 0; r == 0 && i < g.gl_pathc; i++) {
			const char *m = g.gl_pathv[i];
			const char *shown = prefix && !strncmp(m, path.s, prefix) ? m + prefix : m;
			struct stat st;
			if (stat(m, &st) < 0)
				continue;
			if (S_ISREG(st.st_mode)) {
				add_file(out, m, shown);
				found++;
			} else if (S_ISDIR(st.st_mode)) {
				int n = add_dir(out, m, shown, err);
				if (n < 0) {
					rc = -1;
					break;
				}
				found += n;
			}
		}
		globfree(&g);
		if (rc == 0 && r != 0 && r != GLOB_NOMATCH) {
			buf_addf(err, "cannot expand manifest glob '%s'", entry);
			rc = -1;
		} else if (rc == 0 && !found) {
			buf_addf(err, "manifest glob '%s' matches no file", entry);
			rc = -1;
		}
		buf_release(&path);
		return rc;
	}
	buf_adds(&path, entry);
	struct stat st;
	if (stat(path.s, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			buf_addf(err, "manifest '%s' does not exist", entry);
		else
			buf_addf(err, "cannot read manifest '%s': %s", entry, strerror(errno));
		rc = -1;
	} else if (S_ISDIR(st.st_mode)) {
		int n = add_dir(out, path.s, entry, err);
		if (n == 0)
			buf_addf(err, "manifest directory '%s' has no .yaml, .yml or .json file", entry);
		rc = n > 0 ? 0 : -1;
	} else if (!S_ISREG(st.st_mode)) {
		buf_addf(err, "manifest '%s' is not a regular file", entry);
		rc = -1;
	} else {
		add_file(out, path.s, entry);
	}
	buf_release(&path);
	return rc;
}

void manifest_list_release(struct manifest_list *l)
{
	for (size_t i = 0; i < l->files.n; i++) {
		free(l->files.v[i].path);
		free(l->files.v[i].shown);
	}
	VEC_FREE(l->files);
}

struct pos manifest_text_pos(const char *text, size_t len, size_t offset)
{
	struct pos p = { 1, 1 };
	if (offset > len)
		offset = len;
	for (size_t i = 0; i < offset; i++) {
		if (text[i] == '\n') {
			p.line++;
			p.col = 1;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			p.col++;
		}
	}
	return p;
}
