/*
 * run_internal: what the run state machine (run.c; run_group.c: groups;
 * run_life.c: new, start, abort, stop, free; resume.c: the take-over of
 * a dead run) and the step kinds (their table, step_kinds.c; their
 * files, step_run.c, step_k8s.c, step_barrier.c, step_wait.c,
 * step_http.c) share. Not for use outside src/engine/ (and the engine's
 * unit tests): the rest of lockstep sees only run.h.
 */
#ifndef LS_ENGINE_RUN_INTERNAL_H
#define LS_ENGINE_RUN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/mask.h"
#include "base/xalloc.h"
#include "engine/barrier.h"
#include "engine/proc.h"
#include "engine/run.h"
#include "exec/exec.h"
#include "exec/steplog.h"

struct http_check_run;

/* What a workflow's `delay` timer is for. */
enum timer_kind { TIMER_NONE, TIMER_RETRY, TIMER_WAIT };

/*
 * A step attempt's log, STATE/logs/RUN/WORKFLOW/STEP.ATTEMPT.log, and
 * whose it is. It never changes how the step ends: a file that cannot be
 * opened or written is a step.warning (once per attempt), and a marker in
 * the file says how much is missing where it can still be written. An
 * http-check writes its own (`f`); a process's log is written by its
 * executor (exec/exec.h), and `f` stays closed.
 */
struct step_log {
	struct steplog f;           /* the file and its mask streams */
	/* Whose log it is (the plan's strings), for output and warnings. */
	const char *workflow, *step;
	int attempt;
	bool rollback;
	struct run *run;
};

/*
 * A run step's process (or a Kubernetes step's), from its spawn until
 * nothing of it is left (step_run.c): past the end of its step while
 * what it started in the background runs on and writes to its log
 * (docs/design.md, "Process hygiene"). The executor's callbacks get it.
 */
struct step_proc {
	struct run *run;
	struct wf_run *w;           /* the workflow while this is its step; NULL after */
	struct xproc *x;
	struct step_log log;
	bool pipes_open;            /* the executor's `closed` has not come yet */
	bool holds_slot;            /* its step ended with the pipes open: counted in run.nheld */
	bool started;               /* the executor said it started */
	bool adopted;               /* taken over from a dead engine (resume) */
	struct step_proc *prev, *next; /* in run.leftovers once its step ended */
};

struct wf_run {
	struct run *run;
	size_t index;
	const struct plan_workflow *pw;
	enum wf_state state;
	bool in_rollback;           /* running the rollback list */
	size_t step;                /* index in the current list */
	int attempt;
	enum step_state step_state;
	struct xproc *proc;
	uv_timer_t *timer;          /* step timeout */
	uv_timer_t *delay;          /* retry delay or wait step */
	enum timer_kind delay_kind;
	bool timed_out;
	size_t waiting_barrier;     /* coordinator index while waiting, else SIZE_MAX */
	/* fail-fast: the broken barrier (coordinator index) whose break is
	 * stopping its current step, else SIZE_MAX */
	size_t stopped_by;
	char *reason;               /* why it failed (LOCKSTEP_FAILURE) */
	uint64_t step_started_ms;
	bool log_dir_made;          /* its log directory exists: no mkdir per step */
	bool spawn_pending;         /* its run step waits for a free process slot */
	uint64_t commit_seq;        /* defer_spawns: its spawn waits for this seq to be recorded */
	bool steps_done;            /* past its steps list (terminal or rolling back) */
	struct http_check_run *check; /* its http-check step in progress (step_http.c) */
	char *k8s_result;           /* a Kubernetes step's result file (step_k8s.c), or NULL */
};

struct decision {
	size_t barrier;
	enum barrier_state state;
};

