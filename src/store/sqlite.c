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
 * - File descriptors: SQLite's unix VFS opens every file (the database,
 *   its -wal and -shm) with O_CLOEXEC (robust_open() in os_unix.c), so no
 *   step inherits them; test_store.c checks it.
 */
#include "store/sqlite.h"
#include "store/sqlite_int.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "base/xalloc.h"

static const char *const stmt_sql[S_COUNT] = {
	[S_INSERT_EVENT] =
		"INSERT INTO events (run, seq, ts_ms, type, workflow, step, barrier, body) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_WF_STARTED] =
		"INSERT INTO workflows (run, name, pos, grp, status, started_ms) VALUES (?1, ?2, 1000000000, 0, 'running', ?3) "
		"ON CONFLICT (run, name) DO UPDATE SET status = 'running', started_ms = COALESCE(started_ms, ?3)",
	[S_WF_ROLLBACK] =
		"UPDATE workflows SET status = 'rolling-back', rollback_reason = ?3 WHERE run = ?1 AND name = ?2",
	[S_WF_FINISHED] =
		"UPDATE workflows SET status = ?3, reason = ?4, finished_ms = ?5 WHERE run = ?1 AND name = ?2",
	[S_STEP_STARTED] =
		"INSERT INTO steps (run, workflow, id, pos, rollback, name, kind, status, attempts, started_ms) "
		"VALUES (?1, ?2, ?3, 1000000000, ?6, ?3, 'unknown', 'running', ?4, ?5) "
		"ON CONFLICT (run, workflow, id) DO UPDATE SET status = 'running', attempts = ?4, "
		"started_ms = COALESCE(started_ms, ?5), exit_code = NULL, duration_ms = NULL, finished_ms = NULL",
	[S_ATTEMPT_STARTED] =
		"INSERT OR REPLACE INTO step_attempts (run, workflow, step, attempt, status, started_ms, start_seq) "
		"VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6)",
	[S_STEP_FINISHED] =
		"UPDATE steps SET status = ?4, exit_code = ?5, duration_ms = ?6, finished_ms = ?7 "
		"WHERE run = ?1 AND workflow = ?2 AND id = ?3",
	[S_ATTEMPT_FINISHED] =
		"UPDATE step_attempts SET status = ?4, exit_code = ?5, duration_ms = ?6, finished_ms = ?7 "
		"WHERE run = ?1 AND workflow = ?2 AND step = ?3 "
		"AND attempt = (SELECT attempts FROM steps WHERE run = ?1 AND workflow = ?2 AND id = ?3)",
	[S_MEMBER_ARRIVED] =
		"INSERT INTO barrier_members (run, barrier, workflow, pos, arrived_ms, arrived_seq) "
		"VALUES (?1, ?2, ?3, 1000000000, ?4, ?5) "
		"ON CONFLICT (run, barrier, workflow) DO UPDATE SET arrived_ms = ?4, arrived_seq = ?5",
	[S_BARRIER_ARRIVED] =
		"INSERT INTO barriers (run, id, pos, rollback, timeout_ms, status, first_arrival_ms) "
		"VALUES (?1, ?2, 1000000000, 0, 0, 'waiting', ?3) "
		"ON CONFLICT (run, id) DO UPDATE SET first_arrival_ms = COALESCE(first_arrival_ms, ?3), "
		"status = CASE status WHEN 'pending' THEN 'waiting' ELSE status END",
	[S_BARRIER_PASSED] =
		"INSERT INTO barriers (run, id, pos, rollback, timeout_ms, status, decided_ms, passed_by) "
		"VALUES (?1, ?2, 1000000000, 0, 0, 'passed', ?3, ?4) "
		"ON CONFLICT (run, id) DO UPDATE SET status = 'passed', decided_ms = ?3, passed_by = ?4",
	[S_BARRIER_BROKEN] =
		"INSERT INTO barriers (run, id, pos, rollback, timeout_ms, status, decided_ms, reason, origin) "
		"VALUES (?1, ?2, 1000000000, 0, 0, 'broken', ?3, ?4, ?5) "
		"ON CONFLICT (run, id) DO UPDATE SET status = 'broken', decided_ms = ?3, reason = ?4, origin = ?5",
	[S_RUN_FINISHED] =
		"UPDATE runs SET status = ?2, finished_ms = ?3 WHERE id = ?1",
	[S_RUN_SEQ] =
		"UPDATE runs SET last_seq = ?2 WHERE id = ?1 AND last_seq < ?2",
	[S_ATTEMPT_PROCESS] =
		"UPDATE step_attempts SET pid = ?5, pgid = ?5, pid_start = ?6 "
		"WHERE run = ?1 AND workflow = ?2 AND step = ?3 AND attempt = ?4",
};

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
	if (*v < '0' || *v > '9')
		return -1;
	char *end;
	errno = 0;
	long ms = strtol(v, &end, 10);
	if (errno || *end || ms > BUSY_TIMEOUT_MAX_MS)
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

