/* secrets: the values of a pipeline's secrets, from a secrets file and the environment (secrets.h). */
#include "pipeline/secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/mask.h"
#include "base/xalloc.h"
#include "pipeline/load_internal.h"

void secret_env_key(const char *name, struct buf *out)
{
	for (const char *c = name; *c; c++)
		buf_addc(out, *c == '-' ? '_' : (*c >= 'a' && *c <= 'z') ? (char)(*c - 32) : *c);
}

void secret_env_var(const char *name, struct buf *out)
{
	buf_adds(out, "LOCKSTEP_SECRET_");
	secret_env_key(name, out);
}

static size_t find_decl(const struct pipeline *p, const char *name, size_t len)
{
	for (size_t i = 0; i < p->nsecrets; i++)
		if (strlen(p->secrets[i].name) == len && !memcmp(p->secrets[i].name, name, len))
			return i;
	return SIZE_MAX;
}

/* "api-token, db-password": the declared names, for a message. */
static void add_names(const struct pipeline *p, struct buf *out)
{
	for (size_t i = 0; i < p->nsecrets; i++)
		buf_addf(out, "%s%s", i ? ", " : "", p->secrets[i].name);
	if (!p->nsecrets)
		buf_adds(out, "none");
}

/*
 * Reads `file`, checking that only its owner may use it; returns its
 * text (wipe it and free it) or NULL after an error in `d`. Opened first
 * and checked through the descriptor, so that what is checked is what is
 * read. A pipe (--secrets-file <(vault read ...)) is fine: the shell makes
 * it for the owner only.
 */
static char *read_private(const char *file, size_t *len, struct diag *d)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		diag_add(d, DIAG_ERROR, file, 0, 0, "cannot read the secrets file: %s", strerror(errno));
		return NULL;
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		diag_add(d, DIAG_ERROR, file, 0, 0, "cannot read the secrets file: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(sb.st_mode) && !S_ISFIFO(sb.st_mode)) {
		diag_add(d, DIAG_ERROR, file, 0, 0, "the secrets file is not a regular file");
		close(fd);
		return NULL;
	}
	if (sb.st_mode & 077) {
		diag_add(d, DIAG_ERROR, file, 0, 0,
			 "the secrets file can be used by its group or others (mode %04o): refusing it; "
			 "make it private (chmod 600 %s) and consider its secrets exposed",
			 (unsigned)(sb.st_mode & 07777), file);
		close(fd);
		return NULL;
	}
	struct buf text = BUF_INIT;
	char chunk[4096];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			diag_add(d, DIAG_ERROR, file, 0, 0, "cannot read the secrets file: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			close(fd);
			explicit_bzero(chunk, sizeof(chunk));
			*len = text.len;
			return buf_detach(&text, NULL);
		}
		if (text.len + (size_t)n > SECRETS_FILE_MAX) {
			diag_add(d, DIAG_ERROR, file, 0, 0, "the secrets file is larger than %u KiB",
				 SECRETS_FILE_MAX / 1024);
			break;
		}
		buf_add(&text, chunk, (size_t)n);
	}
	close(fd);
	explicit_bzero(chunk, sizeof(chunk));
	explicit_bzero(text.s, text.len);
	buf_release(&text);
	return NULL;
}

/* A line's NAME, as secrets are named (the loader's rule). */
static bool is_name(const char *s, size_t len)
{
	char *name = xstrndup(s, len);
	bool ok = len && ld_is_key_name(name);
	free(name);
	return ok;
}

/*
 * NAME=VALUE lines into `vals` (by declaration index; `line_of` the line
 * that gave each). Nothing of a line is quoted in a message but a
 * declared name: a malformed line may be a value.
 */
