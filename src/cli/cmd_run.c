#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/diag.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "cli/term.h"
#include "engine/run.h"
#include "events/events.h"
#include "events/logpath.h"
#include "cli/drive.h"
#include "cli/secrets.h"
#include "pipeline/compile.h"
#include "pipeline/load.h"
#include "store/store.h"

static const char usage[] =
	"usage: lockstep run FILE [--var KEY=VALUE]... [--secrets-file FILE] [--state DIR] [--json]\n"
	"                         [--no-rollback] [--kill-grace DURATION] [--max-log BYTES]\n"
	"                         [--max-parallel N] [--kubectl PATH]\n"
	"\n"
	"Runs the pipeline: groups in order, the workflows of a group in parallel,\n"
	"barriers holding workflows until all participants arrive, rollbacks when\n"
	"workflows fail. Steps run in the directory of FILE unless they say dir:.\n"
	"\n"
	"options:\n";

static const char more[] =
	"\n"
	"SIGINT/SIGTERM/SIGHUP abort the run: running steps are terminated, waiting\n"
	"barriers break, rollbacks run; a second SIGINT kills at once.\n"
	"\n"
	"exit codes: 0 succeeded, 1 failed, 2 usage error, 3 invalid pipeline file,\n"
	"            4 state directory error, 130 aborted\n";

/* 128 random bits as hex: the run's LOCKSTEP_RUN_TOKEN. */
static void make_token(char out[33])
{
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		/* No entropy source: time and pid still tell runs apart here. */
		uint64_t x = (uint64_t)clock_wall_ms() ^ (clock_mono_ms() << 32), y = (uint64_t)getpid();
		memcpy(b, &x, 8);
		memcpy(b + 8, &y, 8);
	}
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

