#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "cli/cli.h"
#include "cli/logs_view.h"
#include "cli/recorded.h"
#include "events/logpath.h"
#include "store/store.h"

static const char usage[] =
	"usage: lockstep logs RUN [WORKFLOW[/STEP]] [--state DIR] [-f | --follow]\n"
	"\n"
	"Prints the recorded output of a run's steps, each attempt after a\n"
	"header line '==> WORKFLOW/STEP attempt N: STATUS, exit CODE, DURATION <==',\n"
	"in the order the attempts started: all run, http-check and Kubernetes\n"
	"steps, those of one WORKFLOW (an instance name such as\n"
	"'deploy[region=eu]'), or one step (WORKFLOW/STEP, STEP being the step id).\n"
	"RUN is a run id as listed by `lockstep runs`, or `last` for the newest\n"
	"run of the state directory.\n"
	"\n"
	"With --follow, a run in progress is followed until it ends: what the\n"
	"attempt being printed writes appears as it is written, and attempts\n"
	"that start later follow with their headers, in the order they started\n"
	"(attempts that run at the same time are shown one after the other: the\n"
	"next once the one before it has finished). It ends when the run\n"
	"finishes (exit 0) or is interrupted, its lockstep process gone (exit 1).\n"
	"On a finished run it prints what plain 'logs' prints.\n"
	"\n"
	"options:\n";

static const char more[] =
	"\n"
	"exit codes: 0 ok, 1 no such run (or no run at all for `last`), workflow or\n"
	"            step, or (--follow) the run was interrupted, 2 usage error (RUN\n"
	"            is not a run id), 4 state store error (including a missing state\n"
	"            directory), 130 (--follow) stopped by SIGINT\n";

/* ---- --follow ----
 *
 * The run's events say which attempts exist and whether each has
 * finished; the log files hold their output. Every FOLLOW_POLL_MS the
 * run's status is loaded again, the events recorded since the last poll
 * are folded into the run's view, and the attempt being printed is read
 * on from where the last read stopped, so no byte is printed twice.
 * Attempts are printed whole, one after the other, in the order plain
 * `logs` prints them (by the seq of their step.started): the next one
 * starts once its step.finished says the one before it has finished, and
 * a finished attempt's log is complete (the engine closes the log before
 * it emits step.finished, and an event is committed before anything
 * later happens).
 *
 * What it prints is what logs_print() prints, from the same pieces: the
 * selection (logs_select), the attempts in start order (logs_attempts),
 * each attempt's header and footer.
 */

#define FOLLOW_POLL_MS 100

static volatile sig_atomic_t follow_sigint;

static void follow_on_sigint(int sig)
{
	(void)sig;
	follow_sigint = 1;
}

/*
 * An attempt's place in the order `logs` prints: the seq of its
 * step.started; workflow, step and attempt number only break ties, which
 * a well-formed store does not have.
 */
struct attempt_key {
	uint64_t seq;
	size_t wf, step;
	int attempt;
};

struct follow {
	uint64_t run;
	const char *run_dir;       /* its log directory */
	const char *select;        /* WORKFLOW or WORKFLOW/STEP, or NULL */
	struct run_view *view;     /* the run as its events so far make it */
	uint64_t seen;             /* the seq of the last event read */
	bool begun;                /* an attempt's header has been printed */
	struct attempt_key cur;    /* the last such attempt */
	bool cur_done;             /* ... and all of it has been printed */
	int fd;                    /* its log file, or -1 (not there yet) */
	int last;                  /* the last byte of it printed, or -1 */
};

static int key_cmp(const struct attempt_key *x, const struct attempt_key *y)
{
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	if (x->wf != y->wf)
		return x->wf < y->wf ? -1 : 1;
	if (x->step != y->step)
		return x->step < y->step ? -1 : 1;
	return (x->attempt > y->attempt) - (x->attempt < y->attempt);
}

/* The place of attempt `x` of the run of view `v` in the order `logs` prints. */
static struct attempt_key key_of(const struct run_view *v, const struct logs_attempt *x)
{
	return (struct attempt_key){ x->att->seq, (size_t)(x->wf - v->wfs),
				     (size_t)(x->step - x->wf->steps), x->att->attempt };
}

/* True when `select` names something of run `run` (see logs_select). */
static bool pick(const struct run_view *v, uint64_t run, const char *select, const struct view_workflow **wf,
		 const struct view_step **step)
{
	struct buf err = BUF_INIT;
	bool ok = logs_select(v, run, select, wf, step, &err) == 0;
	buf_release(&err);
	return ok;
}

/*
 * Prints what the current attempt's log holds beyond what was printed,
 * opening the file first if it is not open yet (a run step's log appears
 * only once its process is spawned, after its step.started).
 */