static sqlite3_stmt *stmt(struct sqlite_store *s, enum stmt_id id, struct buf *err)
{
	if (!s->stmts[id] &&
	    sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[id], NULL) !=
		    SQLITE_OK) {
		sqlite_fail(s, err, "cannot prepare a statement");
		return NULL;
	}
	sqlite3_reset(s->stmts[id]);
	sqlite3_clear_bindings(s->stmts[id]);
	return s->stmts[id];
}

void sqlite_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Runs a statement that returns no rows. */
static int step_done(struct sqlite_store *s, sqlite3_stmt *st, struct buf *err, const char *what)
{
	int rc = sqlite3_step(st);
	int r = rc == SQLITE_DONE ? 0 : sqlite_fail(s, err, what);
	sqlite3_reset(st);
	return r;
}

static int read_version(struct sqlite_store *s, int *v, struct buf *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return sqlite_fail(s, err, "cannot read the schema version");
	int rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return sqlite_fail(s, err, "cannot read the schema version");
	return 0;
}

static int refuse_newer(struct sqlite_store *s, int v, struct buf *err)
{
	buf_addf(err, "%s was written by a newer lockstep (schema %d); this lockstep knows up to %d",
		 s->base.where, v, STORE_SQLITE_SCHEMA);
	return STORE_ENEWER;
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
			char *end;
			unsigned long long v = strtoull(ent.name, &end, 10);
			if (*end == '\0' && ent.name[0] >= '1' && ent.name[0] <= '9' && v > max)
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

/* Brings the schema to version `target` in one write transaction. */
static int migrate(struct sqlite_store *s, int target, struct buf *err)
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
	if ((r = sqlite_exec(s, "COMMIT", err, "cannot upgrade the database")) < 0)
		goto out;
	s->version = v;
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
		sqlite3 *db = NULL;
		int rc = sqlite3_open_v2(tmp.s, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
					 NULL);
		/* Switching an empty database to WAL writes its header. */
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
	int rc = sqlite3_open_v2(uri ? uri : s->base.where, &s->db, oflags, NULL);
	free(uri);
	if (rc != SQLITE_OK)
		return sqlite_fail(s, err, "cannot open");
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
	if (r < 0)
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
		if (s->version < target && (r = migrate(s, target, err)) < 0)
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

static int no_db(struct sqlite_store *s, struct buf *err)
{
	buf_addf(err, "%s: no database", s->base.where);
	return STORE_EBACKEND;
}

/* ---- writing ---- */

static int insert_plan(struct sqlite_store *s, uint64_t id, const struct plan *plan, struct buf *err)
{
	sqlite3_stmt *wf = NULL, *stp = NULL, *bar = NULL, *mem = NULL;
	int r = 0;
#define PREP(var, sql)                                                                  \
	if (sqlite3_prepare_v2(s->db, sql, -1, &var, NULL) != SQLITE_OK) {              \
		r = sqlite_fail(s, err, "cannot record the plan");                             \
		goto out;                                                               \
	}
	PREP(wf, "INSERT INTO workflows (run, name, pos, grp) VALUES (?1, ?2, ?3, ?4)");
	PREP(stp, "INSERT OR IGNORE INTO steps (run, workflow, id, pos, rollback, name, kind) "
		  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
	PREP(bar, "INSERT OR IGNORE INTO barriers (run, id, pos, title, rollback, timeout_ms) "
		  "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
	PREP(mem, "INSERT OR IGNORE INTO barrier_members (run, barrier, workflow, pos) VALUES (?1, ?2, ?3, ?4)");
#undef PREP
	for (size_t i = 0; i < plan->nworkflows; i++) {
		const struct plan_workflow *pw = &plan->workflows[i];
		sqlite3_bind_int64(wf, 1, (sqlite3_int64)id);
		sqlite_bind_text(wf, 2, pw->name);
		sqlite3_bind_int64(wf, 3, (sqlite3_int64)i);
		sqlite3_bind_int64(wf, 4, (sqlite3_int64)pw->group);
		if ((r = step_done(s, wf, err, "cannot record the plan")) < 0)
			goto out;
		size_t pos = 0;
		for (int rb = 0; rb < 2; rb++) {
			const struct plan_step *list = rb ? pw->rollback : pw->steps;
			size_t n = rb ? pw->nrollback : pw->nsteps;
			for (size_t k = 0; k < n; k++, pos++) {
				sqlite3_bind_int64(stp, 1, (sqlite3_int64)id);
				sqlite_bind_text(stp, 2, pw->name);
				sqlite_bind_text(stp, 3, list[k].id);
				sqlite3_bind_int64(stp, 4, (sqlite3_int64)pos);
				sqlite3_bind_int(stp, 5, rb);
				sqlite_bind_text(stp, 6, list[k].name);
				sqlite_bind_text(stp, 7, step_kind_name(list[k].src->kind));
				if ((r = step_done(s, stp, err, "cannot record the plan")) < 0)
					goto out;
			}
		}
	}
	size_t pos = 0;
	for (int rb = 0; rb < 2; rb++) {
		const struct plan_barrier *list = rb ? plan->rollback_barriers : plan->barriers;
		size_t n = rb ? plan->nrollback_barriers : plan->nbarriers;
		for (size_t k = 0; k < n; k++, pos++) {
			const struct plan_barrier *b = &list[k];
			sqlite3_bind_int64(bar, 1, (sqlite3_int64)id);
			sqlite_bind_text(bar, 2, b->id);
			sqlite3_bind_int64(bar, 3, (sqlite3_int64)pos);
			sqlite_bind_text(bar, 4, b->title);
			sqlite3_bind_int(bar, 5, rb);
			sqlite3_bind_int64(bar, 6, (sqlite3_int64)b->timeout_ms);
			if ((r = step_done(s, bar, err, "cannot record the plan")) < 0)
				goto out;
			for (size_t u = 0; u < b->nuses; u++) {
				sqlite3_bind_int64(mem, 1, (sqlite3_int64)id);
				sqlite_bind_text(mem, 2, b->id);
				sqlite_bind_text(mem, 3, plan->workflows[b->uses[u].wf].name);
				sqlite3_bind_int64(mem, 4, (sqlite3_int64)u);
				if ((r = step_done(s, mem, err, "cannot record the plan")) < 0)
					goto out;
			}
		}
	}
out:
	sqlite3_finalize(wf);
	sqlite3_finalize(stp);
	sqlite3_finalize(bar);
	sqlite3_finalize(mem);
	return r;
}

static int sqlite_begin_run(struct store *st, const struct store_run_start *rs, uint64_t *id,
			    struct buf *err)
{
	struct sqlite_store *s = S(st);
	if (!s->db)
		return no_db(s, err);
	int r = sqlite_exec(s, "BEGIN IMMEDIATE", err, "cannot record a new run");
	if (r < 0)
		return r;
	sqlite3_stmt *ins;
	/* Schema 3 added what resume needs (tests open older schemas too). */
	const char *sql = s->version >= 3
		? "INSERT INTO runs (pipeline, file, status, started_ms, host, pid, pid_start, "
		  "source, args, token) VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
		: "INSERT INTO runs (pipeline, file, status, started_ms, host, pid, pid_start) "
		  "VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6)";
	if (sqlite3_prepare_v2(s->db, sql, -1, &ins, NULL) != SQLITE_OK) {
		r = sqlite_fail(s, err, "cannot record a new run");
		sqlite_rollback(s);
		return r;
	}
	sqlite_bind_text(ins, 1, rs->plan->pipeline->name);
	sqlite_bind_text(ins, 2, rs->file);
	sqlite3_bind_int64(ins, 3, rs->started_ms);
	sqlite_bind_text(ins, 4, rs->host);
	sqlite3_bind_int(ins, 5, rs->pid);
	sqlite3_bind_int64(ins, 6, (sqlite3_int64)rs->pid_start);
	if (s->version >= 3) {
		if (rs->source)
			sqlite3_bind_blob64(ins, 7, rs->source, rs->source_len, SQLITE_STATIC);
		else
			sqlite3_bind_null(ins, 7);
		sqlite_bind_text(ins, 8, rs->args);
		sqlite_bind_text(ins, 9, rs->token);
	}
	r = step_done(s, ins, err, "cannot record a new run");
	sqlite3_finalize(ins);
	if (r == 0) {
		*id = (uint64_t)sqlite3_last_insert_rowid(s->db);
		r = insert_plan(s, *id, rs->plan, err);
	}
	if (r == 0)
		r = sqlite_exec(s, "COMMIT", err, "cannot record a new run");
	if (r < 0)
		sqlite_rollback(s);
	return r;
}

/* Binds ?1 run, ?2 workflow, ?3 step: the key of a step's rows. */
static void bind_step_key(sqlite3_stmt *st, uint64_t run, const struct event *ev)
{
	sqlite3_bind_int64(st, 1, (sqlite3_int64)run);
	sqlite_bind_text(st, 2, ev->workflow);
	sqlite_bind_text(st, 3, ev->step);
}

static int record_one(struct sqlite_store *s, uint64_t run, const struct event *ev, struct buf *body,
		      struct buf *err)
{
	const char *what = "cannot record events";
	sqlite3_stmt *st;
	if (ev->type == EV_STEP_PROCESS) {
		/* Internal: not an event of the run, a fact about an attempt. */
		if (!(st = stmt(s, S_ATTEMPT_PROCESS, err)))
			return STORE_EBACKEND;
		bind_step_key(st, run, ev);
		sqlite3_bind_int(st, 4, ev->attempt);
		sqlite3_bind_int(st, 5, ev->pid);
		sqlite3_bind_int64(st, 6, (sqlite3_int64)ev->pid_start);
		return step_done(s, st, err, what);
	}
	buf_reset(body);
	event_to_json(ev, body);
	if (!(st = stmt(s, S_INSERT_EVENT, err)))
		return STORE_EBACKEND;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)run);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)ev->seq);
	sqlite3_bind_int64(st, 3, ev->ts_ms);
	sqlite_bind_text(st, 4, event_type_name(ev->type));
	sqlite_bind_text(st, 5, ev->workflow);
	sqlite_bind_text(st, 6, ev->step);
	sqlite_bind_text(st, 7, ev->barrier);
	sqlite3_bind_text(st, 8, body->s, (int)body->len, SQLITE_STATIC);
	int r = step_done(s, st, err, what);
	if (r < 0)
		return r;

	switch (ev->type) {
	case EV_WORKFLOW_STARTED:
		if (!(st = stmt(s, S_WF_STARTED, err)))
			return STORE_EBACKEND;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)run);
		sqlite_bind_text(st, 2, ev->workflow);
		sqlite3_bind_int64(st, 3, ev->ts_ms);
		return step_done(s, st, err, what);
	case EV_WORKFLOW_ROLLBACK:
		if (!(st = stmt(s, S_WF_ROLLBACK, err)))
			return STORE_EBACKEND;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)run);
		sqlite_bind_text(st, 2, ev->workflow);
		sqlite_bind_text(st, 3, ev->reason);
		return step_done(s, st, err, what);
	case EV_WORKFLOW_FINISHED:
		if (!(st = stmt(s, S_WF_FINISHED, err)))
			return STORE_EBACKEND;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)run);
		sqlite_bind_text(st, 2, ev->workflow);
		sqlite_bind_text(st, 3, ev->status);
		sqlite_bind_text(st, 4, ev->reason);
		sqlite3_bind_int64(st, 5, ev->ts_ms);
		return step_done(s, st, err, what);
	case EV_STEP_STARTED:
		if (!(st = stmt(s, S_STEP_STARTED, err)))
			return STORE_EBACKEND;
		bind_step_key(st, run, ev);
		sqlite3_bind_int(st, 4, ev->attempt);
		sqlite3_bind_int64(st, 5, ev->ts_ms);
		sqlite3_bind_int(st, 6, ev->rollback);
		if ((r = step_done(s, st, err, what)) < 0)
			return r;
		if (!(st = stmt(s, S_ATTEMPT_STARTED, err)))
			return STORE_EBACKEND;
		bind_step_key(st, run, ev);
		sqlite3_bind_int(st, 4, ev->attempt);
		sqlite3_bind_int64(st, 5, ev->ts_ms);
		sqlite3_bind_int64(st, 6, (sqlite3_int64)ev->seq);
		return step_done(s, st, err, what);
	case EV_STEP_FINISHED:
		/* The attempt first: it finds itself through steps.attempts. */
		for (int k = 0; k < 2; k++) {
			if (!(st = stmt(s, k ? S_STEP_FINISHED : S_ATTEMPT_FINISHED, err)))
				return STORE_EBACKEND;
			bind_step_key(st, run, ev);
			sqlite_bind_text(st, 4, ev->status);
			if (ev->has_exit_code)
				sqlite3_bind_int(st, 5, ev->exit_code);
			else
				sqlite3_bind_null(st, 5);
			sqlite3_bind_int64(st, 6, (sqlite3_int64)ev->duration_ms);
			sqlite3_bind_int64(st, 7, ev->ts_ms);
			if ((r = step_done(s, st, err, what)) < 0)
				return r;
		}
		return 0;
	case EV_BARRIER_ARRIVED:
		if (!(st = stmt(s, S_MEMBER_ARRIVED, err)))
			return STORE_EBACKEND;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)run);
		sqlite_bind_text(st, 2, ev->barrier);
		sqlite_bind_text(st, 3, ev->workflow);
		sqlite3_bind_int64(st, 4, ev->ts_ms);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)ev->seq);
		if ((r = step_done(s, st, err, what)) < 0)
			return r;
		if (!(st = stmt(s, S_BARRIER_ARRIVED, err)))
			return STORE_EBACKEND;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)run);
		sqlite_bind_text(st, 2, ev->barrier);
		sqlite3_bind_int64(st, 3, ev->ts_ms);
		return step_done(s, st, err, what);
	case EV_BARRIER_PASSED: {
		struct buf parts = BUF_INIT;
		buf_addc(&parts, '[');
		for (size_t i = 0; i < ev->nparticipants; i++) {
			if (i)
				buf_addc(&parts, ',');
			buf_add_json_str(&parts, ev->participants[i]);
		}
		buf_addc(&parts, ']');
		if (!(st = stmt(s, S_BARRIER_PASSED, err))) {
			buf_release(&parts);
			return STORE_EBACKEND;
		}
		sqlite3_bind_int64(st, 1, (sqlite3_int64)run);
		sqlite_bind_text(st, 2, ev->barrier);
		sqlite3_bind_int64(st, 3, ev->ts_ms);
		sqlite_bind_text(st, 4, parts.s);
		r = step_done(s, st, err, what);
		buf_release(&parts);
		return r;
	}
	case EV_BARRIER_BROKEN:
		if (!(st = stmt(s, S_BARRIER_BROKEN, err)))
			return STORE_EBACKEND;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)run);
		sqlite_bind_text(st, 2, ev->barrier);
		sqlite3_bind_int64(st, 3, ev->ts_ms);
		sqlite_bind_text(st, 4, ev->reason);
		sqlite_bind_text(st, 5, ev->origin);
		return step_done(s, st, err, what);
	case EV_RUN_FINISHED:
		if (!(st = stmt(s, S_RUN_FINISHED, err)))
			return STORE_EBACKEND;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)run);
		sqlite_bind_text(st, 2, ev->status);
		sqlite3_bind_int64(st, 3, ev->ts_ms);
		return step_done(s, st, err, what);
	case EV_RUN_STARTED:
	case EV_GROUP_STARTED:
	case EV_RUN_RESUMED:
	case EV_STEP_PROCESS:
	case EV_TYPE_COUNT:
		break;
	}
	return 0;
}

