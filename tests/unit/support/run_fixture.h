/*
 * run_fixture: what the unit tests of the run state machine (engine/run.c,
 * run_life.c, resume.c) share.
 *
 *   rfx       a plan compiled from YAML, run on a real libuv loop with a
 *             sink that records every event as one line of text (and a
 *             copy of it, for resume); steps run in a temporary directory;
 *   triggers  an action (abort, stop) taken on the loop right after a
 *             given event, as a signal would be: never from inside the
 *             engine's own call;
 *   tracking  each workflow's state is looked at after every event and
 *             every loop iteration: the transitions seen by all the tests
 *             of a program add up in rfx_seen, so that a last test can
 *             check that every transition of the diagram was taken.
 *
 * With RFX_DUMP set in the environment, every run prints its lines to
 * stderr when it ends. The fixture sets LOCKSTEP_CHECK_INVARIANTS=1, so run_assert_valid runs
 * after every run_pump. The helpers assert with cmocka: call them from
 * inside a cmocka test only.
 *
 * An event line is "TYPE" and then, as the type has them:
 *
 *   group.started 1
 *   workflow.started W
 *   step.started W/S #2 [rollback]
 *   step.finished W/S failed [exit 1] [rollback]
 *   barrier.arrived W B
 *   barrier.passed B
 *   barrier.broken B: REASON
 *   workflow.rollback W: REASON
 *   workflow.finished W STATUS[: REASON]
 *   run.finished STATUS
 *   run.resumed MODE
 *   step.warning W/S: MESSAGE
 */
#ifndef LS_TEST_RUN_FIXTURE_H
#define LS_TEST_RUN_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/diag.h"
#include "base/xalloc.h"
#include "engine/run.h"
#include "events/events.h"
#include "pipeline/model.h"

#define RFX_MAX_TRIGGERS 4
/* Workflow states: WF_PENDING .. WF_ABORTED. */
#define RFX_NSTATES (WF_ABORTED + 1)

struct rfx;

/* An action taken on the loop after the event a trigger waits for. */
struct rfx_trigger {
	struct rfx *F;
	const char *prefix;         /* of the event line (borrowed), or NULL: unused */
	void (*act)(struct rfx *F);
	bool fired;
	uv_timer_t timer;
};

struct rfx {
	struct diag d;
	struct plan *plan;          /* owned */
	uv_loop_t loop;
	struct events ev;
	struct run *r;
	struct run_opts o;          /* set by rfx_load; a test may change it before rfx_run */
	char dir[64];               /* temporary: steps run here */
	VEC(char *) lines;          /* every event so far, as a line (owned) */
	VEC(struct event *) evs;    /* and a copy of each (owned) */
	struct rfx_trigger trig[RFX_MAX_TRIGGERS];
	uv_timer_t guard;
	bool guard_fired;
	uv_check_t check;
	bool track;                 /* compare workflow states with `state` */
	enum wf_state *state;       /* per workflow: as last seen */
};

/* Transitions seen by every test of the program so far: [from][to]. */
extern unsigned rfx_seen[RFX_NSTATES][RFX_NSTATES];

/*
 * Compiles `yaml` (borrowed; checked as `lockstep check` would, without
 * the checks that read other files) and prepares a run of it: a fresh
 * loop, events numbered from 1 with the recording sink, and options
 * (run id 1, steps in a new temporary directory, no log directory, a
 * kill grace of 1 s). Fails the test, printing the diagnostics, when the
 * text does not compile.
 */
void rfx_load(struct rfx *F, const char *yaml);
/*
 * Runs the plan from run_start until run_done (at most 20 s: then the
 * test fails) and closes the loop.
 */
void rfx_run(struct rfx *F);
/*
 * Takes the run over from the first `n` events of `evs` (copies from an
 * earlier rfx, borrowed) instead of starting it, as `lockstep resume`
 * (`abort_run`: `lockstep abort`) does, and runs it to the end like
 * rfx_run. State changes are tracked only once run_resume has returned:
 * what it restores is not a transition.
 */
void rfx_resume(struct rfx *F, struct event *const *evs, size_t n, bool abort_run);
/* Frees everything; the temporary directory is removed. */
void rfx_end(struct rfx *F);

/*
 * The group setup of a program of run tests: makes the test process a
 * child subreaper, as lockstep is, so that what steps leave is
 * re-parented to it and reaped.
 */
int rfx_group_setup(void **state);

/* Calls `act` on the loop right after the first event whose line starts with `prefix`. */
void rfx_on(struct rfx *F, const char *prefix, void (*act)(struct rfx *F));
/* Actions for rfx_on. */
void rfx_abort(struct rfx *F);
void rfx_stop(struct rfx *F);

/*
 * The index of the first line after `from` that starts with `prefix`, or
 * -1. rfx_find(F, 0, p) looks at every line.
 */
int rfx_find(const struct rfx *F, int from, const char *prefix);
/* Fails the test, printing the lines, unless a line starts with `prefix`; returns its index. */
int rfx_has(const struct rfx *F, const char *prefix);
/* Fails the test unless no line starts with `prefix`. */
void rfx_lacks(const struct rfx *F, const char *prefix);
/*
 * Fails the test unless lines starting with each of the prefixes that
 * follow (a NULL-terminated list) come in that order, other lines
 * between them allowed.
 */
void rfx_order(const struct rfx *F, ...);
/* Fails the test unless the lines are exactly the ones that follow (NULL-terminated). */
void rfx_exactly(const struct rfx *F, ...);
/* How many lines start with `prefix`. */
size_t rfx_count(const struct rfx *F, const char *prefix);
/* Prints the lines to stderr (to see what a failing test saw). */
void rfx_dump(const struct rfx *F);

#endif
