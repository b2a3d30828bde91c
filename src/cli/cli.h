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
#include "base/buf.h"
#include "base/opts.h"
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
	int (*fn)(int argc, char **argv);   /* argv[0] is the command's name */
};

int cmd_check(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_abort(int argc, char **argv);

/* Prints "lockstep CMD: MESSAGE" and a hint to stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when stream `f` should get ANSI colours (a TTY and no NO_COLOR). */
bool cli_color(FILE *f);
/*
 * Reads the options of command `cmd` from argv[1..argc) by table `opts`
 * (base/opts.h). Returns -1 with *argc and *argv the arguments left, the
 * first at (*argv)[0]; for --help, EXIT_OK after printing the help on
 * standard output: `usage` (the usage line, what the command does, up to
 * "options:"), the options of the table, then `more`; for a usage error,
 * EXIT_USAGE after its message (cli_usage_error).
 */
int cli_options(const char *cmd, const struct opt *opts, const char *usage, const char *more, int *argc,
		char ***argv);
/*
 * Checks how many arguments cli_options left for command `cmd`: from
 * `min` to `max` (-1: no limit). Returns -1 when that is so, else
 * EXIT_USAGE after "missing WHAT" or "takes TAKES, got N arguments".
 */
int cli_want_args(const char *cmd, int argc, int min, int max, const char *what, const char *takes);
/* Refuses a --var value that is not KEY=VALUE with a KEY (an opt check). */
int cli_check_var(const char *arg, struct buf *why);
/* The --var values `args` (checked by cli_check_var) as a kvlist in `a`. */
struct kvlist cli_vars(const struct opt_list *args, struct arena *a);
/* The most --max-parallel accepts. */
#define CLI_MAX_PARALLEL 1000000
/* The most --max-log accepts: 1 TiB per step attempt. */
#define CLI_LOG_CAP_MAX (1ULL << 40)
/* The longest --kill-grace: an hour between SIGTERM and SIGKILL. */
#define CLI_KILL_GRACE_MAX_MS 3600000ULL
/* The options more than one command has, with what they take. */
#define CLI_OPT_VAR(V) OPT_LIST(0, "var", V, "KEY=VALUE", cli_check_var, "override a declared var (repeatable)")
#define CLI_OPT_STATE(V) \
	OPT_STRING(0, "state", V, "DIR", "state directory (default $LOCKSTEP_STATE, else ./.lockstep)")
#define CLI_OPT_KUBECTL(V) \
	OPT_STRING(0, "kubectl", V, "PATH", "the kubectl Kubernetes steps run (default: kubectl on PATH)")
#define CLI_OPT_KILL_GRACE(V, HELP) \
	OPT_DURATION(0, "kill-grace", V, "DUR", 0, CLI_KILL_GRACE_MAX_MS, "0 kills at once", HELP)
#define CLI_OPT_MAX_PARALLEL(V, HELP) \
	OPT_NUMBER(0, "max-parallel", V, "N", 1, CLI_MAX_PARALLEL, "step processes", HELP)
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
