#include "store/store.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/fsio.h"
#include "base/pidinfo.h"
#include "store/sqlite.h"

int store_open(const char *state_dir, unsigned flags, struct store **out, struct buf *err)
{
	*out = NULL;
	/* One backend so far; a shared one will be chosen here (by a URL in
	 * the configuration), never by the callers. */
	return store_sqlite_open(state_dir, flags, 0, out, err);
}

void store_close(struct store *st)
{
	if (st)
		st->ops->close(st);
}

int store_begin_run(struct store *st, const struct store_run_start *rs, uint64_t *id, struct buf *err)
{
	return st->ops->begin_run(st, rs, id, err);
}

int store_append(struct store *st, uint64_t run, const struct event *const *evs, size_t n,
		 struct buf *err)
{
	if (!n)
		return 0;
	return st->ops->append(st, run, evs, n, err);
}

int store_finish_run(struct store *st, uint64_t run, const char *status, int64_t ts_ms, struct buf *err)
{
	return st->ops->finish_run(st, run, status, ts_ms, err);
}

/*
 * A run still recorded as running whose owner is gone was interrupted.
 * Returns true when it says so. The caller reads the run again then: the
 * owner may have recorded the end and exited between the read and the
 * check; once the owner is known to be gone, a second read that still
 * says running is the truth (or names a new owner that took it over).
 */
static bool derive_status(struct store_run_info *ri)
{
	if (!strcmp(ri->status, "running") && !store_owner_alive(ri->host, ri->pid, ri->pid_start)) {
		ri->status = "interrupted";
		return true;
	}
	return false;
}

bool store_run_status_is_valid(const char *status)
{
	static const char *const all[] = { "running", "succeeded", "failed", "aborted", "interrupted" };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(status, all[i]))
			return true;
	return false;
}

int store_list_runs(struct store *st, size_t limit, struct store_run_list *out, struct buf *err)
{
	struct store_run_query q = { .limit = limit };
	return store_find_runs(st, &q, out, err);
}

/* Keeps the runs whose derived status is `status`, at most `limit` (0: all). */
static void keep_status(struct store_run_list *l, const char *status, size_t limit)
{
	size_t k = 0;
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].status, status) && (!limit || k < limit))
			l->v[k++] = l->v[i];
	l->n = k;
}

int store_find_runs(struct store *st, const struct store_run_query *q, struct store_run_list *out,
		    struct buf *err)
{
	/* running and interrupted are both recorded as running: which one a
	 * run is shows only once its owner is looked at, so the limit too
	 * applies only then. */
	struct store_run_query bq = *q;
	bool derived = q->status && (!strcmp(q->status, "running") || !strcmp(q->status, "interrupted"));
	if (derived) {
		bq.status = "running";
		bq.limit = 0;
	}
	for (int pass = 0;; pass++) {
		memset(out, 0, sizeof(*out));
		int r = st->ops->list_runs(st, &bq, out, err);
		if (r < 0) {
			/* A backend may fail half-way, its list partly filled. */
			store_run_list_release(out);
			return r;
		}
		bool again = false;
		for (size_t i = 0; i < out->n; i++)
			again |= derive_status(&out->v[i]);
		if (!again || pass == 1) {
			if (derived)
				keep_status(out, q->status, q->limit);
			return 0;
		}
		store_run_list_release(out);
	}
}

void store_run_list_release(struct store_run_list *l)
{
	arena_release(&l->arena);
	memset(l, 0, sizeof(*l));
}

int store_load_run(struct store *st, uint64_t id, unsigned flags, struct store_run *out, struct buf *err)
{
	for (int pass = 0;; pass++) {
		memset(out, 0, sizeof(*out));
		int r = st->ops->load_run(st, id, flags, out, err);
		if (r < 0) {
			store_run_release(out);
			return r;
		}
		if (!derive_status(&out->info) || pass == 1)
			return 0;
		store_run_release(out);
	}
}

void store_run_release(struct store_run *r)
{
	arena_release(&r->arena);
	memset(r, 0, sizeof(*r));
}

int store_read_events(struct store *st, uint64_t run, uint64_t after, size_t limit,
		      void (*each)(const struct store_event *se, void *arg), void *arg, struct buf *err)
{
	return st->ops->read_events(st, run, after, limit, each, arg, err);
}

int store_schema_version(struct store *st)
{
	return st->ops->schema_version(st);
}

const char *store_where(const struct store *st)
{
	return st->where;
}

int store_commit_sink(const struct event *const *evs, size_t n, struct buf *err, void *arg)
{
	struct store_sink *s = arg;
	return store_append(s->st, s->run, evs, n, err);
}

int store_mkdirs(const char *dir, struct buf *err)
{
	return fsio_mkdirs(dir, err);
}

int store_claim_run(struct store *st, uint64_t id, const char *host, int pid, uint64_t pid_start,
		    struct store_claim *out, struct buf *err)
{
	memset(out, 0, sizeof(*out));
	return st->ops->claim_run(st, id, host, pid, pid_start, out, err);
}

void store_claim_release(struct store_claim *c)
{
	if (c)
		arena_release(&c->arena);
}

void store_self_owner(char *host, size_t hostlen, int *pid, uint64_t *pid_start)
{
	if (gethostname(host, hostlen) < 0)
		snprintf(host, hostlen, "localhost");
	host[hostlen - 1] = '\0';
	*pid = (int)getpid();
	*pid_start = pid_start_time(*pid);
}

bool store_owner_alive(const char *host, int pid, uint64_t pid_start)
{
	char me[256];
	if (gethostname(me, sizeof(me)) < 0)
		return true;
	me[sizeof(me) - 1] = '\0';
	if (!host || strcmp(host, me) != 0)
		return true;
	uint64_t now = pid_start_time(pid);
	if (!now)
		return false;
	return !pid_start || now == pid_start;
}
