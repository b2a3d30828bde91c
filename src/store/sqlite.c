/*
 * sqlite: the store in STATE/lockstep.db.
 *
 * - WAL mode: readers (runs, show, logs) never block the writers, and a
 *   writer never blocks them. synchronous=FULL: a commit is on disk
 *   (fsync of the WAL) when it returns, which is what "durable before
 *   visible" needs; commits are grouped by the caller (one per loop
 *   iteration), so the fsyncs stay few.
 * - Several lockstep processes share one database: every write is one
 *   BEGIN IMMEDIATE transaction (the write lock is taken first, so a
 *   transaction never has to upgrade a read lock, which fails at once with
 *   SQLITE_BUSY in WAL mode), and a busy timeout of BUSY_TIMEOUT_MS makes
 *   a writer wait for another instead of failing with "database is
 *   locked". Run ids come from an AUTOINCREMENT key inside such a
 *   transaction: unique across processes.
 * - The schema version is PRAGMA user_version. migrations[] holds every
 *   version's changes in order; opening a database older than this
 *   lockstep applies the missing ones in one transaction; a newer one is
 *   refused with a message that says so.
 * - lockstep marks the databases it makes (PRAGMA application_id =
 *   LOCKSTEP_APP_ID) and refuses any other: a database another program
 *   left at STATE/lockstep.db is not written into (check_owner).
 * - File descriptors: SQLite's unix VFS opens every file (the database,
 *   its -wal and -shm) with O_CLOEXEC (robust_open() in os_unix.c), so no
 *   step inherits them; test_store.c checks it.
 */
#include "store/sqlite.h"
#include "store/sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "base/num.h"
#include "base/xalloc.h"

/*
 * The schema, one entry per version: migrations[k] takes a database from
 * version k to k + 1. Never edit an entry that has shipped; add one.
 */
