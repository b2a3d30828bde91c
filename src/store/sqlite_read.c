/*
 * sqlite_read: `runs`, `show` and `logs` read the database here. Every
 * read of a run is one read transaction, so that a run being written
 * meanwhile (WAL mode: writers never block readers) is seen at one point
 * in time.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "base/xalloc.h"
#include "store/sqlite_int.h"

/* ---- reading ---- */

static const char *col_str(struct arena *a, sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? arena_strdup(a, (const char *)t) : NULL;
}

static int64_t col_i64(sqlite3_stmt *st, int i)
{
	return sqlite3_column_int64(st, i);
}

static bool col_null(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL;
}

/* A reader does not migrate: schema 3 added the takeovers. */
#define RUN_COLUMNS_2 "id, pipeline, file, status, started_ms, finished_ms, host, pid, pid_start, last_seq, 0"
#define RUN_COLUMNS_3 "id, pipeline, file, status, started_ms, finished_ms, host, pid, pid_start, last_seq, takeovers"

static void read_run_info(struct arena *a, sqlite3_stmt *q, struct store_run_info *ri)
{
	ri->id = (uint64_t)col_i64(q, 0);
	ri->pipeline = col_str(a, q, 1);
	ri->file = col_str(a, q, 2);
	ri->status = col_str(a, q, 3);
	ri->started_ms = col_i64(q, 4);
	ri->finished_ms = col_null(q, 5) ? 0 : col_i64(q, 5);
	ri->host = col_str(a, q, 6);
	ri->pid = (int)col_i64(q, 7);
	ri->pid_start = (uint64_t)col_i64(q, 8);
	ri->last_seq = (uint64_t)col_i64(q, 9);
	ri->takeovers = (int)col_i64(q, 10);
}

/*
 * Reads are grouped in one read transaction, so that a run being written
 * meanwhile is seen at one point in time (WAL snapshot).
 */
static int read_begin(struct sqlite_store *s, struct buf *err)
{
	return sqlite_exec(s, "BEGIN", err, "cannot read");
}

static void read_end(struct sqlite_store *s)
{
	sqlite_rollback(s);
}

int sqlite_list_runs(struct store *st, const struct store_run_query *qy, struct store_run_list *out,
		     struct buf *err)
{
	struct sqlite_store *s = S(st);
	if (!s->db)
		return 0;
	sqlite3_stmt *q;
	/* NULL parameters match every run. */
#define LIST_WHERE " FROM runs WHERE (?2 IS NULL OR pipeline = ?2) AND (?3 IS NULL OR status = ?3) " \
		   "ORDER BY id DESC LIMIT ?1"
	if (sqlite3_prepare_v2(s->db,
			       s->version >= 3 ? "SELECT " RUN_COLUMNS_3 LIST_WHERE
					       : "SELECT " RUN_COLUMNS_2 LIST_WHERE,
			       -1, &q, NULL) != SQLITE_OK)
		return sqlite_fail(s, err, "cannot list runs");
#undef LIST_WHERE
	sqlite3_bind_int64(q, 1, qy->limit ? (sqlite3_int64)qy->limit : -1);
	sqlite_bind_text(q, 2, qy->pipeline);
	sqlite_bind_text(q, 3, qy->status);
	VEC(struct store_run_info) v = { 0 };
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		read_run_info(&out->arena, q, VEC_PUSH(v));
	int r = rc == SQLITE_DONE ? 0 : sqlite_fail(s, err, "cannot list runs");
	sqlite3_finalize(q);
	out->v = arena_array(&out->arena, v.n + 1, sizeof(*out->v));
	if (v.n)
		memcpy(out->v, v.v, v.n * sizeof(*v.v));
	out->n = v.n;
	VEC_FREE(v);
	return r;
}

/* Runs `sql` with ?1 = run id and calls `row` for each result row. */
static int each_row(struct sqlite_store *s, const char *sql, uint64_t id,
		    void (*row)(sqlite3_stmt *q, struct store_run *out, void *arg), struct store_run *out,
		    void *arg, struct buf *err)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		return sqlite_fail(s, err, "cannot read the run");
	sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		row(q, out, arg);
	int r = rc == SQLITE_DONE ? 0 : sqlite_fail(s, err, "cannot read the run");
	sqlite3_finalize(q);
	return r;
}

