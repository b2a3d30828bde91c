#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
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
#include "store/store.h"

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
	struct events *ev;
	/* Durable before visible: at the end of each loop iteration, and
	 * before the loop may block, the queued events are committed to the
	 * store and only then shown. */
	uv_check_t check;
	uv_prepare_t prepare;
	bool store_failed;         /* reported, and the run told to stop */
	uint64_t unrecorded_from;  /* first seq not in the store */
	/* The sink step output goes to, behind flush_then_output. */
	void (*output)(const char *workflow, const char *step, enum proc_stream s,
		       const char *data, size_t len, void *arg);
	void *output_arg;
};

/*
 * Commits and delivers the queued events. The first time the store fails,
 * says so and stops the run: no step starts any more (rollbacks neither:
 * they could not be recorded), the running ones are terminated with the
 * grace period, and the summary says where each workflow was left.
 * Never called from inside the engine.
 */
static void flush_events(struct run_cli *c)
{
	uint64_t first = c->ev->last_committed + 1;
	if (events_flush(c->ev) == 0 || c->store_failed)
		return;
	c->store_failed = true;
	c->unrecorded_from = first;
	fprintf(stderr, "lockstep run: state store error: %s\n", c->ev->commit_msg.s);
	fprintf(stderr, "lockstep run: events from seq %llu on are not recorded; stopping the run "
			"(no further steps, no rollbacks)\n",
		(unsigned long long)first);
	run_stop(c->run);
}

/* Wall clock, ms since the epoch. */
static int64_t now_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* After each loop iteration (and before the loop blocks): commit, show,
 * then start the steps that waited for their events to be recorded. */
static void check_cb(uv_check_t *h)
{
	struct run_cli *c = h->data;
	flush_events(c);
	run_committed(c->run);
}

static void prepare_cb(uv_prepare_t *h)
{
	struct run_cli *c = h->data;
	flush_events(c);
	run_committed(c->run);
}

/*
 * Step output is not an event, but it must not overtake the step.started
 * that announces it: queued events are shown first. Only the visible
 * delivery may happen here (inside the engine's output callback), so the
 * store's failure is handled at the next check.
 */
static void flush_then_output(const char *workflow, const char *step, enum proc_stream s,
			      const char *data, size_t len, void *arg)
{
	struct run_cli *c = arg;
	if (events_pending(c->ev)) {
		uint64_t first = c->ev->last_committed + 1;
		if (events_flush(c->ev) < 0 && !c->unrecorded_from)
			c->unrecorded_from = first;
	}
	c->output(workflow, step, s, data, len, c->output_arg);
}

