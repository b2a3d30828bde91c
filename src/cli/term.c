#include "cli/term.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/map.h"
#include "base/outq.h"
#include "base/xalloc.h"
#include "cli/output.h"

#define BOARD_MAX_LINES 20      /* workflows shown; the rest are summed up */
#define BOARD_MAX_BARRIERS 8    /* barriers shown; the rest are summed up */
#define REDRAW_MS 100
#define FLUSH_BYTES (64 * 1024) /* pending output past this is shown at once */

struct term_board {
	int fd;                     /* the terminal, for its width */
	struct outq *q;             /* what is written to it */
	bool color;
	const struct plan *plan;    /* how steps are named */
	const struct run_view *v;   /* what the board shows */
	struct buf *partial;        /* per workflow: its unfinished output line */
	struct buf pending;         /* lines to print above the board */
	size_t drawn;               /* lines of the board on screen */
	uv_timer_t *timer;
	bool stopped;
};

struct term_board *term_board_new(int fd, struct outq *q, bool color, const struct plan *plan,
				  const struct run_view *view)
{
	struct term_board *t = xcalloc(1, sizeof(*t));
	t->fd = fd;
	t->q = q;
	t->color = color;
	t->plan = plan;
	t->v = view;
	t->partial = xcalloc(view->nwfs + 1, sizeof(*t->partial));
	for (size_t i = 0; i < view->nwfs; i++)
		buf_init(&t->partial[i]);
	buf_init(&t->pending);
	return t;
}

static bool decided(const struct view_barrier *b)
{
	return !strcmp(b->status, "passed") || !strcmp(b->status, "broken");
}

static const char *state_color(const struct term_board *t, const char *state)
{
	return t->color ? output_status_color(state) : "";
}

static int term_width(const struct term_board *t)
{
	struct winsize ws;
	if (ioctl(t->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col;
	return 100;
}

/* Who has not arrived at barrier `b` yet: "for a, b". */
static void missing(const struct term_board *t, const struct view_barrier *b, struct buf *out)
{
	size_t n = 0;
	for (size_t u = 0; u < b->nmembers; u++) {
		if (b->members[u].arrived)
			continue;
		const char *name = t->v->wfs[b->members[u].wf].name;
		if (n == 3) {
			buf_adds(out, ", ...");
			break;
		}
		buf_addf(out, "%s%s", n ? ", " : " for ", name);
		n++;
	}
}

/* Appends one line, cut to `width` columns (bytes: names are ASCII). */
static void add_line(struct buf *screen, const char *line, size_t len, int width, const char *color,
		     const char *reset)
{
	size_t max = width > 1 ? (size_t)width - 1 : 80;
	if (len > max)
		len = max;
	buf_adds(screen, color);
	buf_add(screen, line, len);
	buf_adds(screen, reset);
	buf_adds(screen, "\033[K\n");
}

static void erase(struct term_board *t, struct buf *screen)
{
	if (t->drawn)
		buf_addf(screen, "\033[%zuF\033[J", t->drawn);
	t->drawn = 0;
}

/* The first line of the board: where the run is. */
static void draw_counter(const struct term_board *t, struct buf *line)
{
	const struct run_view *v = t->v;
	size_t done = 0;
	for (size_t i = 0; i < v->nwfs; i++)
		done += v->wfs[i].steps_done;
	if (!v->group) {
		buf_adds(line, "  starting");
		return;
	}
	buf_addf(line, "  run %llu: group %zu of %zu, %zu of %zu steps done", (unsigned long long)v->run,
		 v->group, v->ngroups, done, v->nmain);
}

/* A barrier's row: its state, who arrived, whom it waits for. */
static void draw_barrier(const struct term_board *t, const struct view_barrier *b, size_t name_w,
			 struct buf *line)
{
	char arrived[48];
	snprintf(arrived, sizeof(arrived), "%zu/%zu", b->narrived, b->nmembers);
	struct buf label = BUF_INIT;
	buf_addf(&label, "%s %s", b->rollback ? "rollback barrier" : "barrier", b->id);
	buf_addf(line, "  %-*.*s  %-15s %8s  ", (int)name_w, (int)name_w, label.s, b->status, arrived);
	buf_release(&label);
	if (!decided(b) && b->narrived)
		missing(t, b, line);
}

/*
 * Which barriers get a row: all of them when they fit; else those being
 * waited at, then those still ahead, as many as fit. Returns how many,
 * their indexes in `rows`.
 */
static size_t pick_barriers(const struct term_board *t, size_t *rows)
{
	size_t n = 0;
	const struct run_view *v = t->v;
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < v->nbarriers && n < BOARD_MAX_BARRIERS; i++) {
			const struct view_barrier *b = &v->barriers[i];
			/* A rollback barrier matters once a rollback reaches it. */
			if (b->rollback && !b->narrived && !decided(b))
				continue;
			bool fits = v->nbarriers <= BOARD_MAX_BARRIERS;
			int rank = !strcmp(b->status, "waiting") ? 0 : !decided(b) ? 1 : 2;
			if ((fits && pass == 0) || (!fits && rank == pass))
				rows[n++] = i;
		}
	}
	return n;
}

