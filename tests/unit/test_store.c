/*
 * Tests for store/ (store.c, sqlite.c), the durable delivery of
 * events/events.c that uses it (on the caller's thread and on the commit
 * thread), and `show` (cli/show.c) of what it recorded.
 *
 * Every test works in its own fresh state directory under a scratch
 * directory. The plans come from a real pipeline file compiled by
 * pipeline_compile(), and the events are built by hand in the order the
 * engine would emit them, so that each summary can be checked against a
 * known sequence. Concurrency is real: forked processes racing on one
 * state directory, as several `lockstep run` processes do.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/diag.h"
#include "cli/recorded.h"
#include "cli/report.h"
#include "cli/show.h"
#include "events/codec.h"
#include "events/events.h"
#include "pipeline/compile.h"
#include "store/sqlite.h"
#include "store/store.h"

static char scratch[1024];
static int ndirs;

static const char pipeline_yml[] =
	"name: unit\n"
	"barriers:\n"
	"  X: {name: Rendezvous, timeout: 1m}\n"
	"stages:\n"
	"  - workflow: a\n"
	"  - workflow: b\n"
	"    parallel: true\n"
	"  - workflow: c\n"
	"workflows:\n"
	"  a:\n"
	"    steps:\n"
	"      - run: \"true\"\n"
	"        id: build\n"
	"      - barrier: X\n"
	"    rollback:\n"
	"      - run: \"true\"\n"
	"        id: undo\n"
	"  b:\n"
	"    steps:\n"
	"      - barrier: X\n"
	"      - run: \"false\"\n"
	"        id: deploy\n"
	"        retries: 1\n"
	"  c:\n"
	"    steps:\n"
	"      - run: \"true\"\n";

static struct plan *plan;

static int setup(void **state)
{
	(void)state;
	snprintf(scratch, sizeof(scratch), "%s/lockstep-test-store.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(scratch))
		return -1;
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/p.yml", scratch);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(pipeline_yml, f);
	fclose(f);
	struct diag d = DIAG_INIT;
	plan = pipeline_compile(path, NULL, &d);
	diag_print(&d, stderr, false);
	diag_release(&d);
	return plan ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	compile_free(plan);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	return system(cmd) == 0 ? 0 : -1;
}

/* A new state directory path (not created). */
static const char *new_state(char *buf, size_t n)
{
	snprintf(buf, n, "%s/state%d", scratch, ++ndirs);
	return buf;
}

static struct store *open_ok(const char *dir, unsigned flags)
{
	struct buf err = BUF_INIT;
	struct store *st = NULL;
	int r = store_open(dir, flags, &st, &err);
	if (r < 0)
		fail_msg("store_open(%s): %d: %s", dir, r, err.s);
	buf_release(&err);
	return st;
}

static uint64_t begin_ok(struct store *st)
{
	struct buf err = BUF_INIT;
	struct store_run_start rs = { .plan = plan, .file = "/x/p.yml", .started_ms = 1700000000000 };
	char host[256];
	store_self_owner(host, sizeof(host), &rs.pid, &rs.pid_start);
	rs.host = host;
	uint64_t id = 0;
	int r = store_begin_run(st, &rs, &id, &err);
	if (r < 0)
		fail_msg("store_begin_run: %d: %s", r, err.s);
	buf_release(&err);
	return id;
}

/* Runs SQL on the database file directly, bypassing the store. */
static void raw_exec(const char *dir, const char *sql)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/lockstep.db", dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

