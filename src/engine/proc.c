/*
 * proc: one step process on the libuv loop (see proc.h for the contract).
 *
 * Handles: every proc owns five libuv handles, all inside struct proc: the
 * pidfd poll, two pipes, and two timers. `grace` turns a SIGTERM into a
 * SIGKILL; `tick` reports a spawn failure on the next loop iteration and,
 * once the main process has exited, polls the process group until it is
 * gone and enforces the drain deadline of a proc being stopped. The pidfd
 * poll closes when the main process exits, each pipe when it is done
 * (its descriptors are then free at once, whatever the leftovers do);
 * proc_free closes the rest; the last close callback frees the memory.
 *
 * Why poll the group: there is no notification when the last member of a
 * process group dies unless it is our child, so after the main exit proc
 * asks kill(-pgid, 0), starting at PROC_POLL_MIN_MS and backing off to
 * PROC_POLL_MAX_MS while the group is being stopped, or to
 * PROC_LINGER_POLL_MS while leftovers simply run (a service may run for
 * the whole run: two system calls a second). A group that no longer
 * exists is never signalled again: its number may be reused.
 *
 * Reaping: proc reaps the main process itself (its pidfd says when).
 * Members of the group that were re-parented to us (we are a subreaper)
 * are reaped here with waitpid(-pgid), but only once the main process is
 * reaped, since it is itself a member of the group: before that,
 * waitpid(-pgid) could steal its status. No other child of ours can be in
 * the group: a process group cannot be joined from another session, and
 * every proc child starts its own session.
 */
#include "engine/proc.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/pidinfo.h"
#include "base/xalloc.h"
#include "engine/proc_internal.h"

extern char **environ;

/* Group polling after the main exit: starts here, doubles up to the max
 * (while stopping it), or up to the linger max (while leftovers run). */
#define PROC_POLL_MIN_MS 5
#define PROC_POLL_MAX_MS 100
#define PROC_LINGER_POLL_MS 1000

/* At the main exit, at most this many reads per pipe are made at once:
 * what the main process wrote fits (a pipe holds at most 1 MiB), and
 * leftovers that keep writing cannot hold the exit callback up. */
#define PROC_READ_NOW_MAX 16

enum proc_state {
	PROC_NEW,          /* inside proc_spawn */
	PROC_SPAWNING,     /* a worker thread is starting it (posix_spawn) */
	PROC_NOT_STARTED,  /* spawn failed; `tick` reports it on the next iteration */
	PROC_RUNNING,      /* the main process is alive (in `live`) */
	PROC_DRAINING,     /* it exited after a kill; waiting for the pipes and the group */
	PROC_LINGERING,    /* it exited by itself and `exit` was called; leftovers
			    * of its group, or holders of its pipes, remain */
	PROC_OVER,         /* `gone` was called (`exit` before it) */
	PROC_FREED,        /* proc_free was called; handles are closing */
};

struct proc_pipe {
	uv_pipe_t handle;         /* first member: the handle pointer is the pipe */
	enum proc_stream stream;
	bool done;                /* EOF, read error, or abandoned after the drain */
	bool closed;              /* uv_close was called on it */
};

/*
 * One read buffer for every pipe: libuv reads into it and calls the read
 * callback at once, which hands the bytes on before the next read, and
 * the loop runs on one thread. A buffer per pipe would cost 128 KiB per
 * running step: 128 MiB at 1,000 parallel workflows, copied by every fork.
 */
static char read_buf[PROC_READ_MAX];

