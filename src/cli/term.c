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

struct tb_wf {
	const char *name;
	const char *state;          /* points to a static string */
	char *step;                 /* current step id */
	bool rollback;
	size_t done;                /* steps of its `steps` list that have finished */
	uint64_t started, finished;
	bool has_started, has_finished;
	size_t waiting;             /* index into barriers, or SIZE_MAX */
	struct buf partial;
};

struct tb_barrier {
	const struct plan_barrier *pb;
	bool *arrived;              /* per use */
	size_t narrived;
	const char *state;          /* pending, waiting, passed, broken (static strings) */
	bool decided;
};

struct term_board {
	int fd;                     /* the terminal, for its width */
	struct outq *q;             /* what is written to it */
	bool color;
	const struct plan *plan;
	struct tb_wf *wfs;
	size_t nwfs;
	struct tb_barrier *barriers;
	size_t nbarriers;
	uint64_t run;               /* from run.started */
	size_t group;               /* the group running: 1, 2, ... (0: none yet) */
	size_t nsteps;              /* of every `steps` list of the plan */
	struct buf pending;         /* lines to print above the board */
	size_t drawn;               /* lines of the board on screen */
	uv_timer_t *timer;
	bool stopped;
	struct map wf_index;        /* name -> index into wfs */
	struct map barrier_index;   /* id -> index into barriers */
};

static size_t find_wf(const struct term_board *t, const char *name)
{
	size_t i;
	return map_find(&t->wf_index, name, &i) ? i : SIZE_MAX;
}

static size_t find_barrier(const struct term_board *t, const char *id)
{
	size_t i;
	return map_find(&t->barrier_index, id, &i) ? i : SIZE_MAX;
}

struct term_board *term_board_new(int fd, struct outq *q, bool color, const struct plan *plan)
{
	struct term_board *t = xcalloc(1, sizeof(*t));
	t->fd = fd;
	t->q = q;
	t->color = color;
	t->plan = plan;
	t->nwfs = plan->nworkflows;
	t->wfs = xcalloc(t->nwfs + 1, sizeof(*t->wfs));
	for (size_t i = 0; i < t->nwfs; i++) {
		t->wfs[i].name = plan->workflows[i].name;
		t->wfs[i].state = "pending";
		t->wfs[i].waiting = SIZE_MAX;
		buf_init(&t->wfs[i].partial);
		map_add(&t->wf_index, t->wfs[i].name, i, NULL);
		t->nsteps += plan->workflows[i].nsteps;
	}
	t->nbarriers = plan->nbarriers + plan->nrollback_barriers;
	t->barriers = xcalloc(t->nbarriers + 1, sizeof(*t->barriers));
	for (size_t i = 0; i < t->nbarriers; i++) {
		const struct plan_barrier *pb = i < plan->nbarriers
			? &plan->barriers[i] : &plan->rollback_barriers[i - plan->nbarriers];
		t->barriers[i].pb = pb;
		t->barriers[i].state = "pending";
		t->barriers[i].arrived = xcalloc(pb->nuses + 1, sizeof(bool));
		map_add(&t->barrier_index, pb->id, i, NULL);
	}
	buf_init(&t->pending);
	return t;
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
static void missing(const struct term_board *t, const struct tb_barrier *b, struct buf *out)
{
	size_t n = 0;
	for (size_t u = 0; u < b->pb->nuses; u++) {
		if (b->arrived[u])
			continue;
		const char *name = t->plan->workflows[b->pb->uses[u].wf].name;
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
	size_t done = 0;
	for (size_t i = 0; i < t->nwfs; i++)
		done += t->wfs[i].done;
	if (!t->group) {
		buf_adds(line, "  starting");
		return;
	}
	buf_addf(line, "  run %llu: group %zu of %zu, %zu of %zu steps done", (unsigned long long)t->run,
		 t->group, t->plan->ngroups, done, t->nsteps);
}

/* A barrier's row: its state, who arrived, whom it waits for. */
static void draw_barrier(const struct term_board *t, const struct tb_barrier *b, size_t name_w,
			 struct buf *line)
{
	char arrived[48];
	snprintf(arrived, sizeof(arrived), "%zu/%zu", b->narrived, b->pb->nuses);
	struct buf label = BUF_INIT;
	buf_addf(&label, "%s %s", b->pb->rollback ? "rollback barrier" : "barrier", b->pb->id);
	buf_addf(line, "  %-*.*s  %-15s %8s  ", (int)name_w, (int)name_w, label.s, b->state, arrived);
	buf_release(&label);
	if (!b->decided && b->narrived)
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
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < t->nbarriers && n < BOARD_MAX_BARRIERS; i++) {
			const struct tb_barrier *b = &t->barriers[i];
			/* A rollback barrier matters once a rollback reaches it. */
			if (b->pb->rollback && !b->narrived && !b->decided)
				continue;
			bool fits = t->nbarriers <= BOARD_MAX_BARRIERS;
			int rank = !strcmp(b->state, "waiting") ? 0 : !b->decided ? 1 : 2;
			if ((fits && pass == 0) || (!fits && rank == pass))
				rows[n++] = i;
		}
	}
	return n;
}