static const char *const migrations[] = {
	/* 1: runs, the plan snapshot, events and their summaries. */
	"CREATE TABLE runs ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  pipeline TEXT NOT NULL,"
	"  file TEXT NOT NULL,"
	"  status TEXT NOT NULL,"           /* running, succeeded, failed, aborted */
	"  started_ms INTEGER NOT NULL,"
	"  finished_ms INTEGER,"
	"  host TEXT NOT NULL,"             /* the owner: host, pid, pid start time */
	"  pid INTEGER NOT NULL,"
	"  pid_start INTEGER NOT NULL,"
	"  last_seq INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE workflows ("
	"  run INTEGER NOT NULL REFERENCES runs (id),"
	"  name TEXT NOT NULL,"
	"  pos INTEGER NOT NULL,"           /* index in the plan */
	"  grp INTEGER NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'pending',"
	"  reason TEXT,"
	"  rollback_reason TEXT,"
	"  started_ms INTEGER,"
	"  finished_ms INTEGER,"
	"  PRIMARY KEY (run, name)"
	") WITHOUT ROWID;"
	"CREATE TABLE steps ("
	"  run INTEGER NOT NULL,"
	"  workflow TEXT NOT NULL,"
	"  id TEXT NOT NULL,"
	"  pos INTEGER NOT NULL,"           /* steps, then rollback steps */
	"  rollback INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'pending',"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  exit_code INTEGER,"
	"  duration_ms INTEGER,"
	"  started_ms INTEGER,"
	"  finished_ms INTEGER,"
	"  PRIMARY KEY (run, workflow, id)"
	") WITHOUT ROWID;"
	"CREATE TABLE step_attempts ("
	"  run INTEGER NOT NULL,"
	"  workflow TEXT NOT NULL,"
	"  step TEXT NOT NULL,"
	"  attempt INTEGER NOT NULL,"
	"  status TEXT NOT NULL,"
	"  exit_code INTEGER,"
	"  duration_ms INTEGER,"
	"  started_ms INTEGER NOT NULL,"
	"  finished_ms INTEGER,"
	"  start_seq INTEGER NOT NULL,"
	"  PRIMARY KEY (run, workflow, step, attempt)"
	") WITHOUT ROWID;"
	"CREATE TABLE barriers ("
	"  run INTEGER NOT NULL,"
	"  id TEXT NOT NULL,"
	"  pos INTEGER NOT NULL,"
	"  title TEXT,"
	"  rollback INTEGER NOT NULL,"
	"  timeout_ms INTEGER NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'pending',"
	"  reason TEXT,"
	"  origin TEXT,"
	"  first_arrival_ms INTEGER,"
	"  decided_ms INTEGER,"
	"  passed_by TEXT,"                 /* JSON array: barrier.passed participants */
	"  PRIMARY KEY (run, id)"
	") WITHOUT ROWID;"
	"CREATE TABLE barrier_members ("
	"  run INTEGER NOT NULL,"
	"  barrier TEXT NOT NULL,"
	"  workflow TEXT NOT NULL,"
	"  pos INTEGER NOT NULL,"
	"  arrived_ms INTEGER,"
	"  arrived_seq INTEGER,"
	"  PRIMARY KEY (run, barrier, workflow)"
	") WITHOUT ROWID;"
	"CREATE TABLE events ("
	"  run INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  ts_ms INTEGER NOT NULL,"
	"  type TEXT NOT NULL,"
	"  workflow TEXT,"
	"  step TEXT,"
	"  barrier TEXT,"
	"  body TEXT NOT NULL,"             /* the JSON line of run --json */
	"  PRIMARY KEY (run, seq)"
	") WITHOUT ROWID;",
	/* 2: lookups by status (unfinished runs, for resume) and a
	 * workflow's events (logs RUN WORKFLOW). */
	"CREATE INDEX runs_by_status ON runs (status);"
	"CREATE INDEX events_by_workflow ON events (run, workflow, seq);",
	/* 3: what resume needs: the pipeline as it was compiled, the run's
	 * arguments, the token its processes carry in their environment,
	 * and each step process (pid == pgid, and its start time). */
	"ALTER TABLE runs ADD COLUMN source BLOB;"        /* the pipeline file's bytes */
	"ALTER TABLE runs ADD COLUMN args TEXT;"          /* JSON: --var values and options */
	"ALTER TABLE runs ADD COLUMN token TEXT;"         /* LOCKSTEP_RUN_TOKEN */
	"ALTER TABLE runs ADD COLUMN takeovers INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE step_attempts ADD COLUMN pid INTEGER;"
	"ALTER TABLE step_attempts ADD COLUMN pgid INTEGER;"
	"ALTER TABLE step_attempts ADD COLUMN pid_start INTEGER;",
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(NMIGRATIONS == STORE_SQLITE_SCHEMA, "one migration per schema version");

static const struct store_ops sqlite_ops;

/*
 * lockstep's mark in the databases it makes: PRAGMA application_id, the
 * number SQLite keeps in the file header for the program that owns the
 * file. "LKST".
 */
#define LOCKSTEP_APP_ID 0x4c4b5354

/* The most $LOCKSTEP_BUSY_TIMEOUT_MS may ask for: one hour. */
#define BUSY_TIMEOUT_MAX_MS 3600000

/*
 * How long a writer waits for another one: BUSY_TIMEOUT_MS, or
 * $LOCKSTEP_BUSY_TIMEOUT_MS when it is set (a knob for tests and
 * operators; docs/store.md). -1 when the variable holds anything but a
 * whole number of milliseconds from 0 to BUSY_TIMEOUT_MAX_MS:
 * store_sqlite_open refuses to open then, so later calls see a valid value.
 */
static int busy_timeout_ms(void)
{
	const char *v = getenv("LOCKSTEP_BUSY_TIMEOUT_MS");
	if (!v || !*v)
		return BUSY_TIMEOUT_MS;
	uint64_t ms;
	if (num_parse(v, 0, BUSY_TIMEOUT_MAX_MS, &ms, NULL) < 0)
		return -1;
	return (int)ms;
}

/* What to do about a damaged database; lockstep never repairs or replaces one. */
#define DAMAGED_HINT \
	". lockstep leaves it as it is: restore it from a backup, or move it away to start a new history"

int sqlite_fail(struct sqlite_store *s, struct buf *err, const char *what)
{
	int code = s->db ? sqlite3_extended_errcode(s->db) : SQLITE_CANTOPEN;
	const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(code);
	if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB) {
		/* The file is the problem, whatever lockstep was doing with it. */
		buf_addf(err, "%s is damaged or is not a lockstep database (%s)" DAMAGED_HINT, s->base.where, msg);
		return STORE_EBACKEND;
	}
	buf_addf(err, "%s: %s: %s", s->base.where, what, msg);
	int sys = s->db ? sqlite3_system_errno(s->db) : 0;
	if (sys && sys != ENOENT && (code & 0xff) != SQLITE_BUSY)
		buf_addf(err, " (%s)", strerror(sys));
	switch (code & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED: {
		int ms = busy_timeout_ms();
		if (ms >= 1000 && ms % 1000 == 0)
			buf_addf(err, " (another process holds its write lock: lockstep waited %d s, then gave up)",
				 ms / 1000);
		else
			buf_addf(err, " (another process holds its write lock: lockstep waited %d ms, then gave up)",
				 ms);
		break;
	}
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
		buf_adds(err, "; lockstep needs to write the state directory and lockstep.db in it");
		break;
	default:
		break;
	}
	return STORE_EBACKEND;
}

