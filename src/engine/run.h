/*
 * run: executes a plan on a libuv loop (docs/pipeline-format.md#barrier-semantics,
 * #on-failure-pipeline; the events: docs/events.md).
 *
 * Groups run in order; the workflows of a group run in parallel; the steps
 * of a workflow run in order. A workflow's life:
 *
 *   pending ──► running ◄──► waiting              (waiting: at a barrier of its steps)
 *                 │
 *                 ├──► succeeded                  (all steps done, or failure ignored)
 *                 ├──► failed                     (on-failure: stop, or nothing to roll back)
 *                 ├──► aborted                    (run aborted, no rollback)
 *                 └──► rolling-back ◄──► waiting  (waiting: at a barrier of its rollback)
 *                           │
 *                           └──► rolled-back | rollback-failed
 *   pending ──► skipped                           (an earlier group failed)
 *   succeeded ──► rolling-back                    (pipeline on-failure: rollback-all)
 *
 * wf_set_state() is the only place a workflow's state changes, and
 * refuses a transition that is not drawn here; every change emits its
 * event, but for waiting, which barrier.arrived and step.finished tell.
 * A resume puts workflows back in their recorded states without a
 * transition (wf_restore_state). run_assert_valid() checks the
 * invariants.
 */
#ifndef LS_ENGINE_RUN_H
#define LS_ENGINE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "events/events.h"
#include "pipeline/model.h"

enum run_status { RUN_RUNNING, RUN_SUCCEEDED, RUN_FAILED, RUN_ABORTED };

/* Which pipe of a step's process a chunk of its output came from. */
enum run_stream { RUN_STDOUT = 1, RUN_STDERR = 2 };

enum wf_state {
	WF_PENDING, WF_RUNNING, WF_WAITING, WF_SUCCEEDED, WF_FAILED, WF_ROLLING_BACK,
	WF_ROLLED_BACK, WF_ROLLBACK_FAILED, WF_SKIPPED, WF_ABORTED,
};

enum step_state {
	STEP_PENDING, STEP_RUNNING, STEP_WAITING, STEP_SUCCEEDED, STEP_FAILED, STEP_TIMED_OUT,
	STEP_SKIPPED, STEP_ABORTED,
};

struct executor;

struct run_opts {
	uint64_t run_id;
	/*
	 * LOCKSTEP_RUN_TOKEN of every step process, or NULL: a value unique
	 * to the run, by which a later `lockstep resume` recognises the
	 * run's processes (and their children) even when no pid was recorded.
	 */
	const char *token;
	const char *base_dir;      /* default working directory of steps */
	const char *log_dir;       /* STATE/logs/RUN, or NULL for no log files */
	uint64_t kill_grace_ms;    /* SIGTERM -> SIGKILL; 0: SIGKILL at once */
	uint64_t max_log_bytes;    /* per step attempt; default 64 MiB */
	/*
	 * At most this many step processes at once (0: as many as the
	 * descriptors allow). A step past it waits for a slot; workflows
	 * waiting at barriers hold none, so a limit cannot deadlock them.
	 */
	size_t max_parallel;
	bool no_rollback;
	/*
	 * Durable before visible: a run step's process starts only after the
	 * events announcing it are recorded. The caller calls run_committed()
	 * each time a commit of its events has ended; until its step.started
	 * is recorded, the step waits.
	 */
	bool defer_spawns;
	/*
	 * When the run ends, kill every process still left of it (daemons its
	 * steps started: lockstep is their subreaper) before run.finished is
	 * emitted, so that no crash can leave them behind a run the store
	 * already calls finished (a finished run cannot be resumed, and resume
	 * is what cleans up after a crash). See proc_kill_descendants.
	 */
	bool kill_leftovers;
	/*
	 * The lockstep binary whose hidden `__k8s` mode runs the Kubernetes
	 * steps; NULL: this process's own executable (/proc/self/exe).
	 */
	const char *self_exe;
	/*
	 * Where step processes run (exec/exec.h; borrowed), or NULL: the
	 * run's supervisor in `supervise_dir` (STATE/supervise/RUN,
	 * absolute; with `takeover`, the one a dead engine left, attached
	 * to, or a new one), or without that directory, or when no
	 * supervisor can start, a local executor: the processes children of
	 * this process (run_exec_warning says why).
	 */
	struct executor *executor;
	const char *supervise_dir;
	bool takeover;
	/* Step output as it arrives (for the terminal); may be NULL. */
	void (*output)(const char *workflow, const char *step, enum run_stream s,
		       const char *data, size_t len, void *arg);
	void *output_arg;
	/*
	 * The values of the pipeline's secrets (name -> value; borrowed), or
	 * NULL: each ${{ secrets.X }} left in env values and http-check
	 * headers is replaced when its step starts, and nowhere else.
	 */
	const struct kvlist *secrets;
	/*
	 * What to hide (base/mask.h; borrowed), or NULL: step output, in its
	 * log files and through `output`, and the reasons of the events are
	 * masked with it.
	 */
	const struct mask *mask;
};

