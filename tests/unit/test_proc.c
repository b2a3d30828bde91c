/*
 * Tests for engine/proc.c: real processes on a real libuv loop.
 *
 * Every test runs its own loop until the step is over and every handle is
 * closed (uv_loop_close must return 0). A guard timer bounds each run: if
 * the exit callback has not come after GUARD_MS, the guard kills the step,
 * and the test fails. Nothing sleeps to let things settle: tests wait for
 * output ("ready") or for the exit callback.
 *
 * The test process is a child subreaper (group setup), as lockstep is:
 * leftovers of a step are re-parented to it, so proc reaps them and
 * kill(-pgid, 0) fails with ESRCH the moment they are gone. Without a
 * subreaper they would linger as zombies of init until it reaps them.
 * What a step leaves running outlives its `exit`: tests that leave
 * something stop it (proc_kill* after `exit`) and wait for `gone`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "engine/proc.h"

#define GUARD_MS 10000

enum kill_how { KILL_NONE, KILL_TERM, KILL_NOW };

/* When the test stops what a step left running (proc_kill* after exit). */
enum stop_when { STOP_NEVER, STOP_AT_EXIT, STOP_AT_CLOSED };

struct run {
	uv_loop_t loop;
	uv_timer_t guard;
	int guard_fires;
	struct proc *p;
	pid_t pid;
	struct buf out, err;
	struct proc_status st;
	int exits, closeds, gones;
	bool closed_before_exit;
	bool in_spawn;
	bool exit_inside_spawn;
	bool free_later;         /* free after the loop instead of in the gone callback */
	const char *kill_when;   /* stdout text that triggers the kill */
	enum kill_how kill_how;
	bool kill_done;
	enum stop_when stop_when;
	enum kill_how stop_how;
	size_t max_chunk;
	uint64_t start_ns;
	uint64_t exit_ms, closed_ms, gone_ms; /* since proc_spawn */
	size_t out_at_exit;      /* stdout bytes delivered before `exit` */
	pid_t watch;             /* a leftover (its pid on stdout): alive at `exit`? at `closed`? */
	bool watch_alive_at_exit, watch_alive_at_closed;
};

static uint64_t since_ms(const struct run *r)
{
	return (uv_hrtime() - r->start_ns) / 1000000;
}

static void on_output(struct proc *p, enum proc_stream s, const char *data, size_t len, void *arg)
{
	struct run *r = arg;
	buf_add(s == PROC_STDOUT ? &r->out : &r->err, data, len);
	if (len > r->max_chunk)
		r->max_chunk = len;
	if (r->kill_when && !r->kill_done && strstr(r->out.s, r->kill_when)) {
		r->kill_done = true;
		if (r->kill_how == KILL_TERM) {
			proc_kill(p);
			proc_kill(p);  /* idempotent */
		} else {
			proc_kill_now(p);
			proc_kill_now(p);
		}
	}
}

static bool pid_alive(pid_t pid);

static void stop(struct run *r, struct proc *p)
{
	if (r->stop_how == KILL_NOW) {
		proc_kill_now(p);
		proc_kill_now(p);  /* idempotent */
	} else {
		proc_kill(p);
		proc_kill(p);
	}
}

static void on_exit_cb(struct proc *p, const struct proc_status *st, void *arg)
{
	struct run *r = arg;
	if (r->in_spawn)
		r->exit_inside_spawn = true;
	r->st = *st;
	r->exits++;
	r->exit_ms = since_ms(r);
	r->out_at_exit = r->out.len;
	r->pid = proc_pid(p);
	if (r->watch == 0 && r->out.len)
		r->watch = (pid_t)atoi(r->out.s);
	r->watch_alive_at_exit = r->watch > 0 && pid_alive(r->watch);
	if (r->stop_when == STOP_AT_EXIT)
		stop(r, p);
}

static void on_closed_cb(struct proc *p, void *arg)
{
	struct run *r = arg;
	r->closeds++;
	r->closed_ms = since_ms(r);
	r->closed_before_exit = r->exits == 0;
	r->watch_alive_at_closed = r->watch > 0 && pid_alive(r->watch);
	if (r->stop_when == STOP_AT_CLOSED && r->exits)
		stop(r, p);
}

