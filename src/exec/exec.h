/*
 * exec: where step processes run, behind one interface (docs/design.md,
 * "Executors and the supervisor").
 *
 *   engine ── exec_spawn / exec_kill ──► executor ──► started, output,
 *                                                     exit, closed, gone
 *
 * An executor starts a step's process, writes its output (masked) to the
 * step's log file, hands the same masked output to the engine, and says
 * when the process started, when it ended (and how), when its output is
 * over and when nothing of it is left: the callbacks and the life cycle
 * of engine/proc.h, one level up. Two executors exist:
 *
 *   - local (exec_local.c): the processes are children of this process
 *     (engine/proc.c). The supervisor uses it, and so do the engine's
 *     unit tests.
 *   - supervised (exec_client.c): the processes are children of the
 *     run's supervisor, `lockstep __supervise` (exec_supervise.c), a
 *     process of its own that outlives `lockstep run`. The engine speaks
 *     to it over a Unix socket (exec_proto.h). When lockstep dies, the
 *     supervisor runs on: it keeps writing the logs, and writes each
 *     step's end to its journal, where `lockstep resume` finds it; a
 *     resume that finds the supervisor alive attaches to it and adopts
 *     the steps still running.
 *
 * Every process has a key, unique in its run and stable across resumes
 * (the engine uses "WORKFLOW-INDEX/r|s/STEP-INDEX/ATTEMPT"), by which a
 * resume finds it again.
 */
#ifndef LS_EXEC_EXEC_H
#define LS_EXEC_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "engine/proc.h"

struct mask;
struct executor;
struct xproc;

/* What to start. Borrowed for the call only. */
struct xspawn {
	const char *key;          /* unique in the run, stable across resumes */
	const char *shell;        /* "/bin/sh" or "/bin/bash" */
	const char *script;
	const char *cwd;
	char *const *env;         /* NULL-terminated "KEY=VALUE" list */
	uint64_t kill_grace_ms;
	const char *log_path;     /* the attempt's log file, or NULL for none */
	bool log_append;          /* add to it (else it is emptied) */
	uint64_t max_log_bytes;   /* the log's cap (a marker says where it was cut) */
	/*
	 * The step's deadline, in ms from now (0: none). The engine stops a
	 * step at its deadline itself; a supervisor does too, so that a step
	 * whose engine died meanwhile is stopped on time all the same (its
	 * status then says `timed_out`). The local executor leaves it to the
	 * engine.
	 */
	uint64_t deadline_ms;
};

struct xcbs {
	/* Masked output, already in the log; valid during the call only. */
	void (*output)(struct xproc *x, enum proc_stream s, const char *data, size_t len, void *arg);
	/* How the process ended; exactly once (proc.h's `exit`). Every byte
	 * of output the main process wrote came before it. Required. */
	void (*exit)(struct xproc *x, const struct proc_status *st, void *arg);
	/* Its pid (== pgid) and start time; may be NULL. */
	void (*started)(struct xproc *x, pid_t pid, uint64_t pid_start, void *arg);
	/* Its output is over and its log closed; exactly once, before `gone`. */
	void (*closed)(struct xproc *x, void *arg);
	/* Nothing of it is left; exactly once, after `exit`; may exec_free. Required. */
	void (*gone)(struct xproc *x, void *arg);
	/* Its log could not be made or written (once per attempt); may be NULL. */
	void (*warning)(struct xproc *x, const char *message, void *arg);
	void *arg;
};

/*
 * A local executor on `loop`. Logs are masked by `mask` (borrowed; NULL:
 * nothing is masked).
 */
struct executor *exec_local_new(uv_loop_t *loop, const struct mask *mask);

/*
 * Starts a process. Returns 0 and the handle in `*out`, or -EINVAL when
 * the spec or the callbacks lack what they need. A process that cannot
 * start arrives as an `exit` with spawned == false, never from inside
 * this call. Returns -EPIPE when the executor is lost (its supervisor
 * died): nothing starts.
 */
int exec_spawn(struct executor *e, const struct xspawn *s, const struct xcbs *cbs, struct xproc **out);
/*
 * Binds `cbs` to process `key` of a run taken over (exec_supervised_resume):
 * one that ran, or runs, under the run's supervisor while its engine was
 * dead. What already happened to it (started, exit, closed, gone) is
 * told from the next loop iteration on, then what happens next. Returns
 * 0 and the handle in `*out`; -ESRCH when the process certainly never
 * started (the supervisor that ran the run all along never heard of it:
 * its engine died before asking); -ENOENT when the executor knows no such
 * process, or nothing of how it ended (its supervisor died with it).
 */
int exec_adopt(struct executor *e, const char *key, const struct xcbs *cbs, struct xproc **out);
/* SIGTERM to its group, SIGKILL after the grace period (proc_kill). */
void exec_kill(struct xproc *x);
/* SIGKILL to its group now (proc_kill_now). */
void exec_kill_now(struct xproc *x);
/* Its pid, or 0 before it started. */
pid_t exec_pid(const struct xproc *x);
/* Frees the handle; only from or after its `gone`. */
void exec_free(struct xproc *x);
/*
 * Kills every process left of the executor's steps (daemons they
 * double-forked included) and calls `done` when that is over, with how
 * many were killed. Call it only when every step is gone.
 */
void exec_kill_leftovers(struct executor *e, void (*done)(int killed, void *arg), void *arg);
/*
 * The run is over: the executor ends (a supervisor exits) once its
 * processes are gone, and the handle is freed. Handles of processes
 * that are not gone yet must not be used any more.
 */
void exec_close(struct executor *e);

/* ---- for the engine's executor implementations (exec_*.c) ---- */

struct exec_ops {
	int (*spawn)(struct executor *e, const struct xspawn *s, const struct xcbs *cbs,
		     struct xproc **out);
	int (*adopt)(struct executor *e, const char *key, const struct xcbs *cbs, struct xproc **out);
	void (*kill)(struct xproc *x, bool now);
	pid_t (*pid)(const struct xproc *x);
	void (*free)(struct xproc *x);
	void (*kill_leftovers)(struct executor *e, void (*done)(int killed, void *arg), void *arg);
	void (*close)(struct executor *e);
};

/* The first member of every executor and of every xproc. */
struct executor {
	const struct exec_ops *ops;
};

struct xproc {
	struct executor *e;
};

#endif