struct proc {
	enum proc_state state;
	uv_loop_t *loop;
	struct proc_cbs cbs;
	struct proc_status st;
	uint64_t grace_ms;
	pid_t pid;                /* == pgid; 0 when it never started */
	uint64_t start_ns;        /* uv_hrtime() at proc_spawn */
	uint64_t exit_ns;         /* when the main process exited */
	uint64_t kill_ns;         /* the last SIGKILL, for the PROC_REAP_MS bound */
	uint64_t drain_ns;        /* stopping, group gone: the pipes are read until
				   * PROC_DRAIN_MS after this */
	uint64_t poll_ms;         /* the next group poll interval */
	bool term_sent, kill_sent;
	bool stopping;            /* killed while running, or proc_kill* while lingering */
	bool group_gone;          /* nothing of the group is alive; never signal it again */
	bool closed_told;         /* the `closed` callback was called */
	bool exitpoll_open;       /* `exitpoll` watches `pidfd`: it must be closed */
	int open_handles;         /* initialised handles whose close callback is pending */
	int pidfd;                /* the main process, for the loop to wait on; -1 when none */
	uv_poll_t exitpoll;       /* readable when the main process has exited */
	struct proc_pipe out, err;
	uv_timer_t grace;
	uv_timer_t tick;
	struct proc *live_prev, *live_next;  /* in `live` while RUNNING */
	struct spawn_job *job;    /* SPAWNING: the request on the thread pool */
	bool term_pending, kill_pending; /* proc_kill / proc_kill_now while SPAWNING */
};

/*
 * One spawn on libuv's thread pool. posix_spawn has vfork semantics: the
 * calling thread waits until the child has exec'd, which takes as long as
 * the child needs to get a CPU and load the shell. On the loop thread that
 * wait serialised every spawn (and everything else) of a wide round; on
 * the pool, spawns overlap each other and the loop's own work. Everything
 * the worker reads is owned by the job (copied at proc_spawn); it writes
 * only the job's results, which the loop reads after the work is done.
 */
struct spawn_job {
	uv_work_t req;
	struct proc *p;
	char *exe, *shell, *script, *cwd;
	char **env;                /* NULL: inherit */
	int out[2], err[2];
	/* results */
	int error;                 /* 0 or an errno */
	pid_t pid;
	int pidfd;
	uint64_t pid_start;
};

/*
 * The procs whose main process libuv still has to reap, so that
 * proc_kill_descendants never reaps one of them. One thread drives all
 * procs (proc.h), so no lock.
 */
static struct proc *live;

static void live_add(struct proc *p)
{
	p->live_prev = NULL;
	p->live_next = live;
	if (live)
		live->live_prev = p;
	live = p;
}

static void live_del(struct proc *p)
{
	if (p->live_prev)
		p->live_prev->live_next = p->live_next;
	else
		live = p->live_next;
	if (p->live_next)
		p->live_next->live_prev = p->live_prev;
	p->live_prev = p->live_next = NULL;
}

/* proc_internal.h */
bool proc_live_has(pid_t pid)
{
	for (const struct proc *q = live; q; q = q->live_next)
		if (q->pid == pid)
			return true;
	return false;
}

static void assert_proc(const struct proc *p)
{
	assert(p->open_handles >= 0);
	switch (p->state) {
	case PROC_NEW:
	case PROC_SPAWNING:
		assert(!p->st.spawned && p->pid == 0);
		break;
	case PROC_NOT_STARTED:
		assert(!p->st.spawned && p->pid == 0 && p->st.error[0]);
		break;
	case PROC_RUNNING:
		assert(p->st.spawned && p->pid > 0 && proc_live_has(p->pid));
		break;
	case PROC_DRAINING:
		assert(p->st.spawned && p->pid > 0 && !proc_live_has(p->pid) && p->stopping);
		break;
	case PROC_LINGERING:
		assert(p->st.spawned && p->pid > 0 && !proc_live_has(p->pid) && !p->st.killed);
		break;
	case PROC_OVER:
	case PROC_FREED:
		assert(p->out.done && p->err.done && p->closed_told);
		assert(!p->st.spawned || p->group_gone);
		break;
	}
	(void)p;
}

/* The only place the state changes. */
static void set_state(struct proc *p, enum proc_state to)
{
	bool legal = (p->state == PROC_NEW && (to == PROC_SPAWNING || to == PROC_NOT_STARTED)) ||
		     (p->state == PROC_SPAWNING && (to == PROC_RUNNING || to == PROC_NOT_STARTED)) ||
		     (p->state == PROC_NOT_STARTED && to == PROC_OVER) ||
		     (p->state == PROC_RUNNING && (to == PROC_DRAINING || to == PROC_LINGERING)) ||
		     (p->state == PROC_DRAINING && to == PROC_OVER) ||
		     (p->state == PROC_LINGERING && to == PROC_OVER) ||
		     (p->state == PROC_OVER && to == PROC_FREED);
	assert(legal);
	(void)legal;
	if (p->state == PROC_RUNNING)
		live_del(p);
	if (to == PROC_RUNNING)
		live_add(p);
	p->state = to;
	assert_proc(p);
}