static char *raw_text(const char *dir, const char *sql)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/lockstep.db", dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *q;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	char *out = NULL;
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
		out = strdup((const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	sqlite3_close(db);
	return out;
}

/* ---- a known event sequence ---- */

static uint64_t seq;

static struct event mk(enum event_type t)
{
	struct event e;
	memset(&e, 0, sizeof(e));
	e.type = t;
	e.seq = ++seq;
	e.run = 0;
	e.ts_ms = 1700000000000 + (int64_t)seq * 10;
	return e;
}

static const char *const group0[] = { "a", "b" };
static const char *const passed_by[] = { "b", "a" };

/* The events of a run in which b's deploy fails twice (a retry). */
static size_t script_events(struct event *ev, uint64_t run)
{
	size_t n = 0;
	seq = 0;
	ev[n] = mk(EV_RUN_STARTED), ev[n++].pipeline = "unit";
	ev[n] = mk(EV_GROUP_STARTED), ev[n].workflows = group0, ev[n++].nworkflows = 2;
	ev[n] = mk(EV_WORKFLOW_STARTED), ev[n++].workflow = "a";
	ev[n] = mk(EV_WORKFLOW_STARTED), ev[n++].workflow = "b";
	ev[n] = mk(EV_STEP_STARTED), ev[n].workflow = "a", ev[n].step = "build", ev[n++].attempt = 1;
	ev[n] = mk(EV_STEP_STARTED), ev[n].workflow = "b", ev[n].step = "step-1", ev[n++].attempt = 1;
	ev[n] = mk(EV_BARRIER_ARRIVED), ev[n].barrier = "X", ev[n++].workflow = "b";
	ev[n] = mk(EV_STEP_FINISHED), ev[n].workflow = "a", ev[n].step = "build", ev[n].status = "succeeded",
	ev[n].has_exit_code = true, ev[n].exit_code = 0, ev[n++].duration_ms = 12;
	ev[n] = mk(EV_STEP_STARTED), ev[n].workflow = "a", ev[n].step = "step-2", ev[n++].attempt = 1;
	ev[n] = mk(EV_BARRIER_ARRIVED), ev[n].barrier = "X", ev[n++].workflow = "a";
	ev[n] = mk(EV_BARRIER_PASSED), ev[n].barrier = "X", ev[n].participants = passed_by,
	ev[n++].nparticipants = 2;
	ev[n] = mk(EV_STEP_FINISHED), ev[n].workflow = "a", ev[n].step = "step-2", ev[n].status = "succeeded",
	ev[n++].duration_ms = 3;
	ev[n] = mk(EV_STEP_FINISHED), ev[n].workflow = "b", ev[n].step = "step-1", ev[n].status = "succeeded",
	ev[n++].duration_ms = 20;
	ev[n] = mk(EV_STEP_STARTED), ev[n].workflow = "b", ev[n].step = "deploy", ev[n++].attempt = 1;
	ev[n] = mk(EV_STEP_FINISHED), ev[n].workflow = "b", ev[n].step = "deploy", ev[n].status = "failed",
	ev[n].has_exit_code = true, ev[n].exit_code = 1, ev[n++].duration_ms = 5;
	ev[n] = mk(EV_STEP_STARTED), ev[n].workflow = "b", ev[n].step = "deploy", ev[n++].attempt = 2;
	ev[n] = mk(EV_STEP_FINISHED), ev[n].workflow = "b", ev[n].step = "deploy", ev[n].status = "failed",
	ev[n].has_exit_code = true, ev[n].exit_code = 2, ev[n++].duration_ms = 6;
	ev[n] = mk(EV_WORKFLOW_FINISHED), ev[n].workflow = "a", ev[n++].status = "succeeded";
	ev[n] = mk(EV_WORKFLOW_FINISHED), ev[n].workflow = "b", ev[n].status = "failed",
	ev[n++].reason = "failed at step 'deploy' (exit status 2)";
	ev[n] = mk(EV_WORKFLOW_FINISHED), ev[n].workflow = "c", ev[n].status = "skipped",
	ev[n++].reason = "group 1 failed";
	ev[n] = mk(EV_RUN_FINISHED), ev[n++].status = "failed";
	for (size_t i = 0; i < n; i++)
		ev[i].run = run;
	return n;
}

static void append_ok(struct store *st, uint64_t run, struct event *ev, size_t from, size_t to)
{
	const struct event *p[64];
	for (size_t i = from; i < to; i++)
		p[i - from] = &ev[i];
	struct buf err = BUF_INIT;
	int r = store_append(st, run, p, to - from, &err);
	if (r < 0)
		fail_msg("store_append: %d: %s", r, err.s);
	buf_release(&err);
}

static const struct store_workflow *wf_of(const struct store_run *r, const char *name)
{
	for (size_t i = 0; i < r->nwfs; i++)
		if (!strcmp(r->wfs[i].name, name))
			return &r->wfs[i];
	fail_msg("no workflow %s", name);
	return NULL;
}

static const struct store_step *step_of(const struct store_workflow *w, const char *id)
{
	for (size_t i = 0; i < w->nsteps; i++)
		if (!strcmp(w->steps[i].id, id))
			return &w->steps[i];
	fail_msg("no step %s/%s", w->name, id);
	return NULL;
}

/* ---- tests ---- */

static void test_open_creates_wal_db(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	new_state(dir, sizeof(dir));
	/* Parents are created too (mkdir -p). */
	strcat(dir, "/deeper/still");
	struct store *st = open_ok(dir, STORE_CREATE);
	assert_int_equal(store_schema_version(st), STORE_SQLITE_SCHEMA);
	char want[PATH_MAX + 32];
	snprintf(want, sizeof(want), "%s/lockstep.db", dir);
	assert_string_equal(store_where(st), want);
	store_close(st);
	char *mode = raw_text(dir, "PRAGMA journal_mode");
	assert_string_equal(mode, "wal");
	free(mode);
	char *v = raw_text(dir, "PRAGMA user_version");
	assert_int_equal(atoi(v), STORE_SQLITE_SCHEMA);
	free(v);
}

static void test_missing_state_dir(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	new_state(dir, sizeof(dir));
	struct buf err = BUF_INIT;
	struct store *st = (struct store *)1;
	assert_int_equal(store_open(dir, STORE_READONLY, &st, &err), STORE_ENOSTATE);
	assert_null(st);
	assert_non_null(strstr(err.s, "no state directory"));
	assert_non_null(strstr(err.s, dir));
	buf_release(&err);
	/* Nothing was created by looking. */
	assert_int_equal(access(dir, F_OK), -1);

	/* A directory without a database reads as an empty history. */
	assert_int_equal(mkdir(dir, 0755), 0);
	st = open_ok(dir, STORE_READONLY);
	struct store_run_list l;
	assert_int_equal(store_list_runs(st, 0, &l, &err), 0);
	assert_int_equal(l.n, 0);
	store_run_list_release(&l);
	struct store_run r;
	assert_int_equal(store_load_run(st, 1, 0, &r, &err), STORE_ENOTFOUND);
	assert_non_null(strstr(err.s, "no run 1"));
	store_close(st);
	buf_release(&err);
	char db[PATH_MAX + 32];
	snprintf(db, sizeof(db), "%s/lockstep.db", dir);
	assert_int_equal(access(db, F_OK), -1);
}

static void test_not_a_database(void **state)
{
	(void)state;
	char dir[PATH_MAX], db[PATH_MAX + 32];
	new_state(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(db, sizeof(db), "%s/lockstep.db", dir);
	FILE *f = fopen(db, "w");
	for (int i = 0; i < 200; i++)
		fputs("this is not a database, just some text\n", f);
	fclose(f);
	struct buf err = BUF_INIT;
	struct store *st;
	assert_int_equal(store_open(dir, STORE_CREATE, &st, &err), STORE_EBACKEND);
	assert_non_null(strstr(err.s, db));
	assert_non_null(strstr(err.s, "not a lockstep database"));
	buf_release(&err);
}

/* The mark lockstep puts in its databases ("LKST"), as the shell reads it. */
#define APP_ID "1280004948"

/* A database another program left at STATE/lockstep.db is refused, untouched. */
static void test_refuses_foreign_database(void **state)
{
	(void)state;
	static const struct {
		const char *sql;
		const char *found;
	} cases[] = {
		{ "CREATE TABLE x (a)",
		  "is not a lockstep database: it holds table x, and neither lockstep's mark nor a schema version "
		  "(application_id 0, user_version 0)" },
		{ "CREATE TABLE a (x); CREATE INDEX ai ON a (x); CREATE VIEW v AS SELECT 1; CREATE TABLE b (y);"
		  "CREATE TABLE c (z); PRAGMA user_version = 2",
		  "is not a lockstep database: it holds table a, index ai, view v and 2 more, which lockstep's "
		  "schema 2 does not have, and no lockstep mark (application_id 0)" },
		{ "PRAGMA application_id = 1196444487; CREATE TABLE features (id)",
		  "is not a lockstep database: it belongs to another program (application_id 0x47504b47; "
		  "lockstep's is 0x4c4b5354)" },
		/* Another program's mark, and no tables yet. */
		{ "PRAGMA application_id = 7",
		  "is not a lockstep database: it belongs to another program (application_id 0x00000007; "
		  "lockstep's is 0x4c4b5354)" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char dir[PATH_MAX];
		new_state(dir, sizeof(dir));
		assert_int_equal(mkdir(dir, 0755), 0);
		raw_exec(dir, cases[i].sql);
		char *before = raw_text(dir, "SELECT coalesce(group_concat(type || ' ' || name), '') FROM sqlite_master");
		for (int ro = 0; ro < 2; ro++) {
			struct buf err = BUF_INIT;
			struct store *st = (struct store *)1;
			assert_int_equal(store_open(dir, ro ? STORE_READONLY : STORE_CREATE, &st, &err),
					 STORE_EFOREIGN);
			assert_null(st);
			char want[PATH_MAX + 400];
			snprintf(want, sizeof(want),
				 "%s/lockstep.db %s. lockstep leaves it as it is: give another --state DIR, or move "
				 "the file away",
				 dir, cases[i].found);
			assert_string_equal(err.s, want);
			buf_release(&err);
		}
		/* Nothing was added to it. */
		char *after = raw_text(dir, "SELECT coalesce(group_concat(type || ' ' || name), '') FROM sqlite_master");
		assert_string_equal(after, before);
		free(before);
		free(after);
	}
}

/*
 * A database lockstep makes carries its mark; one made by a lockstep from
 * before the mark (lockstep's schema, no mark) is read as it is and
 * marked by the next writer; one that lacks part of lockstep's schema is
 * refused.
 */
static void test_marks_its_databases(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	new_state(dir, sizeof(dir));
	struct store *st = open_ok(dir, STORE_CREATE);
	uint64_t id = begin_ok(st);
	store_close(st);
	char *v = raw_text(dir, "PRAGMA application_id");
	assert_string_equal(v, APP_ID);
	free(v);

	/* As a lockstep from before the mark left it. */
	raw_exec(dir, "PRAGMA application_id = 0");
	st = open_ok(dir, STORE_READONLY);
	struct buf err = BUF_INIT;
	struct store_run r;
	assert_int_equal(store_load_run(st, id, 0, &r, &err), 0);
	assert_string_equal(r.info.pipeline, "unit");
	store_run_release(&r);
	store_close(st);
	v = raw_text(dir, "PRAGMA application_id");
	assert_string_equal(v, "0"); /* a reader writes nothing */
	free(v);
	st = open_ok(dir, STORE_CREATE);
	assert_int_equal(begin_ok(st), id + 1);
	store_close(st);
	v = raw_text(dir, "PRAGMA application_id");
	assert_string_equal(v, APP_ID);
	free(v);

	/* An older schema without the mark: migrated and marked at once. */
	char old[PATH_MAX];
	new_state(old, sizeof(old));
	assert_int_equal(store_sqlite_open(old, STORE_CREATE, 1, &st, &err), 0);
	store_close(st);
	raw_exec(old, "PRAGMA application_id = 0");
	st = open_ok(old, STORE_CREATE);
	assert_int_equal(store_schema_version(st), STORE_SQLITE_SCHEMA);
	store_close(st);
	v = raw_text(old, "PRAGMA application_id");
	assert_string_equal(v, APP_ID);
	free(v);

	/* lockstep's schema with a table missing and no mark: not lockstep's. */
	raw_exec(old, "PRAGMA application_id = 0; DROP TABLE barrier_members");
	for (int ro = 0; ro < 2; ro++) {
		assert_int_equal(store_open(old, ro ? STORE_READONLY : STORE_CREATE, &st, &err), STORE_EFOREIGN);
		assert_non_null(strstr(err.s, "is not a lockstep database: it lacks table barrier_members of "
					      "lockstep's schema 3, and has no lockstep mark (application_id 0)"));
		buf_reset(&err);
	}

	/* An empty SQLite database (no tables, no mark) is a new one. */
	char empty[PATH_MAX];
	new_state(empty, sizeof(empty));
	assert_int_equal(mkdir(empty, 0755), 0);
	raw_exec(empty, "PRAGMA journal_mode = WAL");
	st = open_ok(empty, STORE_READONLY);
	struct store_run_list l;
	assert_int_equal(store_list_runs(st, 0, &l, &err), 0);
	assert_int_equal(l.n, 0);
	store_run_list_release(&l);
	store_close(st);
	st = open_ok(empty, STORE_CREATE);
	assert_int_equal(begin_ok(st), 1);
	store_close(st);
	v = raw_text(empty, "PRAGMA application_id");
	assert_string_equal(v, APP_ID);
	free(v);
	buf_release(&err);
}

static void test_refuses_newer_schema(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	new_state(dir, sizeof(dir));
	store_close(open_ok(dir, STORE_CREATE));
	raw_exec(dir, "PRAGMA user_version = 99");
	for (int ro = 0; ro < 2; ro++) {
		struct buf err = BUF_INIT;
		struct store *st;
		assert_int_equal(store_open(dir, ro ? STORE_READONLY : STORE_CREATE, &st, &err), STORE_ENEWER);
		char want[PATH_MAX + 200];
		snprintf(want, sizeof(want),
			 "%s/lockstep.db was written by a newer lockstep (schema 99); this lockstep knows up to %d",
			 dir, STORE_SQLITE_SCHEMA);
		assert_string_equal(err.s, want);
		buf_release(&err);
	}
	/* Refusing changed nothing. */
	char *v = raw_text(dir, "PRAGMA user_version");
	assert_string_equal(v, "99");
	free(v);
}

static void test_migrates_older_schema(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	new_state(dir, sizeof(dir));
	/* A database as schema 1 left it, with a run in it. */
	struct buf err = BUF_INIT;
	struct store *st;
	assert_int_equal(store_sqlite_open(dir, STORE_CREATE, 1, &st, &err), 0);
	assert_int_equal(store_schema_version(st), 1);
	uint64_t id = begin_ok(st);
	store_close(st);
	char *idx = raw_text(dir, "SELECT count(*) FROM sqlite_master WHERE name = 'events_by_workflow'");
	assert_string_equal(idx, "0");
	free(idx);

	st = open_ok(dir, STORE_CREATE);
	assert_int_equal(store_schema_version(st), STORE_SQLITE_SCHEMA);
	struct store_run r;
	assert_int_equal(store_load_run(st, id, 0, &r, &err), 0);
	assert_string_equal(r.info.pipeline, "unit");
	store_run_release(&r);
	assert_int_equal(begin_ok(st), id + 1);
	store_close(st);
	idx = raw_text(dir, "SELECT count(*) FROM sqlite_master WHERE name = 'events_by_workflow'");
	assert_string_equal(idx, "1");
	free(idx);
	buf_release(&err);
}

/* A reader reads an older database as it is: it never migrates it. */
static void test_reader_does_not_migrate(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	new_state(dir, sizeof(dir));
	struct buf err = BUF_INIT;
	struct store *st;
	assert_int_equal(store_sqlite_open(dir, STORE_CREATE, 2, &st, &err), 0);
	uint64_t id = begin_ok(st);
	store_close(st);
	st = open_ok(dir, STORE_READONLY);
	assert_int_equal(store_schema_version(st), 2);
	struct store_run r;
	assert_int_equal(store_load_run(st, id, STORE_LOAD_EVENTS, &r, &err), 0);
	assert_string_equal(r.info.pipeline, "unit");
	store_run_release(&r);
	store_close(st);
	char *v = raw_text(dir, "PRAGMA user_version");
	assert_string_equal(v, "2");
	free(v);
	buf_release(&err);
}

static void test_run_ids(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	new_state(dir, sizeof(dir));
	struct store *st = open_ok(dir, STORE_CREATE);
	assert_int_equal(begin_ok(st), 1);
	assert_int_equal(begin_ok(st), 2);
	assert_int_equal(begin_ok(st), 3);
	store_close(st);
	st = open_ok(dir, STORE_CREATE);
	assert_int_equal(begin_ok(st), 4);
	struct store_run_list l;
	struct buf err = BUF_INIT;
	assert_int_equal(store_list_runs(st, 0, &l, &err), 0);
	assert_int_equal(l.n, 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(l.v[i].id, 4 - i);        /* newest first */
	assert_string_equal(l.v[0].status, "running");  /* its owner (we) is alive */
	assert_string_equal(l.v[0].file, "/x/p.yml");
	assert_int_equal(l.v[0].pid, getpid());
	store_run_list_release(&l);
	assert_int_equal(store_list_runs(st, 2, &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.v[1].id, 3);
	store_run_list_release(&l);
	store_close(st);
	buf_release(&err);
}

static void test_ids_continue_after_old_logs(void **state)
{
	(void)state;
	/* A state directory of a lockstep from before the store. */
	char dir[PATH_MAX], p[PATH_MAX + 64];
	new_state(dir, sizeof(dir));
	snprintf(p, sizeof(p), "%s/logs/7/w", dir);
	struct buf err = BUF_INIT;
	assert_int_equal(store_mkdirs(p, &err), 0);
	snprintf(p, sizeof(p), "%s/logs/3", dir);
	assert_int_equal(store_mkdirs(p, &err), 0);
	snprintf(p, sizeof(p), "%s/logs/notes", dir);
	assert_int_equal(store_mkdirs(p, &err), 0);
	struct store *st = open_ok(dir, STORE_CREATE);
	assert_int_equal(begin_ok(st), 8);
	store_close(st);
	buf_release(&err);
}

static void test_events_and_summaries(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	new_state(dir, sizeof(dir));
	struct store *st = open_ok(dir, STORE_CREATE);
	uint64_t id = begin_ok(st);
	struct event ev[64];
	size_t n = script_events(ev, id);
	/* Two batches, as two loop iterations would commit them. */
	append_ok(st, id, ev, 0, 10);

	struct buf err = BUF_INIT;
	struct store_run r;
	/* Half way: what is recorded so far. */
	assert_int_equal(store_load_run(st, id, STORE_LOAD_EVENTS, &r, &err), 0);
	assert_int_equal(r.nevents, 10);
	assert_int_equal(r.info.last_seq, 10);
	assert_string_equal(r.info.status, "running");
	assert_string_equal(wf_of(&r, "a")->status, "running");
	assert_string_equal(wf_of(&r, "c")->status, "pending");
	assert_string_equal(step_of(wf_of(&r, "a"), "step-2")->status, "running");
	assert_string_equal(r.barriers[0].status, "waiting");
	store_run_release(&r);

	append_ok(st, id, ev, 10, n);
	assert_int_equal(store_load_run(st, id, STORE_LOAD_EVENTS, &r, &err), 0);
	assert_int_equal(r.info.id, id);
	assert_string_equal(r.info.pipeline, "unit");
	assert_string_equal(r.info.status, "failed");
	assert_int_equal(r.info.finished_ms, ev[n - 1].ts_ms);
	assert_int_equal(r.info.last_seq, n);

	/* Every event, in seq order, exactly as --json prints it. */
	assert_int_equal(r.nevents, n);
	struct buf j = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		buf_reset(&j);
		event_to_json(&ev[i], &j);
		assert_int_equal(r.events[i].seq, i + 1);
		assert_string_equal(r.events[i].json, j.s);
		assert_string_equal(r.events[i].type, event_type_name(ev[i].type));
	}
	buf_release(&j);

	/* Workflows, in plan order, with the plan's groups. */
	assert_int_equal(r.nwfs, 3);
	assert_string_equal(r.wfs[0].name, "a");
	assert_string_equal(r.wfs[2].name, "c");
	assert_int_equal(r.wfs[2].group, 1);
	const struct store_workflow *a = wf_of(&r, "a"), *b = wf_of(&r, "b"), *c = wf_of(&r, "c");
	assert_string_equal(a->status, "succeeded");
	assert_null(a->reason);
	assert_int_equal(a->started_ms, ev[2].ts_ms);
	assert_int_equal(a->finished_ms, ev[17].ts_ms);
	assert_string_equal(b->status, "failed");
	assert_string_equal(b->reason, "failed at step 'deploy' (exit status 2)");
	assert_string_equal(c->status, "skipped");
	assert_string_equal(c->reason, "group 1 failed");
	assert_int_equal(c->started_ms, 0);

	/* Steps: the plan's, rollback ones last, with what happened. */
	assert_int_equal(a->nsteps, 3);
	assert_string_equal(a->steps[0].id, "build");
	assert_string_equal(a->steps[1].kind, "barrier");
	assert_string_equal(a->steps[2].id, "undo");
	assert_true(a->steps[2].rollback);
	assert_string_equal(a->steps[2].status, "pending");
	assert_int_equal(a->steps[2].attempts, 0);
	const struct store_step *build = step_of(a, "build");
	assert_string_equal(build->kind, "run");
	assert_string_equal(build->status, "succeeded");
	assert_true(build->has_exit_code);
	assert_int_equal(build->exit_code, 0);
	assert_int_equal(build->duration_ms, 12);
	assert_int_equal(build->attempts, 1);
	const struct store_step *bar = step_of(a, "step-2");
	assert_false(bar->has_exit_code);
	assert_int_equal(bar->duration_ms, 3);
	const struct store_step *deploy = step_of(b, "deploy");
	assert_string_equal(deploy->status, "failed");
	assert_int_equal(deploy->attempts, 2);
	assert_int_equal(deploy->exit_code, 2);
	assert_int_equal(deploy->duration_ms, 6);
	assert_int_equal(deploy->natt, 2);
	assert_int_equal(deploy->att[0].attempt, 1);
	assert_int_equal(deploy->att[0].exit_code, 1);
	assert_int_equal(deploy->att[0].duration_ms, 5);
	assert_int_equal(deploy->att[0].seq, 14);
	assert_int_equal(deploy->att[1].attempt, 2);
	assert_int_equal(deploy->att[1].exit_code, 2);
	assert_true(deploy->att[1].finished);
	assert_string_equal(step_of(c, "step-1")->status, "pending");

	/* The barrier: participants from the plan, arrivals, outcome. */
	assert_int_equal(r.nbarriers, 1);
	const struct store_barrier *x = &r.barriers[0];
	assert_string_equal(x->id, "X");
	assert_string_equal(x->title, "Rendezvous");
	assert_int_equal(x->timeout_ms, 60000);
	assert_string_equal(x->status, "passed");
	assert_int_equal(x->decided_ms, ev[10].ts_ms);
	assert_int_equal(x->nmembers, 2);
	assert_string_equal(x->members[0].workflow, "a");
	assert_true(x->members[0].arrived);
	assert_int_equal(x->members[0].arrived_ms, ev[9].ts_ms);
	assert_int_equal(x->members[1].arrived_seq, 7);
	assert_int_equal(x->npassed, 2);
	assert_string_equal(x->passed_by[0], "b");
	assert_string_equal(x->passed_by[1], "a");
	store_run_release(&r);

	/* finish_run is idempotent and keeps the first end time. */
	assert_int_equal(store_finish_run(st, id, "failed", ev[n - 1].ts_ms + 999, &err), 0);
	assert_int_equal(store_load_run(st, id, 0, &r, &err), 0);
	assert_int_equal(r.info.finished_ms, ev[n - 1].ts_ms);
	assert_int_equal(r.nevents, 0);  /* not asked for */
	store_run_release(&r);
	store_close(st);
	buf_release(&err);
}

static void test_broken_barrier_and_rollback(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	new_state(dir, sizeof(dir));
	struct store *st = open_ok(dir, STORE_CREATE);
	uint64_t id = begin_ok(st);
	struct event ev[16];
	size_t n = 0;
	seq = 0;
	ev[n] = mk(EV_RUN_STARTED), ev[n++].pipeline = "unit";
	ev[n] = mk(EV_STEP_STARTED), ev[n].workflow = "a", ev[n].step = "step-2", ev[n++].attempt = 1;
	ev[n] = mk(EV_BARRIER_ARRIVED), ev[n].barrier = "X", ev[n++].workflow = "a";
	ev[n] = mk(EV_BARRIER_BROKEN), ev[n].barrier = "X", ev[n].origin = "b",
	ev[n++].reason = "workflow b failed at step 'deploy' (exit status 1)";
	ev[n] = mk(EV_WORKFLOW_ROLLBACK), ev[n].workflow = "a",
	ev[n++].reason = "barrier X (Rendezvous) broken: workflow b failed at step 'deploy' (exit status 1)";
	ev[n] = mk(EV_STEP_STARTED), ev[n].workflow = "a", ev[n].step = "undo", ev[n].attempt = 1,
	ev[n++].rollback = true;
	for (size_t i = 0; i < n; i++)
		ev[i].run = id;
	append_ok(st, id, ev, 0, n);
	struct buf err = BUF_INIT;
	struct store_run r;
	assert_int_equal(store_load_run(st, id, STORE_LOAD_EVENTS, &r, &err), 0);
	const struct store_barrier *x = &r.barriers[0];
	assert_string_equal(x->status, "broken");
	assert_string_equal(x->origin, "b");
	assert_string_equal(x->reason, "workflow b failed at step 'deploy' (exit status 1)");
	assert_int_equal(x->npassed, 0);
	assert_true(x->members[0].arrived);
	assert_false(x->members[1].arrived);
	const struct store_workflow *a = wf_of(&r, "a");
	assert_string_equal(a->status, "rolling-back");
	assert_string_equal(a->rollback_reason, ev[4].reason);
	assert_string_equal(step_of(a, "undo")->status, "running");
	assert_true(strstr(r.events[5].json, "\"rollback\":true") != NULL);

	/* `show`, text and JSON, says the same from the recorded events. */
	struct run_view *v = recorded_view_load(&r);
	char *txt = NULL, *js = NULL;
	size_t len;
	FILE *f = open_memstream(&txt, &len);
	show_text(&r.info, v, f);
	fclose(f);
	assert_non_null(strstr(txt, "X (Rendezvous): broken at +40ms: workflow b failed"));
	assert_non_null(strstr(txt, "did not arrive  (broke it)"));
	f = open_memstream(&js, &len);
	show_json(&r, v, f);
	fclose(f);
	view_free(v);
	assert_non_null(strstr(js, "\"broken\":{\"ts\":"));
	assert_non_null(strstr(js, "\"origin\":\"b\"}"));
	assert_non_null(strstr(js, "\"events\":[{\"ts\":"));
	free(txt);
	free(js);
	store_run_release(&r);
	store_close(st);
	buf_release(&err);
}

/* 8 processes race to create the database and begin 10 runs each. */
static void test_concurrent_begin_run(void **state)
{
	(void)state;
	enum { PROCS = 8, RUNS = 10 };
	char dir[PATH_MAX];
	new_state(dir, sizeof(dir));
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t kids[PROCS];
	for (int k = 0; k < PROCS; k++) {
		kids[k] = fork();
		assert_true(kids[k] >= 0);
		if (kids[k] == 0) {
			close(fds[0]);
			struct buf err = BUF_INIT;
			struct store *st;
			if (store_open(dir, STORE_CREATE, &st, &err) < 0) {
				fprintf(stderr, "child %d: open: %s\n", k, err.s);
				_exit(1);
			}
			for (int i = 0; i < RUNS; i++) {
				struct store_run_start rs = { .plan = plan, .file = "p.yml", .host = "h", .pid = getpid() };
				uint64_t id;
				if (store_begin_run(st, &rs, &id, &err) < 0) {
					fprintf(stderr, "child %d: begin_run: %s\n", k, err.s);
					_exit(1);
				}
				/* And an event batch, so writers interleave. */
				struct event e;
				memset(&e, 0, sizeof(e));
				e.type = EV_RUN_STARTED, e.seq = 1, e.run = id, e.pipeline = "unit";
				const struct event *p = &e;
				if (store_append(st, id, &p, 1, &err) < 0) {
					fprintf(stderr, "child %d: append: %s\n", k, err.s);
					_exit(1);
				}
				if (write(fds[1], &id, sizeof(id)) != sizeof(id))
					_exit(1);
			}
			store_close(st);
			_exit(0);
		}
	}
	close(fds[1]);
	for (int k = 0; k < PROCS; k++) {
		int ws;
		assert_int_equal(waitpid(kids[k], &ws, 0), kids[k]);
		assert_true(WIFEXITED(ws));
		assert_int_equal(WEXITSTATUS(ws), 0);
	}
	bool seen[PROCS * RUNS + 1] = { false };
	uint64_t id;
	int got = 0;
	while (read(fds[0], &id, sizeof(id)) == sizeof(id)) {
		assert_true(id >= 1 && id <= PROCS * RUNS);
		assert_false(seen[id]);
		seen[id] = true;
		got++;
	}
	close(fds[0]);
	assert_int_equal(got, PROCS * RUNS);
}

/* Every file SQLite opens is close-on-exec: no step inherits one. */
static void test_fds_cloexec(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	new_state(dir, sizeof(dir));
	struct store *st = open_ok(dir, STORE_CREATE);
	begin_ok(st);  /* the -wal and -shm files are open now too */
	int seen = 0;
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		char link[PATH_MAX], target[PATH_MAX];
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (!strstr(target, dir) || !strstr(target, "lockstep.db"))
			continue;
		int fl = fcntl(atoi(e->d_name), F_GETFD);
		if (!(fl & FD_CLOEXEC))
			fail_msg("%s (fd %s) is not close-on-exec", target, e->d_name);
		seen++;
	}
	closedir(d);
	/* lockstep.db, -wal, -shm */
	assert_true(seen >= 3);
	store_close(st);
}

/*
 * A database deleted under a writer (rm -rf STATE) takes commits without
 * complaint from SQLite; the store refuses them, saying why.
 */
static void test_deleted_under_writer(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	new_state(dir, sizeof(dir));
	struct store *st = open_ok(dir, STORE_CREATE);
	uint64_t id = begin_ok(st);
	struct event ev[32];
	script_events(ev, id);
	append_ok(st, id, ev, 0, 3);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	const struct event *p[] = { &ev[3] };
	struct buf err = BUF_INIT;
	assert_int_equal(store_append(st, id, p, 1, &err), STORE_EBACKEND);
	char want[PATH_MAX + 200];
	snprintf(want, sizeof(want),
		 "%s/lockstep.db was deleted or moved away during the run: lockstep cannot record the run any more",
		 dir);
	assert_string_equal(err.s, want);
	buf_reset(&err);
	assert_int_equal(store_finish_run(st, id, "failed", 1700000001000, &err), STORE_EBACKEND);
	assert_string_equal(err.s, want);
	buf_release(&err);
	store_close(st);
	/* Nothing was made again in its place. */
	assert_int_equal(access(dir, F_OK), -1);
}

/* A run whose owner died without finishing reads as interrupted. */
static void test_interrupted(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	new_state(dir, sizeof(dir));
	store_close(open_ok(dir, STORE_CREATE));
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		struct buf err = BUF_INIT;
		struct store *st;
		if (store_open(dir, STORE_CREATE, &st, &err) < 0)
			_exit(1);
		struct store_run_start rs = { .plan = plan, .file = "p.yml", .started_ms = 1 };
		char host[256];
		store_self_owner(host, sizeof(host), &rs.pid, &rs.pid_start);
		rs.host = host;
		uint64_t id;
		_exit(store_begin_run(st, &rs, &id, &err) < 0 ? 1 : 0);
	}
	int ws;
	assert_int_equal(waitpid(kid, &ws, 0), kid);
	assert_int_equal(WEXITSTATUS(ws), 0);
	struct store *st = open_ok(dir, STORE_CREATE);
	uint64_t mine = begin_ok(st);
	struct buf err = BUF_INIT;
	struct store_run r;
	assert_int_equal(store_load_run(st, 1, 0, &r, &err), 0);
	assert_string_equal(r.info.status, "interrupted");
	assert_int_equal(r.info.pid, kid);
	store_run_release(&r);
	assert_int_equal(store_load_run(st, mine, 0, &r, &err), 0);
	assert_string_equal(r.info.status, "running");
	store_run_release(&r);
	store_close(st);
	buf_release(&err);
	/* Another host: nobody here can tell, so it stays running. */
	assert_true(store_owner_alive("some-other-host", 1, 12345));
}

/* ---- events: durable before visible ---- */

struct seen {
	uint64_t seq[64];
	char what[64][32];
	size_t n;
	size_t commits;
	size_t committed;
	int fail_with;
};

static void visible_sink(const struct event *ev, void *arg)
{
	struct seen *s = arg;
	s->seq[s->n] = ev->seq;
	snprintf(s->what[s->n], sizeof(s->what[0]), "%s", ev->workflow ? ev->workflow : "");
	s->n++;
}

static int fake_commit(const struct event *const *evs, size_t n, struct buf *err, void *arg)
{
	struct seen *s = arg;
	s->commits++;
	if (s->fail_with) {
		buf_adds(err, "disk full, pretend");
		return s->fail_with;
	}
	for (size_t i = 0; i < n; i++)
		assert_int_equal(evs[i]->seq, s->committed + i + 1);
	s->committed += n;
	return 0;
}

static void test_events_durable_before_visible(void **state)
{
	(void)state;
	struct seen vis = { .n = 0 }, dur = { .n = 0 };
	struct events e;
	events_init(&e, 5);
	events_set_durable(&e, fake_commit, &dur);
	events_add_sink(&e, visible_sink, &vis);
	char name[16] = "first";
	struct event ev = { .type = EV_WORKFLOW_STARTED, .workflow = name };
	events_emit(&e, &ev);
	/* The engine's buffer changes at once: the queue has its own copy. */
	strcpy(name, "second");
	events_emit(&e, &ev);
	assert_int_equal(vis.n, 0);
	assert_int_equal(events_pending(&e), 2);
	assert_int_equal(events_flush(&e), 0);
	assert_int_equal(dur.commits, 1);
	assert_int_equal(dur.committed, 2);
	assert_int_equal(vis.n, 2);
	assert_int_equal(vis.seq[0], 1);
	assert_string_equal(vis.what[0], "first");
	assert_string_equal(vis.what[1], "second");
	assert_int_equal(e.last_committed, 2);
	/* An empty flush commits nothing. */
	assert_int_equal(events_flush(&e), 0);
	assert_int_equal(dur.commits, 1);

	/* The store fails: the batch is still shown, then events go straight
	 * to the sinks, in seq order, and the error stays. */
	events_emit(&e, &ev);
	dur.fail_with = -28;
	assert_int_equal(events_flush(&e), -28);
	assert_string_equal(e.commit_msg.s, "disk full, pretend");
	assert_int_equal(vis.n, 3);
	events_emit(&e, &ev);
	assert_int_equal(vis.n, 4);
	assert_int_equal(dur.commits, 2);
	assert_int_equal(events_flush(&e), -28);
	for (size_t i = 0; i < vis.n; i++)
		assert_int_equal(vis.seq[i], i + 1);
	assert_int_equal(e.last_committed, 2);
	events_release(&e);
}

static void test_event_dup(void **state)
{
	(void)state;
	const char *wfs[] = { "w1", "w2[x=a/b]" };
	const char *parts[] = { "p" };
	struct event ev = { .type = EV_BARRIER_PASSED, .seq = 9, .barrier = "B", .workflows = wfs,
			    .nworkflows = 2, .participants = parts, .nparticipants = 1, .reason = NULL };
	struct event *c = event_dup(&ev);
	assert_ptr_not_equal(c->workflows, wfs);
	assert_string_equal(c->workflows[1], "w2[x=a/b]");
	assert_string_equal(c->participants[0], "p");
	assert_string_equal(c->barrier, "B");
	assert_null(c->reason);
	assert_null(c->workflow);
	struct buf a = BUF_INIT, b = BUF_INIT;
	event_to_json(&ev, &a);
	event_to_json(c, &b);
	assert_string_equal(a.s, b.s);
	buf_release(&a);
	buf_release(&b);
	event_free(c);
}

/* The store as the durable sink of a real struct events. */
static void test_store_sink(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	new_state(dir, sizeof(dir));
	struct store *st = open_ok(dir, STORE_CREATE);
	uint64_t id = begin_ok(st);
	struct events e;
	events_init(&e, id);
	struct store_sink sink = { st, id };
	events_set_durable(&e, store_commit_sink, &sink);
	struct event ev = { .type = EV_RUN_STARTED, .pipeline = "unit" };
	events_emit(&e, &ev);
	struct event w = { .type = EV_WORKFLOW_STARTED, .workflow = "a" };
	events_emit(&e, &w);
	assert_int_equal(events_flush(&e), 0);
	struct event f = { .type = EV_RUN_FINISHED, .status = "succeeded" };
	events_emit(&e, &f);
	assert_int_equal(events_flush(&e), 0);
	events_release(&e);
	struct buf err = BUF_INIT;
	struct store_run r;
	assert_int_equal(store_load_run(st, id, STORE_LOAD_EVENTS, &r, &err), 0);
	assert_int_equal(r.nevents, 3);
	assert_string_equal(r.info.status, "succeeded");
	assert_string_equal(wf_of(&r, "a")->status, "running");
	store_run_release(&r);
	store_close(st);
	buf_release(&err);
}

/* The commit thread's wake-up, as uv_async_send is: a byte down a pipe. */
static void wake_pipe(void *arg)
{
	int *fds = arg;
	assert_int_equal(write(fds[1], "w", 1), 1);
}

/* Waits (bounded: 10 s) for the commit thread to say a commit ended. */
static void await_wake(int *fds)
{
	struct pollfd p = { .fd = fds[0], .events = POLLIN };
	assert_int_equal(poll(&p, 1, 10000), 1);
	char c;
	assert_int_equal(read(fds[0], &c, 1), 1);
}

/*
 * The store on the commit thread: while another connection holds the
 * write lock, flushing returns at once and nothing is shown (the commit
 * waits on its own thread, not the caller); once the lock is released,
 * the batch is recorded, then shown.
 */
static void test_store_commit_thread(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	new_state(dir, sizeof(dir));
	struct store *st = open_ok(dir, STORE_CREATE);
	uint64_t id = begin_ok(st);
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/lockstep.db", dir);
	sqlite3 *other;
	assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

	int fds[2];
	assert_int_equal(pipe(fds), 0);
	struct seen vis = { .n = 0 };
	struct events e;
	events_init(&e, id);
	struct store_sink sink = { st, id };
	events_set_durable(&e, store_commit_sink, &sink);
	events_add_sink(&e, visible_sink, &vis);
	events_start_committer(&e, wake_pipe, fds);
	struct event ev = { .type = EV_RUN_STARTED, .pipeline = "unit" };
	events_emit(&e, &ev);
	struct event w = { .type = EV_WORKFLOW_STARTED, .workflow = "a" };
	events_emit(&e, &w);
	/* Locked: the commit waits on its thread, the caller goes on. */
	assert_int_equal(events_flush(&e), 0);
	assert_int_equal(events_flush(&e), 0);
	assert_int_equal(vis.n, 0);
	assert_int_equal(events_pending(&e), 2);
	assert_int_equal(e.last_committed, 0);
	/* The other writer is done: the commit goes through. */
	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	await_wake(fds);
	assert_int_equal(events_flush(&e), 0);
	assert_int_equal(vis.n, 2);
	assert_int_equal(e.last_committed, 2);
	struct event f = { .type = EV_RUN_FINISHED, .status = "succeeded" };
	events_emit(&e, &f);
	assert_int_equal(events_finish(&e), 0);
	assert_int_equal(vis.n, 3);
	events_release(&e);
	/* The store is this thread's again. */
	struct buf err = BUF_INIT;
	struct store_run r;
	assert_int_equal(store_load_run(st, id, STORE_LOAD_EVENTS, &r, &err), 0);
	assert_int_equal(r.nevents, 3);
	assert_string_equal(r.info.status, "succeeded");
	store_run_release(&r);
	buf_release(&err);
	sqlite3_close(other);
	store_close(st);
	close(fds[0]);
	close(fds[1]);
}

static void test_parse_run_id(void **state)
{
	(void)state;
	uint64_t id;
	assert_true(report_parse_run_id("1", &id));
	assert_int_equal(id, 1);
	assert_true(report_parse_run_id("0042", &id));
	assert_int_equal(id, 42);
	assert_false(report_parse_run_id("0", &id));
	assert_false(report_parse_run_id("", &id));
	assert_false(report_parse_run_id("-1", &id));
	assert_false(report_parse_run_id("+1", &id));
	assert_false(report_parse_run_id("1x", &id));
	assert_false(report_parse_run_id(" 1", &id));
	assert_false(report_parse_run_id("99999999999999999999999", &id));
	assert_false(report_parse_run_id("9223372036854775808", &id));
	assert_true(report_parse_run_id("9223372036854775807", &id));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_creates_wal_db),
		cmocka_unit_test(test_missing_state_dir),
		cmocka_unit_test(test_not_a_database),
		cmocka_unit_test(test_refuses_foreign_database),
		cmocka_unit_test(test_marks_its_databases),
		cmocka_unit_test(test_refuses_newer_schema),
		cmocka_unit_test(test_migrates_older_schema),
		cmocka_unit_test(test_reader_does_not_migrate),
		cmocka_unit_test(test_run_ids),
		cmocka_unit_test(test_ids_continue_after_old_logs),
		cmocka_unit_test(test_events_and_summaries),
		cmocka_unit_test(test_broken_barrier_and_rollback),
		cmocka_unit_test(test_concurrent_begin_run),
		cmocka_unit_test(test_fds_cloexec),
		cmocka_unit_test(test_deleted_under_writer),
		cmocka_unit_test(test_interrupted),
		cmocka_unit_test(test_events_durable_before_visible),
		cmocka_unit_test(test_event_dup),
		cmocka_unit_test(test_store_sink),
		cmocka_unit_test(test_store_commit_thread),
		cmocka_unit_test(test_parse_run_id),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