static int sqlite_append(struct store *st, uint64_t run, const struct event *const *evs, size_t n,
			 struct buf *err)
{
	struct sqlite_store *s = S(st);
	if (!s->db)
		return no_db(s, err);
	int r = sqlite_exec(s, "BEGIN IMMEDIATE", err, "cannot record events");
	if (r < 0)
		return r;
	struct buf body = BUF_INIT;
	uint64_t last = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		r = record_one(s, run, evs[i], &body, err);
		if (evs[i]->seq > last)
			last = evs[i]->seq;
	}
	buf_release(&body);
	if (r == 0 && last) {
		sqlite3_stmt *q = stmt(s, S_RUN_SEQ, err);
		if (!q) {
			r = STORE_EBACKEND;
		} else {
			sqlite3_bind_int64(q, 1, (sqlite3_int64)run);
			sqlite3_bind_int64(q, 2, (sqlite3_int64)last);
			r = step_done(s, q, err, "cannot record events");
		}
	}
	if (r == 0)
		r = sqlite_exec(s, "COMMIT", err, "cannot record events");
	if (r < 0)
		sqlite_rollback(s);
	return r;
}

static int sqlite_finish_run(struct store *st, uint64_t run, const char *status, int64_t ts_ms,
			     struct buf *err)
{
	struct sqlite_store *s = S(st);
	if (!s->db)
		return no_db(s, err);
	int r = sqlite_exec(s, "BEGIN IMMEDIATE", err, "cannot record the end of the run");
	if (r < 0)
		return r;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(s->db,
			       "UPDATE runs SET status = ?2, finished_ms = COALESCE(finished_ms, ?3) WHERE id = ?1",
			       -1, &q, NULL) != SQLITE_OK) {
		r = sqlite_fail(s, err, "cannot record the end of the run");
		sqlite_rollback(s);
		return r;
	}
	sqlite3_bind_int64(q, 1, (sqlite3_int64)run);
	sqlite_bind_text(q, 2, status);
	sqlite3_bind_int64(q, 3, ts_ms);
	r = step_done(s, q, err, "cannot record the end of the run");
	sqlite3_finalize(q);
	if (r == 0)
		r = sqlite_exec(s, "COMMIT", err, "cannot record the end of the run");
	if (r < 0)
		sqlite_rollback(s);
	return r;
}

