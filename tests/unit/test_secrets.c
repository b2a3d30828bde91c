/*
 * Tests for pipeline/secrets.c: the values of declared secrets from a
 * secrets file and the environment, which one wins, what is refused, and
 * that no message quotes a value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/diag.h"
#include "pipeline/load.h"
#include "pipeline/secrets.h"

static const char pipeline_text[] =
	"name: p\n"
	"secrets:\n"
	"  api-token:\n"
	"  db-password: {required: false}\n"
	"  registry:\n"
	"stages: [a]\n"
	"workflows:\n"
	"  a:\n"
	"    steps:\n"
	"      - run: x\n";

struct fixture {
	struct pipeline *p;
	char dir[64];
	char file[96];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct diag d = DIAG_INIT;
	f->p = pipeline_load_text("p.yml", pipeline_text, strlen(pipeline_text), &d);
	assert_non_null(f->p);
	diag_release(&d);
	strcpy(f->dir, "/tmp/test_secrets.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->file, sizeof(f->file), "%s/secrets.env", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	unlink(f->file);
	rmdir(f->dir);
	pipeline_free(f->p);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static const char *value_of(const struct secret_values *sv, const char *name)
{
	for (size_t i = 0; i < sv->values.n; i++)
		if (!strcmp(sv->values.v[i].key, name))
			return sv->values.v[i].val;
	fail_msg("no value for %s", name);
	return NULL;
}

/* Every message of `d` joined, to look for text that must not be there. */
static char *all_messages(const struct diag *d)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < d->n; i++)
		buf_addf(&b, "%s:%d: %s\n", d->items[i].file ? d->items[i].file : "-", d->items[i].line,
			 d->items[i].message);
	return buf_detach(&b, NULL);
}