static void drain(struct follow *f, const char *path, FILE *out)
{
	if (f->fd < 0) {
		f->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (f->fd < 0)
			return;
	}
	char chunk[65536];
	while (!follow_sigint) {
		ssize_t n = read(f->fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (fwrite(chunk, 1, (size_t)n, out) != (size_t)n)
			break;
		f->last = (unsigned char)chunk[n - 1];
	}
}

/*
 * Prints what is new in the view for the selection. With `ended` (the run
 * is over: nothing will be written any more), prints everything that is
 * left.
 */
static void follow_print(struct follow *f, bool ended, FILE *out)
{
	const struct view_workflow *swf;
	const struct view_step *sstep;
	if (!pick(f->view, f->run, f->select, &swf, &sstep))
		return; /* checked before following; the plan does not change */
	struct logs_attempt *refs;
	size_t n = logs_attempts(f->view, swf, sstep, &refs);
	struct buf path = BUF_INIT;
	for (size_t i = 0; i < n && !follow_sigint; i++) {
		const struct logs_attempt *x = &refs[i];
		struct attempt_key key = key_of(f->view, x);
		int c = f->begun ? key_cmp(&key, &f->cur) : 1;
		if (c < 0 || (c == 0 && f->cur_done))
			continue;
		if (c > 0) {
			if (f->fd >= 0)
				close(f->fd);
			logs_attempt_header(x, out);
			f->begun = true;
			f->cur = key;
			f->cur_done = false;
			f->fd = -1;
			f->last = -1;
		}
		buf_reset(&path);
		logpath_attempt(f->run_dir, x->wf->name, x->step->id, x->att->attempt, &path);
		/* Finished as of the events read, which came before this read:
		 * the read sees the whole log. */
		bool over = x->att->finished || ended;
		drain(f, path.s, out);
		if (!over || follow_sigint)
			break;
		logs_attempt_footer(x, f->fd >= 0, f->last, path.s, out);
		if (f->fd >= 0)
			close(f->fd);
		f->fd = -1;
		f->cur_done = true;
	}
	if (ended && !f->begun && sstep && !follow_sigint)
		fprintf(out, "(%s/%s has not started)\n", swf->name, sstep->id);
	buf_release(&path);
	free(refs);
}

/*
 * Standard output is gone (`| head` exited): end as any filter does then,
 * by SIGPIPE, which shells do not report.
 */
static int output_gone(void)
{
	signal(SIGPIPE, SIG_DFL);
	raise(SIGPIPE);
	return 128 + SIGPIPE;
}

/* Flushes standard output: -1 when all is well, else the exit status. */
static int flush_out(void)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return -1;
	if (follow_sigint)
		return EXIT_ABORTED;
	if (errno == EPIPE)
		return output_gone();
	fprintf(stderr, "lockstep logs: cannot write the logs: %s\n", strerror(errno));
	return EXIT_FAILED;
}

/*
 * Waits FOLLOW_POLL_MS, or less when SIGINT comes. Polling standard output
 * for nothing reports only its errors: a pipe whose reader has gone, so
 * that `logs -f | head` ends when head does, not at the next write.
 */
static bool wait_poll(void)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = 0 };
	int n = poll(&p, 1, FOLLOW_POLL_MS);
	return !(n > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)));
}

/*
 * Loads run `id` (`flags` as store_load_run takes them). A run read as
 * interrupted is read again: the owner is checked after the read, so an
 * owner that recorded the end of its run and exited in between would look
 * interrupted; read after its exit, the run is what it really is.
 */
static int load(struct store *st, uint64_t id, unsigned flags, struct store_run *run, struct buf *err)
{
	int r = store_load_run(st, id, flags, run, err);
	if (r == 0 && !strcmp(run->info.status, "interrupted")) {
		store_run_release(run);
		r = store_load_run(st, id, flags, run, err);
	}
	return r;
}

/* The seq of the last of `r`'s loaded events, 0 when there are none. */
static uint64_t last_loaded(const struct store_run *r)
{
	return r->nevents ? r->events[r->nevents - 1].seq : 0;
}

/* Folds an event read back from the store into the followed view. */
static void follow_event(const struct store_event *se, void *arg)
{
	struct follow *f = arg;
	recorded_view_apply(f->view, se);
	f->seen = se->seq;
}

/* Prints `s` for a shell: as it is when that is safe, else single-quoted. */
static void put_shell_word(const char *s, FILE *out)
{
	if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-=.,:/@%") ==
			  strlen(s)) {
		fputs(s, out);
		return;
	}
	fputc('\'', out);
	for (const char *c = s; *c; c++) {
		if (*c == '\'')
			fputs("'\\''", out);
		else
			fputc(*c, out);
	}
	fputc('\'', out);
}

/*
 * A run that cannot finish any more (its owner is gone): says so on
 * standard error, with the command that continues it, `--state` included
 * when it was given. Returns EXIT_FAILED.
 */
static int interrupted(const struct store_run_info *ri, const char *state_opt)
{
	fprintf(stderr,
		"lockstep logs: run %llu was interrupted: the lockstep process that ran it (pid %d on %s) "
		"is gone; continue it with: lockstep resume %llu",
		(unsigned long long)ri->id, ri->pid, ri->host ? ri->host : "?", (unsigned long long)ri->id);
	if (state_opt) {
		fputs(" --state ", stderr);
		put_shell_word(state_opt, stderr);
	}
	fputc('\n', stderr);
	return EXIT_FAILED;
}