struct run {
	const struct plan *plan;
	struct run_opts opts;
	struct events *ev;
	uv_loop_t *loop;
	struct coord coord;
	struct wf_run *wfs;
	size_t nwfs;
	size_t group;               /* current group */
	bool group_failed;
	/* "workflow NAME: REASON" of the group's first failure, for the
	 * reasons rollback-all gives (run_group_failure); NULL until then. */
	char *group_failure;
	bool failed;
	bool aborting;
	bool hard_abort;
	bool no_new_steps;          /* run_stop: nothing starts any more */
	bool finished;
	enum run_status status;
	size_t rollback_group;      /* rollback-all: the group rolling back now */
	bool rolling_back_all;
	VEC(struct decision) decisions; /* decided, not yet handled */
	VEC(size_t) ready;          /* workflows to advance to their next step */
	size_t ready_head;          /* ready.v[ready_head..n) are still queued */
	size_t *group_steps_done;   /* per group: workflows past their steps list */
	size_t *group_terminal;     /* per group: workflows in a terminal state */
	size_t nprocs;              /* step processes running now */
	size_t nspawning;           /* of those, being spawned on the thread pool */
	size_t max_procs;           /* process slots the descriptors allow */
	size_t max_parallel;        /* at most this many step processes at once (--max-parallel) */
	/* Ended steps whose processes are not gone: what they started in the
	 * background runs until the run ends (step_run.c). */
	struct step_proc *leftovers;
	size_t nleftovers;
	size_t nheld;               /* of those, how many still hold their pipes (a slot each) */
	bool ending;                /* every workflow is over: the leftovers are being stopped */
	VEC(size_t) spawn_wait;     /* workflows whose run step waits for a slot */
	VEC(size_t) commit_wait;    /* workflows whose run step waits for a commit */
	size_t spawn_wait_head;
	bool pumping;
	size_t open_handles;        /* timers not yet closed */
	uv_timer_t *btimer;         /* the next barrier deadline (B7) */
	bool check_invariants;      /* LOCKSTEP_CHECK_INVARIANTS set: check after each run_pump */
	size_t fail_fast_broken;    /* fail-fast barriers broken so far */
	char *self_exe;             /* the binary of the Kubernetes steps' helper */
	size_t rb_started_group;    /* rollback-all: succeeded workflows of this group were started */
	struct executor *exec;      /* where step processes run (opts.executor, or a local one) */
	bool own_exec;              /* made by the run: run_close closes it */
	char *exec_warning;         /* run_exec_warning */
	bool killing_leftovers;     /* run_finish waits for exec_kill_leftovers */
	bool leftovers_killed;      /* it is done */
};

/* ---- run.c (run_group.c: groups) ---- */

/* The loop's clock in ms, brought up to date first. */
uint64_t run_now(const struct run *r);
/* Runs queued decisions, ready workflows and group transitions. */
void run_pump(struct run *r);
/* Handles the queued barrier decisions now, in the order they were taken. */
void run_drain_decisions(struct run *r);
/* Sets the barrier timer to the coordinator's next deadline. */
void run_arm_barrier_timer(struct run *r);
/* A timer owned by workflow `w`; closed (and freed) by run_timer_drop. */
uv_timer_t *run_timer_new(struct run *r, struct wf_run *w);
void run_timer_drop(struct run *r, uv_timer_t **t);

/* Terminal workflow states: nothing more happens to it (but see rollback-all). */
bool wf_terminal(enum wf_state s);
/* The workflow is past its steps list (finished, or rolling back). */
void wf_mark_steps_done(struct wf_run *w);
/* Queues the workflow for the pump, which moves it to w->step. */
void wf_ready(struct wf_run *w);
/* Starts the next attempt of the current step (emits step.started). */
void wf_begin_step(struct wf_run *w);
/* Arms the current step's timeout to fire in `ms`. */
void wf_arm_timeout(struct wf_run *w, uint64_t ms);
/* The workflow will never arrive at its remaining barriers of that kind. */
void run_withdraw(struct run *r, struct wf_run *w, bool rollback);
/* rollback-all: rolls back the succeeded workflows of group `g`; how many started. */
size_t run_rollback_group(struct run *r, size_t g);
/* Starts group `g`: group.started, then its workflows. */
void run_start_group(struct run *r, size_t g);
/* Sets up the barrier coordinator, its decisions queued for the pump. */
void run_init_coord(struct run *r);
/*
 * Records that the current group failed, first by workflow `w` (only the
 * first call of a group counts): rollback-all's reasons name it.
 */
void run_group_failure(struct run *r, const struct wf_run *w);
/* The run's executor: opts.executor, or a local one made at first use. */
struct executor *run_exec(struct run *r);
/* Ends the run: its status from the flags, run.finished. */
void run_finish(struct run *r);
/*
 * Moves the run on when a group has finished: the next group, the
 * rollbacks of rollback-all, or the end. Returns true when it changed
 * anything (so the run_pump looks again).
 */
bool run_check_group(struct run *r);
/*
 * The first abort's stopping of steps and breaking of step barriers
 * (run_abort), without a pump. A resume calls it for an abort that goes
 * on, having set r->aborting first, as the dead owner had.
 */
void run_abort_steps(struct run *r);
/* The workflow starts its rollback list (workflow.rollback); the pump moves it. */
void wf_start_rollback(struct wf_run *w);

/* The step workflow `w` is at. */
const struct plan_step *wf_cur_step(const struct wf_run *w);
/*
 * The only place a workflow's state changes (see the diagram in run.h):
 * a transition the diagram does not have is a bug, and aborts.
 */