/* The run's row, read inside the claim's transaction. */
static int claim_read(struct sqlite_store *s, uint64_t id, struct store_claim *out, const char **status,
		      uint64_t *owner_start, struct buf *err)
{
	const char *what = "cannot take the run over";
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT status, pipeline, file, source, args, token, last_seq, host, pid, pid_start "
			       "FROM runs WHERE id = ?1",
			       -1, &q, NULL) != SQLITE_OK)
		return sqlite_fail(s, err, what);
	sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
	int rc = sqlite3_step(q);
	int r = 0;
	if (rc == SQLITE_ROW) {
		struct arena *a = &out->arena;
		const char *t;
		out->id = id;
		*status = arena_strdup(a, (const char *)sqlite3_column_text(q, 0));
		out->pipeline = arena_strdup(a, (const char *)sqlite3_column_text(q, 1));
		out->file = arena_strdup(a, (const char *)sqlite3_column_text(q, 2));
		if (sqlite3_column_type(q, 3) != SQLITE_NULL) {
			const void *b = sqlite3_column_blob(q, 3);
			out->source_len = (size_t)sqlite3_column_bytes(q, 3);
			out->source = arena_strndup(a, b ? b : "", out->source_len);
		}
		if ((t = (const char *)sqlite3_column_text(q, 4)))
			out->args = arena_strdup(a, t);
		if ((t = (const char *)sqlite3_column_text(q, 5)))
			out->token = arena_strdup(a, t);
		out->last_seq = (uint64_t)sqlite3_column_int64(q, 6);
		out->old_host = arena_strdup(a, (const char *)sqlite3_column_text(q, 7));
		out->old_pid = sqlite3_column_int(q, 8);
		*owner_start = (uint64_t)sqlite3_column_int64(q, 9);
	} else if (rc == SQLITE_DONE) {
		buf_addf(err, "no run %" PRIu64 " in %s", id, store_where(&s->base));
		r = STORE_ENOTFOUND;
	} else {
		r = sqlite_fail(s, err, what);
	}
	sqlite3_finalize(q);
	return r;
}

