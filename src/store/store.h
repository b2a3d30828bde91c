/*
 * store: the durable history of runs (docs/store.md; the contract:
 * docs/cli.md#state-directory, docs/events.md): which runs there were,
 * every event of each, the plan each ran (its workflows, steps and
 * barriers: what `show` lists before anything happened to them) and
 * summaries of what happened (the processes of step attempts, which
 * `resume` kills). The store only stores and loads: the commands fold a
 * run's events into a run view (events/view.h) to show it.
 *
 * The interface is backend-neutral: callers see `struct store` and the
 * functions below, never SQL. A backend is a `struct store_ops` table; the
 * embedded default is SQLite in STATE/lockstep.db (sqlite.c). A shared
 * backend (PostgreSQL, for several hosts) adds an ops table and a case in
 * store_open(); nothing above this header changes.
 *
 *   store_open ──► store_begin_run ──► store_append ... ──► store_finish_run ──► store_close
 *                  (allocates the id,   (a batch of events,   (final status)
 *                   snapshots the plan)  one transaction)
 *
 * Readers (runs, show, logs) use store_list_runs and store_load_run; they
 * may run while writers append (SQLite: WAL mode).
 *
 * Errors: functions return 0 or a negative code (-errno or STORE_E*) and
 * put a message for a person in `err` (appended, one line, no newline):
 * the command prints it and exits 4. Out-of-memory aborts.
 */
#ifndef LS_STORE_H
#define LS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "events/events.h"
#include "pipeline/model.h"

/* Codes beyond -errno. */
enum {
	STORE_EBACKEND = -4000,    /* the database failed: corrupt, full, read-only, locked too long */
	STORE_ENEWER = -4001,      /* written by a newer lockstep (newer schema) */
	STORE_ENOSTATE = -4002,    /* no state directory (read-only open) */
	STORE_ENOTFOUND = -4003,   /* no such run */
	STORE_EFINISHED = -4004,   /* store_claim_run: the run has finished */
	STORE_EALIVE = -4005,      /* store_claim_run: its owner may still be running it */
	STORE_EFOREIGN = -4006,    /* the database is not lockstep's (another program's) */
};

/* Run ids are 1, 2, 3... up to this (SQLite keys are signed 64-bit). */
#define STORE_RUN_ID_MAX ((uint64_t)INT64_MAX)

/* store_open flags */
enum {
	STORE_CREATE = 1 << 0,     /* create the state directory and the database if missing */
	STORE_READONLY = 1 << 1,   /* only read: never create or migrate anything */
};

struct store;

/* What store_begin_run records about a new run. Everything is borrowed. */
struct store_run_start {
	const struct plan *plan;   /* pipeline name, workflows, steps, barriers, participants */
	const char *file;          /* the pipeline file (absolute path), or "-" */
	int64_t started_ms;        /* wall clock, ms since the epoch */
	const char *host;          /* owner: host name, pid and the pid's start time */
	int pid;
	uint64_t pid_start;        /* /proc/PID/stat starttime: tells a reused pid apart */
	/* What resume needs to run the same pipeline again (may be NULL). */
	const char *source;        /* the pipeline file's bytes, as compiled */
	size_t source_len;
	const char *args;          /* the caller's arguments (opaque to the store; JSON) */
	const char *token;         /* LOCKSTEP_RUN_TOKEN: marks the run's processes */
};

/* One run, as listed. Strings live in the list's or the run's arena. */
struct store_run_info {
	uint64_t id;
	const char *pipeline;
	const char *file;
	/*
	 * running, succeeded, failed, aborted; or interrupted: recorded as
	 * running, but its owner (same host) is gone (see store_owner_alive).
	 */
	const char *status;
	int64_t started_ms;
	int64_t finished_ms;       /* 0 while not finished */
	const char *host;
	int pid;
	uint64_t pid_start;
	uint64_t last_seq;         /* events recorded */
	int takeovers;             /* times resume or abort took it over (schema 3; else 0) */
};

struct store_run_list {
	struct store_run_info *v;
	size_t n;
	struct arena arena;
};

/* One attempt of a step. */
struct store_attempt {
	int attempt;               /* 1, 2, ... */
	const char *status;        /* running until its step.finished */
	bool has_exit_code;
	int exit_code;
	bool finished;
	uint64_t duration_ms;
	int64_t started_ms, finished_ms;
	uint64_t seq;              /* of its step.started */
	int pid;                   /* its process (== process group), 0 when none was recorded */
	uint64_t pid_start;        /* the process's start time (base/pidinfo.h) */
};