struct load_ctx {
	struct map wf_index;       /* workflow name -> index in out->wfs */
	struct map step_index;     /* "workflow\x1fstep" -> index in steps */
	struct map bar_index;      /* barrier id -> index */
	VEC(struct store_workflow) wfs;
	VEC(struct store_step) steps;
	VEC(size_t) step_wf;       /* steps[i] belongs to wfs[step_wf[i]] */
	VEC(struct store_attempt) att;
	VEC(size_t) att_step;
	VEC(struct store_barrier) bars;
	VEC(struct store_member) mems;
	VEC(size_t) mem_bar;
	VEC(struct store_event) evs;
};

static const char *step_key(struct arena *a, const char *wf, const char *step)
{
	return arena_printf(a, "%s\x1f%s", wf, step);
}

static void wf_row(sqlite3_stmt *q, struct store_run *out, void *arg)
{
	struct load_ctx *c = arg;
	struct store_workflow *w = VEC_PUSH(c->wfs);
	w->name = col_str(&out->arena, q, 0);
	w->group = (size_t)col_i64(q, 1);
	w->status = col_str(&out->arena, q, 2);
	w->reason = col_str(&out->arena, q, 3);
	w->rollback_reason = col_str(&out->arena, q, 4);
	w->started_ms = col_null(q, 5) ? 0 : col_i64(q, 5);
	w->finished_ms = col_null(q, 6) ? 0 : col_i64(q, 6);
	map_add(&c->wf_index, w->name, c->wfs.n - 1, NULL);
}

static void step_row(sqlite3_stmt *q, struct store_run *out, void *arg)
{
	struct load_ctx *c = arg;
	size_t wf;
	const char *wname = (const char *)sqlite3_column_text(q, 0);
	if (!wname || !map_find(&c->wf_index, wname, &wf))
		return;
	struct store_step *s = VEC_PUSH(c->steps);
	*VEC_PUSH(c->step_wf) = wf;
	s->id = col_str(&out->arena, q, 1);
	s->rollback = col_i64(q, 2) != 0;
	s->name = col_str(&out->arena, q, 3);
	s->kind = col_str(&out->arena, q, 4);
	s->status = col_str(&out->arena, q, 5);
	s->attempts = (int)col_i64(q, 6);
	s->has_exit_code = !col_null(q, 7);
	s->exit_code = (int)col_i64(q, 7);
	s->has_duration = !col_null(q, 8);
	s->duration_ms = (uint64_t)col_i64(q, 8);
	s->started_ms = col_null(q, 9) ? 0 : col_i64(q, 9);
	s->finished_ms = col_null(q, 10) ? 0 : col_i64(q, 10);
	map_add(&c->step_index, step_key(&out->arena, c->wfs.v[wf].name, s->id), c->steps.n - 1, NULL);
}

static void att_row(sqlite3_stmt *q, struct store_run *out, void *arg)
{
	struct load_ctx *c = arg;
	size_t si;
	const char *key = step_key(&out->arena, (const char *)sqlite3_column_text(q, 0),
				   (const char *)sqlite3_column_text(q, 1));
	if (!map_find(&c->step_index, key, &si))
		return;
	struct store_attempt *a = VEC_PUSH(c->att);
	*VEC_PUSH(c->att_step) = si;
	a->attempt = (int)col_i64(q, 2);
	a->status = col_str(&out->arena, q, 3);
	a->has_exit_code = !col_null(q, 4);
	a->exit_code = (int)col_i64(q, 4);
	a->finished = !col_null(q, 7);
	a->duration_ms = (uint64_t)col_i64(q, 5);
	a->started_ms = col_i64(q, 6);
	a->finished_ms = col_null(q, 7) ? 0 : col_i64(q, 7);
	a->seq = (uint64_t)col_i64(q, 8);
	a->pid = col_null(q, 9) ? 0 : (int)col_i64(q, 9);
	a->pid_start = col_null(q, 10) ? 0 : (uint64_t)col_i64(q, 10);
}

static void bar_row(sqlite3_stmt *q, struct store_run *out, void *arg)
{
	struct load_ctx *c = arg;
	struct store_barrier *b = VEC_PUSH(c->bars);
	b->id = col_str(&out->arena, q, 0);
	b->title = col_str(&out->arena, q, 1);
	b->rollback = col_i64(q, 2) != 0;
	b->timeout_ms = (uint64_t)col_i64(q, 3);
	b->status = col_str(&out->arena, q, 4);
	b->reason = col_str(&out->arena, q, 5);
	b->origin = col_str(&out->arena, q, 6);
	b->decided_ms = col_null(q, 7) ? 0 : col_i64(q, 7);
	const char *passed = (const char *)sqlite3_column_text(q, 8);
	if (passed) {
		json_t *arr = json_loads(passed, 0, NULL);
		if (json_is_array(arr)) {
			b->npassed = json_array_size(arr);
			b->passed_by = arena_array(&out->arena, b->npassed + 1, sizeof(char *));
			for (size_t i = 0; i < b->npassed; i++) {
				const char *v = json_string_value(json_array_get(arr, i));
				b->passed_by[i] = arena_strdup(&out->arena, v ? v : "");
			}
		}
		json_decref(arr);
	}
	map_add(&c->bar_index, b->id, c->bars.n - 1, NULL);
}

