/*
 * cli: the command table and what the commands share: option parsing
 * helpers, usage errors (exit 2) and colour decisions.
 */
#ifndef LS_CLI_H
#define LS_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/arena.h"
#include "pipeline/model.h"

enum exit_code {
	EXIT_OK = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_INVALID = 3,
	EXIT_STORE = 4,
	EXIT_ABORTED = 130,
};

struct command {
	const char *name;
	const char *summary;
	const char *usage;   /* full help text */
	int (*fn)(int argc, char **argv);
};

int cmd_check(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_abort(int argc, char **argv);

extern const char cmd_check_usage[];
extern const char cmd_plan_usage[];
extern const char cmd_run_usage[];
extern const char cmd_runs_usage[];
extern const char cmd_show_usage[];
extern const char cmd_logs_usage[];
extern const char cmd_resume_usage[];
extern const char cmd_abort_usage[];

/* Prints "lockstep CMD: MESSAGE" and a hint to stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when stream `f` should get ANSI colours (a TTY and no NO_COLOR). */
bool cli_color(FILE *f);
/*
 * Parses a --var argument "KEY=VALUE" into `vars` (grown in `a`). Returns
 * false for a malformed argument.
 */
bool cli_parse_var(const char *arg, struct kvlist *vars, struct arena *a);
/* The most --max-parallel accepts. */
#define CLI_MAX_PARALLEL 1000000
/* The most --max-log accepts: 1 TiB per step attempt. */
#define CLI_LOG_CAP_MAX (1ULL << 40)
/* The longest --kill-grace: an hour between SIGTERM and SIGKILL. */
#define CLI_KILL_GRACE_MAX_MS 3600000ULL
/*
 * Parses `arg` (borrowed), the value of option `opt` ("--max-log") of
 * command `cmd`: a whole number of `unit` ("bytes") from `min` to `max`,
 * in digits only (base/num.h: no sign, no space, no overflow). Returns
 * -1 with the number in *out, or EXIT_USAGE after a message that names
 * the option and what it takes.
 */
int cli_parse_number(const char *cmd, const char *opt, const char *arg, const char *unit, uint64_t min,
		     uint64_t max, uint64_t *out);
/*
 * Parses a --kill-grace value of command `cmd`: a duration (base/duration.h)
 * from 0 (SIGKILL at once) to CLI_KILL_GRACE_MAX_MS. Returns -1 with the
 * milliseconds in *ms, or EXIT_USAGE after a message.
 */
int cli_parse_kill_grace(const char *cmd, const char *arg, uint64_t *ms);
/*
 * Parses RUN for command `cmd`: a run id (report_parse_run_id), or
 * `last`, the newest run recorded in state directory `state` (borrowed;
 * see cli_state_dir). Returns -1 with the id in *id; EXIT_USAGE after a
 * message for anything else; for `last`, EXIT_FAILED when no run is
 * recorded there and EXIT_STORE when the store cannot be read, after a
 * message.
 */
int cli_parse_run_id(const char *cmd, const char *arg, const char *state, uint64_t *id);
/* The state directory: `opt` (--state), else $LOCKSTEP_STATE, else ".lockstep". */
const char *cli_state_dir(const char *opt);
/*
 * Maps a store error code to the exit status of the read commands: no such
 * run, workflow or step -> EXIT_FAILED; anything else -> EXIT_STORE.
 */
int cli_store_exit(int err);

#endif
