/*
 * sqlite_events: paging through a run's recorded events, for readers that
 * follow a run while it is written (the --json writer catching up with
 * the store). One read transaction per page (WAL: it never blocks the
 * writer).
 */
#include "store/sqlite_int.h"

int sqlite_read_events(struct store *st, uint64_t run, uint64_t after, size_t limit,
		       void (*each)(const struct store_event *se, void *arg), void *arg, struct buf *err)
{
	struct sqlite_store *s = S(st);
	if (!s->db)
		return 0;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT seq, ts_ms, type, workflow, step, body FROM events "
			       "WHERE run = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
			       -1, &q, NULL) != SQLITE_OK)
		return sqlite_fail(s, err, "cannot read the events");
	sqlite3_bind_int64(q, 1, (sqlite3_int64)run);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)after);
	sqlite3_bind_int64(q, 3, limit ? (sqlite3_int64)limit : -1);
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_event e = {
			.seq = (uint64_t)sqlite3_column_int64(q, 0),
			.ts_ms = sqlite3_column_int64(q, 1),
			.type = (const char *)sqlite3_column_text(q, 2),
			.workflow = (const char *)sqlite3_column_text(q, 3),
			.step = (const char *)sqlite3_column_text(q, 4),
			.json = (const char *)sqlite3_column_text(q, 5),
		};
		each(&e, arg);
	}
	int r = rc == SQLITE_DONE ? 0 : sqlite_fail(s, err, "cannot read the events");
	sqlite3_finalize(q);
	return r;
}