void wf_set_state(struct wf_run *w, enum wf_state to);
/*
 * resume.c only: puts the workflow in the state its recorded events left
 * it in, before the run goes on. No event (they are recorded already),
 * and any jump (a record may end anywhere); the group counts follow.
 */
void wf_restore_state(struct wf_run *w, enum wf_state s);
/* The workflow's current step has started and not ended (step_end). */
bool wf_step_in_progress(const struct wf_run *w);
/*
 * What follows the end of a step (step_end):
 *   STEP_THEN_NEXT     the workflow goes on with its next step;
 *   STEP_THEN_FAILED   the attempt failed: a retryable kind's step is
 *                      retried, or passed over (continue-on-error), as
 *                      it says; otherwise the workflow fails, saying why
 *                      (`proc` or `detail`);
 *   STEP_THEN_FAIL     the workflow fails now with `reason` (`why`, or
 *                      the reason, completes "workflow NAME ..." in the
 *                      reasons of the barriers it breaks; `aborted`: it
 *                      ends aborted, as wf_fail);
 *   STEP_THEN_ABORTED  the workflow fails as aborted at this step.
 */
enum step_then { STEP_THEN_NEXT, STEP_THEN_FAILED, STEP_THEN_FAIL, STEP_THEN_ABORTED };
struct step_end {
	enum step_state status;     /* succeeded, failed, timed-out or aborted */
	enum step_then then;
	bool has_exit_code;
	int exit_code;
	const struct proc_status *proc; /* STEP_THEN_FAILED: how its process ended, or NULL */
	const char *detail;         /* STEP_THEN_FAILED: what went wrong, said instead */
	const char *reason, *why;   /* STEP_THEN_FAIL */
	bool aborted;               /* STEP_THEN_FAIL */
	/* The attempt's duration when it was measured elsewhere (an adopted
	 * step's process ended while lockstep was dead); 0: until now. */
	uint64_t duration_ms;
};
/*
 * Ends the step in progress of `w`, the only place a step's state becomes
 * final: its timeout is dropped, it stops waiting at its barrier,
 * step.finished is emitted with `how`'s status and exit code, a process
 * slot it held goes to the next step waiting for one, and then what
 * `how->then` says follows. `how` is borrowed.
 */
void step_end(struct wf_run *w, const struct step_end *how);
/*
 * The step `w` is at has gone on without a process since its attempt
 * failed, waiting for its retry: the retry is given up. Returns false when
 * it was not waiting for a retry.
 */
bool wf_drop_retry(struct wf_run *w);
/*
 * The current step succeeded, or is passed over: the workflow moves on
 * from the pump. Called by step_end; directly only where the step has
 * ended already (a retry given up, a resumed record).
 */
void wf_step_done(struct wf_run *w);
/*
 * The workflow failed (or was aborted) with `reason` (shown, and
 * LOCKSTEP_FAILURE for its rollback); `why` completes "workflow NAME ..."
 * in barrier reasons.
 */
void wf_fail(struct wf_run *w, const char *reason, const char *why, bool aborted);
/* wf_fail because of the abort, where it is: "aborted at step 'ID'". */
void wf_fail_aborted(struct wf_run *w);
/*
 * "failed at step 'ID' (...)", what goes inside the parentheses said by
 * the step's timeout (w->timed_out), else `detail`, else how its process
 * `st` ended, else "failed".
 */
void wf_describe_failure(const struct wf_run *w, const struct proc_status *st, const char *detail,
			 struct buf *why);
/*
 * Why the workflow fails when its current step failed for good: its
 * kind's own cause (own_failure), or wf_describe_failure's words, which
 * are then the reason too. Appends to `reason` and `why`.
 */
void wf_failure(const struct wf_run *w, const struct proc_status *st, const char *detail,
		struct buf *reason, struct buf *why);

/*
 * A broken fail-fast barrier that a workflow at step `from` of the steps
 * list of `pw` has still to cross (coordinator index), or SIZE_MAX.
 */
size_t run_fail_fast_ahead(const struct run *r, const struct plan_workflow *pw, size_t from);
/*
 * Fail-fast barrier `b` broke: every participant still on its way stops
 * its step, or gives up its retry, and fails with the barrier's reason.
 */
void run_fail_fast_stop(struct run *r, size_t b);
/*
 * The workflow fails because fail-fast barrier `b` broke while it was on
 * its way; `what` says what became of its step: "stopped", "stopped
 * before its retry", "not started".
 */