static void parse_file(const struct pipeline *p, const char *file, const char *text, size_t len,
		       const char **vals, int *line_of, struct arena *a, struct diag *d)
{
	int line = 0;
	for (size_t at = 0; at < len;) {
		const char *s = text + at;
		const char *nl = memchr(s, '\n', len - at);
		size_t n = nl ? (size_t)(nl - s) : len - at;
		at += n + 1;
		line++;
		if (n && s[n - 1] == '\r')
			n--;
		size_t lead = 0;
		while (lead < n && (s[lead] == ' ' || s[lead] == '\t'))
			lead++;
		if (lead == n || s[lead] == '#')
			continue;
		const char *eq = memchr(s, '=', n);
		size_t nlen = eq ? (size_t)(eq - s) : 0;
		if (!eq || !is_name(s, nlen)) {
			diag_add(d, DIAG_ERROR, file, line, 1,
				 "not a NAME=VALUE line (a name of letters, digits, _ and -, then '=' and the value; "
				 "'#' starts a comment line)");
			continue;
		}
		size_t i = find_decl(p, s, nlen);
		if (i == SIZE_MAX) {
			struct buf names = BUF_INIT;
			add_names(p, &names);
			diag_add(d, DIAG_WARNING, file, line, 1,
				 "this line names no secret the pipeline declares; it is ignored (declared: %s)",
				 names.s);
			buf_release(&names);
			continue;
		}
		if (vals[i]) {
			diag_add(d, DIAG_ERROR, file, line, 1, "secret '%s' is given twice (first on line %d)",
				 p->secrets[i].name, line_of[i]);
			continue;
		}
		size_t vlen = n - nlen - 1;
		if (vlen > SECRET_VALUE_MAX) {
			diag_add(d, DIAG_ERROR, file, line, (int)nlen + 2, "the value of secret '%s' is longer than %u KiB",
				 p->secrets[i].name, SECRET_VALUE_MAX / 1024);
			continue;
		}
		vals[i] = arena_strndup(a, eq + 1, vlen);
		line_of[i] = line;
	}
}

int secrets_load(const struct pipeline *p, const char *file, char *const *env,
		 struct secret_values *out, struct diag *d)
{
	size_t errors = d->errors;
	const char **vals = xcalloc(p->nsecrets + 1, sizeof(*vals));
	int *line_of = xcalloc(p->nsecrets + 1, sizeof(*line_of));
	if (file) {
		size_t len = 0;
		char *text = read_private(file, &len, d);
		if (text) {
			parse_file(p, file, text, len, vals, line_of, &out->arena, d);
			explicit_bzero(text, len);
			free(text);
		}
	}
	struct buf var = BUF_INIT;
	out->values.v = arena_array(&out->arena, p->nsecrets + 1, sizeof(*out->values.v));
	out->values.n = 0;
	for (size_t i = 0; i < p->nsecrets; i++) {
		const struct secret_decl *s = &p->secrets[i];
		buf_reset(&var);
		secret_env_var(s->name, &var);
		/* The file first: it was named on this command line. */
		if ((!vals[i] || !*vals[i]) && env) {
			for (char *const *e = env; *e; e++) {
				if (strncmp(*e, var.s, var.len) || (*e)[var.len] != '=')
					continue;
				const char *v = *e + var.len + 1;
				if (strlen(v) > SECRET_VALUE_MAX)
					diag_add(d, DIAG_ERROR, p->file, s->pos.line, s->pos.col,
						 "the value of secret '%s' in %s is longer than %u KiB", s->name,
						 var.s, SECRET_VALUE_MAX / 1024);
				else
					vals[i] = v;
				break;
			}
		}
		bool has = vals[i] && *vals[i];
		if (!has && s->required)
			diag_add(d, DIAG_ERROR, p->file, s->pos.line, s->pos.col,
				 "secret '%s' has no value: set %s in the environment, or give a line %s=VALUE "
				 "in a file named by --secrets-file (readable by its owner only)",
				 s->name, var.s, s->name);
		struct kv *kv = &out->values.v[out->values.n++];
		kv->key = s->name;
		kv->val = arena_strdup(&out->arena, has ? vals[i] : "");
		kv->key_pos = s->pos;
	}
	buf_release(&var);
	free(vals);
	free(line_of);
	return d->errors > errors ? -1 : 0;
}

struct mask *secrets_mask(const struct secret_values *sv)
{
	struct mask *m = mask_new();
	for (size_t i = 0; i < sv->values.n; i++)
		mask_add(m, sv->values.v[i].val, strlen(sv->values.v[i].val));
	return m;
}

void secrets_release(struct secret_values *sv)
{
	arena_release(&sv->arena);
	sv->values.v = NULL;
	sv->values.n = 0;
}
