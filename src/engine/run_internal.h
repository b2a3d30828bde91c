/*
 * run_internal: what the run state machine (run.c; run_life.c: new,
 * start, abort, stop, free; resume.c: the take-over of a dead run) and
 * the step kinds (step_run.c, step_k8s.c, step_barrier.c, step_wait.c,
 * step_http.c) share. Not for use outside src/engine/: the rest of
 * lockstep sees only run.h.
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
#include "engine/events.h"
#include "engine/proc.h"
#include "engine/run.h"

struct http_check_run;

/* What a workflow's `delay` timer is for. */
enum timer_kind { TIMER_NONE, TIMER_RETRY, TIMER_WAIT };

/*
 * A step attempt's log file, STATE/logs/RUN/WORKFLOW/STEP.ATTEMPT.log
 * (step_run.c). It never changes how the step ends: a file that cannot
 * be opened or written is a step.warning (once per attempt), and a marker
 * in the file says how much is missing where it can still be written.
 */
struct step_log {
	int fd;                     /* -1: none (no log directory, or it could not be opened) */
	char *path;                 /* for messages; NULL without a log directory */
	uint64_t bytes;             /* written, within the run's max_log_bytes */
	bool truncated;             /* max_log_bytes reached: the rest is dropped */
	int err;                    /* errno of failed writes not yet marked in the file, or 0 */
	uint64_t lost;              /* bytes those writes dropped */
	bool warned;                /* its step.warning is out */
	/* Whose log it is (the plan's strings), for output and warnings. */
	const char *workflow, *step;
	int attempt;
	bool rollback;
	/* The attempt's output on its way in, being masked (step_secrets.c). */
	struct mask_stream mask_out, mask_err;
};

/*
 * A run step's process (or a Kubernetes step's), from its spawn until
 * nothing of it is left (step_run.c): past the end of its step while
 * what it started in the background runs on and writes to its log
 * (docs/design.md, "Process hygiene"). The proc's callbacks get it.
 */
struct step_proc {
	struct run *run;
	struct wf_run *w;           /* the workflow while this is its step; NULL after */
	struct proc *proc;
	struct step_log log;
	bool pipes_open;            /* the proc's `closed` has not come yet */
	bool holds_slot;            /* its step ended with the pipes open: counted in run.nheld */
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
	struct proc *proc;
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
};

/* ---- run.c ---- */

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
/* Ends the run: its status from the flags, run.finished. */
void run_finish(struct run *r);

/* The step workflow `w` is at. */
const struct plan_step *wf_cur_step(const struct wf_run *w);
/* The only place a workflow's state changes (see run.h). */
void wf_set_state(struct wf_run *w, enum wf_state to);
/* Emits step.finished for the current step. */
void step_emit_finished(struct wf_run *w, enum step_state st, bool has_code, int code);
/* The current step succeeded: the workflow moves on from the pump. */
void wf_step_done(struct wf_run *w);
/* The current step attempt failed: retry, continue-on-error, or fail. */
void wf_step_failed(struct wf_run *w, const struct proc_status *st);
/* The same, with `detail` saying why: "failed at step 'x' (DETAIL)". */
void wf_step_failed_detail(struct wf_run *w, const char *detail);
/*
 * The workflow failed with `reason` (shown, and LOCKSTEP_FAILURE for its
 * rollback); `why` completes "workflow NAME ..." in barrier reasons.
 */
void wf_fail(struct wf_run *w, const char *reason, const char *why, bool aborted);
/* wf_fail because of the abort, where it is: "aborted at step 'ID'". */
void wf_fail_aborted(struct wf_run *w);

/* ---- step kinds: each starts the current step of `w` ---- */

/* run: spawns the shell in its own process group; output to log and terminal. */
void step_run_begin(struct wf_run *w);
/*
 * Gives up the current step's place in the queue for a process slot
 * (the step ended without starting: timeout or abort).
 */
void step_run_cancel_pending(struct wf_run *w);
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
void step_output(struct run *r, struct step_log *l, enum proc_stream s, const char *data, size_t len);
void step_output_end(struct run *r, struct step_log *l);
/*
 * k8s-rolling, k8s-rollback: they run as a process (through
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
/* barrier: arrives at the barrier; continues, waits or fails. */
void step_barrier_begin(struct wf_run *w);
/* wait: a timer. */
void step_wait_begin(struct wf_run *w);
/* wait, taken over by a resume: `ms` of it are left. */
void step_wait_continue(struct wf_run *w, uint64_t ms);
/*
 * http-check: GET the url every `interval` until the answer is as
 * expected (the step succeeds) or `within` runs out (it fails). With
 * `resumed`, the attempt's log is added to, not emptied.
 */
void step_http_begin(struct wf_run *w, bool resumed);
/*
 * Ends the http-check in progress at once, if any (step timeout, abort):
 * no callback of it runs any more. `why` goes to its log. The caller
 * emits step.finished and decides what follows.
 */
void step_http_cancel(struct wf_run *w, const char *why);

#endif