static void draw(struct term_board *t, struct buf *screen)
{
	int width = term_width(t);
	uint64_t now = clock_mono_ms();
	const char *reset = t->color ? "\033[0m" : "";
	size_t rows[BOARD_MAX_BARRIERS];
	size_t nrows = pick_barriers(t, rows);
	size_t name_w = 8;
	for (size_t i = 0; i < t->nwfs && i < BOARD_MAX_LINES; i++)
		if (strlen(t->wfs[i].name) > name_w)
			name_w = strlen(t->wfs[i].name);
	for (size_t r = 0; r < nrows; r++) {
		const struct plan_barrier *pb = t->barriers[rows[r]].pb;
		size_t len = strlen(pb->id) + (pb->rollback ? 17 : 8);
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
	for (size_t i = 0; i < t->nwfs; i++) {
		const struct tb_wf *w = &t->wfs[i];
		if (!strcmp(w->state, "running"))
			counts[0]++;
		else if (!strcmp(w->state, "waiting"))
			counts[1]++;
		else if (w->has_finished)
			counts[2]++;
		else
			counts[3]++;
		if (shown >= BOARD_MAX_LINES)
			continue;
		shown++;
		buf_reset(&line);
		char el[32] = "";
		if (w->has_started) {
			uint64_t ms = (w->has_finished ? w->finished : now) - w->started;
			snprintf(el, sizeof(el), "%6.1fs", (double)ms / 1000.0);
		}
		buf_addf(&line, "  %-*.*s  %-15s %8s  ", (int)name_w, (int)name_w, w->name, w->state, el);
		if (!strcmp(w->state, "waiting") && w->waiting != SIZE_MAX) {
			buf_addf(&line, "at %s", t->barriers[w->waiting].pb->id);
			missing(t, &t->barriers[w->waiting], &line);
		} else if (!w->has_finished && w->step) {
			output_step_label(t->plan, i, w->step, w->rollback, &line);
		}
		add_line(screen, line.s, line.len, width, state_color(t, w->state), reset);
	}
	lines += shown;
	if (t->nwfs > shown) {
		buf_reset(&line);
		buf_addf(&line, "  ... %zu workflows in all: %zu running, %zu waiting, %zu done, %zu pending",
			 t->nwfs, counts[0], counts[1], counts[2], counts[3]);
		add_line(screen, line.s, line.len, width, "", "");
		lines++;
	}
	for (size_t r = 0; r < nrows; r++) {
		const struct tb_barrier *b = &t->barriers[rows[r]];
		buf_reset(&line);
		draw_barrier(t, b, name_w, &line);
		add_line(screen, line.s, line.len, width, state_color(t, b->state), reset);
	}
	lines += nrows;
	if (t->nbarriers > BOARD_MAX_BARRIERS) {
		size_t bc[4] = { 0 };
		for (size_t i = 0; i < t->nbarriers; i++) {
			const char *st = t->barriers[i].state;
			bc[!strcmp(st, "passed") ? 0 : !strcmp(st, "broken") ? 1 : !strcmp(st, "waiting") ? 2 : 3]++;
		}
		buf_reset(&line);
		buf_addf(&line, "  ... %zu barriers in all: %zu passed, %zu broken, %zu waiting, %zu pending",
			 t->nbarriers, bc[0], bc[1], bc[2], bc[3]);
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
	for (size_t i = 0; i < t->nwfs; i++) {
		if (t->wfs[i].partial.len) {
			buf_addf(&t->pending, "[%s] %s\n", t->wfs[i].name, t->wfs[i].partial.s);
			buf_reset(&t->wfs[i].partial);
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
	for (size_t i = 0; i < t->nwfs; i++) {
		free(t->wfs[i].step);
		buf_release(&t->wfs[i].partial);
	}
	for (size_t i = 0; i < t->nbarriers; i++)
		free(t->barriers[i].arrived);
	free(t->wfs);
	free(t->barriers);
	map_release(&t->wf_index);
	map_release(&t->barrier_index);
	buf_release(&t->pending);
	free(t);
}

static void mark_arrived(struct term_board *t, size_t b, size_t wf)
{
	struct tb_barrier *tb = &t->barriers[b];
	const struct plan_barrier *pb = tb->pb;
	for (size_t u = 0; u < pb->nuses; u++) {
		if (pb->uses[u].wf == wf && !tb->arrived[u]) {
			tb->arrived[u] = true;
			tb->narrived++;
		}
	}
	if (!tb->decided)
		tb->state = "waiting";
}

/* Step `step` of workflow `w`'s `steps` list has finished: count it done. */
static void mark_done(struct term_board *t, size_t w, const char *step)
{
	const struct plan_workflow *pw = &t->plan->workflows[w];
	for (size_t k = 0; k < pw->nsteps; k++)
		if (!strcmp(pw->steps[k].id, step) && t->wfs[w].done < k + 1)
			t->wfs[w].done = k + 1;
}

void term_board_sink(const struct event *ev, void *arg)
{
	struct term_board *t = arg;
	size_t w = ev->workflow ? find_wf(t, ev->workflow) : SIZE_MAX;
	struct tb_wf *wf = w != SIZE_MAX ? &t->wfs[w] : NULL;
	switch (ev->type) {
	case EV_RUN_STARTED:
		t->run = ev->run;
		buf_addf(&t->pending, "lockstep: run %llu of %s\n", (unsigned long long)ev->run,
			 ev->pipeline);
		break;
	case EV_GROUP_STARTED:
		t->group = ev->group + 1;
		break;
	case EV_WORKFLOW_STARTED:
		if (wf) {
			wf->state = "running";
			wf->started = ev->mono_ms;
			wf->has_started = true;
		}
		break;
	case EV_STEP_STARTED:
		if (wf) {
			free(wf->step);
			wf->step = xstrdup(ev->step);
			wf->rollback = ev->rollback;
		}
		break;
	case EV_STEP_FINISHED:
		if (wf && wf->waiting != SIZE_MAX) {
			wf->waiting = SIZE_MAX;
			wf->state = wf->rollback ? "rolling-back" : "running";
		}
		if (wf && !ev->rollback)
			mark_done(t, w, ev->step);
		if (wf && strcmp(ev->status, "succeeded")) {
			buf_addf(&t->pending, "[%s] ", ev->workflow);
			output_step_label(t->plan, w, ev->step, ev->rollback, &t->pending);
			buf_addf(&t->pending, " %s\n", ev->status);
		}
		break;
	case EV_BARRIER_ARRIVED: {
		size_t b = find_barrier(t, ev->barrier);
		if (wf && b != SIZE_MAX) {
			mark_arrived(t, b, w);
			if (!t->barriers[b].decided) {
				wf->waiting = b;
				wf->state = "waiting";
			}
		}
		break;
	}
	case EV_BARRIER_PASSED:
	case EV_BARRIER_BROKEN: {
		size_t b = find_barrier(t, ev->barrier);
		if (b != SIZE_MAX) {
			t->barriers[b].decided = true;
			t->barriers[b].state = ev->type == EV_BARRIER_PASSED ? "passed" : "broken";
		}
		if (ev->type == EV_BARRIER_PASSED)
			buf_addf(&t->pending, "lockstep: barrier %s passed\n", ev->barrier);
		else
			buf_addf(&t->pending, "lockstep: barrier %s broken: %s\n", ev->barrier, ev->reason);
		break;
	}
	case EV_WORKFLOW_ROLLBACK:
		if (wf) {
			wf->state = "rolling-back";
			wf->rollback = true;
		}
		buf_addf(&t->pending, "[%s] rolling back: %s\n", ev->workflow, ev->reason ? ev->reason : "");
		break;
	case EV_WORKFLOW_FINISHED:
		if (wf) {
			static const char *const states[] = {
				"succeeded", "failed", "rolled-back", "rollback-failed", "skipped", "aborted",
			};
			wf->state = "finished";
			for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
				if (!strcmp(ev->status, states[i]))
					wf->state = states[i];
			wf->finished = ev->mono_ms;
			wf->has_finished = true;
			wf->waiting = SIZE_MAX;
		}
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

void term_board_output(const char *workflow, const char *step, enum proc_stream s,
		       const char *data, size_t len, void *arg)
{
	struct term_board *t = arg;
	(void)step;
	(void)s;
	size_t i = find_wf(t, workflow);
	if (i == SIZE_MAX)
		return;
	struct pend_ctx c = { t, t->wfs[i].name };
	output_lines(&t->wfs[i].partial, data, len, pend_line, &c);
	if (t->pending.len > FLUSH_BYTES)
		refresh(t, false);
}
