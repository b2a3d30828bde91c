/*
 * proc: one step process on the libuv loop.
 *
 * A step runs as `SHELL -c SCRIPT` in a new session, hence its own process
 * group (pgid == pid), so that a timeout or an abort can signal its whole
 * tree at once. Its stdin is /dev/null; its stdout and stderr are read
 * through pipes and handed to `output` as they arrive, in chunks of at most
 * PROC_READ_MAX bytes, never accumulated. lockstep's own file descriptors
 * never reach the child (everything lockstep opens is close-on-exec;
 * libuv's pipes are too; proc_seal_fds covers what lockstep inherited).
 *
 * Life cycle (the states of proc.c; the exit callback runs on entering OVER):
 *
 *   proc_spawn ─► SPAWNING ─► RUNNING ─main exits─► DRAINING ─pipes done, group gone─► OVER ─proc_free─► FREED
 *       │            │                                                                  ▲
 *       └────────────┴──► NOT_STARTED (spawn failed) ───── next loop iteration ─────────┘
 *
 * The spawn itself (posix_spawn, which waits until the child has exec'd)
 * runs on libuv's thread pool, so a wide round of steps starts in
 * parallel and the loop never waits for an exec; the `started` callback
 * says when the process exists. proc_kill and proc_kill_now while it is
 * SPAWNING take effect as soon as it runs.
 *
 * "Pipes done": both reached EOF, or were abandoned PROC_DRAIN_MS after the
 * main exit because something outside the group (a daemon) still holds
 * them. "Group gone": nothing of the step's process group is left alive.
 *
 * When the main process exits, whatever is left of its process group
 * (background children) gets SIGTERM, then SIGKILL `kill_grace_ms` later if
 * anything is still alive, so a step leaves nothing running behind it; the
 * exit callback comes once the group is gone. Members that are already dead
 * but wait for another parent to reap them (zombies of init) do not hold the
 * step up; members re-parented to lockstep (see proc_become_subreaper) are
 * reaped by proc itself. If SIGKILLed members still do not vanish within a
 * second (a process stuck in the kernel), proc stops waiting for them.
 *
 * Threads: every proc lives on the thread of its loop, and all procs of the
 * process must be driven from one thread (proc keeps a process-wide list of
 * running children for proc_kill_descendants).
 */
#ifndef LS_ENGINE_PROC_H
#define LS_ENGINE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "base/buf.h"

/* How long output is still read after the main process exited, when a
 * leftover background process keeps a pipe open. */
#define PROC_DRAIN_MS 200

/* The largest chunk handed to `output` (the size of each read buffer). */
#define PROC_READ_MAX 65536

struct proc;

struct proc_opts {
	const char *shell;        /* "/bin/sh" (default when NULL) or "/bin/bash";
				   * a name without '/' is looked up in PATH */
	const char *script;       /* passed as `SHELL -c SCRIPT`; required */
	const char *cwd;          /* NULL: inherit */
	char *const *env;         /* NULL-terminated "KEY=VALUE" list; NULL: inherit */
	uint64_t kill_grace_ms;   /* SIGTERM -> SIGKILL delay for leftovers and proc_kill */
};

enum proc_stream { PROC_STDOUT = 1, PROC_STDERR = 2 };

struct proc_status {
	bool spawned;             /* false: it never started; see `error` */
	int exit_code;            /* when it exited normally; else -1 */
	int term_signal;          /* when a signal ended it; else 0 */
	bool killed;              /* proc_kill or proc_kill_now was called while it ran */
	char error[256];          /* !spawned: e.g. "working directory 'x' does not exist" */
	int error_code;           /* !spawned: -errno of the failed start, or 0 */
	uint64_t duration_ms;     /* from proc_spawn to the exit callback */
};

struct proc_cbs {
	/* A chunk of output (1..PROC_READ_MAX bytes); `data` is valid during
	 * the call only. May be NULL: output is discarded. */
	void (*output)(struct proc *p, enum proc_stream s, const char *data, size_t len, void *arg);
	/* The step is over; called exactly once, also for spawn failures
	 * (then from the next loop iteration, never from inside proc_spawn).
	 * `st` is valid during the call only. The callback may call proc_free.
	 * Required. */
	void (*exit)(struct proc *p, const struct proc_status *st, void *arg);
	/* The process was started: its pid (== pgid) and the pid's start time
	 * (/proc/PID/stat field 22; 0 if unknown). May be NULL. */
	void (*started)(struct proc *p, pid_t pid, uint64_t pid_start, void *arg);
	void *arg;
};

/*
 * Starts a process. Returns 0 and the handle in `*out`; spawn failures
 * (missing shell, missing, non-directory or unenterable `cwd`, any other
 * uv_spawn error) are not errors here: they arrive as a proc_status with
 * spawned == false and a clear message. Returns -EINVAL (and no handle)
 * when `o->script` or `cbs->exit` is missing. Borrows `loop`, `o` and
 * `cbs` (their strings are copied by the child at spawn time; nothing is
 * kept but a copy of `*cbs`).
 */
int proc_spawn(uv_loop_t *loop, const struct proc_opts *o, const struct proc_cbs *cbs,
	       struct proc **out);
/*
 * SIGTERM to the whole process group, then SIGKILL after the grace period.
 * Idempotent; does nothing once the step is over or if it never started.
 */
void proc_kill(struct proc *p);
/*
 * SIGKILL to the whole process group now. Idempotent; does nothing once
 * the step is over or if it never started.
 */
void proc_kill_now(struct proc *p);
/* The child's pid (== its pgid), or 0 before it started (see `started`)
 * or when it never did. Stays valid after the exit callback, for logs
 * (the number may be reused by then). */
pid_t proc_pid(const struct proc *p);
/* Frees the handle; only after its exit callback (calling it from inside
 * the exit callback is fine). Closes libuv handles asynchronously: the
 * memory goes in their close callbacks, so the loop must run on. */
void proc_free(struct proc *p);

/*
 * Makes this process a child subreaper (PR_SET_CHILD_SUBREAPER), so that
 * daemons double-forked by steps are re-parented to lockstep, can be
 * found, killed and reaped with the run. Returns 0 or -errno.
 */
int proc_become_subreaper(void);
/*
 * Kills (SIGKILL) every remaining descendant of this process, found by
 * walking the parent links in /proc, and reaps those that end up as our
 * children (waiting at most about a second for them to die). Returns how
 * many live processes it killed (zombies are reaped, not counted).
 *
 * It never reaps the main process of a proc that is still running (libuv
 * must reap it, or the proc would never finish): proc keeps a list of
 * them and skips them (they are killed, and finish normally). Processes
 * spawned with uv_spawn outside proc are unknown to it: call this only
 * when no such process is running, normally when the run has ended and
 * every proc is over. Blocks the thread while it waits.
 */
int proc_kill_descendants(void);
/*
 * Marks every file descriptor above 2 close-on-exec, so that descriptors
 * lockstep inherited from its own parent without O_CLOEXEC do not leak
 * into steps. Call once at startup, before any step runs. Returns 0 or
 * -errno.
 */
int proc_seal_fds(void);

#endif
