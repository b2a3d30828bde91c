/*
 * resume, abort: take over a run whose `lockstep run` died (kill -9, a
 * crash, power loss) and finish it, or abort it and run its rollbacks.
 *
 *   claim the run (only an interrupted one: its owner is gone)
 *     -> kill what the dead owner left running (leftovers.c)
 *     -> compile the pipeline exactly as it was recorded, with its --var values
 *     -> rebuild the run from its events and go on (engine/resume.c)
 *
 * `abort` of a run whose owner is alive (same host) asks the owner to
 * abort (SIGTERM, as Ctrl-C would) and waits for the run to end.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/diag.h"
#include "cli/cli.h"
#include "cli/drive.h"
#include "cli/leftovers.h"
#include "cli/secrets.h"
#include "events/codec.h"
#include "events/logpath.h"
#include "exec/supervise.h"
#include "pipeline/compile.h"
#include "store/store.h"

static const char resume_usage[] =
	"usage: lockstep resume RUN [--state DIR] [--json] [--kill-grace DURATION] [--max-parallel N]\n"
	"                           [--kubectl PATH] [--secrets-file FILE]\n"
	"\n"
	"Takes over an interrupted run (its `lockstep run` died: kill -9, a crash,\n"
	"power loss) and finishes it. First it terminates whatever the dead run left\n"
	"running. Then it goes on from the recorded events: steps that finished keep\n"
	"their results and never run again; a step that was running is retried if it\n"
	"has retries left, otherwise it fails with reason 'interrupted'; barriers and\n"
	"rollbacks follow the normal rules. The pipeline and its --var values are\n"
	"the ones the run was started with (recorded), whatever the file says now.\n"
	"RUN is a run id, or `last` for the newest run of the state directory.\n"
	"\n"
	"options:\n";

static const char resume_more[] =
	"\n"
	"exit codes: as `lockstep run` (0 succeeded, 1 failed, 130 aborted); 1 also\n"
	"            when the run is not interrupted (finished, or still running),\n"
	"            2 usage error, 3 the recorded pipeline no longer compiles,\n"
	"            4 state directory error\n";

static const char abort_usage[] =
	"usage: lockstep abort RUN [--state DIR] [--json] [--kill-grace DURATION] [--max-parallel N]\n"
	"                          [--kubectl PATH] [--secrets-file FILE]\n"
	"\n"
	"Aborts a run. An interrupted run (its `lockstep run` died) is taken over:\n"
	"what it left running is terminated, barriers still open break with 'run\n"
	"aborted', and the rollbacks of its workflows run, recorded as\n"
	"events of the run. A run still in progress on this host is asked to abort\n"
	"(SIGTERM to its `lockstep run`, like Ctrl-C) and waited for. RUN is a run\n"
	"id, or `last` for the newest run of the state directory.\n"
	"\n"
	"options:\n";

static const char abort_more[] =
	"\n"
	"exit codes: 0 the run is aborted and its rollbacks succeeded, 1 a rollback\n"
	"            failed, or the run had already finished, 2 usage error,\n"
	"            3 the recorded pipeline no longer compiles, 4 state directory error\n";

struct opts {
	const char *cmd;
	const char *state;
	bool json;
	bool has_grace;
	uint64_t grace;
	uint64_t id;
	const char *kubectl;
	size_t max_parallel;       /* 0: the run's own */
	const char *secrets_file;  /* --secrets-file, or NULL */
};

/* Returns -1 to go on, or the exit code. */
static int parse(int argc, char **argv, struct opts *o)
{
	uint64_t parallel = 0;
	o->grace = UINT64_MAX; /* not given */
	const struct opt opts[] = {
		CLI_OPT_STATE(&o->state),
		OPT_FLAG(0, "json", &o->json, "events as JSON lines on stdout; human output on stderr"),
		CLI_OPT_KILL_GRACE(&o->grace, "SIGTERM -> SIGKILL delay for leftovers and steps\n"
					      "(default: the run's own)"),
		CLI_OPT_MAX_PARALLEL(&parallel, "at most N step processes at once (default: the run's own)"),
		OPT_STRING(0, "kubectl", &o->kubectl, "PATH",
			   "the kubectl Kubernetes steps run (default: the run's\n"
			   "own --kubectl, else kubectl on PATH)"),
		OPT_STRING(0, "secrets-file", &o->secrets_file, "FILE",
			   "the values of the pipeline's secrets, as for `run`: the\n"
			   "run does not keep them (else LOCKSTEP_SECRET_<NAME>)"),
		OPT_HELP(),
		OPT_END(),
	};
	bool abort_run = !strcmp(o->cmd, "abort");
	int rc = cli_options(o->cmd, opts, abort_run ? abort_usage : resume_usage,
			     abort_run ? abort_more : resume_more, &argc, &argv);
	if (rc < 0)
		rc = cli_want_args(o->cmd, argc, 1, 1, "RUN", "one RUN");
	if (rc >= 0)
		return rc;
	o->has_grace = o->grace != UINT64_MAX;
	o->max_parallel = (size_t)parallel;
	o->state = cli_state_dir(o->state);
	return cli_parse_run_id(o->cmd, argv[0], o->state, &o->id);
}