static void draw(struct term_board *t, struct buf *screen)
{
	const struct run_view *v = t->v;
	int width = term_width(t);
	uint64_t now = clock_mono_ms();
	const char *reset = t->color ? "\033[0m" : "";
	size_t rows[BOARD_MAX_BARRIERS];
	size_t nrows = pick_barriers(t, rows);
	size_t name_w = 8;
	for (size_t i = 0; i < v->nwfs && i < BOARD_MAX_LINES; i++)
		if (strlen(v->wfs[i].name) > name_w)
			name_w = strlen(v->wfs[i].name);
	for (size_t r = 0; r < nrows; r++) {
		const struct view_barrier *b = &v->barriers[rows[r]];
		size_t len = strlen(b->id) + (b->rollback ? 17 : 8);
		if (len > name_w)
			name_w = len;
	}
	if (name_w > 40)
		name_w = 40;
	struct buf line = BUF_INIT;
	draw_counter(t, &line);
	add_line(screen, line.s, line.len, width, "", "");
	size_t lines = 1;
	size_t shown = 0, counts[4] = { 0 };
	for (size_t i = 0; i < v->nwfs; i++) {
		const struct view_workflow *w = &v->wfs[i];
		const char *state = view_workflow_state(w);
		bool finished = w->finished.wall_ms != 0;
		if (!strcmp(state, "running"))
			counts[0]++;
		else if (!strcmp(state, "waiting"))
			counts[1]++;
		else if (finished)
			counts[2]++;
		else
			counts[3]++;
		if (shown >= BOARD_MAX_LINES)
			continue;
		shown++;
		buf_reset(&line);
		char el[32] = "";
		if (w->started.wall_ms) {
			uint64_t ms = (finished ? w->finished.mono_ms : now) - w->started.mono_ms;
			snprintf(el, sizeof(el), "%6.1fs", (double)ms / 1000.0);
		}
		buf_addf(&line, "  %-*.*s  %-15s %8s  ", (int)name_w, (int)name_w, w->name, state, el);
		if (w->waiting) {
			buf_addf(&line, "at %s", v->barriers[w->waiting_at].id);
			missing(t, &v->barriers[w->waiting_at], &line);
		} else if (!finished && w->step) {
			output_step_label(t->plan, i, w->step, w->step_rollback, &line);
		}
		add_line(screen, line.s, line.len, width, state_color(t, state), reset);
	}
	lines += shown;
	if (v->nwfs > shown) {
		buf_reset(&line);
		buf_addf(&line, "  ... %zu workflows in all: %zu running, %zu waiting, %zu done, %zu pending",
			 v->nwfs, counts[0], counts[1], counts[2], counts[3]);
		add_line(screen, line.s, line.len, width, "", "");
		lines++;
	}
	for (size_t r = 0; r < nrows; r++) {
		const struct view_barrier *b = &v->barriers[rows[r]];
		buf_reset(&line);
		draw_barrier(t, b, name_w, &line);
		add_line(screen, line.s, line.len, width, state_color(t, b->status), reset);
	}
	lines += nrows;
	if (v->nbarriers > BOARD_MAX_BARRIERS) {
		size_t bc[4] = { 0 };
		for (size_t i = 0; i < v->nbarriers; i++) {
			const char *st = v->barriers[i].status;
			bc[!strcmp(st, "passed") ? 0 : !strcmp(st, "broken") ? 1 : !strcmp(st, "waiting") ? 2 : 3]++;
		}
		buf_reset(&line);
		buf_addf(&line, "  ... %zu barriers in all: %zu passed, %zu broken, %zu waiting, %zu pending",
			 v->nbarriers, bc[0], bc[1], bc[2], bc[3]);
		add_line(screen, line.s, line.len, width, "", "");
		lines++;
	}
	buf_release(&line);
	t->drawn = lines;
}