static void mem_row(sqlite3_stmt *q, struct store_run *out, void *arg)
{
	struct load_ctx *c = arg;
	size_t bi;
	const char *bid = (const char *)sqlite3_column_text(q, 0);
	if (!bid || !map_find(&c->bar_index, bid, &bi))
		return;
	struct store_member *m = VEC_PUSH(c->mems);
	*VEC_PUSH(c->mem_bar) = bi;
	m->workflow = col_str(&out->arena, q, 1);
	m->arrived = !col_null(q, 2);
	m->arrived_ms = col_null(q, 2) ? 0 : col_i64(q, 2);
	m->arrived_seq = col_null(q, 3) ? 0 : (uint64_t)col_i64(q, 3);
}

/* One row of "SELECT seq, ts_ms, type, workflow, step, body FROM events". */
static void read_event(sqlite3_stmt *q, struct store_run *out, struct store_event *e)
{
	e->seq = (uint64_t)col_i64(q, 0);
	e->ts_ms = col_i64(q, 1);
	e->type = col_str(&out->arena, q, 2);
	e->workflow = col_str(&out->arena, q, 3);
	e->step = col_str(&out->arena, q, 4);
	e->json = col_str(&out->arena, q, 5);
}

static void ev_row(sqlite3_stmt *q, struct store_run *out, void *arg)
{
	struct load_ctx *c = arg;
	read_event(q, out, VEC_PUSH(c->evs));
}

/* Copies a VEC into the arena (so that the run owns one allocation tree). */
static void *to_arena(struct arena *a, const void *v, size_t n, size_t size)
{
	void *p = arena_array(a, n + 1, size);
	if (n)
		memcpy(p, v, n * size);
	return p;
}

/*
 * Hands each parent its children: `child_parent[i]` is the parent of
 * child i; children of one parent are contiguous (the queries order them
 * by parent), so each parent points into the child array.
 */
#define DISTRIBUTE(parents, nparents, children, nchildren, parent_of, field, nfield)         \
	do {                                                                                 \
		for (size_t i_ = 0; i_ < (nchildren); i_++) {                                \
			size_t p_ = (parent_of)[i_];                                         \
			if (!(parents)[p_].nfield)                                           \
				(parents)[p_].field = &(children)[i_];                       \
			(parents)[p_].nfield++;                                              \
		}                                                                            \
	} while (0)