static void on_gone_cb(struct proc *p, void *arg)
{
	struct run *r = arg;
	r->gones++;
	r->gone_ms = since_ms(r);
	/* `exit` and `closed` came first, once each. */
	assert_int_equal(r->exits, 1);
	assert_int_equal(r->closeds, 1);
	if (!r->free_later) {
		proc_free(p);
		r->p = NULL;
	}
	uv_timer_stop(&r->guard);
	uv_close((uv_handle_t *)&r->guard, NULL);
}

static void on_guard(uv_timer_t *t)
{
	struct run *r = t->data;
	if (r->guard_fires++ == 0) {
		/* Give the step a last chance to end, then give up. */
		if (r->p && r->gones == 0)
			proc_kill_now(r->p);
		uv_timer_start(t, on_guard, 2000, 0);
		return;
	}
	uv_stop(&r->loop);
}

static void run_init(struct run *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->out);
	buf_init(&r->err);
}

static void run_release(struct run *r)
{
	buf_release(&r->out);
	buf_release(&r->err);
}

/* Runs one step until nothing of it is left; the status is in r->st. */
static void run_step(struct run *r, const struct proc_opts *o)
{
	struct proc_cbs cbs = { .output = on_output, .exit = on_exit_cb, .closed = on_closed_cb,
				.gone = on_gone_cb, .arg = r };
	assert_int_equal(uv_loop_init(&r->loop), 0);
	uv_timer_init(&r->loop, &r->guard);
	r->guard.data = r;
	uv_timer_start(&r->guard, on_guard, GUARD_MS, 0);

	r->in_spawn = true;
	r->start_ns = uv_hrtime();
	int rc = proc_spawn(&r->loop, o, &cbs, &r->p);
	r->in_spawn = false;
	assert_int_equal(rc, 0);
	assert_non_null(r->p);

	uv_run(&r->loop, UV_RUN_DEFAULT);
	if (r->guard_fires)
		fail_msg("step did not finish within %d ms: %s", GUARD_MS, o->script);
	assert_int_equal(r->exits, 1);
	assert_int_equal(r->closeds, 1);
	assert_int_equal(r->gones, 1);
	assert_false(r->exit_inside_spawn);
	if (r->free_later) {
		proc_free(r->p);
		r->p = NULL;
		assert_int_equal(uv_run(&r->loop, UV_RUN_DEFAULT), 0);
	}
	assert_int_equal(uv_loop_close(&r->loop), 0);
}

