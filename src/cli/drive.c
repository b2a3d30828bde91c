#include "cli/drive.h"

#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/outq.h"
#include "cli/cli.h"
#include "cli/json_out.h"
#include "cli/output.h"
#include "cli/term.h"
#include "engine/run.h"
#include "events/logpath.h"
#include "events/view.h"

struct run_cli {
	const char *cmd;
	struct run *run;
	uv_signal_t sigint, sigterm, sighup;
	int signals;
	struct events *ev;
	struct outq *err_q;        /* standard error: lockstep's messages during the run */
	/* Durable before visible: at the end of each loop iteration, and
	 * before the loop may block, the queued events go to the commit
	 * thread; `committed` wakes the loop when a commit has ended, and
	 * only then are its events shown. */
	uv_check_t check;
	uv_prepare_t prepare;
	uv_async_t committed;
	bool store_failed;         /* reported, and the run told to stop */
	uint64_t unrecorded_from;  /* first seq not in the store */
	/* The sink step output goes to, through events_output. */
	void (*output)(const char *workflow, const char *step, enum run_stream s,
		       const char *data, size_t len, void *arg);
	void *output_arg;
};

/* A message on standard error, through its queue: never blocks the loop. */
__attribute__((format(printf, 2, 3))) static void say(struct run_cli *c, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	outq_put(c->err_q, b.s, b.len, SIZE_MAX);
	buf_release(&b);
}

/*
 * Shows the events whose commit has ended and hands the queued ones to the
 * commit thread (`last`: waits until all of them are committed, for the
 * end of the run). The first time the store fails, says so and stops the
 * run: no step starts any more (rollbacks neither: they could not be
 * recorded), the running ones are terminated with the grace period, and
 * the summary says where each workflow was left. Never called from
 * inside the engine.
 */
static void flush_events(struct run_cli *c, bool last)
{
	if ((last ? events_finish(c->ev) : events_flush(c->ev)) == 0 || c->store_failed)
		return;
	/* Nothing is committed after a failed commit. */
	uint64_t first = c->ev->last_committed + 1;
	c->store_failed = true;
	c->unrecorded_from = first;
	say(c, "lockstep %s: state store error: %s\n", c->cmd, c->ev->commit_msg.s);
	say(c, "lockstep %s: events from seq %llu on are not recorded; stopping the run "
	       "(no further steps, no rollbacks)\n",
	    c->cmd, (unsigned long long)first);
	run_stop(c->run);
}

/* After each loop iteration (and before the loop blocks), and when a
 * commit has ended: show what is committed, hand over what is queued,
 * then start the steps that waited for their events to be recorded. */
static void check_cb(uv_check_t *h)
{
	struct run_cli *c = h->data;
	flush_events(c, false);
	run_committed(c->run);
}

static void prepare_cb(uv_prepare_t *h)
{
	struct run_cli *c = h->data;
	flush_events(c, false);
	run_committed(c->run);
}

static void committed_cb(uv_async_t *h)
{
	struct run_cli *c = h->data;
	flush_events(c, false);
	run_committed(c->run);
}

/* On the commit thread: a commit has ended. */
static void wake_loop(void *arg)
{
	uv_async_send(arg);
}

/*
 * Step output is not an event, but it must not overtake the step.started
 * that announces it: events_output holds it while that waits for its
 * commit, and gives it to the terminal's sink (show_output) right after.
 */
static void step_output(const char *workflow, const char *step, enum run_stream s, const char *data,
			size_t len, void *arg)
{
	struct run_cli *c = arg;
	events_output(c->ev, workflow, step, (int)s, data, len);
}

static void show_output(const char *workflow, const char *step, int s, const char *data, size_t len,
			void *arg)
{
	struct run_cli *c = arg;
	c->output(workflow, step, (enum run_stream)s, data, len, c->output_arg);
}

static void signal_cb(uv_signal_t *h, int signum)
{
	struct run_cli *c = h->data;
	c->signals++;
	say(c, "lockstep: %s: %s\n",
	    signum == SIGINT ? "interrupted" : signum == SIGHUP ? "hangup" : "terminated",
	    c->signals == 1 ? "aborting the run (again to kill at once and skip rollbacks)"
			    : "killing at once, skipping rollbacks");
	run_abort(c->run);
}


