#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/duration.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "cli/term.h"
#include "engine/events.h"
#include "engine/proc.h"
#include "engine/run.h"
#include "pipeline/compile.h"

const char cmd_run_usage[] =
	"usage: lockstep run FILE [--var KEY=VALUE]... [--state DIR] [--json] [--no-rollback]\n"
	"                         [--kill-grace DURATION] [--max-log BYTES]\n"
	"\n"
	"Runs the pipeline: groups in order, the workflows of a group in parallel,\n"
	"barriers holding workflows until all participants arrive, rollbacks when\n"
	"workflows fail. Steps run in the directory of FILE unless they say dir:.\n"
	"\n"
	"options:\n"
	"  --var KEY=VALUE       override a declared var (repeatable)\n"
	"  --state DIR           state directory (default $LOCKSTEP_STATE, else ./.lockstep);\n"
	"                        step logs go to DIR/logs/RUN/WORKFLOW/STEP.ATTEMPT.log\n"
	"  --json                events as JSON lines on stdout; human output on stderr\n"
	"  --no-rollback         never run rollback steps\n"
	"  --kill-grace DUR      SIGTERM -> SIGKILL delay for steps (default 10s)\n"
	"  --max-log BYTES       cap of each step log (default 67108864)\n"
	"  -h, --help            show this help\n"
	"\n"
	"SIGINT/SIGTERM abort the run: running steps are terminated, waiting\n"
	"barriers break, rollbacks run; a second SIGINT kills at once.\n"
	"\n"
	"exit codes: 0 succeeded, 1 failed, 2 usage error, 3 invalid pipeline file,\n"
	"            4 state directory error, 130 aborted\n";

struct run_cli {
	struct run *run;
	uv_signal_t sigint, sigterm;
	int signals;
};

static void signal_cb(uv_signal_t *h, int signum)
{
	struct run_cli *c = h->data;
	c->signals++;
	fprintf(stderr, "lockstep: %s: %s\n", signum == SIGINT ? "interrupted" : "terminated",
		c->signals == 1 ? "aborting the run (again to kill at once and skip rollbacks)"
				: "killing at once, skipping rollbacks");
	run_abort(c->run);
}

/*
 * Picks the next run id in STATE/logs: one more than the largest there,
 * claimed by mkdir so that concurrent runs never share one.
 */
