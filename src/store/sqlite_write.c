/*
 * sqlite_write: what a run writes to STATE/lockstep.db (sqlite.c opens it;
 * the transaction and lock rules are at the top of sqlite.c). begin_run
 * takes a run id and records the plan's snapshot; append records a batch
 * of events and their summaries (workflows, steps, attempts, barriers) in
 * one transaction; finish_run ends the run; claim_run hands an interrupted
 * run to the process that resumes or aborts it. Statements are prepared
 * once per store (stmt_sql) and kept until it is closed.
 */
#include "store/sqlite_int.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "base/xalloc.h"
#include "events/codec.h"

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

/* Runs a statement that returns no rows. */
static int step_done(struct sqlite_store *s, sqlite3_stmt *st, struct buf *err, const char *what)
{
	int rc = sqlite3_step(st);
	int r = rc == SQLITE_DONE ? 0 : sqlite_fail(s, err, what);
	sqlite3_reset(st);
	return r;
}

static int no_db(struct sqlite_store *s, struct buf *err)
{
	buf_addf(err, "%s: no database", s->base.where);
	return STORE_EBACKEND;
}

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

int sqlite_begin_run(struct store *st, const struct store_run_start *rs, uint64_t *id,
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
	case EV_STEP_WARNING:
	case EV_STEP_PROCESS:
	case EV_TYPE_COUNT:
		break;
	}
	return 0;
}

int sqlite_append(struct store *st, uint64_t run, const struct event *const *evs, size_t n,
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
	else
		r = sqlite_check_present(s, err);
	return r;
}

int sqlite_finish_run(struct store *st, uint64_t run, const char *status, int64_t ts_ms,
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
	else
		r = sqlite_check_present(s, err);
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

int sqlite_claim_run(struct store *st, uint64_t id, const char *host, int pid, uint64_t pid_start,
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
