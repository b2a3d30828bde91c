/*
 * term: the live status board of `lockstep run` on a terminal.
 *
 * One line per workflow (state, current step, elapsed time, the barrier it
 * waits at and for whom), redrawn at the bottom of the terminal; step
 * output and progress lines scroll above it, so the whole output stays in
 * the terminal's scrollback. Only used when the output is a TTY; CI logs
 * get plain prefixed lines instead (cli/output.c). What the board shows
 * of the run is its view (events/view.h); the board itself keeps only
 * what is on the screen.
 */
#ifndef LS_CLI_TERM_H
#define LS_CLI_TERM_H

#include <stdbool.h>
#include <stdio.h>
#include <uv.h>

#include "base/outq.h"
#include "engine/run.h"
#include "events/events.h"
#include "events/view.h"
#include "pipeline/model.h"

struct term_board;

/*
 * A board for a run of `plan`, whose view is `view` (view_new_plan of the
 * same plan, fed the run's events before the board's sink), drawn on the
 * terminal `fd` through queue `q` (all borrowed: the board never writes
 * to `fd` itself); colours unless !color.
 */
struct term_board *term_board_new(int fd, struct outq *q, bool color, const struct plan *plan,
				  const struct run_view *view);
/* Starts the redraw timer (elapsed times move on their own). */
void term_board_start(struct term_board *t, uv_loop_t *loop);
/* Stops the timer, erases the board and closes the timer handle. */
void term_board_stop(struct term_board *t);
void term_board_free(struct term_board *t);
/* Event sink: prints progress lines above the board and redraws it when it matters. */
void term_board_sink(const struct event *ev, void *arg /* struct term_board * */);
/* Step output: printed above the board, prefixed with the workflow name. */
void term_board_output(const char *workflow, const char *step, enum run_stream s,
		       const char *data, size_t len, void *arg /* struct term_board * */);

#endif