/* ---- the process group ----------------------------------------------- */

static void group_is_gone(struct proc *p)
{
	if (p->group_gone)
		return;
	p->group_gone = true;
	p->drain_ns = uv_hrtime();
}

/*
 * Tells whether anything of the step's group is still alive, reaping the
 * members that were re-parented to us first. Only once the main process
 * is reaped (see the top of the file). Sets group_gone for good when the
 * answer is no. While leftovers simply run, only the two cheap system
 * calls are made; a group being stopped is also looked up in /proc, so
 * that zombies another parent has yet to reap do not hold it up.
 */
static bool group_alive(struct proc *p)
{
	if (p->group_gone)
		return false;
	assert(p->state == PROC_DRAINING || p->state == PROC_LINGERING);
	int status;
	pid_t r;
	do
		r = waitpid(-p->pid, &status, WNOHANG);
	while (r > 0 || (r < 0 && errno == EINTR));
	/* ESRCH: no member left. EPERM: only members we may not signal
	 * (they changed their uid): waiting for them would be pointless. */
	if (kill(-p->pid, 0) != 0) {
		group_is_gone(p);
		return false;
	}
	/* Members remain, but zombies of init are already dead. */
	if (p->stopping && proc_scan_group(p->pid) == 0) {
		group_is_gone(p);
		return false;
	}
	return true;
}

static void signal_group(struct proc *p, int sig)
{
	if (p->group_gone)
		return;
	if (kill(-p->pid, sig) != 0 && errno == ESRCH && p->state != PROC_RUNNING)
		group_is_gone(p);
	if (sig == SIGTERM)
		p->term_sent = true;
	if (sig == SIGKILL) {
		p->kill_sent = true;
		p->kill_ns = uv_hrtime();
	}
}

/* ---- the life cycle --------------------------------------------------- */

static void on_grace(uv_timer_t *t);
static void on_tick(uv_timer_t *t);
static void on_close(uv_handle_t *h);

static void close_pipe(struct proc_pipe *pp)
{
	if (pp->closed)
		return;
	pp->closed = true;
	uv_close((uv_handle_t *)&pp->handle, on_close);
}

/* Both pipes are done: their descriptors go now, and the owner is told
 * (once). */
static void tell_closed(struct proc *p)
{
	if (p->closed_told || !p->out.done || !p->err.done)
		return;
	p->closed_told = true;
	close_pipe(&p->out);
	close_pipe(&p->err);
	if (p->cbs.closed)
		p->cbs.closed(p, p->cbs.arg);
}

static void pipe_done(struct proc *p, struct proc_pipe *pp)
{
	if (pp->done)
		return;
	if (!pp->closed)
		uv_read_stop((uv_stream_t *)&pp->handle);
	pp->done = true;
	tell_closed(p);
}

/* Enters OVER: calls `exit` unless it was called when the main process
 * exited, then `gone`. The caller must not touch `p` afterwards (`gone`
 * may have called proc_free). */
static void finish(struct proc *p)
{
	uv_timer_stop(&p->grace);
	uv_timer_stop(&p->tick);
	/* A spawn failure: no pipe was ever read. */
	pipe_done(p, &p->out);
	pipe_done(p, &p->err);
	bool told = p->state == PROC_LINGERING;
	if (!told)
		p->st.duration_ms = (uv_hrtime() - p->start_ns) / NS_PER_MS;
	set_state(p, PROC_OVER);
	if (!told)
		p->cbs.exit(p, &p->st, p->cbs.arg);
	p->cbs.gone(p, p->cbs.arg);
}

/* Finishes the proc when nothing of it is left. Returns true when it did
 * (and `p` must not be touched any more). */