/* The exit code for a store error of the claim. */
static int claim_exit(const struct opts *o, int r, const char *msg)
{
	fprintf(stderr, "lockstep %s: %s\n", o->cmd, msg);
	switch (r) {
	case STORE_ENOTFOUND:
	case STORE_EFINISHED:
		return EXIT_FAILED;
	case STORE_EALIVE:
		if (strcmp(o->cmd, "abort"))
			fprintf(stderr, "lockstep %s: only an interrupted run can be resumed; "
					"'lockstep abort %llu' stops a running one\n",
				o->cmd, (unsigned long long)o->id);
		return EXIT_FAILED;
	default:
		return EXIT_STORE;
	}
}

static void nap_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&t, NULL);
}

/*
 * abort of a run whose owner is alive on this host: SIGTERM to the owner,
 * then wait until the run has ended (or its owner died: then it is
 * interrupted, and the caller takes it over). Returns -1 to take over, or
 * the exit code.
 */
static int abort_live(const struct opts *o, struct store *st, const struct store_run_info *ri)
{
	char host[256];
	int me;
	uint64_t start;
	store_self_owner(host, sizeof(host), &me, &start);
	if (strcmp(ri->host, host) != 0) {
		fprintf(stderr, "lockstep abort: run %llu is owned by a lockstep on host %s (pid %d); abort it there\n",
			(unsigned long long)o->id, ri->host, ri->pid);
		return EXIT_FAILED;
	}
	if (kill((pid_t)ri->pid, SIGTERM) < 0 && errno != ESRCH) {
		fprintf(stderr, "lockstep abort: cannot signal run %llu's owner (pid %d): %s\n",
			(unsigned long long)o->id, ri->pid, strerror(errno));
		return EXIT_FAILED;
	}
	fprintf(stderr, "lockstep abort: asked run %llu (pid %d) to abort; waiting for it to finish\n",
		(unsigned long long)o->id, ri->pid);
	for (;;) {
		struct buf err = BUF_INIT;
		struct store_run run;
		int r = store_load_run(st, o->id, 0, &run, &err);
		if (r < 0) {
			fprintf(stderr, "lockstep abort: %s\n", err.s);
			buf_release(&err);
			return EXIT_STORE;
		}
		buf_release(&err);
		char status[32];
		snprintf(status, sizeof(status), "%s", run.info.status);
		bool rb_failed = false;
		for (size_t i = 0; i < run.nwfs; i++)
			rb_failed |= !strcmp(run.wfs[i].status, "rollback-failed");
		store_run_release(&run);
		if (!strcmp(status, "interrupted"))
			return -1;
		if (strcmp(status, "running")) {
			fprintf(stderr, "lockstep abort: run %llu %s\n", (unsigned long long)o->id, status);
			return !strcmp(status, "aborted") && !rb_failed ? EXIT_OK : EXIT_FAILED;
		}
		nap_ms(100);
	}
}

