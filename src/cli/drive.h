/*
 * drive: runs a plan on a libuv loop for `lockstep run`, `resume` and
 * `abort`: the durable event pipeline (commit, then show), the terminal
 * (live board or plain lines, or --json), signals, the summary and the
 * run's final record.
 */
#ifndef LS_CLI_DRIVE_H
#define LS_CLI_DRIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/mask.h"
#include "events/events.h"
#include "pipeline/model.h"
#include "store/store.h"

struct drive {
	const char *cmd;           /* "run", "resume", "abort": for messages */
	const struct plan *plan;
	struct store *st;
	uint64_t run_id;
	const char *log_dir;       /* STATE/logs/RUN */
	const char *base_dir;      /* where steps run */
	const char *token;         /* LOCKSTEP_RUN_TOKEN, or NULL */
	bool json;
	bool no_rollback;
	uint64_t kill_grace_ms;
	uint64_t max_log_bytes;
	size_t max_parallel;       /* 0: no limit but the descriptors' */
	const struct kvlist *secrets; /* the secrets' values (run_opts.secrets), or NULL */
	const struct mask *mask;   /* what to hide (run_opts.mask), or NULL */
	/* resume and abort: the run's recorded events, in seq order */
	bool resuming;
	bool abort_run;
	const struct event *const *recorded;
	size_t nrecorded;
	uint64_t last_seq;
};

/* What a run was started with, recorded so that a resume runs the same. */
struct run_args {
	struct kvlist vars;        /* --var overrides */
	bool no_rollback;
	uint64_t kill_grace_ms;
	uint64_t max_log_bytes;
	const char *base_dir;      /* where its steps run */
	const char *kubectl;       /* its --kubectl, or NULL */
	size_t max_parallel;       /* its --max-parallel, or 0 */
};

/* Appends `ra` as the JSON document store_begin_run records. */
void cli_run_args_format(struct buf *out, const struct run_args *ra);
/* Parses it back (strings in `a`); false when it is malformed. */
bool cli_run_args_parse(const char *json, struct run_args *ra, struct arena *a);

/*
 * Runs (or resumes) the run and records its end. Returns the exit code:
 * 0 succeeded, 1 failed, 130 aborted, 4 when the store failed on the way.
 */
int cli_drive(const struct drive *d);

#endif