int sqlite_load_run(struct store *st, uint64_t id, unsigned flags, struct store_run *out,
			   struct buf *err)
{
	struct sqlite_store *s = S(st);
	if (!s->db) {
		buf_addf(err, "no run %llu in state directory '%s' (no run has been recorded there)",
			 (unsigned long long)id, s->base.state_dir);
		return STORE_ENOTFOUND;
	}
	int r = read_begin(s, err);
	if (r < 0)
		return r;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(s->db,
			       s->version >= 3 ? "SELECT " RUN_COLUMNS_3 " FROM runs WHERE id = ?1"
					       : "SELECT " RUN_COLUMNS_2 " FROM runs WHERE id = ?1",
			       -1, &q, NULL) != SQLITE_OK) {
		r = sqlite_fail(s, err, "cannot read the run");
		read_end(s);
		return r;
	}
	sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		read_run_info(&out->arena, q, &out->info);
	else if (rc == SQLITE_DONE) {
		buf_addf(err, "no run %llu in state directory '%s'", (unsigned long long)id,
			 s->base.state_dir);
		r = STORE_ENOTFOUND;
	} else
		r = sqlite_fail(s, err, "cannot read the run");
	sqlite3_finalize(q);
	if (r < 0) {
		read_end(s);
		return r;
	}

	struct load_ctx c;
	memset(&c, 0, sizeof(c));
	r = each_row(s,
		     "SELECT name, grp, status, reason, rollback_reason, started_ms, finished_ms "
		     "FROM workflows WHERE run = ?1 ORDER BY pos, name",
		     id, wf_row, out, &c, err);
	if (r == 0)
		r = each_row(s,
			     "SELECT s.workflow, s.id, s.rollback, s.name, s.kind, s.status, s.attempts, "
			     "s.exit_code, s.duration_ms, s.started_ms, s.finished_ms "
			     "FROM steps s JOIN workflows w ON w.run = s.run AND w.name = s.workflow "
			     "WHERE s.run = ?1 ORDER BY w.pos, w.name, s.pos, s.started_ms, s.id",
			     id, step_row, out, &c, err);
	if (r == 0)
		r = each_row(s,
			     /* A reader does not migrate: schema 3 added the processes. */
			     s->version >= 3
				     ? "SELECT a.workflow, a.step, a.attempt, a.status, a.exit_code, a.duration_ms, "
				       "a.started_ms, a.finished_ms, a.start_seq, a.pid, a.pid_start "
				       "FROM step_attempts a JOIN workflows w ON w.run = a.run AND w.name = a.workflow "
				       "JOIN steps s ON s.run = a.run AND s.workflow = a.workflow AND s.id = a.step "
				       "WHERE a.run = ?1 ORDER BY w.pos, w.name, s.pos, s.started_ms, s.id, a.attempt"
				     : "SELECT a.workflow, a.step, a.attempt, a.status, a.exit_code, a.duration_ms, "
				       "a.started_ms, a.finished_ms, a.start_seq, NULL, NULL "
				       "FROM step_attempts a JOIN workflows w ON w.run = a.run AND w.name = a.workflow "
				       "JOIN steps s ON s.run = a.run AND s.workflow = a.workflow AND s.id = a.step "
				       "WHERE a.run = ?1 ORDER BY w.pos, w.name, s.pos, s.started_ms, s.id, a.attempt",
			     id, att_row, out, &c, err);
	if (r == 0)
		r = each_row(s,
			     "SELECT id, title, rollback, timeout_ms, status, reason, origin, decided_ms, passed_by "
			     "FROM barriers WHERE run = ?1 ORDER BY pos, first_arrival_ms, id",
			     id, bar_row, out, &c, err);
	if (r == 0)
		r = each_row(s,
			     "SELECT m.barrier, m.workflow, m.arrived_ms, m.arrived_seq "
			     "FROM barrier_members m JOIN barriers b ON b.run = m.run AND b.id = m.barrier "
			     "WHERE m.run = ?1 ORDER BY b.pos, b.first_arrival_ms, b.id, m.pos, m.arrived_seq",
			     id, mem_row, out, &c, err);
	if (r == 0 && (flags & STORE_LOAD_EVENTS))
		r = each_row(s,
			     "SELECT seq, ts_ms, type, workflow, step, body FROM events WHERE run = ?1 ORDER BY seq",
			     id, ev_row, out, &c, err);
	read_end(s);
	if (r == 0) {
		struct arena *a = &out->arena;
		out->wfs = to_arena(a, c.wfs.v, c.wfs.n, sizeof(*c.wfs.v));
		out->nwfs = c.wfs.n;
		struct store_step *steps = to_arena(a, c.steps.v, c.steps.n, sizeof(*c.steps.v));
		struct store_attempt *att = to_arena(a, c.att.v, c.att.n, sizeof(*c.att.v));
		DISTRIBUTE(steps, c.steps.n, att, c.att.n, c.att_step.v, att, natt);
		DISTRIBUTE(out->wfs, out->nwfs, steps, c.steps.n, c.step_wf.v, steps, nsteps);
		out->barriers = to_arena(a, c.bars.v, c.bars.n, sizeof(*c.bars.v));
		out->nbarriers = c.bars.n;
		struct store_member *mems = to_arena(a, c.mems.v, c.mems.n, sizeof(*c.mems.v));
		DISTRIBUTE(out->barriers, out->nbarriers, mems, c.mems.n, c.mem_bar.v, members, nmembers);
		out->events = to_arena(a, c.evs.v, c.evs.n, sizeof(*c.evs.v));
		out->nevents = c.evs.n;
	}
	map_release(&c.wf_index);
	map_release(&c.step_index);
	map_release(&c.bar_index);
	VEC_FREE(c.wfs);
	VEC_FREE(c.steps);
	VEC_FREE(c.step_wf);
	VEC_FREE(c.att);
	VEC_FREE(c.att_step);
	VEC_FREE(c.bars);
	VEC_FREE(c.mems);
	VEC_FREE(c.mem_bar);
	VEC_FREE(c.evs);
	return r;
}