int sqlite_check_present(struct sqlite_store *s, struct buf *err)
{
	/*
	 * SQLite keeps writing through its open descriptors into a file that
	 * was deleted (rm -rf STATE), and every commit "succeeds". Its unix
	 * VFS tells when the path no longer leads to the file it opened.
	 */
	int moved = 0;
	if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK || !moved)
		return 0;
	buf_addf(err, "%s was deleted or moved away during the run: lockstep cannot record the run any more",
		 s->base.where);
	return STORE_EBACKEND;
}

int sqlite_exec(struct sqlite_store *s, const char *sql, struct buf *err, const char *what)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sqlite_fail(s, err, what);
	return 0;
}

void sqlite_rollback(struct sqlite_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

void sqlite_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* The value of `pragma` (a PRAGMA that returns one integer). */
static int read_pragma(struct sqlite_store *s, const char *pragma, int64_t *v, struct buf *err,
		       const char *what)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, pragma, -1, &st, NULL) != SQLITE_OK)
		return sqlite_fail(s, err, what);
	int rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return sqlite_fail(s, err, what);
	return 0;
}

static int read_version(struct sqlite_store *s, int *v, struct buf *err)
{
	int64_t u;
	int r = read_pragma(s, "PRAGMA user_version", &u, err, "cannot read the schema version");
	*v = (int)u;
	return r;
}

static int refuse_newer(struct sqlite_store *s, int v, struct buf *err)
{
	buf_addf(err, "%s was written by a newer lockstep (schema %d); this lockstep knows up to %d",
		 s->base.where, v, STORE_SQLITE_SCHEMA);
	return STORE_ENEWER;
}

/* What to do about a database lockstep did not make. */
#define FOREIGN_HINT ". lockstep leaves it as it is: give another --state DIR, or move the file away"

/*
 * Appends to `out` the objects (tables, indexes, views, triggers; not
 * SQLite's own) of database `a` that database `b` lacks, as "table x,
 * index y", at most three and "and N more". Returns how many there are,
 * or -1 when a query fails (sqlite3_errmsg of either database says why).
 */