static int sqlite_claim_run(struct store *st, uint64_t id, const char *host, int pid, uint64_t pid_start,
			    struct store_claim *out, struct buf *err)
{
	struct sqlite_store *s = S(st);
	const char *what = "cannot take the run over";
	if (!s->db)
		return no_db(s, err);
	/* The write lock first: two claims of one run are serialised. */
	int r = sqlite_exec(s, "BEGIN IMMEDIATE", err, what);
	if (r < 0)
		return r;
	const char *status = NULL;
	uint64_t owner_start = 0;
	r = claim_read(s, id, out, &status, &owner_start, err);
	if (r == 0 && strcmp(status, "running") != 0) {
		buf_addf(err, "run %" PRIu64 " has already finished (%s)", id, status);
		r = STORE_EFINISHED;
	} else if (r == 0 && store_owner_alive(out->old_host, out->old_pid, owner_start)) {
		buf_addf(err, "run %" PRIu64 " is still running: its owner, pid %d on %s, is alive", id,
			 out->old_pid, out->old_host);
		r = STORE_EALIVE;
	}
	if (r == 0) {
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(s->db,
				       "UPDATE runs SET host = ?2, pid = ?3, pid_start = ?4, "
				       "takeovers = takeovers + 1 WHERE id = ?1",
				       -1, &q, NULL) != SQLITE_OK) {
			r = sqlite_fail(s, err, what);
		} else {
			sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
			sqlite_bind_text(q, 2, host);
			sqlite3_bind_int(q, 3, pid);
			sqlite3_bind_int64(q, 4, (sqlite3_int64)pid_start);
			r = step_done(s, q, err, what);
			sqlite3_finalize(q);
		}
	}
	if (r == 0)
		r = sqlite_exec(s, "COMMIT", err, what);
	if (r < 0)
		sqlite_rollback(s);
	return r;
}

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.begin_run = sqlite_begin_run,
	.append = sqlite_append,
	.finish_run = sqlite_finish_run,
	.list_runs = sqlite_list_runs,
	.load_run = sqlite_load_run,
	.claim_run = sqlite_claim_run,
	.schema_version = sqlite_schema_version,
	.close = sqlite_close,
};