struct store_step {
	const char *id;
	const char *name;
	const char *kind;          /* run, barrier, wait, ... */
	bool rollback;             /* in the rollback list */
	const char *status;        /* pending until started; then as in step.finished */
	int attempts;              /* 0 while pending */
	bool has_exit_code;
	int exit_code;
	bool has_duration;
	uint64_t duration_ms;      /* of the last attempt */
	int64_t started_ms, finished_ms; /* first start, last finish; 0 when unknown */
	struct store_attempt *att;
	size_t natt;
};

struct store_workflow {
	const char *name;
	size_t group;
	const char *status;        /* pending, running, rolling-back, or a final state */
	const char *reason;        /* workflow.finished reason, or NULL */
	const char *rollback_reason; /* workflow.rollback reason, or NULL */
	int64_t started_ms, finished_ms;
	struct store_step *steps;  /* steps, then rollback steps, in plan order */
	size_t nsteps;
};

struct store_member {
	const char *workflow;
	bool arrived;
	int64_t arrived_ms;
	uint64_t arrived_seq;
};

struct store_barrier {
	const char *id;
	const char *title;         /* the declaration's name, or NULL */
	bool rollback;             /* used in rollback lists */
	uint64_t timeout_ms;
	const char *status;        /* pending, waiting (someone arrived), passed, broken */
	const char *reason;        /* broken: why */
	const char *origin;        /* broken: the workflow that broke it, or NULL */
	int64_t decided_ms;        /* passed or broken at; 0 otherwise */
	struct store_member *members; /* participants from the plan (B1), with arrivals */
	size_t nmembers;
	const char **passed_by;    /* barrier.passed participants */
	size_t npassed;
};

struct store_event {
	uint64_t seq;
	int64_t ts_ms;
	const char *type;          /* run.started, ... */
	const char *workflow;      /* or NULL */
	const char *step;          /* or NULL */
	const char *json;          /* the event exactly as `run --json` printed it */
};

/* One run with everything recorded about it. */
struct store_run {
	struct store_run_info info;
	struct store_workflow *wfs;
	size_t nwfs;
	struct store_barrier *barriers;
	size_t nbarriers;
	struct store_event *events; /* with STORE_LOAD_EVENTS, in seq order */
	size_t nevents;
	struct arena arena;
};

/* A run taken over by store_claim_run: what resuming it needs. */
struct store_claim {
	uint64_t id;
	const char *pipeline;
	const char *file;
	const char *source;        /* the pipeline's bytes, or NULL (recorded by an older lockstep) */
	size_t source_len;
	const char *args;          /* as given to store_begin_run, or NULL */
	const char *token;         /* or NULL */
	uint64_t last_seq;         /* events recorded */
	const char *old_host;      /* the owner it had */
	int old_pid;
	struct arena arena;
};

/* store_load_run flags */
enum { STORE_LOAD_EVENTS = 1 << 0 };

/* Which runs store_find_runs lists. */
struct store_run_query {
	size_t limit;              /* the newest this many (0: all) */
	const char *pipeline;      /* only runs of this pipeline (NULL: any) */
	/*
	 * Only runs with this status (NULL: any): running, succeeded, failed,
	 * aborted, or interrupted (recorded running, its owner gone).
	 */
	const char *status;
};

/* A backend. Every function has the contract of its store_* wrapper. */
struct store_ops {
	const char *name;
	int (*begin_run)(struct store *st, const struct store_run_start *rs, uint64_t *id, struct buf *err);
	int (*append)(struct store *st, uint64_t run, const struct event *const *evs, size_t n,
		      struct buf *err);
	int (*finish_run)(struct store *st, uint64_t run, const char *status, int64_t ts_ms,
			  struct buf *err);
	/* The runs matching `q` as recorded (q->status as stored: running, not interrupted). */
	int (*list_runs)(struct store *st, const struct store_run_query *q, struct store_run_list *out,
			 struct buf *err);
	int (*load_run)(struct store *st, uint64_t id, unsigned flags, struct store_run *out,
			struct buf *err);
	int (*read_events)(struct store *st, uint64_t run, uint64_t after, size_t limit,
			   void (*each)(const struct store_event *se, void *arg), void *arg,
			   struct buf *err);
	int (*claim_run)(struct store *st, uint64_t id, const char *host, int pid, uint64_t pid_start,
			 struct store_claim *out, struct buf *err);
	int (*schema_version)(struct store *st);
	void (*close)(struct store *st);
};

/* The part every backend's handle starts with. */
struct store {
	const struct store_ops *ops;
	char *state_dir;           /* owned */
	char *where;               /* for messages: STATE/lockstep.db; owned */
};