/*
 * Follows run `id` (status running, borrowed store) until it ends: exit 0
 * when it finished, 1 when it was interrupted, 130 on SIGINT. `v` is the
 * run's view from what was loaded so far, up to event `seen`.
 */
static int follow_run(struct store *st, uint64_t id, const char *run_dir, const char *state_opt,
		      const char *select, struct run_view *v, uint64_t seen)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = follow_on_sigint;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a write blocked on a full pipe returns on SIGINT. */
	sigaction(SIGINT, &sa, NULL);
	/* Whatever was inherited, a closed pipe ends lockstep quietly. */
	signal(SIGPIPE, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_UNBLOCK, &set, NULL);

	struct follow f = { .run = id, .run_dir = run_dir, .select = select, .view = v, .seen = seen,
			    .fd = -1, .last = -1 };
	struct buf err = BUF_INIT;
	int rc = -1;
	while (rc < 0) {
		if (follow_sigint) {
			rc = EXIT_ABORTED;
			break;
		}
		/* The status first, then the events: when it says the run
		 * has ended, the events read after it are all there are. */
		struct store_run run;
		int r = load(st, id, 0, &run, &err);
		if (r == 0 && (r = store_read_events(st, id, f.seen, 0, follow_event, &f, &err)) < 0)
			store_run_release(&run);
		if (r < 0) {
			fflush(stdout);
			fprintf(stderr, "lockstep logs: %s\n", err.s);
			rc = cli_store_exit(r);
			break;
		}
		bool ended = strcmp(run.info.status, "running") != 0;
		follow_print(&f, ended, stdout);
		rc = flush_out();
		if (rc < 0 && follow_sigint)
			rc = EXIT_ABORTED;
		if (rc < 0 && ended)
			rc = strcmp(run.info.status, "interrupted") ? EXIT_OK : interrupted(&run.info, state_opt);
		store_run_release(&run);
		if (rc < 0 && !wait_poll())
			rc = output_gone();
	}
	if (f.fd >= 0)
		close(f.fd);
	buf_release(&err);
	return rc;
}

int cmd_logs(int argc, char **argv)
{
	const char *state_opt = NULL;
	bool follow = false;
	const struct opt opts[] = {
		OPT_FLAG('f', "follow", &follow, "follow a run in progress until it ends"),
		CLI_OPT_STATE(&state_opt),
		OPT_HELP(),
		OPT_END(),
	};
	int code = cli_options("logs", opts, usage, more, &argc, &argv);
	if (code < 0)
		code = cli_want_args("logs", argc, 1, 2, "RUN", "RUN and at most one WORKFLOW[/STEP]");
	if (code >= 0)
		return code;
	const char *state = cli_state_dir(state_opt);
	uint64_t id;
	code = cli_parse_run_id("logs", argv[0], state, &id);
	if (code >= 0)
		return code;
	const char *select = argc == 2 ? argv[1] : NULL;

	if (state_opt && !*state_opt)
		state_opt = NULL;

	struct buf err = BUF_INIT, run_dir = BUF_INIT;
	logpath_run_dir(state, id, &run_dir);
	struct store *st;
	struct store_run run;
	struct run_view *v = NULL;
	int r = store_open(state, STORE_READONLY, &st, &err);
	if (r == 0) {
		r = follow ? load(st, id, STORE_LOAD_EVENTS, &run, &err)
			   : store_load_run(st, id, STORE_LOAD_EVENTS, &run, &err);
		if (r == 0)
			v = recorded_view_load(&run);
		const struct view_workflow *swf;
		const struct view_step *sstep;
		if (r == 0 && follow && !strcmp(run.info.status, "running") &&
		    pick(v, id, select, &swf, &sstep)) {
			/* The view borrows the first load's skeleton: it stays. */
			buf_release(&err);
			int rc = follow_run(st, id, run_dir.s, state_opt, select, v, last_loaded(&run));
			view_free(v);
			store_run_release(&run);
			store_close(st);
			buf_release(&run_dir);
			return rc;
		}
		store_close(st);
	}
	/*
	 * A run that has ended is printed as plain `logs` prints it; so is a
	 * selection that names nothing, which logs_print refuses, with the
	 * message plain `logs` gives, before it prints anything.
	 */
	int rc = EXIT_OK;
	if (r == 0) {
		r = logs_print(v, id, run_dir.s, select, stdout, &err);
		if (r == 0 && follow && !strcmp(run.info.status, "interrupted")) {
			fflush(stdout);
			rc = interrupted(&run.info, state_opt);
		}
		view_free(v);
		store_run_release(&run);
	}
	buf_release(&run_dir);
	if (r < 0) {
		fprintf(stderr, "lockstep logs: %s\n", err.s);
		buf_release(&err);
		return cli_store_exit(r);
	}
	buf_release(&err);
	return rc;
}