struct run;
struct mask;

/*
 * Makes this process fit to run steps; call it once, before the first
 * run. Its open-files limit goes up to the hard limit (each running step
 * holds a few descriptors), every descriptor it inherited above 2 becomes
 * close-on-exec (steps inherit nothing of lockstep's but its
 * environment), and it becomes the child subreaper of what steps leave
 * behind, which run_reap_leftovers() then kills.
 */
void run_prepare_process(void);
/*
 * Kills (SIGKILL) and reaps every process still left of this process's
 * runs: daemons their steps started, re-parented to it. Call it when no
 * run is going on any more, after the loop is closed; it blocks while it
 * waits for them.
 */
void run_reap_leftovers(void);

/* Prepares a run of `plan` (borrowed); events go to `ev` (borrowed). */
struct run *run_new(const struct plan *plan, const struct run_opts *o, struct events *ev);
/* Emits run.started and starts the first group. */
void run_start(struct run *r, uv_loop_t *loop);
/*
 * Takes over a run whose owner died, instead of run_start: rebuilds the
 * run's state from its recorded events `evs` (in seq order, as the dead
 * owner emitted them), emits run.resumed, and continues (see resume.c:
 * steps that finished never run again, a run step that was running fails
 * as "interrupted" or is retried). With `abort_run`, aborts it at once
 * (B10: rollbacks run). The events must continue the numbering
 * (events_continue). Returns 0, or -1 with a message in `err` when the
 * events do not fit the plan; the run is then unusable (run_free it).
 */
struct buf;
int run_resume(struct run *r, uv_loop_t *loop, const struct event *const *evs, size_t n, bool abort_run,
	       struct buf *err);
/*
 * Aborts the run (B10): the first call terminates running steps (SIGTERM,
 * SIGKILL after the grace period), breaks waiting barriers with "run
 * aborted" and lets rollbacks run unless no_rollback; a second call kills
 * everything at once and skips rollbacks.
 */
void run_abort(struct run *r);
/*
 * Stops the run because it can no longer be recorded (the store failed):
 * like the first run_abort (SIGTERM, then SIGKILL after the grace period;
 * step barriers break with "run aborted"), but no step starts any more,
 * rollback steps included. Workflows end aborted (or rollback-failed when
 * they were rolling back).
 */
void run_stop(struct run *r);
/*
 * Events were recorded: starts the run steps that were waiting for their
 * step.started to be (defer_spawns), up to events_recorded_seq(). Call it
 * on the loop's thread whenever a commit has ended; never from an event
 * sink.
 */
void run_committed(struct run *r);
bool run_done(const struct run *r);
/*
 * Once run_done: lets the run's own executor go (its supervisor exits
 * once its processes are gone). The loop must run on until its handles
 * are closed. Before run_free.
 */
void run_close(struct run *r);
/* Why the run's steps run without a supervisor when one was asked for, or NULL. */
const char *run_exec_warning(const struct run *r);
enum run_status run_status(const struct run *r);
/* Frees the run; only once run_done() (its handles are closed by then). */
void run_free(struct run *r);

/*
 * Checks the run's invariants and the coordinator's; aborts with a message
 * when one fails. Runs after every engine step when the environment sets
 * LOCKSTEP_CHECK_INVARIANTS=1 (the test suite does).
 */
void run_assert_valid(const struct run *r);

const char *wf_state_name(enum wf_state s);
/* The diagram above: true when a workflow may go from state `from` to `to`. */
bool wf_transition_allowed(enum wf_state from, enum wf_state to);
/*
 * True for the step kinds whose attempts write a log file (run,
 * http-check, k8s-rolling, k8s-rollback): their row in the engine's
 * table of step kinds (engine/step_kinds.c) says so.
 */
bool step_kind_writes_log(enum step_kind k);
const char *step_state_name(enum step_state s);
const char *run_status_name(enum run_status s);

#endif