void cli_run_args_format(struct buf *out, const struct run_args *ra)
{
	buf_adds(out, "{\"vars\":[");
	for (size_t i = 0; i < ra->vars.n; i++) {
		buf_adds(out, i ? ",[" : "[");
		buf_add_json_str(out, ra->vars.v[i].key);
		buf_addc(out, ',');
		buf_add_json_str(out, ra->vars.v[i].val);
		buf_addc(out, ']');
	}
	buf_addf(out, "],\"no_rollback\":%s,\"kill_grace_ms\":%llu,\"max_log_bytes\":%llu,\"base_dir\":",
		 ra->no_rollback ? "true" : "false", (unsigned long long)ra->kill_grace_ms,
		 (unsigned long long)ra->max_log_bytes);
	buf_add_json_str(out, ra->base_dir ? ra->base_dir : ".");
	if (ra->kubectl) {
		buf_adds(out, ",\"kubectl\":");
		buf_add_json_str(out, ra->kubectl);
	}
	if (ra->max_parallel)
		buf_addf(out, ",\"max_parallel\":%zu", ra->max_parallel);
	buf_addc(out, '}');
}

bool cli_run_args_parse(const char *json, struct run_args *ra, struct arena *a)
{
	memset(ra, 0, sizeof(*ra));
	json_error_t jerr;
	json_t *o = json ? json_loads(json, 0, &jerr) : NULL;
	json_t *vars = json_object_get(o, "vars"), *v;
	json_t *base = json_object_get(o, "base_dir");
	bool ok = json_is_object(o) && json_is_array(vars) && json_is_string(base);
	size_t n = ok ? json_array_size(vars) : 0;
	ra->vars.v = arena_array(a, n + 1, sizeof(*ra->vars.v));
	for (size_t i = 0; ok && i < n; i++) {
		v = json_array_get(vars, i);
		json_t *k = json_array_get(v, 0), *val = json_array_get(v, 1);
		if (!json_is_string(k) || !json_is_string(val)) {
			ok = false;
			break;
		}
		ra->vars.v[i].key = arena_strdup(a, json_string_value(k));
		ra->vars.v[i].val = arena_strdup(a, json_string_value(val));
		ra->vars.n++;
	}
	if (ok) {
		ra->no_rollback = json_is_true(json_object_get(o, "no_rollback"));
		v = json_object_get(o, "kill_grace_ms");
		ra->kill_grace_ms = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 10000;
		v = json_object_get(o, "max_log_bytes");
		ra->max_log_bytes = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 64ULL << 20;
		ra->base_dir = arena_strdup(a, json_string_value(base));
		v = json_object_get(o, "kubectl");
		ra->kubectl = json_is_string(v) ? arena_strdup(a, json_string_value(v)) : NULL;
		v = json_object_get(o, "max_parallel");
		ra->max_parallel = json_is_integer(v) && json_integer_value(v) > 0
					   ? (size_t)json_integer_value(v) : 0;
	}
	json_decref(o);
	return ok;
}

/*
 * Feeds the recorded events of a resumed run to its view and to the
 * board (not to the plain lines or --json: they were shown when they
 * happened), with their recorded times on this process's clock.
 */
static void replay_recorded(const struct drive *d, struct run_view *view, struct term_board *board)
{
	if (!d->resuming)
		return;
	int64_t wall = clock_wall_ms();
	uint64_t mono = clock_mono_ms();
	for (size_t i = 0; i < d->nrecorded; i++) {
		struct event e = *d->recorded[i];
		uint64_t ago = e.ts_ms < wall ? (uint64_t)(wall - e.ts_ms) : 0;
		e.mono_ms = ago < mono ? mono - ago : 0;
		view_apply(view, &e);
		if (board)
			term_board_sink(&e, board);
	}
}