static int take_over(const struct opts *o, struct store *st, bool abort_run)
{
	char host[256];
	int pid;
	uint64_t pid_start;
	store_self_owner(host, sizeof(host), &pid, &pid_start);
	struct buf err = BUF_INIT;
	struct store_claim cl;
	int r = store_claim_run(st, o->id, host, pid, pid_start, &cl, &err);
	if (r < 0) {
		int code = claim_exit(o, r, err.s);
		buf_release(&err);
		store_claim_release(&cl);
		return code;
	}
	struct arena a = ARENA_INIT;
	struct run_args ra;
	struct store_run run;
	bool loaded = false;
	struct plan *plan = NULL;
	struct buf logdir = BUF_INIT;
	struct secret_values secrets = SECRET_VALUES_INIT;
	struct mask *mask = NULL;
	int code = EXIT_FAILED;
	if (!cl.source || !cl.args || !cli_run_args_parse(cl.args, &ra, &a)) {
		fprintf(stderr, "lockstep %s: run %llu was recorded without its pipeline (by an older lockstep); "
				"it cannot be taken over\n",
			o->cmd, (unsigned long long)o->id);
		goto out;
	}
	r = store_load_run(st, o->id, STORE_LOAD_EVENTS, &run, &err);
	if (r < 0) {
		fprintf(stderr, "lockstep %s: %s\n", o->cmd, err.s);
		code = EXIT_STORE;
		goto out;
	}
	loaded = true;
	uint64_t grace = o->has_grace ? o->grace : ra.kill_grace_ms;
	/* The run's supervisor outlived its engine: what it runs is adopted
	 * (resume.c). Without it, what is left of the run is lost: killed. */
	struct buf sdir = BUF_INIT;
	logpath_supervise_dir(o->state, o->id, &sdir);
	if (!supervise_alive(sdir.s))
		leftovers_kill(&run, cl.token, grace, stderr, o->cmd);
	buf_release(&sdir);

	const struct event **evs = arena_array(&a, run.nevents + 1, sizeof(*evs));
	size_t nev = 0;
	uint64_t last = cl.last_seq;
	for (size_t i = 0; i < run.nevents; i++) {
		struct event *e = arena_alloc(&a, sizeof(*e));
		if (event_decode(run.events[i].type, run.events[i].json, e, &a) < 0) {
			fprintf(stderr, "lockstep %s: event %llu of run %llu cannot be read back: %s\n", o->cmd,
				(unsigned long long)run.events[i].seq, (unsigned long long)o->id,
				run.events[i].json);
			code = EXIT_STORE;
			goto out;
		}
		evs[nev++] = e;
		if (e->seq > last)
			last = e->seq;
	}

	struct diag d = DIAG_INIT;
	struct compile_opts co = { .overrides = &ra.vars, .kubectl = o->kubectl ? o->kubectl : ra.kubectl,
				   .base_dir = ra.base_dir };
	plan = pipeline_compile_opts(cl.file, cl.source, cl.source_len, &co, &d);
	diag_print(&d, stderr, cli_color(stderr));
	diag_release(&d);
	if (!plan) {
		fprintf(stderr, "lockstep %s: the pipeline recorded for run %llu does not compile any more\n",
			o->cmd, (unsigned long long)o->id);
		code = EXIT_INVALID;
		goto out;
	}
	/* The run never recorded them: they are asked for again. */
	char *what = arena_printf(&a, "run %llu needs its secrets again (lockstep never records them); "
				  "it stays interrupted", (unsigned long long)o->id);
	if ((code = cli_secrets_load(o->cmd, plan, o->secrets_file, what, &secrets, &mask)) >= 0)
		goto out;
	logpath_run_dir(o->state, o->id, &logdir);
	if (store_mkdirs(logdir.s, &err) < 0) {
		fprintf(stderr, "lockstep %s: %s\n", o->cmd, err.s);
		code = EXIT_STORE;
		goto out;
	}
	fprintf(o->json ? stderr : stdout, "lockstep: taking over run %llu of %s (%zu events recorded)\n",
		(unsigned long long)o->id, cl.pipeline, nev);
	struct drive dr = {
		.cmd = o->cmd,
		.plan = plan,
		.st = st,
		.run_id = o->id,
		.log_dir = logdir.s,
		.base_dir = ra.base_dir,
		.token = cl.token,
		.json = o->json,
		.no_rollback = ra.no_rollback,
		.kill_grace_ms = grace,
		.max_log_bytes = ra.max_log_bytes,
		.max_parallel = o->max_parallel ? o->max_parallel : ra.max_parallel,
		.resuming = true,
		.abort_run = abort_run,
		.recorded = evs,
		.nrecorded = nev,
		.last_seq = last,
		.secrets = &secrets.values,
		.mask = mask,
	};
	code = cli_drive(&dr);
	if (abort_run && (code == EXIT_ABORTED || code == EXIT_FAILED || code == EXIT_OK)) {
		/* abort: 0 when every rollback it ran succeeded. */
		struct store_run after;
		buf_reset(&err);
		code = EXIT_OK;
		if (store_load_run(st, o->id, 0, &after, &err) == 0) {
			for (size_t i = 0; i < after.nwfs; i++)
				if (!strcmp(after.wfs[i].status, "rollback-failed"))
					code = EXIT_FAILED;
			store_run_release(&after);
		}
	}
out:
	buf_release(&err);
	buf_release(&logdir);
	mask_free(mask);
	secrets_release(&secrets);
	compile_free(plan);
	if (loaded)
		store_run_release(&run);
	store_claim_release(&cl);
	arena_release(&a);
	return code;
}

static int resume_or_abort(int argc, char **argv, const char *cmd)
{
	struct opts o = { .cmd = cmd };
	int code = parse(argc, argv, &o);
	if (code >= 0)
		return code;
	struct buf err = BUF_INIT;
	struct store *st;
	int r = store_open(o.state, 0, &st, &err);
	if (r < 0) {
		fprintf(stderr, "lockstep %s: %s\n", cmd, err.s);
		buf_release(&err);
		return EXIT_STORE;
	}
	buf_release(&err);
	bool abort_run = !strcmp(cmd, "abort");
	if (abort_run) {
		struct store_run run;
		r = store_load_run(st, o.id, 0, &run, &err);
		if (r < 0) {
			fprintf(stderr, "lockstep %s: %s\n", cmd, err.s);
			buf_release(&err);
			store_close(st);
			return cli_store_exit(r);
		}
		buf_release(&err);
		code = -1;
		if (!strcmp(run.info.status, "running"))
			code = abort_live(&o, st, &run.info);
		store_run_release(&run);
		if (code >= 0) {
			store_close(st);
			return code;
		}
	}
	code = take_over(&o, st, abort_run);
	store_close(st);
	return code;
}

int cmd_resume(int argc, char **argv)
{
	return resume_or_abort(argc, argv, "resume");
}

int cmd_abort(int argc, char **argv)
{
	return resume_or_abort(argc, argv, "abort");
}