static bool finish_if_over(struct proc *p)
{
	if ((p->state != PROC_DRAINING && p->state != PROC_LINGERING) || !p->out.done ||
	    !p->err.done || group_alive(p))
		return false;
	finish(p);
	return true;
}

/* Plans the next tick after the main exit: the next group poll, or the
 * drain deadline of a proc being stopped, whichever comes first; none
 * when only the pipes are left to wait for (their EOF wakes the loop). */
static void schedule_tick(struct proc *p)
{
	uint64_t delay = p->group_gone ? UINT64_MAX : p->poll_ms;
	if (p->stopping && p->group_gone && (!p->out.done || !p->err.done)) {
		uint64_t deadline = p->drain_ns + PROC_DRAIN_MS * NS_PER_MS, now = uv_hrtime();
		uint64_t left = deadline > now ? (deadline - now + NS_PER_MS - 1) / NS_PER_MS : 0;
		if (left < delay)
			delay = left;
	}
	if (delay == UINT64_MAX) {
		uv_timer_stop(&p->tick);
		return;
	}
	/* Never 0: a timer re-armed with 0 from its own callback runs again
	 * in the same pass, before the loop looks at anything else. */
	if (delay == 0)
		delay = 1;
	uint64_t max = p->stopping ? PROC_POLL_MAX_MS : PROC_LINGER_POLL_MS;
	if (!p->group_gone && p->poll_ms < max)
		p->poll_ms = p->poll_ms * 2 > max ? max : p->poll_ms * 2;
	uv_timer_start(&p->tick, on_tick, delay, 0);
}

static void on_tick(uv_timer_t *t)
{
	struct proc *p = t->data;
	if (p->state == PROC_NOT_STARTED) {
		finish(p);
		return;
	}
	assert(p->state == PROC_DRAINING || p->state == PROC_LINGERING);
	uint64_t now = uv_hrtime();
	if (p->kill_sent && !p->group_gone && now >= p->kill_ns + PROC_REAP_MS * NS_PER_MS)
		group_is_gone(p);  /* SIGKILLed and still there: stop waiting */
	if (p->stopping && !group_alive(p) && now >= p->drain_ns + PROC_DRAIN_MS * NS_PER_MS) {
		pipe_done(p, &p->out);
		pipe_done(p, &p->err);
	}
	if (finish_if_over(p))
		return;
	schedule_tick(p);
}

static void on_grace(uv_timer_t *t)
{
	struct proc *p = t->data;
	if (p->state == PROC_RUNNING) {
		signal_group(p, SIGKILL);
		return;
	}
	if (p->state != PROC_DRAINING && p->state != PROC_LINGERING)
		return;
	if (group_alive(p))
		signal_group(p, SIGKILL);
	if (finish_if_over(p))
		return;
	schedule_tick(p);
}

/*
 * Reads what a pipe holds now, without waiting, so that everything the
 * main process wrote before it exited reaches `output` before `exit`.
 * The descriptor is non-blocking (libuv's); libuv's own next read then
 * simply finds nothing, or the EOF.
 */