void wf_fail_fast_fail(struct wf_run *w, size_t b, const char *what);

/* ---- step kinds (step_kinds.c) ---- */

/* How far a step in progress had got when its run was taken over (resume.c). */
struct step_resume {
	uint64_t spent_ms;          /* since its attempt started: time spent dead counts */
	bool arrived;               /* a barrier step: its arrival is recorded */
};

/* What stopping a step in progress did (step_kind_ops.cancel). */
enum step_stop {
	STOP_LATER,       /* it ends by itself: a process being killed (its exit ends the
			     step), an arrival at a barrier under way, a process step
			     taken over without its process (its resume ends it) */
	STOP_NOW,         /* it stopped: the caller ends it (step_end) */
	STOP_UNSTARTED,   /* the same, before it had started: a run step waiting for a process */
};

/*
 * A step kind, one row of step_kinds[] (indexed by enum step_kind): what
 * the engine asks of every kind. A new kind is a row here, a file of its
 * own (step_NAME.c) and its place in the loader (pipeline/).
 */
struct step_kind_ops {
	/* Runs as a step process: takes a process slot, and a crash of its
	 * owner interrupts it (its process group is killed before a resume). */
	bool holds_process;
	/* Each attempt writes STATE/logs/RUN/WORKFLOW/STEP.ATTEMPT.log. */
	bool writes_log;
	/* A failed attempt (a timeout included) is retried, or passed over
	 * (continue-on-error), as the step says; otherwise its workflow fails. */
	bool retryable;
	/* It only lets time pass: the first abort ends it even in a rollback,
	 * which goes on with its next step. */
	bool idle;
	/* Starts the current attempt (step.started is out, its timeout armed). */
	void (*begin)(struct wf_run *w);
	/*
	 * Goes on after a take-over with the attempt that was in progress
	 * (its timeout is armed again with what is left of it): a wait waits
	 * for what is left, an http-check starts over, a barrier step waits
	 * or arrives, a process step was interrupted.
	 */
	void (*resume)(struct wf_run *w, const struct step_resume *at);
	/*
	 * Stops the attempt in progress (abort, fail-fast, its timeout,
	 * run_stop; `why` goes to its log); `now`: a process gets SIGKILL at
	 * once, else SIGTERM and SIGKILL after the grace period.
	 */
	enum step_stop (*cancel)(struct wf_run *w, const char *why, bool now);
	/*
	 * When the step failed for a cause of its kind's own (a barrier
	 * step: its barrier broke), appends its workflow's failure reason to
	 * `reason` and "failed at step 'ID' (...)" to `why`, and returns
	 * true; else (or NULL) "failed at step 'ID' (...)" says it all
	 * (wf_describe_failure).
	 */
	bool (*own_failure)(const struct wf_run *w, struct buf *reason, struct buf *why);
	/* Process kinds: appends the shell command of the current attempt. */
	void (*command)(struct wf_run *w, struct buf *script);
	/*
	 * Process kinds run by lockstep's own helper, else NULL: why the
	 * attempt failed, from what the helper left (a heap string, or NULL).
	 * The helper's exit status is then not the step's exit_code.
	 */
	char *(*helper_reason)(struct wf_run *w);
};

extern const struct step_kind_ops step_kinds[STEP_KIND_COUNT];

/* The row of the kind of the step `w` is at. */
const struct step_kind_ops *wf_kind(const struct wf_run *w);
/*
 * Stops the step in progress of `w` through its kind's cancel (see
 * there); the caller ends it (step_end) unless STOP_LATER.
 */
enum step_stop wf_stop_step(struct wf_run *w, const char *why, bool now);

/* ---- the kinds' own files ---- */

/* run (step_run.c): spawns the shell in its own process group; output to log and terminal. */
void step_run_begin(struct wf_run *w);
/* Its process was lost with the dead owner: the attempt was interrupted. */
void step_run_resume(struct wf_run *w, const struct step_resume *at);
/* Kills its process, or gives up its place in the queue for a process slot. */
enum step_stop step_run_cancel(struct wf_run *w, const char *why, bool now);
/* The key of the workflow's current attempt for its executor (exec/exec.h). */
void step_run_key(const struct wf_run *w, struct buf *key);
/* run: the command of the step, ${{ run.id }} replaced. */
void step_run_command(struct wf_run *w, struct buf *script);
/* A process slot is free: the steps waiting for one start, as far as slots allow. */
void step_run_slot_free(struct run *r);
/* Closes log `l` (opened by step_log_open), if open, and frees what it holds. */
void step_log_close(struct step_log *l);
/*
 * Stops what ended steps left running: SIGTERM to each leftover process
 * group, SIGKILL after the grace period, or with `now` SIGKILL at once.
 * Returns true when there was any (run_finish waits for them).
 */