/*
 * Opens the store of state directory `state_dir` (borrowed). With
 * STORE_CREATE the directory (mkdir -p) and the database are created and
 * the schema brought up to date; STORE_READONLY opens without writing
 * anything, and a directory without a database reads as an empty history.
 * A missing directory without STORE_CREATE is STORE_ENOSTATE; a database
 * of a newer lockstep is STORE_ENEWER; one lockstep did not make (another
 * program's) is STORE_EFOREIGN, and left as it is. On success *out is the store
 * (store_close it); on failure it is NULL.
 */
int store_open(const char *state_dir, unsigned flags, struct store **out, struct buf *err);
/* Closes the store; NULL is fine. */
void store_close(struct store *st);

/*
 * Records a new run with status running and allocates its id: 1, 2, 3...
 * in the state directory, unique even when several processes begin runs at
 * the same time. Snapshots the plan's workflows, steps and barriers (with
 * their participants) so that `show` lists what never started too.
 */
int store_begin_run(struct store *st, const struct store_run_start *rs, uint64_t *id, struct buf *err);
/*
 * Records `n` events of run `run` (in seq order) and updates the
 * summaries (run, workflows, steps, attempts, barriers) in one
 * transaction: when it returns 0 all of them are durable, otherwise none.
 * Usable as the durable sink of struct events (see store_commit_sink).
 */
int store_append(struct store *st, uint64_t run, const struct event *const *evs, size_t n,
		 struct buf *err);
/*
 * Records the final status of run `run` (normally run.finished already
 * did) and its end time. Idempotent.
 */
int store_finish_run(struct store *st, uint64_t run, const char *status, int64_t ts_ms, struct buf *err);
/*
 * The newest `limit` runs (0: all), newest first. Release with
 * store_run_list_release; on failure there is nothing to release.
 */
int store_list_runs(struct store *st, size_t limit, struct store_run_list *out, struct buf *err);
/* The same, only the runs that match `q` (borrowed). */
int store_find_runs(struct store *st, const struct store_run_query *q, struct store_run_list *out,
		    struct buf *err);
/* True for the statuses a run can have (the values store_run_query.status takes). */
bool store_run_status_is_valid(const char *status);
void store_run_list_release(struct store_run_list *l);
/*
 * Loads run `id`: STORE_ENOTFOUND when there is none. With
 * STORE_LOAD_EVENTS the events too. Release with store_run_release.
 */
int store_load_run(struct store *st, uint64_t id, unsigned flags, struct store_run *out, struct buf *err);
void store_run_release(struct store_run *r);
/*
 * Calls `each` for the recorded events of run `run` whose seq is above
 * `after`, in seq order, at most `limit` of them (0: all), in one read
 * transaction. The event is valid during the call only. Returns 0 (also
 * when there are none) or a negative code with a message in `err`.
 * Readers that follow a run (a --json writer catching up, a stream)
 * page through its events with it.
 */
int store_read_events(struct store *st, uint64_t run, uint64_t after, size_t limit,
		      void (*each)(const struct store_event *se, void *arg), void *arg, struct buf *err);
/*
 * Takes run `id` over for a new owner (host, pid, pid_start: see
 * store_self_owner), atomically: of several processes claiming the same
 * run, one wins. Only an interrupted run can be claimed: STORE_EFINISHED
 * when it has finished, STORE_EALIVE when its owner may still be alive
 * (alive, or on another host), STORE_ENOTFOUND when there is none; each
 * with a message. On success `out` (release with store_claim_release)
 * says what resuming the run needs.
 */
int store_claim_run(struct store *st, uint64_t id, const char *host, int pid, uint64_t pid_start,
		    struct store_claim *out, struct buf *err);
void store_claim_release(struct store_claim *c);
/* The schema version of the open database (0 when there is none). */
int store_schema_version(struct store *st);
/* "STATE/lockstep.db", for messages. */
const char *store_where(const struct store *st);

/*
 * The durable sink for events_set_durable(): `arg` is a struct
 * store_sink naming the store and the run.
 */
struct store_sink {
	struct store *st;
	uint64_t run;
};
int store_commit_sink(const struct event *const *evs, size_t n, struct buf *err, void *arg);

/* ---- the state directory around the database ---- */

/*
 * Creates `dir` and its missing parents (mkdir -p). Returns 0 or -errno
 * with a message in `err`.
 */
int store_mkdirs(const char *dir, struct buf *err);

/* This process as an owner: host name, pid, and the pid's start time. */
void store_self_owner(char *host, size_t hostlen, int *pid, uint64_t *pid_start);
/*
 * False when the owner recorded for a run is certainly gone: same host,
 * and no process `pid` or one that started at another time (a reused
 * pid). True otherwise (alive, or on another host: unknown).
 */
bool store_owner_alive(const char *host, int pid, uint64_t pid_start);

#endif