static void signal_cb(uv_signal_t *h, int signum)
{
	struct run_cli *c = h->data;
	c->signals++;
	fprintf(stderr, "lockstep: %s: %s\n", signum == SIGINT ? "interrupted" : "terminated",
		c->signals == 1 ? "aborting the run (again to kill at once and skip rollbacks)"
				: "killing at once, skipping rollbacks");
	run_abort(c->run);
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

	state = cli_state_dir(state);
	struct buf err = BUF_INIT;
	struct store *st = NULL;
	uint64_t run_id = 0;
	struct buf logdir = BUF_INIT;
	int r = store_open(state, STORE_CREATE, &st, &err);
	if (r == 0) {
		char host[256];
		struct store_run_start rs = { .plan = plan, .file = file };
		char abs[PATH_MAX];
		if (strcmp(file, "-") && realpath(file, abs))
			rs.file = abs;
		rs.started_ms = now_ms();
		store_self_owner(host, sizeof(host), &rs.pid, &rs.pid_start);
		rs.host = host;
		r = store_begin_run(st, &rs, &run_id, &err);
	}
	if (r == 0) {
		store_log_dir(state, run_id, &logdir);
		r = store_mkdirs(logdir.s, &err);
		/* Recorded but never started: not left "running" forever. */
		if (r < 0) {
			struct buf ignored = BUF_INIT;
			store_finish_run(st, run_id, "failed", now_ms(), &ignored);
			buf_release(&ignored);
		}
	}
	if (r < 0) {
		fprintf(stderr, "lockstep run: %s\n", err.s);
		buf_release(&err);
		buf_release(&logdir);
		store_close(st);
		compile_free(plan);
		arena_release(&a);
		return EXIT_STORE;
	}
	buf_release(&err);

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
	/* Each running step holds a few descriptors: allow as many as the
	 * system lets this process have (the soft limit is often 1024). */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Steps inherit nothing of lockstep's but its environment. */
	proc_seal_fds();
	proc_become_subreaper();

	FILE *human = json ? stderr : stdout;
	struct output out;
	output_init(&out, human, cli_color(human), plan);
	struct events ev;
	events_init(&ev, run_id);
	struct store_sink sink = { st, run_id };
	events_set_durable(&ev, store_commit_sink, &sink);
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

	struct run_cli cli = { 0 };
	cli.ev = &ev;
	cli.output = board ? term_board_output : output_step_output;
	cli.output_arg = board ? (void *)board : (void *)&out;
	struct run_opts ro = {
		.run_id = run_id,
		.base_dir = base,
		.log_dir = logdir.s,
		.kill_grace_ms = grace,
		.max_log_bytes = max_log,
		.no_rollback = no_rollback,
		.defer_spawns = true,
		.output = flush_then_output,
		.output_arg = &cli,
	};
	uv_loop_t loop;
	uv_loop_init(&loop);
	cli.run = run_new(plan, &ro, &ev);
	uv_check_init(&loop, &cli.check);
	uv_prepare_init(&loop, &cli.prepare);
	cli.check.data = cli.prepare.data = &cli;
	uv_check_start(&cli.check, check_cb);
	uv_prepare_start(&cli.prepare, prepare_cb);
	/* They must not keep the loop alive on their own. */
	uv_unref((uv_handle_t *)&cli.check);
	uv_unref((uv_handle_t *)&cli.prepare);
	uv_signal_init(&loop, &cli.sigint);
	uv_signal_init(&loop, &cli.sigterm);
	cli.sigint.data = cli.sigterm.data = &cli;
	uv_signal_start(&cli.sigint, signal_cb, SIGINT);
	uv_signal_start(&cli.sigterm, signal_cb, SIGTERM);

	if (board)
		term_board_start(board, &loop);
	run_start(cli.run, &loop);
	/* run.started and the first group's events, before the loop blocks. */
	flush_events(&cli);
	while (!run_done(cli.run))
		uv_run(&loop, UV_RUN_ONCE);
	flush_events(&cli);
	enum run_status status = run_status(cli.run);
	if (board)
		term_board_stop(board);

	uv_close((uv_handle_t *)&cli.sigint, NULL);
	uv_close((uv_handle_t *)&cli.sigterm, NULL);
	uv_close((uv_handle_t *)&cli.check, NULL);
	uv_close((uv_handle_t *)&cli.prepare, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	proc_kill_descendants();

	output_summary(&out, human);
	int code = status == RUN_SUCCEEDED ? EXIT_OK : status == RUN_ABORTED ? EXIT_ABORTED : EXIT_FAILED;
	if (!cli.store_failed && !cli.unrecorded_from) {
		r = store_finish_run(st, run_id, run_status_name(status), now_ms(), &err);
		if (r < 0) {
			fprintf(stderr, "lockstep run: state store error: %s\n", err.s);
			cli.unrecorded_from = ev.seq + 1;
		}
	}
	if (cli.store_failed || cli.unrecorded_from) {
		fprintf(stderr,
			"lockstep run: run %llu was not fully recorded in %s: events from seq %llu on are missing "
			"(the summary above says what state each workflow was left in)\n",
			(unsigned long long)run_id, store_where(st), (unsigned long long)cli.unrecorded_from);
		code = EXIT_STORE;
	}
	buf_release(&err);
	events_release(&ev);
	store_close(st);
	output_release(&out);
	term_board_free(board);
	run_free(cli.run);
	buf_release(&logdir);
	compile_free(plan);
	arena_release(&a);
	return code;
}