bool step_run_stop_leftovers(struct run *r, bool now);
/* Checks the bookkeeping of step processes (run_assert_valid). */
void step_run_assert_valid(const struct run *r);
/*
 * Opens into `l` the log file of the workflow's current step attempt
 * (STATE/logs/RUN/WORKFLOW/STEP.ATTEMPT.log), emptied or, with `append`,
 * added to: an http-check's, kept with the check (a process's is its
 * step_proc's).
 */
void step_log_open(struct step_log *l, struct wf_run *w, bool append);
/* Appends to log `l`, within the run's size limit (step_output's end of the way in). */
void step_log_put(struct run *r, struct step_log *l, const char *data, size_t len);
/*
 * `s` with every ${{ run.id }} replaced by `id`: a heap string (free it),
 * or NULL when there is none.
 */
char *run_subst_run_id(const char *s, uint64_t id);
/*
 * Secrets (step_secrets.c). step_secrets_init has the events mask their
 * free text.
 */
void step_secrets_init(struct run *r);
/*
 * An env or header value as its step sees it: ${{ run.id }} and then
 * ${{ secrets.X }} replaced (a secret's value is never looked into). A
 * heap string (free it), or NULL when there is nothing to replace.
 */
char *run_subst_env(const struct run *r, const char *s);
/*
 * The one way step output enters lockstep: `data` of stream `s` of the
 * attempt whose log is `l`, masked, to the log file and to the run's
 * output callback. A stream holds back what could still be the start of
 * a secret until step_output_end, which is called when the step ends and
 * again when its output is over (what it left running may write on),
 * before the log closes. The streams are made by the log's opening and
 * freed by its closing.
 */
void step_output(struct run *r, struct step_log *l, enum run_stream s, const char *data, size_t len);
/* Output an executor masked and logged already: to the output callback only. */
void step_output_shown(struct run *r, const struct step_log *l, enum run_stream s, const char *data,
		       size_t len);
void step_output_end(struct run *r, struct step_log *l);
/*
 * k8s-rolling, k8s-rollback (step_k8s.c): they run as a process (through
 * step_run_begin, like a run step), `SELF __k8s --spec FILE`, the spec
 * written into the step's log directory. step_k8s_command writes the spec
 * of the current attempt and appends the shell command that runs the
 * helper to `script`; it remembers the attempt's result file in
 * w->k8s_result.
 */
void step_k8s_command(struct wf_run *w, struct buf *script);
/*
 * The reason the helper gave for its failure (from w->k8s_result), or
 * NULL: a heap string. Forgets the result file.
 */
char *step_k8s_reason(struct wf_run *w);
/* The helper's binary: `given`, else this process's executable (heap string). */
char *step_k8s_self_exe(const char *given);
/* barrier (step_barrier.c): arrives at the barrier; continues, waits or fails. */
void step_barrier_begin(struct wf_run *w);
/* Waits at its barrier again, arrives there, or ends as the barrier was decided. */
void step_barrier_resume(struct wf_run *w, const struct step_resume *at);
/* STOP_NOW while it waits at its barrier (its end leaves it), else STOP_LATER. */
enum step_stop step_barrier_cancel(struct wf_run *w, const char *why, bool now);
/* When its barrier broke: its message, and "failed at step 'ID' (barrier B broken)". */
bool step_barrier_own_failure(const struct wf_run *w, struct buf *reason, struct buf *why);
/*
 * The barrier of the current step was decided: the step ends succeeded
 * (PASSED), or with status `broken` (BROKEN) and the workflow fails with
 * the barrier's message.
 */
void step_barrier_decided(struct wf_run *w, enum barrier_state st, enum step_state broken);
/* wait (step_wait.c): a timer. */
void step_wait_begin(struct wf_run *w);
/* Waits for what is left of it. */
void step_wait_resume(struct wf_run *w, const struct step_resume *at);
enum step_stop step_wait_cancel(struct wf_run *w, const char *why, bool now);
/*
 * http-check (step_http.c): GET the url every `interval` until the answer
 * is as expected (the step succeeds) or `within` runs out (it fails).
 */
void step_http_begin(struct wf_run *w);
/* Starts the check over (a fresh `within`), adding to the attempt's log. */
void step_http_resume(struct wf_run *w, const struct step_resume *at);
/* Ends the check at once: no callback of it runs any more; `why` goes to its log. */
enum step_stop step_http_cancel(struct wf_run *w, const char *why, bool now);

#endif
