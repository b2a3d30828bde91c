/*
 * sqlite_int: what the SQLite backend's files share (sqlite.c: opening,
 * migrations, errors; sqlite_write.c: what a run writes; sqlite_read.c:
 * what the commands read; sqlite_events.c: paging through a run's
 * events). Private to store/.
 */
#ifndef LS_STORE_SQLITE_INT_H
#define LS_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include <stdbool.h>

#include "base/buf.h"
#include "store/store.h"

/* How long a writer waits for another one before giving up. */
#define BUSY_TIMEOUT_MS 10000

enum stmt_id {
	S_INSERT_EVENT,
	S_WF_STARTED,
	S_WF_ROLLBACK,
	S_WF_FINISHED,
	S_STEP_STARTED,
	S_ATTEMPT_STARTED,
	S_STEP_FINISHED,
	S_ATTEMPT_FINISHED,
	S_MEMBER_ARRIVED,
	S_BARRIER_ARRIVED,
	S_BARRIER_PASSED,
	S_BARRIER_BROKEN,
	S_RUN_FINISHED,
	S_RUN_SEQ,
	S_ATTEMPT_PROCESS,
	S_COUNT
};

struct sqlite_store {
	struct store base;
	sqlite3 *db;               /* NULL: read-only open, no database yet */
	int version;
	bool read_only;             /* opened read-only: a reader in a directory it cannot write */
	bool unmarked;              /* lockstep's, but without its mark (new, or from an older lockstep) */
	sqlite3_stmt *stmts[S_COUNT];
};

static inline struct sqlite_store *S(struct store *st)
{
	return (struct sqlite_store *)st;
}

/*
 * Appends "WHERE: WHAT: SQLite's message", the system error behind it if
 * any, and a hint for the usual causes to `err`; returns STORE_EBACKEND.
 */
int sqlite_fail(struct sqlite_store *s, struct buf *err, const char *what);
/*
 * After a commit: STORE_EBACKEND and a message when the database file is
 * no longer where it was opened (deleted, or moved away), so that what was
 * just committed is not where anyone will look for it; else 0.
 */
int sqlite_check_present(struct sqlite_store *s, struct buf *err);
/* Runs SQL without results; sqlite_fail(what) when it fails. */
int sqlite_exec(struct sqlite_store *s, const char *sql, struct buf *err, const char *what);
/* Ends the open transaction, if any, without keeping its changes. */
void sqlite_rollback(struct sqlite_store *s);
/* Binds `v` (borrowed until the statement is reset), or NULL. */
void sqlite_bind_text(sqlite3_stmt *st, int i, const char *v);

/* store_ops.begin_run, append, finish_run and claim_run (sqlite_write.c). */
int sqlite_begin_run(struct store *st, const struct store_run_start *rs, uint64_t *id,
		     struct buf *err);
int sqlite_append(struct store *st, uint64_t run, const struct event *const *evs, size_t n,
		  struct buf *err);
int sqlite_finish_run(struct store *st, uint64_t run, const char *status, int64_t ts_ms,
		      struct buf *err);
int sqlite_claim_run(struct store *st, uint64_t id, const char *host, int pid, uint64_t pid_start,
		     struct store_claim *out, struct buf *err);

/* store_ops.list_runs and store_ops.load_run (sqlite_read.c). */
int sqlite_list_runs(struct store *st, const struct store_run_query *q, struct store_run_list *out,
		     struct buf *err);
int sqlite_load_run(struct store *st, uint64_t id, unsigned flags, struct store_run *out, struct buf *err);
/* store_ops.read_events (sqlite_events.c). */
int sqlite_read_events(struct store *st, uint64_t run, uint64_t after, size_t limit,
		       void (*each)(const struct store_event *se, void *arg), void *arg, struct buf *err);

#endif