static long objects_lacking(sqlite3 *a, sqlite3 *b, struct buf *out)
{
	static const char list_sql[] =
		"SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid";
	static const char find_sql[] = "SELECT 1 FROM sqlite_master WHERE type = ?1 AND name = ?2";
	sqlite3_stmt *list = NULL, *find = NULL;
	long n = -1;
	if (sqlite3_prepare_v2(a, list_sql, -1, &list, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(b, find_sql, -1, &find, NULL) != SQLITE_OK)
		goto out;
	long lacking = 0;
	int rc;
	while ((rc = sqlite3_step(list)) == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(list, 0);
		const char *name = (const char *)sqlite3_column_text(list, 1);
		sqlite3_bind_text(find, 1, type ? type : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(find, 2, name ? name : "", -1, SQLITE_STATIC);
		int found = sqlite3_step(find);
		sqlite3_reset(find);
		if (found == SQLITE_ROW)
			continue;
		if (found != SQLITE_DONE)
			goto out;
		if (++lacking <= 3)
			buf_addf(out, "%s%s %s", lacking > 1 ? ", " : "", type ? type : "?", name ? name : "?");
	}
	if (rc != SQLITE_DONE)
		goto out;
	if (lacking > 3)
		buf_addf(out, " and %ld more", lacking - 3);
	n = lacking;
out:
	sqlite3_finalize(list);
	sqlite3_finalize(find);
	return n;
}

/*
 * Is the open database lockstep's? Yes when it has lockstep's mark; and,
 * without the mark, when it is empty (new) or holds exactly the schema
 * that lockstep's migrations make for its user_version (a lockstep from
 * before the mark made it): then s->unmarked is set, and a writer marks
 * it (upgrade). Anything else is another program's database: refused
 * with STORE_EFOREIGN and a message that says what was found.
 */
static int check_owner(struct sqlite_store *s, struct buf *err)
{
	int64_t app;
	int r = read_pragma(s, "PRAGMA application_id", &app, err, "cannot read the application id");
	if (r < 0 || app == LOCKSTEP_APP_ID)
		return r;
	if (app != 0) {
		buf_addf(err, "%s is not a lockstep database: it belongs to another program (application_id 0x%08x; lockstep's is 0x%08x)" FOREIGN_HINT,
			 s->base.where, (unsigned)(uint32_t)app, (unsigned)LOCKSTEP_APP_ID);
		return STORE_EFOREIGN;
	}
	/* The schema lockstep's migrations make for this version, in memory. */
	sqlite3 *ref = NULL;
	if (sqlite3_open_v2(":memory:", &ref, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		xalloc_die();
	for (int v = 0; v < s->version && v < STORE_SQLITE_SCHEMA; v++)
		if (sqlite3_exec(ref, migrations[v], NULL, NULL, NULL) != SQLITE_OK)
			xalloc_die(); /* the migrations are constant: only memory can fail */
	struct buf extra = BUF_INIT, missing = BUF_INIT;
	long nextra = objects_lacking(s->db, ref, &extra);
	long nmissing = nextra < 0 ? -1 : objects_lacking(ref, s->db, &missing);
	sqlite3_close_v2(ref);
	if (nextra < 0 || nmissing < 0)
		r = sqlite_fail(s, err, "cannot read the schema");
	else if (nextra && !s->version)
		buf_addf(err, "%s is not a lockstep database: it holds %s, and neither lockstep's mark nor a schema version (application_id 0, user_version 0)" FOREIGN_HINT,
			 s->base.where, extra.s);
	else if (nextra)
		buf_addf(err, "%s is not a lockstep database: it holds %s, which lockstep's schema %d does not have, and no lockstep mark (application_id 0)" FOREIGN_HINT,
			 s->base.where, extra.s, s->version);
	else if (nmissing)
		buf_addf(err, "%s is not a lockstep database: it lacks %s of lockstep's schema %d, and has no lockstep mark (application_id 0)" FOREIGN_HINT,
			 s->base.where, missing.s, s->version);
	else
		s->unmarked = true;
	if (!r && (nextra || nmissing))
		r = STORE_EFOREIGN;
	buf_release(&extra);
	buf_release(&missing);
	return r;
}

/*
 * A state directory from before the store has STATE/logs/1, 2, ...: the
 * new database starts counting after the largest, so no run writes its
 * logs into an old run's directory.
 */
static int seed_run_ids(struct sqlite_store *s, struct buf *err)
{
	struct buf logs = BUF_INIT;
	buf_addf(&logs, "%s/logs", s->base.state_dir);
	uint64_t max = 0;
	uv_fs_t req;
	if (uv_fs_scandir(NULL, &req, logs.s, 0, NULL) >= 0) {
		uv_dirent_t ent;
		while (uv_fs_scandir_next(&req, &ent) != UV_EOF) {
			uint64_t v;
			if (num_parse(ent.name, 1, STORE_RUN_ID_MAX, &v, NULL) == 0 && ent.name[0] != '0' && v > max)
				max = v;
		}
	}
	uv_fs_req_cleanup(&req);
	buf_release(&logs);
	if (!max)
		return 0;
	char sql[128];
	snprintf(sql, sizeof(sql), "INSERT INTO sqlite_sequence (name, seq) VALUES ('runs', %" PRIu64 ")",
		 max);
	return sqlite_exec(s, sql, err, "cannot continue the run ids of STATE/logs");
}

/*
 * Brings the schema to version `target` and marks the database as
 * lockstep's, in one write transaction.
 */
static int upgrade(struct sqlite_store *s, int target, struct buf *err)
{
	int r = sqlite_exec(s, "BEGIN IMMEDIATE", err, "cannot upgrade the database");
	if (r < 0)
		return r;
	/* Another process may have migrated since we looked. */
	int v;
	if ((r = read_version(s, &v, err)) < 0)
		goto out;
	if (v > STORE_SQLITE_SCHEMA) {
		r = refuse_newer(s, v, err);
		goto out;
	}
	for (; v < target; v++) {
		char what[64];
		snprintf(what, sizeof(what), "cannot upgrade the database to schema %d", v + 1);
		if ((r = sqlite_exec(s, migrations[v], err, what)) < 0)
			goto out;
		if (v == 0 && (r = seed_run_ids(s, err)) < 0)
			goto out;
	}
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
	if ((r = sqlite_exec(s, sql, err, "cannot record the schema version")) < 0)
		goto out;
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", LOCKSTEP_APP_ID);
	if ((r = sqlite_exec(s, sql, err, "cannot mark the database as lockstep's")) < 0)
		goto out;
	if ((r = sqlite_exec(s, "COMMIT", err, "cannot upgrade the database")) < 0)
		goto out;
	s->version = v;
	s->unmarked = false;
	return 0;
out:
	sqlite_rollback(s);
	return r;
}

/* "file:PATH?immutable=1", PATH percent-encoded where a URI needs it. */
static char *immutable_uri(const char *path)
{
	struct buf u = BUF_INIT;
	buf_adds(&u, "file:");
	for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
		if (*c == '%' || *c == '?' || *c == '#' || *c < 0x20 || *c >= 0x7f)
			buf_addf(&u, "%%%02X", *c);
		else
			buf_addc(&u, (char)*c);
	}
	buf_adds(&u, "?immutable=1");
	return buf_detach(&u, NULL);
}

/*
 * Opens the database file and reads its schema version. With `how` 0 for
 * reading and writing; 1 read-only; 2 read-only and immutable: the last
 * resort of a reader in a directory it cannot write (a WAL database needs
 * its -shm file, which then cannot be created).
 */
static int open_db(struct sqlite_store *s, int how, bool create, struct buf *err)
{
	int oflags = SQLITE_OPEN_NOMUTEX;
	oflags |= how ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	if (create && !how)
		oflags |= SQLITE_OPEN_CREATE;
#ifdef SQLITE_OPEN_EXRESCODE
	oflags |= SQLITE_OPEN_EXRESCODE;
#endif
	/*
	 * A new database appears whole. SQLite creates a file empty and writes
	 * its header later, so another lockstep could find a lockstep.db of 0
	 * bytes in between. Instead it is made under a temporary name and then
	 * linked into place, which fails when another lockstep was first (then
	 * that one is used). So a lockstep.db of 0 bytes is always a damaged
	 * one, and store_sqlite_open refuses it. On a file system without hard
	 * links the database is created in place.
	 */
	if (create && !how && access(s->base.where, F_OK) < 0 && errno == ENOENT) {
		struct buf tmp = BUF_INIT;
		buf_addf(&tmp, "%s.new.%ld", s->base.where, (long)getpid());
		unlink(tmp.s);
		/* Its owner's only: SQLite would make it 0644, and it gives the
		 * -wal and -shm files the database's own mode. */
		int fd = open(tmp.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
		sqlite3 *db = NULL;
		int rc = sqlite3_open_v2(tmp.s, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
					 NULL);
		/* Marking it writes its header; it is born lockstep's. */
		if (rc == SQLITE_OK) {
			char sql[64];
			snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", LOCKSTEP_APP_ID);
			rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
		}
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			buf_addf(err, "%s: cannot create %s: %s", s->base.where, tmp.s,
				 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
			sqlite3_close_v2(db);
			unlink(tmp.s);
			buf_release(&tmp);
			return STORE_EBACKEND;
		}
		sqlite3_close_v2(db);
		struct stat sb;
		int e = 0;
		if (stat(tmp.s, &sb) == 0 && sb.st_size > 0 && link(tmp.s, s->base.where) < 0 && errno != EEXIST)
			e = errno;
		unlink(tmp.s);
		buf_release(&tmp);
		if (e && e != EPERM && e != ENOTSUP && e != EOPNOTSUPP && e != EMLINK) {
			buf_addf(err, "cannot create %s: %s", s->base.where, strerror(e));
			return -e;
		}
		/* Created, by this lockstep or another; or, without hard links, to be created in place. */
		if (!e && access(s->base.where, F_OK) == 0)
			oflags &= ~SQLITE_OPEN_CREATE;
	}
	char *uri = NULL;
	if (how == 2) {
		oflags |= SQLITE_OPEN_URI;
		uri = immutable_uri(s->base.where);
	}
	bool made = (oflags & SQLITE_OPEN_CREATE) && access(s->base.where, F_OK) < 0;
	int rc = sqlite3_open_v2(uri ? uri : s->base.where, &s->db, oflags, NULL);
	free(uri);
	if (rc != SQLITE_OK)
		return sqlite_fail(s, err, "cannot open");
	/* Made in place (no hard links): private before its -wal and -shm exist. */
	if (made)
		chmod(s->base.where, 0600);
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, busy_timeout_ms());
	s->read_only = how != 0;
	return read_version(s, &s->version, err);
}

static void close_db(struct sqlite_store *s)
{
	for (int i = 0; i < S_COUNT; i++) {
		sqlite3_finalize(s->stmts[i]);
		s->stmts[i] = NULL;
	}
	if (s->db)
		sqlite3_close_v2(s->db);
	s->db = NULL;
}

static void sqlite_close(struct store *st)
{
	struct sqlite_store *s = S(st);
	close_db(s);
	free(s->base.state_dir);
	free(s->base.where);
	free(s);
}

int store_sqlite_open(const char *state_dir, unsigned flags, int target, struct store **out,
		      struct buf *err)
{
	*out = NULL;
	if (!target)
		target = STORE_SQLITE_SCHEMA;
	struct stat sb;
	if (stat(state_dir, &sb) < 0) {
		int e = errno;
		if (e == ENOENT && !(flags & STORE_CREATE)) {
			buf_addf(err, "no state directory '%s' (nothing has run there; give --state DIR or set LOCKSTEP_STATE)",
				 state_dir);
			return STORE_ENOSTATE;
		}
		if (e != ENOENT) {
			buf_addf(err, "cannot use state directory '%s': %s", state_dir, strerror(e));
			return -e;
		}
		int r = store_mkdirs(state_dir, err);
		if (r < 0)
			return r;
	} else if (!S_ISDIR(sb.st_mode)) {
		buf_addf(err, "state directory '%s' is not a directory", state_dir);
		return -ENOTDIR;
	}

	if (busy_timeout_ms() < 0) {
		buf_addf(err, "LOCKSTEP_BUSY_TIMEOUT_MS is '%s': it must be a whole number of milliseconds from 0 to %d",
			 getenv("LOCKSTEP_BUSY_TIMEOUT_MS"), BUSY_TIMEOUT_MAX_MS);
		return -EINVAL;
	}

	struct sqlite_store *s = xcalloc(1, sizeof(*s));
	s->base.ops = &sqlite_ops;
	s->base.state_dir = xstrdup(state_dir);
	struct buf where = BUF_INIT;
	buf_addf(&where, "%s/lockstep.db", state_dir);
	s->base.where = buf_detach(&where, NULL);

	bool reader = flags & STORE_READONLY;
	if (reader && access(s->base.where, F_OK) < 0 && errno == ENOENT) {
		/* Nothing has been recorded here yet: an empty history. */
		*out = &s->base;
		return 0;
	}
	int r;
	/* SQLite would take an empty file for a new database and write one
	 * into it, hiding that a history was lost; no lockstep leaves one
	 * (open_db). */
	struct stat db;
	if (stat(s->base.where, &db) == 0 && S_ISREG(db.st_mode) && db.st_size == 0) {
		buf_addf(err, "%s is damaged or is not a lockstep database (the file is empty)" DAMAGED_HINT,
			 s->base.where);
		r = STORE_EBACKEND;
		goto fail;
	}
	/* A writer says plainly what it cannot write (SQLite's messages for
	 * it are vague: "unable to open database file"). */
	if (!reader && access(state_dir, W_OK) < 0) {
		r = -errno;
		buf_addf(err, "cannot write to state directory '%s': %s", state_dir, strerror(errno));
		goto fail;
	}
	if (!reader && access(s->base.where, W_OK) < 0 && errno != ENOENT) {
		r = -errno;
		buf_addf(err, "cannot write to %s: %s", s->base.where, strerror(errno));
		goto fail;
	}
	r = open_db(s, 0, !reader, err);
	/* A reader that cannot write tries harder before giving up. */
	for (int how = 1; r < 0 && reader && r != STORE_ENEWER && how <= 2; how++) {
		close_db(s);
		struct buf again = BUF_INIT;
		r = open_db(s, how, false, &again);
		buf_release(&again);
		if (r == 0)
			buf_reset(err);
	}
	if (r < 0 || (r = check_owner(s, err)) < 0)
		goto fail;
	if (s->version > STORE_SQLITE_SCHEMA) {
		r = refuse_newer(s, s->version, err);
		goto fail;
	}
	/*
	 * A small page cache (256 KiB instead of 2 MiB): `lockstep run` forks
	 * for every step, and every page of its memory makes each fork slower
	 * (page tables to copy, copy-on-write faults after it). The pages the
	 * store needs again are in the OS's page cache anyway.
	 */
	if ((r = sqlite_exec(s, "PRAGMA cache_size = -256", err, "cannot set the cache size")) < 0)
		goto fail;
	/* A reader writes nothing: not into a database created but not yet
	 * written (by a lockstep about to write it), and it does not migrate
	 * an older one (the reads cope with every older schema). */
	if (!s->read_only && !reader) {
		/* Persistent in the file; cheap to ask again. The busy timeout
		 * covers another process holding the lock meanwhile. */
		if ((r = sqlite_exec(s, "PRAGMA journal_mode = WAL", err, "cannot switch to WAL mode")) < 0)
			goto fail;
		if ((r = sqlite_exec(s, "PRAGMA synchronous = FULL", err, "cannot set synchronous")) < 0)
			goto fail;
		if ((s->version < target || s->unmarked) && (r = upgrade(s, target, err)) < 0)
			goto fail;
	} else if (s->version == 0) {
		/* Created but never written: nothing recorded. */
		close_db(s);
	}
	*out = &s->base;
	return 0;
fail:
	sqlite_close(&s->base);
	return r;
}

static int sqlite_schema_version(struct store *st)
{
	return S(st)->version;
}

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.begin_run = sqlite_begin_run,
	.append = sqlite_append,
	.finish_run = sqlite_finish_run,
	.list_runs = sqlite_list_runs,
	.load_run = sqlite_load_run,
	.read_events = sqlite_read_events,
	.claim_run = sqlite_claim_run,
	.schema_version = sqlite_schema_version,
	.close = sqlite_close,
};