static void read_now(struct proc *p, struct proc_pipe *pp)
{
	uv_os_fd_t fd;
	if (pp->done || uv_fileno((uv_handle_t *)&pp->handle, &fd) != 0)
		return;
	for (int i = 0; i < PROC_READ_NOW_MAX && !pp->done;) {
		ssize_t n = read(fd, read_buf, sizeof(read_buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			pipe_done(p, pp);
			return;
		}
		if (p->cbs.output)
			p->cbs.output(p, pp->stream, read_buf, (size_t)n, p->cbs.arg);
		i++;
	}
}

static void on_main_exit(struct proc *p, int64_t exit_status, int term_signal)
{
	p->st.term_signal = term_signal;
	p->st.exit_code = term_signal ? -1 : (int)exit_status;
	p->exit_ns = uv_hrtime();
	/* The pidfd has served: its descriptor goes now. */
	uv_close((uv_handle_t *)&p->exitpoll, on_close);
	p->exitpoll_open = false;
	/* Everything the main process wrote is in the pipes now: it goes out
	 * before `exit`. (An `output` callback that kills makes it a killed
	 * step after all.) */
	if (!p->st.killed) {
		read_now(p, &p->out);
		read_now(p, &p->err);
	}
	if (p->st.killed) {
		/* A timeout or an abort: the whole group goes, and the step is
		 * over when it is gone. */
		p->stopping = true;
		set_state(p, PROC_DRAINING);
		if (group_alive(p)) {
			if (p->kill_sent) {
				signal_group(p, SIGKILL);
			} else if (!p->term_sent) {
				signal_group(p, SIGTERM);
				uv_timer_start(&p->grace, on_grace, p->grace_ms, 0);
			}
		}
		if (finish_if_over(p))
			return;
		schedule_tick(p);
		return;
	}
	/* The step is over; what it left running goes on (proc.h). */
	set_state(p, PROC_LINGERING);
	p->st.duration_ms = (p->exit_ns - p->start_ns) / NS_PER_MS;
	p->cbs.exit(p, &p->st, p->cbs.arg);
	if (finish_if_over(p))
		return;
	schedule_tick(p);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	buf->base = read_buf;
	buf->len = sizeof(read_buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct proc_pipe *pp = (struct proc_pipe *)s;
	struct proc *p = s->data;
	if (nread > 0) {
		if (p->cbs.output)
			p->cbs.output(p, pp->stream, buf->base, (size_t)nread, p->cbs.arg);
		return;
	}
	if (nread == 0)
		return;  /* EAGAIN */
	/* UV_EOF, or an error that ends this stream just as well */
	pipe_done(p, pp);
	finish_if_over(p);
}

static void on_close(uv_handle_t *h)
{
	struct proc *p = h->data;
	if (h == (uv_handle_t *)&p->exitpoll && p->pidfd >= 0) {
		close(p->pidfd);
		p->pidfd = -1;
	}
	if (--p->open_handles == 0)
		free(p);
}

/*
 * The pidfd became readable: the main process exited. Reap it here (it is
 * our child; nobody else waits for it) and go on as its exit says.
 */
static void on_pidfd(uv_poll_t *h, int status, int events)
{
	struct proc *p = h->data;
	(void)events;
	int ws = 0;
	pid_t r;
	do
		r = waitpid(p->pid, &ws, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0 && status == 0)
		return; /* not yet: a spurious wakeup */
	uv_poll_stop(h);
	if (r < 0) {
		/* Reaped elsewhere (cannot happen: see proc_kill_descendants). */
		on_main_exit(p, -1, 0);
		return;
	}
	if (WIFSIGNALED(ws))
		on_main_exit(p, 0, WTERMSIG(ws));
	else
		on_main_exit(p, WEXITSTATUS(ws), 0);
}

/* ---- spawning --------------------------------------------------------- */

/* Checks `cwd` the way chdir would see it; false and a message when it
 * cannot be used. */
static bool cwd_usable(const char *cwd, char *msg, size_t n)
{
	struct stat sb;
	if (stat(cwd, &sb) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			snprintf(msg, n, "working directory '%s' does not exist", cwd);
		else
			snprintf(msg, n, "working directory '%s' cannot be entered: %s", cwd,
				 strerror(errno));
		return false;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(msg, n, "working directory '%s' is not a directory", cwd);
		return false;
	}
	if (access(cwd, X_OK) != 0) {
		snprintf(msg, n, "working directory '%s' cannot be entered: %s", cwd,
			 strerror(errno));
		return false;
	}
	return true;
}

/* The PATH the child's execvp would search. */
static const char *step_path(char *const *env)
{
	if (env) {
		for (; *env; env++)
			if (strncmp(*env, "PATH=", 5) == 0)
				return *env + 5;
	} else if (getenv("PATH")) {
		return getenv("PATH");
	}
	return "/bin:/usr/bin";  /* glibc's execvp default */
}

/* The child runs chdir before execvp: a relative path found from here
 * must become absolute. */
static bool absolute(char *exe, size_t exe_n)
{
	char abs[PATH_MAX];
	if (exe[0] == '/')
		return true;
	if (!realpath(exe, abs) || strlen(abs) >= exe_n)
		return false;
	strcpy(exe, abs);
	return true;
}

/*
 * Finds the shell's executable: an absolute path as is; a relative path
 * with a '/' in the child's cwd; a bare name in the step's PATH. Done here
 * rather than by execvp in the child because execvp reports EACCES instead
 * of ENOENT as soon as one PATH entry is unreadable. Returns false and a
 * message when there is nothing to run.
 */
static bool find_shell(const char *shell, const struct proc_opts *o, char *exe, size_t exe_n,
		       char *msg, size_t n)
{
	if (strchr(shell, '/')) {
		int len = shell[0] != '/' && o->cwd ? snprintf(exe, exe_n, "%s/%s", o->cwd, shell)
						    : snprintf(exe, exe_n, "%s", shell);
		if (len < 0 || (size_t)len >= exe_n) {
			snprintf(msg, n, "shell '%s' not found: path too long", shell);
			return false;
		}
		if (access(exe, X_OK) == 0 && absolute(exe, exe_n))
			return true;
		if (errno == ENOENT || errno == ENOTDIR)
			snprintf(msg, n, "shell '%s' not found", shell);
		else
			snprintf(msg, n, "shell '%s' cannot be run: %s", shell, strerror(errno));
		return false;
	}
	for (const char *dir = step_path(o->env); shell[0];) {
		size_t dlen = strcspn(dir, ":");
		const char *sep = dlen ? "/" : "";
		int len;
		if (dlen && dir[0] != '/' && o->cwd)
			len = snprintf(exe, exe_n, "%s/%.*s/%s", o->cwd, (int)dlen, dir, shell);
		else
			len = snprintf(exe, exe_n, "%.*s%s%s", (int)dlen, dir, sep, shell);
		struct stat sb;
		if (len > 0 && (size_t)len < exe_n && stat(exe, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    access(exe, X_OK) == 0 && absolute(exe, exe_n))
			return true;
		if (!dir[dlen])
			break;
		dir += dlen + 1;
	}
	snprintf(msg, n, "shell '%s' not found", shell);
	return false;
}

static void describe_spawn_error(struct proc *p, int err, const char *cwd, const char *shell)
{
	p->st.error_code = err;
	char *msg = p->st.error;
	size_t n = sizeof(p->st.error);
	/* Both were checked, but the child's chdir and execvp can still fail
	 * (something changed meanwhile): tell them apart by checking the
	 * directory again. */
	if ((err == UV_ENOENT || err == UV_ENOTDIR || err == UV_EACCES) && cwd &&
	    !cwd_usable(cwd, msg, n))
		return;
	if (err == UV_ENOENT || err == UV_ENOTDIR)
		snprintf(msg, n, "shell '%s' not found", shell);
	else
		snprintf(msg, n, "cannot start: %s", uv_strerror(err));
}

static void start_reading(struct proc *p, struct proc_pipe *pp)
{
	if (uv_read_start((uv_stream_t *)&pp->handle, on_alloc, on_read) != 0)
		pipe_done(p, pp);
}

/* The start time of `pid`, a child that may have exited already (a
 * zombie until it is reaped, still named by its start time), or 0. */
static uint64_t start_ticks(pid_t pid)
{
	struct pid_stat st;
	return pid_stat((int)pid, &st) == 0 ? st.start : 0;
}

static void job_free(struct spawn_job *j)
{
	if (!j)
		return;
	free(j->exe);
	free(j->shell);
	free(j->script);
	free(j->cwd);
	free(j->env); /* one block: the pointers, then the strings */
	free(j);
}

/* A copy of a NULL-terminated "KEY=VALUE" list in one allocation. */
static char **env_copy(char *const *env)
{
	size_t n = 0, bytes = 0;
	for (; env[n]; n++)
		bytes += strlen(env[n]) + 1;
	char **c = xmalloc((n + 1) * sizeof(*c) + bytes);
	char *q = (char *)(c + n + 1);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(env[i]) + 1;
		memcpy(q, env[i], len);
		c[i] = q;
		q += len;
	}
	c[n] = NULL;
	return c;
}

/*
 * On a worker thread: starts `exe` as `shell -c SCRIPT` with posix_spawn
 * (vfork semantics: nothing of lockstep's memory is copied, so a spawn
 * costs the same however many workflows run). The child gets a new
 * session (its own process group), /dev/null on stdin, the two pipes on
 * stdout and stderr, default signal handling and an empty signal mask.
 * Every descriptor lockstep opens is close-on-exec (pidfds are, always),
 * so a spawn on another thread at the same moment inherits none of them.
 */
static void spawn_work(uv_work_t *req)
{
	struct spawn_job *j = req->data;
	char *args[] = { j->shell, (char *)"-c", j->script, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, j->out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, j->err[1], 2);
	if (j->cwd)
		posix_spawn_file_actions_addchdir_np(&fa, j->cwd);
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF);
	pid_t pid = 0;
	int r = posix_spawn(&pid, j->exe, &fa, &at, args, j->env ? j->env : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(j->out[1]);
	close(j->err[1]);
	j->out[1] = j->err[1] = -1;
	if (r != 0) {
		j->error = r;
		return;
	}
	/* The child is ours and not reaped before the loop has its pidfd:
	 * nothing waits for an arbitrary child (see the top of the file). */
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		/* Without a pidfd the loop cannot learn of the exit: give up on it. */
		j->error = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	j->pid = pid;
	j->pidfd = pidfd;
	j->pid_start = start_ticks(pid);
}

/* Back on the loop thread: the step runs, or it never started. */
static void spawn_done(uv_work_t *req, int status)
{
	struct spawn_job *j = req->data;
	struct proc *p = j->p;
	p->job = NULL;
	int e = status < 0 ? -status : j->error;
	if (e) {
		close(j->out[0]);
		close(j->err[0]);
		describe_spawn_error(p, -e, j->cwd, j->shell);
		job_free(j);
		set_state(p, PROC_NOT_STARTED);
		uv_timer_start(&p->tick, on_tick, 0, 0);
		return;
	}
	p->pid = j->pid;
	p->pidfd = j->pidfd;
	uv_pipe_open(&p->out.handle, j->out[0]);
	uv_pipe_open(&p->err.handle, j->err[0]);
	uv_poll_init(p->loop, &p->exitpoll, j->pidfd);
	p->exitpoll.data = p;
	p->exitpoll_open = true;
	p->open_handles++;
	p->st.spawned = true;
	uint64_t pid_start = j->pid_start;
	job_free(j);
	set_state(p, PROC_RUNNING);
	uv_poll_start(&p->exitpoll, UV_READABLE, on_pidfd);
	start_reading(p, &p->out);
	start_reading(p, &p->err);
	if (p->kill_pending)
		proc_kill_now(p);
	else if (p->term_pending)
		proc_kill(p);
	if (p->cbs.started)
		p->cbs.started(p, p->pid, pid_start, p->cbs.arg);
}

/* Queues the spawn on the thread pool. Returns 0 or -errno. */
static int start(struct proc *p, const struct proc_opts *o, const char *shell, const char *exe)
{
	struct spawn_job *j = xcalloc(1, sizeof(*j));
	j->out[0] = j->out[1] = j->err[0] = j->err[1] = -1;
	if (pipe2(j->out, O_CLOEXEC) < 0) {
		int e = errno;
		free(j);
		return -e;
	}
	if (pipe2(j->err, O_CLOEXEC) < 0) {
		int e = errno;
		close(j->out[0]);
		close(j->out[1]);
		free(j);
		return -e;
	}
	j->p = p;
	j->exe = xstrdup(exe);
	j->shell = xstrdup(shell);
	j->script = xstrdup(o->script);
	j->cwd = o->cwd ? xstrdup(o->cwd) : NULL;
	j->env = o->env ? env_copy(o->env) : NULL;
	j->req.data = j;
	int r = uv_queue_work(p->loop, &j->req, spawn_work, spawn_done);
	if (r < 0) {
		close(j->out[0]);
		close(j->out[1]);
		close(j->err[0]);
		close(j->err[1]);
		job_free(j);
		return r;
	}
	p->job = j;
	set_state(p, PROC_SPAWNING);
	return 0;
}

int proc_spawn(uv_loop_t *loop, const struct proc_opts *o, const struct proc_cbs *cbs,
	       struct proc **out)
{
	if (!loop || !o || !o->script || !cbs || !cbs->exit || !cbs->gone || !out)
		return -EINVAL;
	struct proc *p = xcalloc(1, sizeof(*p));
	p->state = PROC_NEW;
	p->loop = loop;
	p->cbs = *cbs;
	p->grace_ms = o->kill_grace_ms;
	p->poll_ms = PROC_POLL_MIN_MS;
	p->st.exit_code = -1;
	p->pidfd = -1;
	p->start_ns = uv_hrtime();
	p->out.stream = PROC_STDOUT;
	p->err.stream = PROC_STDERR;
	uv_pipe_init(loop, &p->out.handle, 0);
	uv_pipe_init(loop, &p->err.handle, 0);
	uv_timer_init(loop, &p->grace);
	uv_timer_init(loop, &p->tick);
	p->out.handle.data = p->err.handle.data = p->grace.data = p->tick.data = p;
	p->open_handles = 4;

	const char *shell = o->shell ? o->shell : "/bin/sh";
	char *msg = p->st.error;
	size_t n = sizeof(p->st.error);
	char exe[PATH_MAX];
	if ((!o->cwd || cwd_usable(o->cwd, msg, n)) &&
	    find_shell(shell, o, exe, sizeof(exe), msg, n)) {
		int r = start(p, o, shell, exe);
		if (r == 0) {
			*out = p;
			return 0;
		}
		describe_spawn_error(p, r, o->cwd, shell);
	}
	/* Never from inside proc_spawn: the caller may not be ready for it. */
	set_state(p, PROC_NOT_STARTED);
	uv_timer_start(&p->tick, on_tick, 0, 0);
	*out = p;
	return 0;
}

/* proc_kill and proc_kill_now of a lingering proc: its leftovers are
 * being stopped, so it polls its group closely again and, once the group
 * is gone, reads its pipes for PROC_DRAIN_MS more at most. */
static void stop_lingering(struct proc *p)
{
	if (!p->stopping) {
		p->stopping = true;
		p->poll_ms = PROC_POLL_MIN_MS;
		if (p->group_gone)
			p->drain_ns = uv_hrtime();
	}
	schedule_tick(p);
}

void proc_kill(struct proc *p)
{
	if (p && p->state == PROC_SPAWNING) {
		p->term_pending = true;
		p->st.killed = true;
		return;
	}
	if (!p || (p->state != PROC_RUNNING && p->state != PROC_DRAINING &&
		   p->state != PROC_LINGERING))
		return;
	if (p->state == PROC_RUNNING)
		p->st.killed = true;
	if (p->state == PROC_LINGERING && p->stopping)
		return;
	if (!p->term_sent && !p->kill_sent && !p->group_gone) {
		signal_group(p, SIGTERM);
		uv_timer_start(&p->grace, on_grace, p->grace_ms, 0);
	}
	if (p->state == PROC_LINGERING)
		stop_lingering(p);
}

void proc_kill_now(struct proc *p)
{
	if (p && p->state == PROC_SPAWNING) {
		p->kill_pending = true;
		p->st.killed = true;
		return;
	}
	if (!p || (p->state != PROC_RUNNING && p->state != PROC_DRAINING &&
		   p->state != PROC_LINGERING))
		return;
	if (p->state == PROC_RUNNING)
		p->st.killed = true;
	if (!p->kill_sent) {
		uv_timer_stop(&p->grace);
		signal_group(p, SIGKILL);
	}
	if (p->state == PROC_LINGERING)
		stop_lingering(p);
}

pid_t proc_pid(const struct proc *p)
{
	return p ? p->pid : 0;
}

void proc_free(struct proc *p)
{
	if (!p)
		return;
	set_state(p, PROC_FREED);
	if (p->exitpoll_open)
		uv_close((uv_handle_t *)&p->exitpoll, on_close);
	close_pipe(&p->out);
	close_pipe(&p->err);
	uv_close((uv_handle_t *)&p->grace, on_close);
	uv_close((uv_handle_t *)&p->tick, on_close);
}