int cli_drive(const struct drive *d)
{
	/* Descriptors for every step, nothing of lockstep's inherited by
	 * them, and what they leave behind re-parented to lockstep. */
	run_prepare_process();
	/*
	 * A reader that goes away (`lockstep run ... --json | head`) must not
	 * kill lockstep in the middle of a deploy: its steps would go on
	 * unwatched and nothing would roll back. Writes to the closed pipe
	 * fail instead, and the run goes on, recorded as ever. Steps start
	 * with every signal at its default (proc.c), SIGPIPE included.
	 */
	signal(SIGPIPE, SIG_IGN);

	const struct plan *plan = d->plan;
	struct store *st = d->st;
	uint64_t run_id = d->run_id;
	bool json = d->json;
	/*
	 * Nothing is written to standard output or error during the run but
	 * through these queues: a reader that falls behind must never hold
	 * up the loop (timeouts, barrier deadlines, abort). What stdio holds
	 * goes out first.
	 */
	fflush(stdout);
	fflush(stderr);
	struct outq *out_q = outq_new(STDOUT_FILENO);
	struct outq *err_q = outq_new(STDERR_FILENO);
	struct outq *human_q = json ? err_q : out_q;
	FILE *human = json ? stderr : stdout;
	struct buf note = BUF_INIT;
	buf_addf(&note, "the reader fell behind; 'lockstep logs %llu' and 'lockstep show %llu' have them",
		 (unsigned long long)run_id, (unsigned long long)run_id);
	outq_set_note(human_q, note.s);
	buf_release(&note);
	/* What the run's events add up to: the board and the summary show it. */
	struct run_view *view = view_new_plan(plan, 0);
	struct output out;
	output_init(&out, human_q, plan, view);
	struct events ev;
	events_init(&ev, run_id);
	struct store_sink sink = { st, run_id };
	/* Before anything is numbered: the durable sink sees every event. */
	events_set_durable(&ev, store_commit_sink, &sink);
	if (d->resuming)
		events_continue(&ev, d->last_seq);
	/* First: the sinks after it show the view with their event in it. */
	events_add_sink(&ev, view_sink, view);
	struct json_out jo;
	json_out_init(&jo, out_q, &ev, st->state_dir, run_id);
	if (json)
		events_add_sink(&ev, json_out_sink, &jo);
	/* A person at a terminal gets the live board; logs get plain lines. */
	const char *term = getenv("TERM");
	struct term_board *board = NULL;
	if (!json && isatty(STDOUT_FILENO) && !(term && !strcmp(term, "dumb")))
		board = term_board_new(STDOUT_FILENO, out_q, cli_color(stdout), plan, view);
	if (board)
		events_add_sink(&ev, term_board_sink, board);
	else
		events_add_sink(&ev, output_plain_sink, &out);
	/* A resumed run's summary and board start from what was recorded. */
	replay_recorded(d, view, board);

	struct run_cli cli = { 0 };
	cli.cmd = d->cmd;
	cli.ev = &ev;
	cli.err_q = err_q;
	cli.output = board ? term_board_output : output_step_output;
	cli.output_arg = board ? (void *)board : (void *)&out;
	events_set_output(&ev, show_output, &cli);
	/* Steps run under the run's supervisor, which outlives lockstep
	 * (LOCKSTEP_SUPERVISOR=0: under lockstep itself, as a baseline). */
	struct buf supervise = BUF_INIT;
	const char *sv = getenv("LOCKSTEP_SUPERVISOR");
	if (!sv || strcmp(sv, "0") != 0)
		logpath_supervise_dir(st->state_dir, run_id, &supervise);
	struct run_opts ro = {
		.run_id = run_id,
		.token = d->token,
		.base_dir = d->base_dir,
		.log_dir = d->log_dir,
		.kill_grace_ms = d->kill_grace_ms,
		.max_log_bytes = d->max_log_bytes,
		.max_parallel = d->max_parallel,
		.no_rollback = d->no_rollback,
		.defer_spawns = true,
		.kill_leftovers = true,
		.output = step_output,
		.output_arg = &cli,
		.secrets = d->secrets,
		.mask = d->mask,
		.supervise_dir = supervise.len ? supervise.s : NULL,
		.takeover = d->resuming,
	};
	uv_loop_t loop;
	uv_loop_init(&loop);
	/* From here until events_finish, only the commit thread uses the store. */
	uv_async_init(&loop, &cli.committed, committed_cb);
	cli.committed.data = &cli;
	events_start_committer(&ev, wake_loop, &cli.committed);
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
	uv_signal_init(&loop, &cli.sighup);
	cli.sigint.data = cli.sigterm.data = cli.sighup.data = &cli;
	uv_signal_start(&cli.sigint, signal_cb, SIGINT);
	uv_signal_start(&cli.sigterm, signal_cb, SIGTERM);
	/* The terminal went away (a dropped ssh session): abort, as SIGTERM
	 * does, rather than die with the steps left running unwatched. Under
	 * nohup (SIGHUP ignored) the run goes on, as the user asked. */
	struct sigaction hup;
	if (sigaction(SIGHUP, NULL, &hup) == 0 && hup.sa_handler != SIG_IGN)
		uv_signal_start(&cli.sighup, signal_cb, SIGHUP);

	if (board)
		term_board_start(board, &loop);
	int code = EXIT_OK;
	struct buf err = BUF_INIT;
	if (!d->resuming) {
		run_start(cli.run, &loop);
	} else if (run_resume(cli.run, &loop, d->recorded, d->nrecorded, d->abort_run, &err) < 0) {
		say(&cli, "lockstep %s: the recorded events of run %llu do not fit its pipeline: %s\n", d->cmd,
		    (unsigned long long)run_id, err.s);
		code = EXIT_STORE;
	}
	if (run_exec_warning(cli.run))
		say(&cli, "lockstep %s: %s\n", d->cmd, run_exec_warning(cli.run));
	/* run.started and the first group's events, before the loop blocks. */
	flush_events(&cli, false);
	while (code == EXIT_OK && !run_done(cli.run))
		uv_run(&loop, UV_RUN_ONCE);
	/* The run is over: wait for its last commit; the store is this thread's again. */
	flush_events(&cli, true);
	run_close(cli.run);
	enum run_status status = run_status(cli.run);
	output_flush_partial(&out);
	if (board)
		term_board_stop(board);

	uv_close((uv_handle_t *)&cli.sigint, NULL);
	uv_close((uv_handle_t *)&cli.sigterm, NULL);
	uv_close((uv_handle_t *)&cli.sighup, NULL);
	uv_close((uv_handle_t *)&cli.check, NULL);
	uv_close((uv_handle_t *)&cli.prepare, NULL);
	uv_close((uv_handle_t *)&cli.committed, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	run_reap_leftovers();

	/* The record is complete before anything waits for a reader. */
	if (code == EXIT_OK) {
		code = status == RUN_SUCCEEDED ? EXIT_OK : status == RUN_ABORTED ? EXIT_ABORTED : EXIT_FAILED;
		if (!cli.store_failed && !cli.unrecorded_from &&
		    store_finish_run(st, run_id, run_status_name(status), clock_wall_ms(), &err) < 0) {
			say(&cli, "lockstep %s: state store error: %s\n", d->cmd, err.s);
			cli.unrecorded_from = ev.seq + 1;
		}
	}
	/* The run is over: now waiting for the readers is all there is to do. */
	outq_drain(out_q);
	bool out_closed = outq_broken(out_q, NULL);
	outq_free(out_q);
	outq_free(err_q);
	if (code == EXIT_OK || code == EXIT_FAILED || code == EXIT_ABORTED) {
		output_summary(view, cli_color(human), human);
		/* Said where it can still be read, if anywhere. */
		if (out_closed)
			fprintf(stderr, "lockstep %s: standard output was closed during the run; the run went on: "
					"'lockstep show %llu' has all of it\n",
				d->cmd, (unsigned long long)run_id);
		else if (json && jo.err.len)
			fprintf(stderr, "lockstep %s: --json: events that a slow reader had left behind could not "
					"be read back from the store: %s; 'lockstep show %llu --json' has what was "
					"recorded\n",
				d->cmd, jo.err.s, (unsigned long long)run_id);
		if (json && jo.err.len && !out_closed)
			code = EXIT_STORE;
	}
	if (cli.store_failed || cli.unrecorded_from) {
		fprintf(stderr,
			"lockstep %s: run %llu was not fully recorded in %s: events from seq %llu on are missing "
			"(the summary above says what state each workflow was left in)\n",
			d->cmd, (unsigned long long)run_id, store_where(st), (unsigned long long)cli.unrecorded_from);
		code = EXIT_STORE;
	}
	buf_release(&err);
	json_out_release(&jo);
	events_release(&ev);
	output_release(&out);
	term_board_free(board);
	view_free(view);
	run_free(cli.run);
	buf_release(&supervise);
	return code;
}