/* No process of the group is left, not even a zombie. */
static void assert_group_gone(pid_t pgid)
{
	assert_true(pgid > 0);
	errno = 0;
	assert_int_equal(kill(-pgid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

static void assert_pid_gone(pid_t pid)
{
	assert_true(pid > 0);
	errno = 0;
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

/* We have no child at all: nothing left behind, no zombie. */
static void assert_no_children(void)
{
	int st;
	errno = 0;
	assert_int_equal(waitpid(-1, &st, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/* Reads the parent and the state of `pid` from /proc; 0 or -1. */
static int proc_stat(pid_t pid, pid_t *ppid, char *state)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	const char *rp = strrchr(line, ')');
	int pp;
	if (!rp || sscanf(rp + 1, " %c %d", state, &pp) != 2)
		return -1;
	*ppid = pp;
	return 0;
}

/* `pid` exists and is not a zombie. */
static bool pid_alive(pid_t pid)
{
	pid_t ppid;
	char st;
	return proc_stat(pid, &ppid, &st) == 0 && st != 'Z';
}

static struct proc_opts sh_opts(const char *script)
{
	struct proc_opts o = { NULL, script, NULL, NULL, 5000 };
	return o;
}

/* ---- exit status and output ------------------------------------------ */

static void test_exit_codes(void **state)
{
	(void)state;
	const char *scripts[] = { "exit 0", "false", "echo hi; exit 7" };
	const int codes[] = { 0, 1, 7 };
	for (int i = 0; i < 3; i++) {
		struct run r;
		run_init(&r);
		r.free_later = i == 1;
		struct proc_opts o = sh_opts(scripts[i]);
		run_step(&r, &o);
		assert_true(r.st.spawned);
		assert_int_equal(r.st.exit_code, codes[i]);
		assert_int_equal(r.st.term_signal, 0);
		assert_false(r.st.killed);
		assert_string_equal(r.st.error, "");
		assert_true(r.pid > 0);
		assert_group_gone(r.pid);
		run_release(&r);
	}
	assert_no_children();
}

static void test_stdout_stderr_separate(void **state)
{
	(void)state;
	struct run r;
	run_init(&r);
	struct proc_opts o = sh_opts("echo out1; echo err1 >&2; echo out2; printf err2 >&2");
	run_step(&r, &o);
	assert_int_equal(r.st.exit_code, 0);
	assert_string_equal(r.out.s, "out1\nout2\n");
	assert_string_equal(r.err.s, "err1\nerr2");
	run_release(&r);
}

static void test_large_output(void **state)
{
	(void)state;
	struct run r;
	run_init(&r);
	/* Both streams at once, each over a MiB. */
	struct proc_opts o = sh_opts("head -c 1500000 /dev/zero | tr '\\0' a &"
				     " head -c 1200000 /dev/zero | tr '\\0' b >&2;"
				     " wait; echo end");
	run_step(&r, &o);
	assert_int_equal(r.st.exit_code, 0);
	assert_int_equal(r.out.len, 1500000 + 4);
	assert_int_equal(r.err.len, 1200000);
	assert_int_equal(strspn(r.out.s, "a"), 1500000);
	assert_string_equal(r.out.s + 1500000, "end\n");
	assert_int_equal(strspn(r.err.s, "b"), 1200000);
	assert_true(r.max_chunk <= PROC_READ_MAX);
	run_release(&r);
}

static void test_stdin_is_dev_null(void **state)
{
	(void)state;
	struct run r;
	run_init(&r);
	struct proc_opts o = sh_opts("cat; readlink /proc/self/fd/0");
	run_step(&r, &o);
	assert_int_equal(r.st.exit_code, 0);
	assert_string_equal(r.out.s, "/dev/null\n");
	run_release(&r);
}

static void test_env_and_cwd(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/test_proc.XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	char real[PATH_MAX];
	assert_non_null(realpath(tmpl, real));

	char *env[] = { "LS_TEST=hello world", "PATH=/usr/bin:/bin", NULL };
	struct run r;
	run_init(&r);
	struct proc_opts o = sh_opts("printf '%s|%s|' \"$LS_TEST\" \"${HOME-unset}\"; pwd -P");
	o.env = env;
	o.cwd = tmpl;
	run_step(&r, &o);
	assert_int_equal(r.st.exit_code, 0);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "hello world|unset|%s\n", real);
	assert_string_equal(r.out.s, want);
	run_release(&r);

	/* env NULL: inherited */
	assert_int_equal(setenv("LS_PROC_INHERIT", "yes", 1), 0);
	run_init(&r);
	o = sh_opts("printf %s \"$LS_PROC_INHERIT\"");
	run_step(&r, &o);
	assert_string_equal(r.out.s, "yes");
	run_release(&r);
	unsetenv("LS_PROC_INHERIT");
	rmdir(tmpl);
}

static void test_shell_bash(void **state)
{
	(void)state;
	struct run r;
	run_init(&r);
	struct proc_opts o = sh_opts("[[ a == a ]] && echo \"${BASH_VERSION:+bash}\"");
	o.shell = "/bin/bash";
	run_step(&r, &o);
	assert_int_equal(r.st.exit_code, 0);
	assert_string_equal(r.out.s, "bash\n");
	run_release(&r);

	/* a bare name is looked up in the step's PATH */
	char *env[] = { "PATH=/nonexistent:/usr/bin:/bin", NULL };
	run_init(&r);
	o.shell = "bash";
	o.env = env;
	run_step(&r, &o);
	assert_int_equal(r.st.exit_code, 0);
	assert_string_equal(r.out.s, "bash\n");
	run_release(&r);

	/* a relative path is relative to the step's directory */
	run_init(&r);
	o = sh_opts("pwd -P");
	o.shell = "./sh";
	o.cwd = "/bin";
	run_step(&r, &o);
	assert_int_equal(r.st.exit_code, 0);
	char bin[PATH_MAX + 1];
	assert_non_null(realpath("/bin", bin));
	strcat(bin, "\n");
	assert_string_equal(r.out.s, bin);
	run_release(&r);
}

/* ---- spawn failures --------------------------------------------------- */

static void expect_spawn_failure(struct proc_opts *o, const char *want)
{
	struct run r;
	run_init(&r);
	run_step(&r, o);
	assert_false(r.st.spawned);
	assert_string_equal(r.st.error, want);
	assert_int_equal(r.st.exit_code, -1);
	assert_int_equal(r.st.term_signal, 0);
	assert_int_equal(r.pid, 0);
	assert_no_children();
	run_release(&r);
}

static void test_bad_cwd(void **state)
{
	(void)state;
	struct proc_opts o = sh_opts("echo never");
	o.cwd = "/nonexistent/lockstep-dir";
	expect_spawn_failure(&o, "working directory '/nonexistent/lockstep-dir' does not exist");

	char tmpl[] = "/tmp/test_proc_file.XXXXXX";
	int fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	close(fd);
	char want[256];
	snprintf(want, sizeof(want), "working directory '%s' is not a directory", tmpl);
	o.cwd = tmpl;
	expect_spawn_failure(&o, want);
	unlink(tmpl);
}

static void test_cwd_permission(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/test_proc_dir.XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	assert_int_equal(chmod(tmpl, 0), 0);
	char want[256];
	snprintf(want, sizeof(want), "working directory '%s' cannot be entered: Permission denied",
		 tmpl);
	struct proc_opts o = sh_opts("echo never");
	o.cwd = tmpl;
	/* Root enters any directory: as root, be nobody for the check (the
	 * saved uid stays 0, so root comes back after it). */
	bool root = getuid() == 0;
	if (root)
		assert_int_equal(setresuid(65534, 65534, 0), 0);
	expect_spawn_failure(&o, want);
	if (root)
		assert_int_equal(setresuid(0, 0, 0), 0);
	rmdir(tmpl);
}

static void test_missing_shell(void **state)
{
	(void)state;
	struct proc_opts o = sh_opts("echo never");
	o.shell = "/bin/no-such-shell";
	expect_spawn_failure(&o, "shell '/bin/no-such-shell' not found");
	/* looked up in PATH by the child: libuv forks, exec fails, libuv reaps */
	o.shell = "no-such-shell-lockstep";
	expect_spawn_failure(&o, "shell 'no-such-shell-lockstep' not found");
	/* an existing file that cannot be executed */
	o.shell = "/dev/null";
	expect_spawn_failure(&o, "shell '/dev/null' cannot be run: Permission denied");
	/* a directory passes access(X_OK); execve itself fails */
	o.shell = "/";
	expect_spawn_failure(&o, "cannot start: permission denied");
}

static void test_bad_arguments(void **state)
{
	(void)state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct proc_cbs cbs = { .exit = on_exit_cb, .gone = on_gone_cb };
	struct proc_opts o = sh_opts(NULL);
	struct proc *p = NULL;
	assert_int_equal(proc_spawn(&loop, &o, &cbs, &p), -EINVAL);
	assert_null(p);
	o.script = "true";
	cbs.exit = NULL;
	assert_int_equal(proc_spawn(&loop, &o, &cbs, &p), -EINVAL);
	assert_null(p);
	cbs.exit = on_exit_cb;
	cbs.gone = NULL;
	assert_int_equal(proc_spawn(&loop, &o, &cbs, &p), -EINVAL);
	assert_null(p);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- killing ---------------------------------------------------------- */

static void test_kill_sleep(void **state)
{
	(void)state;
	struct run r;
	run_init(&r);
	struct proc_opts o = sh_opts("echo ready; sleep 1000");
	r.kill_when = "ready";
	r.kill_how = KILL_TERM;
	run_step(&r, &o);
	assert_true(r.kill_done);
	assert_true(r.st.spawned);
	assert_true(r.st.killed);
	assert_int_equal(r.st.term_signal, SIGTERM);
	assert_int_equal(r.st.exit_code, -1);
	assert_true(r.st.duration_ms < 5000);  /* SIGTERM was enough */
	assert_group_gone(r.pid);
	assert_no_children();
	run_release(&r);
}

static void test_kill_tree(void **state)
{
	(void)state;
	struct run r;
	run_init(&r);
	struct proc_opts o = sh_opts("sh -c 'sleep 1000 & sleep 1000 & echo ready; wait'");
	r.kill_when = "ready";
	r.kill_how = KILL_TERM;
	run_step(&r, &o);
	assert_true(r.st.killed);
	assert_int_equal(r.st.term_signal, SIGTERM);
	assert_group_gone(r.pid);
	assert_no_children();
	run_release(&r);
}

static void test_kill_ignoring_term(void **state)
{
	(void)state;
	struct run r;
	run_init(&r);
	struct proc_opts o = sh_opts("trap '' TERM; echo ready; sleep 1000");
	o.kill_grace_ms = 100;
	r.kill_when = "ready";
	r.kill_how = KILL_TERM;
	run_step(&r, &o);
	assert_true(r.st.killed);
	assert_int_equal(r.st.term_signal, SIGKILL);
	assert_true(r.st.duration_ms >= 100);
	assert_group_gone(r.pid);
	assert_no_children();
	run_release(&r);
}

static void test_kill_now(void **state)
{
	(void)state;
	struct run r;
	run_init(&r);
	struct proc_opts o = sh_opts("trap '' TERM; echo ready; sleep 1000");
	o.kill_grace_ms = 60000;
	r.kill_when = "ready";
	r.kill_how = KILL_NOW;
	run_step(&r, &o);
	assert_true(r.st.killed);
	assert_int_equal(r.st.term_signal, SIGKILL);
	assert_true(r.st.duration_ms < 5000);
	assert_group_gone(r.pid);
	run_release(&r);
}

/* ---- leftovers -------------------------------------------------------- */

/*
 * A background child outlives the step: `exit` comes as soon as the shell
 * exits, with the child alive and holding stdout; the proc lingers until
 * it is stopped, and then the child goes with SIGTERM, no grace needed.
 */
static void test_leftover_background(void **state)
{
	(void)state;
	const enum kill_how hows[] = { KILL_TERM, KILL_NOW };
	for (int i = 0; i < 2; i++) {
		struct run r;
		run_init(&r);
		struct proc_opts o = sh_opts("sleep 1000 & echo $!");
		o.kill_grace_ms = 60000;
		r.stop_when = STOP_AT_EXIT;
		r.stop_how = hows[i];
		run_step(&r, &o);
		assert_int_equal(r.st.exit_code, 0);
		assert_false(r.st.killed);
		assert_true(r.st.duration_ms < 5000);
		assert_true(r.watch_alive_at_exit);
		assert_true(r.gone_ms < 5000);  /* neither waited for the 60 s grace */
		assert_pid_gone(r.watch);
		assert_group_gone(r.pid);
		assert_no_children();
		run_release(&r);
	}
}

/*
 * Nobody stops it: the proc is gone when the leftover ends by itself, and
 * what the leftover wrote after `exit` still reached `output`.
 */
static void test_leftover_output_after_exit(void **state)
{
	(void)state;
	struct run r;
	run_init(&r);
	struct proc_opts o = sh_opts("(sleep 0.3; echo late) & echo $!");
	run_step(&r, &o);
	assert_int_equal(r.st.exit_code, 0);
	assert_true(r.watch_alive_at_exit);
	assert_int_equal(r.out_at_exit, strcspn(r.out.s, "\n") + 1);
	assert_string_equal(r.out.s + r.out_at_exit, "late\n");
	assert_true(r.gone_ms >= r.exit_ms + 250);
	assert_group_gone(r.pid);
	assert_no_children();
	run_release(&r);
}

/*
 * Everything the main process wrote comes before `exit`, even when a
 * leftover keeps the pipe open (no EOF tells proc the output is over):
 * the step's last lines never come after its end.
 */
static void test_output_before_exit(void **state)
{
	(void)state;
	for (int i = 0; i < 20; i++) {
		struct run r;
		run_init(&r);
		struct proc_opts o = sh_opts("sleep 1000 & echo $!; head -c 60000 /dev/zero | tr '\\0' a");
		r.stop_when = STOP_AT_EXIT;
		r.stop_how = KILL_NOW;
		run_step(&r, &o);
		assert_int_equal(r.st.exit_code, 0);
		assert_true(r.watch_alive_at_exit);
		assert_int_equal(r.out_at_exit, r.out.len);
		assert_int_equal(strspn(r.out.s + strcspn(r.out.s, "\n") + 1, "a"), 60000);
		run_release(&r);
	}
}

/*
 * A leftover that lets go of the output 300 ms after the step ended:
 * `closed` comes (the descriptors are free) while it still runs, after
 * `exit` and before `gone`.
 */
static void test_closed_while_lingering(void **state)
{
	(void)state;
	struct run r;
	run_init(&r);
	struct proc_opts o =
		sh_opts("sh -c 'sleep 0.3; exec sleep 1000 </dev/null >/dev/null 2>&1' & echo $!");
	r.stop_when = STOP_AT_CLOSED;
	run_step(&r, &o);
	assert_int_equal(r.st.exit_code, 0);
	assert_false(r.closed_before_exit);
	assert_true(r.closed_ms >= r.exit_ms + 250);
	assert_true(r.watch_alive_at_closed);
	assert_pid_gone(r.watch);
	assert_no_children();
	run_release(&r);
}

/* The leftover ignores SIGTERM: SIGKILL after the grace period, and the
 * proc waits for it even past the drain of the pipes. */
static void test_leftover_ignoring_term(void **state)
{
	(void)state;
	const uint64_t graces[] = { 100, PROC_DRAIN_MS + 300 };
	for (int i = 0; i < 2; i++) {
		struct run r;
		run_init(&r);
		struct proc_opts o = sh_opts("trap '' TERM; sleep 1000 & echo $!");
		o.kill_grace_ms = graces[i];
		r.stop_when = STOP_AT_EXIT;
		r.stop_how = KILL_TERM;
		run_step(&r, &o);
		assert_int_equal(r.st.exit_code, 0);
		assert_false(r.st.killed);
		assert_true(r.gone_ms >= r.exit_ms + graces[i]);
		assert_pid_gone(r.watch);
		assert_group_gone(r.pid);
		assert_no_children();
		run_release(&r);
	}
}

/* Without a subreaper, a stopped leftover is a zombie of init until init
 * reaps it: it is dead, so the proc must not wait for the grace period. */
static void test_leftover_without_subreaper(void **state)
{
	(void)state;
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
	struct run r;
	run_init(&r);
	struct proc_opts o = sh_opts("sleep 1000 & echo $!");
	o.kill_grace_ms = 60000;
	r.stop_when = STOP_AT_EXIT;
	r.stop_how = KILL_TERM;
	run_step(&r, &o);
	assert_int_equal(proc_become_subreaper(), 0);
	assert_int_equal(r.st.exit_code, 0);
	/* Neither the 60 s grace nor init's reaping (which can take seconds)
	 * was waited for: the leftover died of SIGTERM within milliseconds. */
	assert_true(r.gone_ms < r.exit_ms + 1000);
	pid_t ppid;
	char st;
	if (proc_stat(r.watch, &ppid, &st) == 0) {
		assert_int_equal(st, 'Z');
		assert_int_not_equal(ppid, getpid());
	}
	run_release(&r);
}

/* ---- file descriptors ------------------------------------------------- */

static void test_no_fd_leak(void **state)
{
	(void)state;
	/* What the test harness leaked into this process is not ours. */
	assert_int_equal(proc_seal_fds(), 0);
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd > 2);
	char *env[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", NULL };
	struct run r;
	run_init(&r);
	/* ls's own fd 3 is the directory it reads */
	struct proc_opts o = sh_opts("exec ls /proc/self/fd");
	o.env = env;
	run_step(&r, &o);
	assert_int_equal(r.st.exit_code, 0);
	assert_string_equal(r.out.s, "0\n1\n2\n3\n");
	run_release(&r);
	close(fd);
}

/* ---- daemons ---------------------------------------------------------- */

/*
 * A double-forked daemon leaves the group (setsid) and its parent exits:
 * it is re-parented to us and holds stderr. The step is over at once; the
 * proc lingers while the daemon holds the pipe, even though its group is
 * gone, until it is stopped: then the pipe is read PROC_DRAIN_MS more.
 * The daemon dies with proc_kill_descendants. It prints its pid only
 * after setsid and before its stdout goes to /dev/null, so the step's
 * $(...) returns once it is out of the group and no race remains.
 */
static void test_daemon_subreaper(void **state)
{
	(void)state;
	assert_int_equal(proc_kill_descendants(), 0);
	struct run r;
	run_init(&r);
	struct proc_opts o =
		sh_opts("d=$(setsid sh -c 'echo $$; exec sleep 1000 >/dev/null' &); echo \"$d\"");
	r.stop_when = STOP_AT_EXIT;
	r.stop_how = KILL_TERM;
	run_step(&r, &o);
	assert_int_equal(r.st.exit_code, 0);
	assert_true(r.st.duration_ms < PROC_DRAIN_MS);  /* the daemon did not hold the step */
	assert_true(r.gone_ms >= r.exit_ms + PROC_DRAIN_MS);  /* stderr was held */
	assert_group_gone(r.pid);
	pid_t daemon = r.watch, ppid;
	assert_true(daemon > 0);
	char st;
	assert_int_equal(proc_stat(daemon, &ppid, &st), 0);
	assert_int_equal(ppid, getpid());
	assert_int_not_equal(st, 'Z');
	assert_int_not_equal(getpgid(daemon), r.pid);

	assert_int_equal(proc_kill_descendants(), 1);
	assert_pid_gone(daemon);
	assert_no_children();
	assert_int_equal(proc_kill_descendants(), 0);
	run_release(&r);
}

/* A daemon with children, one of them already a zombie whose parent we
 * kill: it is re-parented to us and must be reaped too. */
static void test_kill_descendants_tree(void **state)
{
	(void)state;
	struct run r;
	run_init(&r);
	struct proc_opts o = sh_opts("d=$(setsid sh -c 'sleep 1000 >/dev/null & sleep 1000 >/dev/null &"
				     " true & echo $$; exec sleep 1000 >/dev/null' &); echo \"$d\"");
	r.stop_when = STOP_AT_EXIT;
	r.stop_how = KILL_NOW;
	run_step(&r, &o);
	assert_int_equal(r.st.exit_code, 0);
	pid_t daemon = r.watch;
	assert_true(daemon > 0);
	int n = proc_kill_descendants();
	assert_true(n >= 3 && n <= 4);  /* the `true` may be gone already */
	assert_pid_gone(daemon);
	assert_no_children();
	run_release(&r);
}

static int setup(void **state)
{
	(void)state;
	return proc_become_subreaper();
}

static int teardown(void **state)
{
	(void)state;
	proc_kill_descendants();
	return prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_stdout_stderr_separate),
		cmocka_unit_test(test_large_output),
		cmocka_unit_test(test_stdin_is_dev_null),
		cmocka_unit_test(test_env_and_cwd),
		cmocka_unit_test(test_shell_bash),
		cmocka_unit_test(test_bad_cwd),
		cmocka_unit_test(test_cwd_permission),
		cmocka_unit_test(test_missing_shell),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_kill_sleep),
		cmocka_unit_test(test_kill_tree),
		cmocka_unit_test(test_kill_ignoring_term),
		cmocka_unit_test(test_kill_now),
		cmocka_unit_test(test_leftover_background),
		cmocka_unit_test(test_leftover_output_after_exit),
		cmocka_unit_test(test_output_before_exit),
		cmocka_unit_test(test_closed_while_lingering),
		cmocka_unit_test(test_leftover_ignoring_term),
		cmocka_unit_test(test_leftover_without_subreaper),
		cmocka_unit_test(test_no_fd_leak),
		cmocka_unit_test(test_daemon_subreaper),
		cmocka_unit_test(test_kill_descendants_tree),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
