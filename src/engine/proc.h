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
 * Life cycle (the states of proc.c; `exit` says how the step ended, `gone`
 * that nothing of it is left, and only then may it be freed):
 *
 *   proc_spawn ─► SPAWNING ─► RUNNING ─main exits by itself─► LINGERING ─────┐
 *       │            │           │                          (exit)            │
 *       │            │           └─main exits after proc_kill*─► DRAINING ──┐ │
 *       │            │                          group gone, pipes done:     │ │ leftovers gone,
 *       │            │                          exit                        │ │ pipes closed
 *       └────────────┴──► NOT_STARTED (spawn failed) ─next iteration: exit─┐ │ │
 *                                                                         ▼ ▼ ▼
 *                                                       gone ◄──────────── OVER ─proc_free─► FREED
 *
 * The spawn itself (posix_spawn, which waits until the child has exec'd)
 * runs on libuv's thread pool, so a wide round of steps starts in
 * parallel and the loop never waits for an exec; the `started` callback
 * says when the process exists. proc_kill and proc_kill_now while it is
 * SPAWNING take effect as soon as it runs.
 *
 * A step ends when its main process exits, whatever still holds its
 * output. When it exits by itself, what it started in the background (the
 * rest of its process group, and daemons that left the group but hold its
 * pipes) goes on running: `exit` comes at once, after the output the main
 * process wrote (it is all in the pipes by then), and the pipes are read
 * on, so that leftovers writing to them reach `output` and never get
 * SIGPIPE because lockstep closed its end. The proc lingers until nothing
 * of its group is alive and its pipes are closed, or until proc_kill or
 * proc_kill_now stops the leftovers: SIGTERM (then SIGKILL `kill_grace_ms`
 * later) or SIGKILL to the group; once the group is gone, the pipes are
 * read for PROC_DRAIN_MS more at most, for daemons outside the group.
 *
 * When proc_kill or proc_kill_now was called while it ran (a timeout, an
 * abort), the whole group goes at once: when the main process exits,
 * what is left of the group gets SIGTERM, then SIGKILL `kill_grace_ms`
 * later, unless that was already sent; `exit` comes once the group is
 * gone and the pipes are done, and `gone` right after it.
 *
 * Members that are already dead but wait for another parent to reap them
 * (zombies of init) do not hold a stopped group up; members re-parented
 * to lockstep (see proc_become_subreaper) are reaped by proc itself. If
 * SIGKILLed members still do not vanish within a second (a process stuck
 * in the kernel), proc stops waiting for them.
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

/* When a proc is being stopped, how long its output is still read after
 * its process group is gone, when a process outside the group (a daemon)
 * keeps a pipe open. */
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
	uint64_t kill_grace_ms;   /* SIGTERM -> SIGKILL delay of proc_kill */
};

enum proc_stream { PROC_STDOUT = 1, PROC_STDERR = 2 };

struct proc_status {
	bool spawned;             /* false: it never started; see `error` */
	int exit_code;            /* when it exited normally; else -1 */
	int term_signal;          /* when a signal ended it; else 0 */
	bool killed;              /* proc_kill or proc_kill_now was called while it ran */
	bool timed_out;           /* an executor stopped it at its deadline (exec/exec.h) */
	char error[256];          /* !spawned: e.g. "working directory 'x' does not exist" */
	int error_code;           /* !spawned: -errno of the failed start, or 0 */
	uint64_t duration_ms;     /* from proc_spawn to the exit callback */
};

struct proc_cbs {
	/* A chunk of output (1..PROC_READ_MAX bytes); `data` is valid during
	 * the call only. Also after `exit`, from leftovers that still hold
	 * the pipes. May be NULL: output is discarded. */
	void (*output)(struct proc *p, enum proc_stream s, const char *data, size_t len, void *arg);
	/* The step is over; called exactly once, also for spawn failures
	 * (then from the next loop iteration, never from inside proc_spawn).
	 * `st` is valid during the call only. It may call proc_kill or
	 * proc_kill_now (they then stop the leftovers), not proc_free.
	 * Required. */
	void (*exit)(struct proc *p, const struct proc_status *st, void *arg);
	/* The process was started: its pid (== pgid) and the pid's start time
	 * (/proc/PID/stat field 22; 0 if unknown). May be NULL. */
	void (*started)(struct proc *p, pid_t pid, uint64_t pid_start, void *arg);
	/* Both output pipes are closed (EOF, or given up after the drain):
	 * no `output` follows, and their descriptors are free. Called exactly
	 * once, before `gone`, possibly before `exit` (a step that closed its
	 * output and runs on). May be NULL. */
	void (*closed)(struct proc *p, void *arg);
	/* Nothing of the process is left: its group is gone and its pipes are
	 * closed. Called exactly once, after `exit` (right after it when the
	 * step left nothing behind, or was killed). The callback may call
	 * proc_free. Required. */
	void (*gone)(struct proc *p, void *arg);
	void *arg;
};

/*
 * Starts a process. Returns 0 and the handle in `*out`; spawn failures
 * (missing shell, missing, non-directory or unenterable `cwd`, any other
 * uv_spawn error) are not errors here: they arrive as a proc_status with
 * spawned == false and a clear message. Returns -EINVAL (and no handle)
 * when `o->script`, `cbs->exit` or `cbs->gone` is missing. Borrows `loop`, `o` and
 * `cbs` (their strings are copied by the child at spawn time; nothing is
 * kept but a copy of `*cbs`).
 */
int proc_spawn(uv_loop_t *loop, const struct proc_opts *o, const struct proc_cbs *cbs,
	       struct proc **out);
/*
 * SIGTERM to the whole process group, then SIGKILL after the grace period.
 * While the main process runs, the step is then `killed` and its group
 * goes with it; after `exit`, it stops the leftovers of a lingering proc.
 * Idempotent; does nothing once the proc is gone or if it never started.
 */
void proc_kill(struct proc *p);
/*
 * SIGKILL to the whole process group now; otherwise like proc_kill.
 * Idempotent; does nothing once the proc is gone or if it never started.
 */
void proc_kill_now(struct proc *p);
/* The child's pid (== its pgid), or 0 before it started (see `started`)
 * or when it never did. Stays valid after the exit callback, for logs
 * (the number may be reused by then). */
pid_t proc_pid(const struct proc *p);
/* Frees the handle; only after its `gone` callback (calling it from inside
 * that callback is fine). Closes libuv handles asynchronously: the
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
 * It never reaps the main process of a proc that is still running (proc
 * must reap it, or it would never finish): proc keeps a list of them and
 * skips them (they are killed, and finish normally). Lingering procs see
 * their group die and their pipes close, and finish too. Processes
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
/*
 * How many more descriptors this process may open now: the soft
 * RLIMIT_NOFILE less the descriptors open (/proc/self/fd). -1 when it
 * cannot tell. Reads a directory: for the rare moments that need the
 * exact figure, not for every spawn.
 */
long proc_fds_free(void);

#endif