static void test_values_from_environment(void **state)
{
	struct fixture *f = *state;
	char *env[] = { "PATH=/bin", "LOCKSTEP_SECRET_API_TOKEN=tok=en", "LOCKSTEP_SECRET_REGISTRY=reg",
			"LOCKSTEP_SECRET_API_TOKENX=not-this", NULL };
	struct secret_values sv = SECRET_VALUES_INIT;
	struct diag d = DIAG_INIT;
	assert_int_equal(secrets_load(f->p, NULL, env, &sv, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(sv.values.n, 3);
	assert_string_equal(value_of(&sv, "api-token"), "tok=en");
	/* optional and not given: empty */
	assert_string_equal(value_of(&sv, "db-password"), "");
	assert_string_equal(value_of(&sv, "registry"), "reg");
	secrets_release(&sv);
	diag_release(&d);
}

static void test_missing_required_named(void **state)
{
	struct fixture *f = *state;
	/* An empty value counts as none. */
	char *env[] = { "LOCKSTEP_SECRET_API_TOKEN=", NULL };
	struct secret_values sv = SECRET_VALUES_INIT;
	struct diag d = DIAG_INIT;
	assert_int_equal(secrets_load(f->p, NULL, env, &sv, &d), -1);
	assert_int_equal(d.errors, 2);
	assert_string_equal(d.items[0].file, "p.yml");
	assert_int_equal(d.items[0].line, 3);
	assert_string_equal(d.items[0].message,
			    "secret 'api-token' has no value: set LOCKSTEP_SECRET_API_TOKEN in the environment, or give "
			    "a line api-token=VALUE in a file named by --secrets-file (readable by its owner only)");
	assert_int_equal(d.items[1].line, 5);
	assert_non_null(strstr(d.items[1].message, "secret 'registry' has no value"));
	secrets_release(&sv);
	diag_release(&d);
}

static void test_file_wins_over_environment(void **state)
{
	struct fixture *f = *state;
	write_file(f->file,
		   "# deploy secrets\n"
		   "\n"
		   "api-token=from-file with spaces = and more\r\n"
		   "  # indented comment\n"
		   "db-password=\n"
		   "registry=r",
		   0600);
	char *env[] = { "LOCKSTEP_SECRET_API_TOKEN=from-env", "LOCKSTEP_SECRET_DB_PASSWORD=db-env", NULL };
	struct secret_values sv = SECRET_VALUES_INIT;
	struct diag d = DIAG_INIT;
	assert_int_equal(secrets_load(f->p, f->file, env, &sv, &d), 0);
	assert_int_equal(d.n, 0);
	/* taken as written after the first '=', CR of a CRLF line dropped */
	assert_string_equal(value_of(&sv, "api-token"), "from-file with spaces = and more");
	/* empty in the file: the environment's */
	assert_string_equal(value_of(&sv, "db-password"), "db-env");
	assert_string_equal(value_of(&sv, "registry"), "r");
	secrets_release(&sv);
	diag_release(&d);
}

static void test_file_readable_by_others_refused(void **state)
{
	struct fixture *f = *state;
	static const mode_t modes[] = { 0644, 0640, 0604, 0620, 0660 };
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		write_file(f->file, "api-token=t\nregistry=r\n", modes[i]);
		struct secret_values sv = SECRET_VALUES_INIT;
		struct diag d = DIAG_INIT;
		assert_int_equal(secrets_load(f->p, f->file, NULL, &sv, &d), -1);
		assert_true(d.errors >= 1);
		assert_string_equal(d.items[0].file, f->file);
		char want[64];
		snprintf(want, sizeof(want), "(mode %04o): refusing it", (unsigned)modes[i]);
		if (!strstr(d.items[0].message, "the secrets file can be used by its group or others") ||
		    !strstr(d.items[0].message, want))
			fail_msg("mode %04o: %s", (unsigned)modes[i], d.items[0].message);
		secrets_release(&sv);
		diag_release(&d);
	}
	/* 0400 is fine */
	write_file(f->file, "api-token=t\nregistry=r\n", 0400);
	struct secret_values sv = SECRET_VALUES_INIT;
	struct diag d = DIAG_INIT;
	assert_int_equal(secrets_load(f->p, f->file, NULL, &sv, &d), 0);
	secrets_release(&sv);
	diag_release(&d);
}

static void test_file_problems_never_quote_values(void **state)
{
	struct fixture *f = *state;
	write_file(f->file,
		   "api-token=first-value\n"
		   "c2VjcmV0LXZhbHVl\n"              /* a pasted value: no '=' */
		   "9bad=second-value\n"             /* not a name */
		   "c2VjcmV0Cg==\n"                   /* base64 padding looks like NAME= */
		   "api-token=third-value\n"         /* twice */
		   "registry=r\n",
		   0600);
	struct secret_values sv = SECRET_VALUES_INIT;
	struct diag d = DIAG_INIT;
	assert_int_equal(secrets_load(f->p, f->file, NULL, &sv, &d), -1);
	char *msgs = all_messages(&d);
	assert_null(strstr(msgs, "first-value"));
	assert_null(strstr(msgs, "second-value"));
	assert_null(strstr(msgs, "third-value"));
	assert_null(strstr(msgs, "c2VjcmV0"));
	assert_null(strstr(msgs, "9bad"));
	assert_non_null(strstr(msgs, ":2: not a NAME=VALUE line"));
	assert_non_null(strstr(msgs, ":3: not a NAME=VALUE line"));
	/* a valid-looking name the pipeline does not declare: a warning, unquoted */
	assert_non_null(strstr(msgs, ":4: this line names no secret the pipeline declares; it is ignored "
				     "(declared: api-token, db-password, registry)"));
	assert_non_null(strstr(msgs, ":5: secret 'api-token' is given twice (first on line 1)"));
	assert_int_equal(d.errors, 3);
	assert_int_equal(d.warnings, 1);
	free(msgs);
	secrets_release(&sv);
	diag_release(&d);
}

static void test_file_unreadable_or_too_large(void **state)
{
	struct fixture *f = *state;
	struct secret_values sv = SECRET_VALUES_INIT;
	struct diag d = DIAG_INIT;
	unlink(f->file);
	assert_int_equal(secrets_load(f->p, f->file, NULL, &sv, &d), -1);
	assert_non_null(strstr(d.items[0].message, "cannot read the secrets file: No such file"));
	secrets_release(&sv);
	diag_release(&d);

	assert_int_equal(secrets_load(f->p, f->dir, NULL, &sv, &d), -1);
	assert_non_null(strstr(d.items[0].message, "not a regular file"));
	secrets_release(&sv);
	diag_release(&d);

	size_t n = SECRETS_FILE_MAX + 10;
	char *big = malloc(n + 1);
	memset(big, '#', n);
	big[n] = '\0';
	write_file(f->file, big, 0600);
	free(big);
	assert_int_equal(secrets_load(f->p, f->file, NULL, &sv, &d), -1);
	assert_non_null(strstr(d.items[0].message, "the secrets file is larger than 1024 KiB"));
	secrets_release(&sv);
	diag_release(&d);
}

static void test_env_names(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	secret_env_var("api-token_x9", &b);
	assert_string_equal(b.s, "LOCKSTEP_SECRET_API_TOKEN_X9");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_values_from_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_required_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_wins_over_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_readable_by_others_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_problems_never_quote_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_unreadable_or_too_large, setup, teardown),
		cmocka_unit_test(test_env_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