static int claim_run_dir(const char *state, uint64_t *id, struct buf *dir)
{
	struct buf logs = BUF_INIT;
	buf_addf(&logs, "%s/logs", state);
	/* Like mkdir -p: a new state directory may be several levels deep. */
	struct buf part = BUF_INIT;
	for (const char *s = state; *s; s++) {
		buf_addc(&part, *s);
		if (s[1] == '/' || s[1] == '\0') {
			if (mkdir(part.s, 0755) < 0 && errno != EEXIST) {
				int e = errno;
				buf_release(&part);
				buf_release(&logs);
				return -e;
			}
		}
	}
	buf_release(&part);
	if (mkdir(logs.s, 0755) < 0 && errno != EEXIST) {
		int e = errno;
		buf_release(&logs);
		return -e;
	}
	uint64_t max = 0;
	uv_fs_t req;
	int n = uv_fs_scandir(NULL, &req, logs.s, 0, NULL);
	if (n >= 0) {
		uv_dirent_t ent;
		while (uv_fs_scandir_next(&req, &ent) != UV_EOF) {
			char *end;
			unsigned long long v = strtoull(ent.name, &end, 10);
			if (*end == '\0' && v > max)
				max = v;
		}
	}
	uv_fs_req_cleanup(&req);
	for (uint64_t cand = max + 1;; cand++) {
		buf_reset(dir);
		buf_addf(dir, "%s/%llu", logs.s, (unsigned long long)cand);
		if (mkdir(dir->s, 0755) == 0) {
			*id = cand;
			break;
		}
		if (errno != EEXIST) {
			int e = errno;
			buf_release(&logs);
			return -e;
		}
	}
	buf_release(&logs);
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "var", required_argument, NULL, 'v' },
		{ "state", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-rollback", no_argument, NULL, 'n' },
		{ "kill-grace", required_argument, NULL, 'k' },
		{ "max-log", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct arena a = ARENA_INIT;
	struct kvlist vars = { NULL, 0 };
	const char *state = NULL;
	bool json = false, no_rollback = false;
	uint64_t grace = 10000, max_log = 64ULL << 20;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		const char *why;
		switch (c) {
		case 'v':
			if (!cli_parse_var(optarg, &vars, &a)) {
				arena_release(&a);
				return cli_usage_error("run", "--var takes KEY=VALUE, not '%s'", optarg);
			}
			break;
		case 's':
			state = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'n':
			no_rollback = true;
			break;
		case 'k':
			if (duration_parse(optarg, &grace, &why) < 0) {
				arena_release(&a);
				return cli_usage_error("run", "bad --kill-grace '%s': %s", optarg, why);
			}
			break;
		case 'm': {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || v == 0) {
				arena_release(&a);
				return cli_usage_error("run", "bad --max-log '%s': a number of bytes", optarg);
			}
			max_log = v;
			break;
		}
		case 'h':
			fputs(cmd_run_usage, stdout);
			arena_release(&a);
			return EXIT_OK;
		case ':':
			arena_release(&a);
			return cli_usage_error("run", "option '%s' needs a value", argv[optind - 1]);
		default:
			arena_release(&a);
			return cli_usage_error("run", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		arena_release(&a);
		return cli_usage_error("run", "missing FILE");
	}
	if (argc - optind > 1) {
		arena_release(&a);
		return cli_usage_error("run", "takes one FILE, got %d", argc - optind);
	}
	const char *file = argv[optind];

	struct diag d = DIAG_INIT;
	struct plan *plan = pipeline_compile(file, &vars, &d);
	diag_print(&d, stderr, cli_color(stderr));
	diag_release(&d);
	if (!plan) {
		arena_release(&a);
		return EXIT_INVALID;
	}

	if (!state)
		state = getenv("LOCKSTEP_STATE");
	if (!state || !*state)
		state = ".lockstep";
	uint64_t run_id = 0;
	struct buf logdir = BUF_INIT;
	int r = claim_run_dir(state, &run_id, &logdir);
	if (r < 0) {
		fprintf(stderr, "lockstep run: cannot use state directory '%s': %s\n", state, strerror(-r));
		buf_release(&logdir);
		compile_free(plan);
		arena_release(&a);
		return EXIT_STORE;
	}

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
	/* Steps inherit nothing of lockstep's but its environment. */
	proc_seal_fds();
	proc_become_subreaper();

	FILE *human = json ? stderr : stdout;
	struct output out;
	output_init(&out, human, cli_color(human), plan);
	struct events ev;
	events_init(&ev, run_id);
	events_add_sink(&ev, output_record_sink, &out);
	if (json)
		events_add_sink(&ev, output_json_sink, stdout);
	/* A person at a terminal gets the live board; logs get plain lines. */
	const char *term = getenv("TERM");
	struct term_board *board = NULL;
	if (!json && isatty(fileno(stdout)) && !(term && !strcmp(term, "dumb")))
		board = term_board_new(stdout, cli_color(stdout), plan);
	if (board)
		events_add_sink(&ev, term_board_sink, board);
	else
		events_add_sink(&ev, output_plain_sink, &out);

	struct run_opts ro = {
		.run_id = run_id,
		.base_dir = base,
		.log_dir = logdir.s,
		.kill_grace_ms = grace,
		.max_log_bytes = max_log,
		.no_rollback = no_rollback,
		.output = board ? term_board_output : output_step_output,
		.output_arg = board ? (void *)board : (void *)&out,
	};
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct run_cli cli = { 0 };
	cli.run = run_new(plan, &ro, &ev);
	uv_signal_init(&loop, &cli.sigint);
	uv_signal_init(&loop, &cli.sigterm);
	cli.sigint.data = cli.sigterm.data = &cli;
	uv_signal_start(&cli.sigint, signal_cb, SIGINT);
	uv_signal_start(&cli.sigterm, signal_cb, SIGTERM);

	if (board)
		term_board_start(board, &loop);
	run_start(cli.run, &loop);
	while (!run_done(cli.run))
		uv_run(&loop, UV_RUN_ONCE);
	enum run_status st = run_status(cli.run);
	if (board)
		term_board_stop(board);

	uv_close((uv_handle_t *)&cli.sigint, NULL);
	uv_close((uv_handle_t *)&cli.sigterm, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	proc_kill_descendants();

	output_summary(&out, human);
	output_release(&out);
	term_board_free(board);
	run_free(cli.run);
	buf_release(&logdir);
	compile_free(plan);
	arena_release(&a);
	return st == RUN_SUCCEEDED ? EXIT_OK : st == RUN_ABORTED ? EXIT_ABORTED : EXIT_FAILED;
}