/*
 * Prints what is pending above the board and draws the board again. A
 * terminal that has not shown the last frame yet (a slow link, Ctrl-S)
 * gets no new frame: the board is taken off the screen and the lines go
 * out alone, droppable, until it has caught up; then the board is back.
 * Frames themselves are never dropped (a half-written one would leave
 * the cursor arithmetic of the next erase wrong), and at most one is
 * queued at a time.
 */
static void refresh(struct term_board *t, bool final)
{
	if (t->stopped)
		return;
	struct buf screen = BUF_INIT;
	if (!final && outq_backlog(t->q)) {
		if (t->drawn) {
			erase(t, &screen);
			outq_put(t->q, screen.s, screen.len, SIZE_MAX);
		}
		if (t->pending.len)
			outq_put_lines(t->q, t->pending.s, t->pending.len, OUTPUT_EVENT_LIMIT);
	} else {
		erase(t, &screen);
		buf_add(&screen, t->pending.s, t->pending.len);
		draw(t, &screen);
		outq_put(t->q, screen.s, screen.len, SIZE_MAX);
	}
	buf_reset(&t->pending);
	buf_release(&screen);
}

static void timer_cb(uv_timer_t *h)
{
	refresh(h->data, false);
}

void term_board_start(struct term_board *t, uv_loop_t *loop)
{
	t->timer = xcalloc(1, sizeof(*t->timer));
	uv_timer_init(loop, t->timer);
	t->timer->data = t;
	uv_timer_start(t->timer, timer_cb, REDRAW_MS, REDRAW_MS);
	refresh(t, false);
}

static void timer_closed(uv_handle_t *h)
{
	free(h);
}

void term_board_stop(struct term_board *t)
{
	for (size_t i = 0; i < t->v->nwfs; i++) {
		if (t->partial[i].len) {
			buf_addf(&t->pending, "[%s] %s\n", t->v->wfs[i].name, t->partial[i].s);
			buf_reset(&t->partial[i]);
		}
	}
	refresh(t, true);
	/* The final board stays on screen above the summary. */
	t->drawn = 0;
	t->stopped = true;
	if (t->timer) {
		uv_timer_stop(t->timer);
		uv_close((uv_handle_t *)t->timer, timer_closed);
		t->timer = NULL;
	}
}

void term_board_free(struct term_board *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->v->nwfs; i++)
		buf_release(&t->partial[i]);
	free(t->partial);
	buf_release(&t->pending);
	free(t);
}

void term_board_sink(const struct event *ev, void *arg)
{
	struct term_board *t = arg;
	size_t w = view_workflow_index(t->v, ev->workflow);
	switch (ev->type) {
	case EV_RUN_STARTED:
		buf_addf(&t->pending, "lockstep: run %llu of %s\n", (unsigned long long)ev->run,
			 ev->pipeline);
		break;
	case EV_STEP_FINISHED:
		if (w != VIEW_NONE && strcmp(ev->status, "succeeded")) {
			buf_addf(&t->pending, "[%s] ", ev->workflow);
			output_step_label(t->plan, w, ev->step, ev->rollback, &t->pending);
			buf_addf(&t->pending, " %s\n", ev->status);
		}
		break;
	case EV_BARRIER_PASSED:
		buf_addf(&t->pending, "lockstep: barrier %s passed\n", ev->barrier);
		break;
	case EV_BARRIER_BROKEN:
		buf_addf(&t->pending, "lockstep: barrier %s broken: %s\n", ev->barrier, ev->reason);
		break;
	case EV_WORKFLOW_ROLLBACK:
		buf_addf(&t->pending, "[%s] rolling back: %s\n", ev->workflow, ev->reason ? ev->reason : "");
		break;
	default:
		break;
	}
	if (ev->type == EV_BARRIER_BROKEN || ev->type == EV_WORKFLOW_FINISHED ||
	    t->pending.len > FLUSH_BYTES)
		refresh(t, false);
}

struct pend_ctx {
	struct term_board *t;
	const char *name;
};

static void pend_line(const char *s, size_t n, void *arg)
{
	struct pend_ctx *c = arg;
	buf_addf(&c->t->pending, "[%s] %.*s\n", c->name, (int)n, s);
}

void term_board_output(const char *workflow, const char *step, enum run_stream s,
		       const char *data, size_t len, void *arg)
{
	struct term_board *t = arg;
	(void)step;
	(void)s;
	size_t i = view_workflow_index(t->v, workflow);
	if (i == VIEW_NONE)
		return;
	struct pend_ctx c = { t, t->v->wfs[i].name };
	output_lines(&t->partial[i], data, len, pend_line, &c);
	if (t->pending.len > FLUSH_BYTES)
		refresh(t, false);
}