int cmd_run(int argc, char **argv)
{
	struct opt_list var_args = OPT_LIST_INIT;
	const char *state = NULL, *kubectl = NULL, *secrets_file = NULL;
	bool json = false, no_rollback = false;
	uint64_t grace = 10000, max_log = 64ULL << 20, parallel = 0;
	const struct opt opts[] = {
		CLI_OPT_VAR(&var_args),
		OPT_STRING(0, "secrets-file", &secrets_file, "FILE",
			   "values of the pipeline's secrets, NAME=VALUE lines; only\n"
			   "its owner may access it; it wins over the environment's\n"
			   "LOCKSTEP_SECRET_<NAME>"),
		OPT_STRING(0, "state", &state, "DIR",
			   "state directory (default $LOCKSTEP_STATE, else ./.lockstep);\n"
			   "step logs go to DIR/logs/RUN/WORKFLOW/STEP.ATTEMPT.log"),
		OPT_FLAG(0, "json", &json, "events as JSON lines on stdout; human output on stderr"),
		OPT_FLAG(0, "no-rollback", &no_rollback, "never run rollback steps"),
		CLI_OPT_KILL_GRACE(&grace, "SIGTERM -> SIGKILL delay for steps, 0 to 1h (default 10s)"),
		OPT_NUMBER(0, "max-log", &max_log, "BYTES", 1, CLI_LOG_CAP_MAX, "bytes",
			   "cap of each step log, 1 to 1099511627776 (default 67108864)"),
		CLI_OPT_MAX_PARALLEL(&parallel, "at most N step processes at once (1 to 1000000); the\n"
						"others wait for a slot (default: as many as open files\n"
						"allow)"),
		CLI_OPT_KUBECTL(&kubectl),
		OPT_HELP(),
		OPT_END(),
	};
	int rc = cli_options("run", opts, usage, more, &argc, &argv);
	if (rc < 0)
		rc = cli_want_args("run", argc, 1, 1, "FILE", "one FILE");
	if (rc >= 0) {
		opt_list_release(&var_args);
		return rc;
	}
	struct arena a = ARENA_INIT;
	struct kvlist vars = cli_vars(&var_args, &a);
	opt_list_release(&var_args);
	size_t max_parallel = (size_t)parallel;
	const char *file = argv[0];

	/* Steps run where the pipeline file is, so relative paths in it work. */
	char base[PATH_MAX];
	if (strcmp(file, "-") == 0 || !realpath(file, base)) {
		if (!getcwd(base, sizeof(base)))
			strcpy(base, ".");
	} else {
		char *slash = strrchr(base, '/');
		if (slash && slash != base)
			*slash = '\0';
		else if (slash)
			slash[1] = '\0';
	}

	struct diag d = DIAG_INIT;
	char *source = NULL;
	size_t source_len = 0;
	struct plan *plan = NULL;
	struct compile_opts co = { .overrides = &vars, .kubectl = kubectl, .base_dir = base };
	if (pipeline_read(file, &source, &source_len, &d))
		plan = pipeline_compile_opts(file, source, source_len, &co, &d);
	diag_print(&d, stderr, cli_color(stderr));
	diag_release(&d);
	if (!plan) {
		free(source);
		arena_release(&a);
		return EXIT_INVALID;
	}
	/* Before anything is recorded: a run without its secrets never starts. */
	struct secret_values secrets = SECRET_VALUES_INIT;
	struct mask *mask = NULL;
	int sr = cli_secrets_load("run", plan, secrets_file, "nothing was run", &secrets, &mask);
	if (sr >= 0) {
		secrets_release(&secrets);
		free(source);
		compile_free(plan);
		arena_release(&a);
		return sr;
	}

	char token[33];
	make_token(token);
	struct buf args = BUF_INIT;
	/* A resume runs the same kubectl: as found now, made absolute. */
	struct run_args ra = { vars, no_rollback, grace, max_log, base,
			       kubectl && plan->kubectl ? plan->kubectl : kubectl, max_parallel };
	cli_run_args_format(&args, &ra);

	state = cli_state_dir(state);
	struct buf err = BUF_INIT;
	struct store *st = NULL;
	uint64_t run_id = 0;
	struct buf logdir = BUF_INIT;
	int r = store_open(state, STORE_CREATE, &st, &err);
	if (r == 0) {
		char host[256];
		struct store_run_start rs = { .plan = plan, .file = file, .source = source,
					      .source_len = source_len, .args = args.s, .token = token };
		char abs[PATH_MAX];
		if (strcmp(file, "-") && realpath(file, abs))
			rs.file = abs;
		rs.started_ms = clock_wall_ms();
		store_self_owner(host, sizeof(host), &rs.pid, &rs.pid_start);
		rs.host = host;
		r = store_begin_run(st, &rs, &run_id, &err);
	}
	if (r == 0) {
		logpath_run_dir(state, run_id, &logdir);
		r = store_mkdirs(logdir.s, &err);
		/* Recorded but never started: not left "running" forever. */
		if (r < 0) {
			struct buf ignored = BUF_INIT;
			store_finish_run(st, run_id, "failed", clock_wall_ms(), &ignored);
			buf_release(&ignored);
		}
	}
	if (r < 0) {
		fprintf(stderr, "lockstep run: %s\n", err.s);
		buf_release(&err);
		buf_release(&logdir);
		buf_release(&args);
		free(source);
		store_close(st);
		mask_free(mask);
		secrets_release(&secrets);
		compile_free(plan);
		arena_release(&a);
		return EXIT_STORE;
	}
	buf_release(&err);
	buf_release(&args);
	free(source);

	struct drive dr = {
		.cmd = "run",
		.plan = plan,
		.st = st,
		.run_id = run_id,
		.log_dir = logdir.s,
		.base_dir = base,
		.token = token,
		.json = json,
		.no_rollback = no_rollback,
		.kill_grace_ms = grace,
		.max_log_bytes = max_log,
		.max_parallel = max_parallel,
		.secrets = &secrets.values,
		.mask = mask,
	};
	int code = cli_drive(&dr);
	store_close(st);
	mask_free(mask);
	secrets_release(&secrets);
	buf_release(&logdir);
	compile_free(plan);
	arena_release(&a);
	return code;
}

