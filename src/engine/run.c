#include "engine/run.h"

#include <assert.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/duration.h"
#include "base/map.h"
#include "base/xalloc.h"
#include "engine/barrier.h"
#include "pipeline/expr.h"

extern char **environ;

enum timer_kind { TIMER_NONE, TIMER_TIMEOUT, TIMER_RETRY, TIMER_WAIT };

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
	char *reason;               /* why it failed (LOCKSTEP_FAILURE) */
	uint64_t step_started_ms;
	int log_fd;
	uint64_t log_bytes;
	bool log_truncated;
	bool steps_done;            /* past its steps list (terminal or rolling back) */
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
	bool failed;
	bool aborting;
	bool hard_abort;
	bool finished;
	enum run_status status;
	size_t rollback_group;      /* rollback-all: the group rolling back now */
	bool rolling_back_all;
	VEC(struct decision) decisions; /* decided, not yet handled */
	VEC(size_t) ready;          /* workflows to advance to their next step */
	bool pumping;
	size_t open_handles;        /* timers not yet closed */
	uv_timer_t *btimer;         /* the next barrier deadline (B7) */
	bool check_invariants;      /* LOCKSTEP_CHECK_INVARIANTS set: check after each pump */
	size_t rb_started_group;    /* rollback-all: succeeded workflows of this group were started */
};

/*
 * The loop's clock, brought up to date: uv_now() is cached at the start of
 * each loop iteration, and a deadline counted from a stale arrival time
 * would fire early (B7 asks for 50 ms precision).
 */
static uint64_t now_ms(const struct run *r)
{
	uv_update_time(r->loop);
	return uv_now(r->loop);
}

/* ---- names ---- */

const char *wf_state_name(enum wf_state s)
{
	static const char *const n[] = {
		"pending", "running", "waiting", "succeeded", "failed", "rolling-back",
		"rolled-back", "rollback-failed", "skipped", "aborted",
	};
	return (size_t)s < sizeof(n) / sizeof(n[0]) ? n[s] : "unknown";
}

const char *step_state_name(enum step_state s)
{
	static const char *const n[] = {
		"pending", "running", "waiting", "succeeded", "failed", "timed-out", "skipped", "aborted",
	};
	return (size_t)s < sizeof(n) / sizeof(n[0]) ? n[s] : "unknown";
}

const char *run_status_name(enum run_status s)
{
	static const char *const n[] = { "running", "succeeded", "failed", "aborted" };
	return (size_t)s < sizeof(n) / sizeof(n[0]) ? n[s] : "unknown";
}

static bool wf_terminal(enum wf_state s)
{
	return s == WF_SUCCEEDED || s == WF_FAILED || s == WF_ROLLED_BACK ||
	       s == WF_ROLLBACK_FAILED || s == WF_SKIPPED || s == WF_ABORTED;
}

/* ---- the transition function ---- */

static void emit_wf_finished(struct wf_run *w)
{
	struct event e = { .type = EV_WORKFLOW_FINISHED, .workflow = w->pw->name,
			   .status = wf_state_name(w->state) };
	/* A workflow that succeeded has no reason, unless a failure was ignored. */
	e.reason = w->reason;
	events_emit(w->run->ev, &e);
}

/*
 * The only place a workflow's state changes. Entering running emits
 * workflow.started, rolling-back emits workflow.rollback, a terminal
 * state emits workflow.finished. waiting <-> running are silent here:
 * barrier.arrived and step.finished tell those.
 */
static void wf_set_state(struct wf_run *w, enum wf_state to)
{
	enum wf_state from = w->state;
	assert(!wf_terminal(from) || (from == WF_SUCCEEDED && to == WF_ROLLING_BACK));
	w->state = to;
	if (to == WF_RUNNING && from == WF_PENDING) {
		struct event e = { .type = EV_WORKFLOW_STARTED, .workflow = w->pw->name };
		events_emit(w->run->ev, &e);
	} else if (to == WF_ROLLING_BACK) {
		struct event e = { .type = EV_WORKFLOW_ROLLBACK, .workflow = w->pw->name,
				   .reason = w->reason };
		events_emit(w->run->ev, &e);
	} else if (wf_terminal(to)) {
		emit_wf_finished(w);
	}
}

/* ---- timers ---- */

static void timer_closed_cb(uv_handle_t *h)
{
	struct run *r = h->data;
	free(h);
	r->open_handles--;
}

static uv_timer_t *timer_new(struct run *r, struct wf_run *w)
{
	uv_timer_t *t = xcalloc(1, sizeof(*t));
	uv_timer_init(r->loop, t);
	t->data = w;
	r->open_handles++;
	return t;
}

static void timer_drop(struct run *r, uv_timer_t **t);
static void delay_cb(uv_timer_t *t);

static void timer_drop(struct run *r, uv_timer_t **t)
{
	if (!*t)
		return;
	uv_timer_stop(*t);
	(*t)->data = r;
	uv_close((uv_handle_t *)*t, timer_closed_cb);
	*t = NULL;
}

/* ---- logs ---- */

static void mkdirs(const char *path)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	mkdir(p, 0755);
	free(p);
}

/*
 * Appends `name` as one safe path component: matrix values may contain
 * '/', which must not create directories or climb out of the log tree.
 */
static void add_path_component(struct buf *path, const char *name)
{
	for (const char *c = name; *c; c++)
		buf_addc(path, *c == '/' || (unsigned char)*c < 0x20 ? '_' : *c);
}

static void log_open(struct wf_run *w, const struct plan_step *ps)
{
	struct run *r = w->run;
	w->log_fd = -1;
	w->log_bytes = 0;
	w->log_truncated = false;
	if (!r->opts.log_dir)
		return;
	struct buf path = BUF_INIT;
	/* Step ids are unique across steps and rollback: one directory. */
	buf_addf(&path, "%s/", r->opts.log_dir);
	add_path_component(&path, w->pw->name);
	mkdirs(path.s);
	buf_addf(&path, "/%s.%d.log", ps->id, w->attempt);
	w->log_fd = open(path.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	buf_release(&path);
}

static void log_write(struct wf_run *w, const char *data, size_t len)
{
	if (w->log_fd < 0 || w->log_truncated)
		return;
	uint64_t max = w->run->opts.max_log_bytes;
	if (w->log_bytes + len > max) {
		len = (size_t)(max - w->log_bytes);
		w->log_truncated = true;
	}
	while (len) {
		ssize_t n = write(w->log_fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		data += n;
		len -= (size_t)n;
		w->log_bytes += (uint64_t)n;
	}
	if (w->log_truncated) {
		char msg[96];
		int n = snprintf(msg, sizeof(msg), "\n[lockstep: log truncated at %llu bytes]\n",
				 (unsigned long long)max);
		if (write(w->log_fd, msg, (size_t)n) < 0) {
			/* Nothing more to do: the log is best effort once full. */
		}
	}
}

static void log_close(struct wf_run *w)
{
	if (w->log_fd >= 0)
		close(w->log_fd);
	w->log_fd = -1;
}

/* ---- steps ---- */

static const struct plan_step *cur_step(const struct wf_run *w)
{
	return w->in_rollback ? &w->pw->rollback[w->step] : &w->pw->steps[w->step];
}

static size_t cur_nsteps(const struct wf_run *w)
{
	return w->in_rollback ? w->pw->nrollback : w->pw->nsteps;
}

static void emit_step_finished(struct wf_run *w, enum step_state st, bool has_code, int code)
{
	w->step_state = st;
	struct event e = {
		.type = EV_STEP_FINISHED, .workflow = w->pw->name, .step = cur_step(w)->id,
		.status = step_state_name(st), .has_exit_code = has_code, .exit_code = code,
		.duration_ms = now_ms(w->run) - w->step_started_ms, .rollback = w->in_rollback,
	};
	events_emit(w->run->ev, &e);
}

static void ready(struct wf_run *w)
{
	*VEC_PUSH(w->run->ready) = w->index;
}

static void pump(struct run *r);
static void drain_decisions(struct run *r);
static void wf_fail(struct wf_run *w, const char *reason, const char *why, bool aborted);
static bool check_group(struct run *r);

struct run_id_refs {
	VEC(struct expr_ref) refs;
};

static int collect_run_ref(const struct expr_ref *ref, void *arg)
{
	struct run_id_refs *c = arg;
	if (ref->root == EXPR_RUN)
		*VEC_PUSH(c->refs) = *ref;
	return 0;
}

/*
 * The run id is known only now: replaces each ${{ run.id }} left in `s` by
 * expansion. Only those references are touched; text that merely looks
 * like an expression (from a var's value) stays as it is. Returns a heap
 * string (free it) or NULL when there is nothing to replace.
 */
static char *subst_run_id(const char *s, uint64_t id)
{
	if (!s || !expr_has(s))
		return NULL;
	struct run_id_refs c = { { 0 } };
	expr_scan(s, collect_run_ref, &c, NULL, NULL);
	if (!c.refs.n) {
		VEC_FREE(c.refs);
		return NULL;
	}
	struct buf out = BUF_INIT;
	size_t at = 0;
	for (size_t i = 0; i < c.refs.n; i++) {
		buf_add(&out, s + at, c.refs.v[i].offset - at);
		buf_addf(&out, "%llu", (unsigned long long)id);
		at = c.refs.v[i].offset + c.refs.v[i].length;
	}
	buf_adds(&out, s + at);
	VEC_FREE(c.refs);
	return buf_detach(&out, NULL);
}

struct envb {
	VEC(char *) v;
	struct map idx;             /* name -> index into v */
};

/* Sets "NAME=VALUE" (taken); a later definition replaces an earlier one. */
static void env_set(struct envb *e, char *kv)
{
	size_t klen = strcspn(kv, "=");
	char *k = xstrndup(kv, klen);
	size_t at;
	if (map_find(&e->idx, k, &at)) {
		free(e->v.v[at]);
		e->v.v[at] = kv;
	} else {
		*VEC_PUSH(e->v) = kv;
		/* The key must outlive the map: it is freed with the map below. */
		map_add(&e->idx, k, e->v.n - 1, NULL);
		k = NULL;
	}
	free(k);
}

static void env_setf(struct envb *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void env_setf(struct envb *e, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	env_set(e, buf_detach(&b, NULL));
}

/* LOCKSTEP_VAR_<NAME>: upper-cased, '-' becomes '_'. */
static void env_set_list(struct envb *e, const char *prefix, const struct kvlist *l)
{
	struct buf name = BUF_INIT;
	for (size_t i = 0; i < l->n; i++) {
		buf_reset(&name);
		for (const char *c = l->v[i].key; *c; c++)
			buf_addc(&name, *c == '-' ? '_' : (*c >= 'a' && *c <= 'z') ? (char)(*c - 32) : *c);
		env_setf(e, "%s%s=%s", prefix, name.s, l->v[i].val);
	}
	buf_release(&name);
}

/*
 * The environment of a run step: lockstep's own, then the workflow's env,
 * the step's env, then the LOCKSTEP_* variables (reserved names: a
 * pipeline cannot set them, so they always describe the real step).
 */
static char **build_env(struct wf_run *w, const struct plan_step *ps)
{
	struct run *r = w->run;
	const struct plan *plan = r->plan;
	struct envb e = { { 0 }, MAP_INIT };
	/* LOCKSTEP_* names are reserved: none leaks in from lockstep's own
	 * environment (a stale LOCKSTEP_FAILURE must not reach a step). */
	for (char **p = environ; *p; p++)
		if (strncmp(*p, "LOCKSTEP_", 9) != 0)
			env_set(&e, xstrdup(*p));
	const struct kvlist *lists[] = { &w->pw->env, &ps->env };
	for (size_t l = 0; l < 2; l++) {
		for (size_t i = 0; i < lists[l]->n; i++) {
			char *v = subst_run_id(lists[l]->v[i].val, r->opts.run_id);
			env_setf(&e, "%s=%s", lists[l]->v[i].key, v ? v : lists[l]->v[i].val);
			free(v);
		}
	}
	env_setf(&e, "LOCKSTEP_RUN_ID=%llu", (unsigned long long)r->opts.run_id);
	env_setf(&e, "LOCKSTEP_PIPELINE=%s", plan->pipeline->name);
	env_setf(&e, "LOCKSTEP_WORKFLOW=%s", w->pw->name);
	env_setf(&e, "LOCKSTEP_STEP=%s", ps->id);
	env_set_list(&e, "LOCKSTEP_VAR_", &plan->vars);
	env_set_list(&e, "LOCKSTEP_MATRIX_", &w->pw->matrix);
	env_set_list(&e, "LOCKSTEP_INPUT_", &w->pw->inputs);
	if (w->in_rollback && w->reason)
		env_setf(&e, "LOCKSTEP_FAILURE=%s", w->reason);
	*VEC_PUSH(e.v) = NULL;
	for (size_t i = 0; i < e.idx.cap; i++)
		free((char *)e.idx.slots[i].key);
	map_release(&e.idx);
	return e.v.v;
}

static void free_env(char **env)
{
	for (char **p = env; *p; p++)
		free(*p);
	free(env);
}

/* ---- running one step ---- */

static void begin_step(struct wf_run *w);

static void proc_output_cb(struct proc *p, enum proc_stream s, const char *data, size_t len,
			   void *arg)
{
	struct wf_run *w = arg;
	(void)p;
	log_write(w, data, len);
	if (w->run->opts.output)
		w->run->opts.output(w->pw->name, cur_step(w)->id, s, data, len, w->run->opts.output_arg);
}

/* "failed at step 'deploy' (exit status 1)" and friends. */
static void describe_failure(struct wf_run *w, const struct proc_status *st, struct buf *why)
{
	const struct plan_step *ps = cur_step(w);
	buf_addf(why, "failed at step '%s' (", ps->id);
	if (w->timed_out) {
		char d[32];
		duration_format(ps->src->timeout_ms, d, sizeof(d));
		buf_addf(why, "timed out after %s", d);
	} else if (st && !st->spawned) {
		buf_adds(why, st->error);
	} else if (st && st->term_signal) {
		buf_addf(why, "killed by signal %d", st->term_signal);
	} else if (st) {
		buf_addf(why, "exit status %d", st->exit_code);
	} else {
		buf_adds(why, "failed");
	}
	buf_addc(why, ')');
}

/* The step succeeded: on to the next one (from the pump, not from here). */
static void step_done(struct wf_run *w)
{
	w->step++;
	w->attempt = 0;
	ready(w);
}

/* A step attempt failed: retry it, go on (continue-on-error), or fail the workflow. */
static void step_failed(struct wf_run *w, const struct proc_status *st)
{
	struct run *r = w->run;
	const struct plan_step *ps = cur_step(w);
	if (r->aborting && (!w->in_rollback || r->hard_abort)) {
		struct buf why = BUF_INIT;
		buf_addf(&why, "aborted at step '%s'", ps->id);
		wf_fail(w, why.s, why.s, true);
		buf_release(&why);
		return;
	}
	if (w->attempt <= ps->src->retries) {
		w->delay = timer_new(r, w);
		w->delay_kind = TIMER_RETRY;
		uv_timer_start(w->delay, delay_cb, ps->src->retry_delay_ms, 0);
		return;
	}
	if (ps->src->continue_on_error) {
		step_done(w);
		return;
	}
	struct buf why = BUF_INIT;
	describe_failure(w, st, &why);
	wf_fail(w, why.s, why.s, false);
	buf_release(&why);
}

static void proc_exit_cb(struct proc *p, const struct proc_status *st, void *arg)
{
	struct wf_run *w = arg;
	struct run *r = w->run;
	timer_drop(r, &w->timer);
	log_close(w);
	w->proc = NULL;
	enum step_state state;
	bool has_code = st->spawned && !st->term_signal;
	if (!st->spawned)
		state = STEP_FAILED;
	else if (w->timed_out)
		state = STEP_TIMED_OUT;
	else if (st->killed && r->aborting)
		state = STEP_ABORTED;
	else if (st->exit_code == 0 && !st->term_signal)
		state = STEP_SUCCEEDED;
	else
		state = STEP_FAILED;
	emit_step_finished(w, state, has_code, st->exit_code);
	struct proc_status copy = *st;
	proc_free(p);
	if (state == STEP_SUCCEEDED)
		step_done(w);
	else
		step_failed(w, &copy);
	pump(r);
}

static void timeout_cb(uv_timer_t *t)
{
	struct wf_run *w = t->data;
	struct run *r = w->run;
	w->timed_out = true;
	const struct plan_step *ps = cur_step(w);
	if (w->proc) {
		/* The exit callback reports the step as timed out. */
		proc_kill(w->proc);
		return;
	}
	timer_drop(r, &w->timer);
	timer_drop(r, &w->delay);
	/* A barrier or wait step ran out of time. */
	w->waiting_barrier = SIZE_MAX;
	emit_step_finished(w, STEP_TIMED_OUT, false, 0);
	struct buf why = BUF_INIT;
	char d[32];
	duration_format(ps->src->timeout_ms, d, sizeof(d));
	buf_addf(&why, "failed at step '%s' (timed out after %s)", ps->id, d);
	if (w->state == WF_WAITING)
		wf_set_state(w, w->in_rollback ? WF_ROLLING_BACK : WF_RUNNING);
	wf_fail(w, why.s, why.s, false);
	buf_release(&why);
	pump(r);
}

static void delay_cb(uv_timer_t *t)
{
	struct wf_run *w = t->data;
	struct run *r = w->run;
	enum timer_kind kind = w->delay_kind;
	timer_drop(r, &w->delay);
	w->delay_kind = TIMER_NONE;
	if (kind == TIMER_WAIT) {
		timer_drop(r, &w->timer);
		emit_step_finished(w, STEP_SUCCEEDED, false, 0);
		step_done(w);
	} else {
		/* A retry: the same step again, next attempt. */
		begin_step(w);
	}
	pump(r);
}

static void arm_barrier_timer(struct run *r);

static void begin_step(struct wf_run *w)
{
	struct run *r = w->run;
	const struct plan_step *ps = cur_step(w);
	w->attempt++;
	w->timed_out = false;
	w->step_state = STEP_RUNNING;
	w->step_started_ms = now_ms(r);
	struct event e = { .type = EV_STEP_STARTED, .workflow = w->pw->name, .step = ps->id,
			   .attempt = w->attempt, .rollback = w->in_rollback };
	events_emit(r->ev, &e);
	if (ps->src->timeout_ms) {
		w->timer = timer_new(r, w);
		uv_timer_start(w->timer, timeout_cb, ps->src->timeout_ms, 0);
	}
	switch (ps->src->kind) {
	case STEP_RUN: {
		log_open(w, ps);
		char **env = build_env(w, ps);
		struct buf dir = BUF_INIT;
		if (ps->dir && ps->dir[0] == '/')
			buf_adds(&dir, ps->dir);
		else if (ps->dir)
			buf_addf(&dir, "%s/%s", r->opts.base_dir, ps->dir);
		else
			buf_adds(&dir, r->opts.base_dir);
		char *script = subst_run_id(ps->run, r->opts.run_id);
		char *cwd = subst_run_id(dir.s, r->opts.run_id);
		struct proc_opts po = {
			.shell = ps->src->shell == SHELL_BASH ? "/bin/bash" : "/bin/sh",
			.script = script ? script : ps->run,
			.cwd = cwd ? cwd : dir.s,
			.env = env,
			.kill_grace_ms = r->opts.kill_grace_ms,
		};
		struct proc_cbs cbs = { proc_output_cb, proc_exit_cb, w };
		/* Spawn failures come back through proc_exit_cb. */
		proc_spawn(r->loop, &po, &cbs, &w->proc);
		free(script);
		free(cwd);
		buf_release(&dir);
		free_env(env);
		break;
	}
	case STEP_WAIT:
		w->delay = timer_new(r, w);
		w->delay_kind = TIMER_WAIT;
		uv_timer_start(w->delay, delay_cb, ps->src->wait_ms, 0);
		break;
	case STEP_BARRIER: {
		size_t b = coord_index(&r->coord, ps->barrier_index, w->in_rollback);
		struct event a = { .type = EV_BARRIER_ARRIVED, .barrier = ps->barrier,
				   .workflow = w->pw->name };
		events_emit(r->ev, &a);
		const char *message = NULL;
		enum arrive_result res = coord_arrive(&r->coord, b, w->index, now_ms(r), &message);
		char *msg = message ? xstrdup(message) : NULL;
		/* Decisions first: barrier.passed comes before the steps it ends. */
		drain_decisions(r);
		arm_barrier_timer(r);
		if (res == ARRIVE_PASSED) {
			timer_drop(r, &w->timer);
			emit_step_finished(w, STEP_SUCCEEDED, false, 0);
			step_done(w);
		} else if (res == ARRIVE_WAIT) {
			w->waiting_barrier = b;
			w->step_state = STEP_WAITING;
			wf_set_state(w, WF_WAITING);
		} else {
			timer_drop(r, &w->timer);
			emit_step_finished(w, STEP_FAILED, false, 0);
			struct buf why = BUF_INIT;
			buf_addf(&why, "failed at step '%s' (barrier %s broken)", ps->id, ps->barrier);
			wf_fail(w, msg ? msg : why.s, why.s, r->aborting);
			buf_release(&why);
		}
		free(msg);
		break;
	}
	case STEP_KIND_COUNT:
		break;
	}
}

/* The workflow will never arrive at its remaining barriers of that kind. */
static void withdraw(struct run *r, struct wf_run *w, bool rollback)
{
	coord_withdraw(&r->coord, w->index, rollback, now_ms(r));
	drain_decisions(r);
}

/* Moves a workflow on: the step at w->step, or the end of its list. */
static void advance(struct wf_run *w)
{
	struct run *r = w->run;
	if (wf_terminal(w->state))
		return;
	if (w->step < cur_nsteps(w)) {
		if (r->aborting && !w->in_rollback) {
			/* No new step starts after an abort; the workflow rolls back. */
			const struct plan_step *ps = cur_step(w);
			struct buf why = BUF_INIT;
			buf_addf(&why, "aborted before step '%s'", ps->id);
			wf_fail(w, why.s, why.s, true);
			buf_release(&why);
			return;
		}
		if (r->hard_abort && w->in_rollback) {
			wf_fail(w, "rollback aborted", "rollback aborted", true);
			return;
		}
		begin_step(w);
		return;
	}
	w->steps_done = true;
	if (w->in_rollback) {
		wf_set_state(w, WF_ROLLED_BACK);
		return;
	}
	wf_set_state(w, WF_SUCCEEDED);
	/* Under on-failure: stop it can never roll back: nobody waits for it. */
	if (r->plan->pipeline->on_failure != ON_FAILURE_ROLLBACK_ALL || r->opts.no_rollback)
		withdraw(r, w, true);
}

static bool has_rollback(const struct wf_run *w)
{
	return w->pw->nrollback > 0;
}

static void start_rollback(struct wf_run *w)
{
	w->in_rollback = true;
	w->step = 0;
	w->attempt = 0;
	wf_set_state(w, WF_ROLLING_BACK);
	ready(w);
}

/*
 * The workflow failed (or was aborted) with `reason` (its failure reason,
 * shown and given to rollback steps as LOCKSTEP_FAILURE); `why` completes
 * "workflow NAME ..." in the reasons of barriers it breaks.
 */
static void wf_fail(struct wf_run *w, const char *reason, const char *why, bool aborted)
{
	struct run *r = w->run;
	uint64_t now = now_ms(r);
	aborted = aborted || r->aborting;
	if (w->in_rollback) {
		/* Keep why the workflow rolled back: both facts matter. */
		struct buf b = BUF_INIT;
		buf_addf(&b, "rollback %s", reason);
		if (w->reason)
			buf_addf(&b, "; it was rolling back because: %s", w->reason);
		free(w->reason);
		w->reason = buf_detach(&b, NULL);
		coord_fail(&r->coord, w->index, true, why, now);
		drain_decisions(r);
		w->steps_done = true;
		wf_set_state(w, WF_ROLLBACK_FAILED);
		return;
	}
	free(w->reason);
	w->reason = xstrdup(reason);
	w->steps_done = true;
	if (w->state == WF_WAITING)
		wf_set_state(w, WF_RUNNING);
	if (w->pw->src->on_failure == ON_FAILURE_IGNORE && !aborted) {
		/* B6: an ignored failure withdraws instead of breaking barriers. */
		withdraw(r, w, false);
		withdraw(r, w, true);
		char *ignored = xstrdup(w->reason);
		free(w->reason);
		struct buf b = BUF_INIT;
		buf_addf(&b, "failure ignored: %s", ignored);
		w->reason = buf_detach(&b, NULL);
		free(ignored);
		wf_set_state(w, WF_SUCCEEDED);
		return;
	}
	coord_fail(&r->coord, w->index, false, why, now);
	/* The barriers it broke were decided before what happens to it next. */
	drain_decisions(r);
	r->group_failed = true;
	if (w->pw->src->on_failure == ON_FAILURE_ROLLBACK && has_rollback(w) && !r->opts.no_rollback &&
	    !r->hard_abort) {
		start_rollback(w);
		return;
	}
	withdraw(r, w, true);
	wf_set_state(w, aborted ? WF_ABORTED : WF_FAILED);
}

/* ---- barrier decisions ---- */

static void decided_cb(const struct barrier_decision *d, void *arg)
{
	struct run *r = arg;
	struct decision *q = VEC_PUSH(r->decisions);
	q->barrier = d->barrier;
	q->state = d->state;
}

static void activity_cb(size_t wf, struct buf *out, void *arg)
{
	struct run *r = arg;
	const struct wf_run *w = &r->wfs[wf];
	switch (w->state) {
	case WF_PENDING: buf_adds(out, "not started"); break;
	case WF_RUNNING:
	case WF_ROLLING_BACK:
		if (w->step < cur_nsteps(w))
			buf_addf(out, "%s step '%s'", w->in_rollback ? "rolling back at" : "running",
				 cur_step(w)->id);
		else
			buf_adds(out, "finishing");
		break;
	case WF_WAITING:
		if (w->waiting_barrier != SIZE_MAX)
			buf_addf(out, "waiting at %s", r->coord.barriers[w->waiting_barrier].plan->id);
		else
			buf_adds(out, "waiting");
		break;
	default:
		buf_adds(out, wf_state_name(w->state));
	}
}

static void handle_decision(struct run *r, const struct decision *d)
{
	const struct barrier *b = &r->coord.barriers[d->barrier];
	if (d->state == BARRIER_PASSED) {
		VEC(const char *) names = { 0 };
		for (size_t i = 0; i < b->nparties; i++)
			if (b->party[i] == PARTY_ARRIVED)
				*VEC_PUSH(names) = r->plan->workflows[b->parties[i]].name;
		struct event e = { .type = EV_BARRIER_PASSED, .barrier = b->plan->id,
				   .participants = names.v, .nparticipants = names.n };
		events_emit(r->ev, &e);
		VEC_FREE(names);
	} else {
		struct event e = { .type = EV_BARRIER_BROKEN, .barrier = b->plan->id,
				   .reason = b->reason,
				   .origin = b->origin != SIZE_MAX ? r->plan->workflows[b->origin].name : NULL };
		events_emit(r->ev, &e);
	}
	for (size_t i = 0; i < r->nwfs; i++) {
		struct wf_run *w = &r->wfs[i];
		if (w->waiting_barrier != d->barrier)
			continue;
		w->waiting_barrier = SIZE_MAX;
		timer_drop(r, &w->timer);
		wf_set_state(w, w->in_rollback ? WF_ROLLING_BACK : WF_RUNNING);
		if (d->state == BARRIER_PASSED) {
			emit_step_finished(w, STEP_SUCCEEDED, false, 0);
			step_done(w);
		} else {
			emit_step_finished(w, r->aborting ? STEP_ABORTED : STEP_FAILED, false, 0);
			const struct plan_step *ps = cur_step(w);
			struct buf why = BUF_INIT;
			buf_addf(&why, "failed at step '%s' (barrier %s broken)", ps->id, ps->barrier);
			wf_fail(w, b->message, why.s, r->aborting);
			buf_release(&why);
		}
	}
}

/* ---- barrier timeouts ---- */

/* Handles the queued barrier decisions now, in the order they were taken. */
static void drain_decisions(struct run *r)
{
	while (r->decisions.n) {
		struct decision d = r->decisions.v[0];
		memmove(r->decisions.v, r->decisions.v + 1,
			(r->decisions.n - 1) * sizeof(*r->decisions.v));
		r->decisions.n--;
		handle_decision(r, &d);
	}
}

static void barrier_timer_cb(uv_timer_t *t)
{
	struct run *r = t->data;
	coord_tick(&r->coord, now_ms(r));
	pump(r);
	arm_barrier_timer(r);
}

/* One timer serves every barrier: it fires at the earliest deadline. */
static void arm_barrier_timer(struct run *r)
{
	if (!r->btimer)
		return;
	uint64_t next = coord_next_deadline(&r->coord);
	uv_timer_stop(r->btimer);
	if (next == UINT64_MAX || r->finished)
		return;
	uint64_t now = now_ms(r);
	uv_timer_start(r->btimer, barrier_timer_cb, next > now ? next - now : 0, 0);
}

/* ---- groups ---- */

static void start_group(struct run *r, size_t g)
{
	const struct plan_group *grp = &r->plan->groups[g];
	r->group = g;
	r->group_failed = false;
	const char **names = xcalloc(grp->n + 1, sizeof(*names));
	for (size_t i = 0; i < grp->n; i++)
		names[i] = r->plan->workflows[grp->wfs[i]].name;
	struct event e = { .type = EV_GROUP_STARTED, .group = g, .workflows = names,
			   .nworkflows = grp->n };
	events_emit(r->ev, &e);
	free(names);
	for (size_t i = 0; i < grp->n; i++) {
		struct wf_run *w = &r->wfs[grp->wfs[i]];
		wf_set_state(w, WF_RUNNING);
		ready(w);
	}
}

static void finish(struct run *r)
{
	r->finished = true;
	r->status = r->aborting ? RUN_ABORTED : r->failed ? RUN_FAILED : RUN_SUCCEEDED;
	struct event e = { .type = EV_RUN_FINISHED, .status = run_status_name(r->status) };
	events_emit(r->ev, &e);
	if (r->btimer) {
		timer_drop(r, &r->btimer);
	}
}

/* Skips the workflows of the groups after `g`. */
static void skip_after(struct run *r, size_t g)
{
	for (size_t k = g + 1; k < r->plan->ngroups; k++) {
		const struct plan_group *grp = &r->plan->groups[k];
		for (size_t i = 0; i < grp->n; i++) {
			struct wf_run *w = &r->wfs[grp->wfs[i]];
			if (w->state != WF_PENDING)
				continue;
			free(w->reason);
			struct buf b = BUF_INIT;
			if (r->aborting)
				buf_adds(&b, "run aborted");
			else
				buf_addf(&b, "group %zu failed", g + 1);
			w->reason = buf_detach(&b, NULL);
			w->steps_done = true;
			withdraw(r, w, false);
			withdraw(r, w, true);
			wf_set_state(w, WF_SKIPPED);
		}
	}
}

/* Rolls back the succeeded workflows of group `g` (rollback-all). Returns how many started. */
static size_t rollback_group(struct run *r, size_t g, const char *why)
{
	const struct plan_group *grp = &r->plan->groups[g];
	size_t started = 0;
	for (size_t i = 0; i < grp->n; i++) {
		struct wf_run *w = &r->wfs[grp->wfs[i]];
		if (w->state != WF_SUCCEEDED)
			continue;
		if (!has_rollback(w)) {
			withdraw(r, w, true);
			continue;
		}
		free(w->reason);
		w->reason = xstrdup(why);
		start_rollback(w);
		started++;
	}
	return started;
}

static bool group_all(struct run *r, size_t g, bool (*pred)(const struct wf_run *))
{
	const struct plan_group *grp = &r->plan->groups[g];
	for (size_t i = 0; i < grp->n; i++)
		if (!pred(&r->wfs[grp->wfs[i]]))
			return false;
	return true;
}

static bool is_terminal(const struct wf_run *w)
{
	return wf_terminal(w->state);
}

static bool is_steps_done(const struct wf_run *w)
{
	return w->steps_done || wf_terminal(w->state);
}

/*
 * Moves the run on when a group has finished: the next group, the
 * rollbacks of rollback-all, or the end. Returns true when it changed
 * anything (so the pump looks again).
 */
static bool check_group(struct run *r)
{
	if (r->finished || !r->plan->ngroups)
		return false;
	bool rollback_all = r->plan->pipeline->on_failure == ON_FAILURE_ROLLBACK_ALL &&
			    !r->opts.no_rollback && !r->hard_abort;
	if (r->rolling_back_all) {
		if (!group_all(r, r->rollback_group, is_terminal))
			return false;
		while (r->rollback_group > 0) {
			r->rollback_group--;
			if (rollback_group(r, r->rollback_group, "rolling back: a later group failed (on-failure: rollback-all)"))
				return true;
		}
		finish(r);
		return true;
	}
	size_t g = r->group;
	if (!group_all(r, g, is_steps_done))
		return false;
	bool failed = r->group_failed || r->aborting;
	if (failed && rollback_all && r->rb_started_group != g + 1) {
		/* The succeeded workflows of the failed group roll back too. */
		r->rb_started_group = g + 1;
		if (rollback_group(r, g, "rolling back: the group failed (on-failure: rollback-all)"))
			return true;
	}
	if (!group_all(r, g, is_terminal))
		return false;
	if (!failed) {
		if (g + 1 < r->plan->ngroups) {
			start_group(r, g + 1);
			return true;
		}
		finish(r);
		return true;
	}
	r->failed = true;
	skip_after(r, g);
	if (rollback_all && g > 0) {
		r->rolling_back_all = true;
		r->rollback_group = g;
		return true;
	}
	finish(r);
	return true;
}

/*
 * Runs everything that became ready: barrier decisions first (in the order
 * they were taken), then workflows to advance, then group transitions.
 * Handlers only queue work, so nothing here recurses without bound.
 */
static void pump(struct run *r)
{
	if (r->pumping)
		return;
	r->pumping = true;
	for (;;) {
		if (r->decisions.n) {
			drain_decisions(r);
			continue;
		}
		if (r->ready.n) {
			size_t wf = r->ready.v[0];
			memmove(r->ready.v, r->ready.v + 1, (r->ready.n - 1) * sizeof(*r->ready.v));
			r->ready.n--;
			advance(&r->wfs[wf]);
			continue;
		}
		if (check_group(r))
			continue;
		break;
	}
	r->pumping = false;
	arm_barrier_timer(r);
	if (r->check_invariants)
		run_assert_valid(r);
}

/* ---- invariants ---- */

#define CHECK(cond, ...)                                                          \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "run_assert_valid: %s: ", #cond);         \
			fprintf(stderr, __VA_ARGS__);                             \
			fputc('\n', stderr);                                      \
			abort();                                                  \
		}                                                                 \
	} while (0)

void run_assert_valid(const struct run *r)
{
	for (size_t i = 0; i < r->nwfs; i++) {
		const struct wf_run *w = &r->wfs[i];
		const char *n = w->pw->name;
		CHECK((w->waiting_barrier != SIZE_MAX) == (w->state == WF_WAITING),
		      "%s: waiting at a barrier exactly when in state waiting (%s)", n,
		      wf_state_name(w->state));
		if (w->waiting_barrier != SIZE_MAX)
			CHECK(r->coord.waiting_at[i] == w->waiting_barrier,
			      "%s: the coordinator agrees where it waits", n);
		if (wf_terminal(w->state)) {
			CHECK(!w->proc && !w->timer && !w->delay, "%s: nothing runs for a finished workflow", n);
			CHECK(w->steps_done, "%s: a finished workflow is past its steps", n);
		}
		if (w->proc)
			CHECK(w->state == WF_RUNNING || w->state == WF_ROLLING_BACK,
			      "%s: a process runs only for a running or rolling-back workflow", n);
		if (w->in_rollback)
			CHECK(w->state == WF_ROLLING_BACK || w->state == WF_WAITING ||
			      w->state == WF_ROLLED_BACK || w->state == WF_ROLLBACK_FAILED ||
			      w->state == WF_ABORTED,
			      "%s: in its rollback list but %s", n, wf_state_name(w->state));
		if (w->state == WF_PENDING)
			CHECK(r->plan->workflows[i].group > r->group || (r->group == 0 && !r->loop),
			      "%s: pending in a group that has started", n);
		if (r->finished)
			CHECK(wf_terminal(w->state), "%s: the run finished but it is %s", n,
			      wf_state_name(w->state));
	}
	CHECK(!r->finished || r->status != RUN_RUNNING, "a finished run has its status");
	coord_assert_valid(&r->coord);
}

/* ---- the public face ---- */

struct run *run_new(const struct plan *plan, const struct run_opts *o, struct events *ev)
{
	struct run *r = xcalloc(1, sizeof(*r));
	r->plan = plan;
	r->opts = *o;
	if (!r->opts.max_log_bytes)
		r->opts.max_log_bytes = 64ULL << 20;
	if (!r->opts.base_dir)
		r->opts.base_dir = ".";
	r->ev = ev;
	r->nwfs = plan->nworkflows;
	r->wfs = xcalloc(r->nwfs + 1, sizeof(*r->wfs));
	for (size_t i = 0; i < r->nwfs; i++) {
		struct wf_run *w = &r->wfs[i];
		w->run = r;
		w->index = i;
		w->pw = &plan->workflows[i];
		w->state = WF_PENDING;
		w->waiting_barrier = SIZE_MAX;
		w->log_fd = -1;
	}
	struct coord_ops ops = { decided_cb, activity_cb, r };
	coord_init(&r->coord, plan, &ops);
	r->status = RUN_RUNNING;
	const char *chk = getenv("LOCKSTEP_CHECK_INVARIANTS");
	r->check_invariants = chk && *chk && strcmp(chk, "0") != 0;
	return r;
}

void run_start(struct run *r, uv_loop_t *loop)
{
	r->loop = loop;
	r->btimer = xcalloc(1, sizeof(*r->btimer));
	uv_timer_init(loop, r->btimer);
	r->btimer->data = r;
	r->open_handles++;
	struct event e = { .type = EV_RUN_STARTED, .pipeline = r->plan->pipeline->name };
	events_emit(r->ev, &e);
	if (r->plan->ngroups)
		start_group(r, 0);
	else
		finish(r);
	pump(r);
}

void run_abort(struct run *r)
{
	if (r->finished)
		return;
	if (r->aborting) {
		r->hard_abort = true;
		for (size_t i = 0; i < r->nwfs; i++)
			if (r->wfs[i].proc)
				proc_kill_now(r->wfs[i].proc);
		coord_abort(&r->coord, now_ms(r));
		pump(r);
		return;
	}
	r->aborting = true;
	for (size_t i = 0; i < r->nwfs; i++) {
		struct wf_run *w = &r->wfs[i];
		if (w->proc && !w->in_rollback) {
			proc_kill(w->proc);
		} else if (w->delay) {
			/* A retry delay or a wait step: the step ends now. */
			timer_drop(r, &w->delay);
			timer_drop(r, &w->timer);
			if (w->delay_kind == TIMER_WAIT)
				emit_step_finished(w, STEP_ABORTED, false, 0);
			w->delay_kind = TIMER_NONE;
			if (!w->in_rollback) {
				struct buf why = BUF_INIT;
				buf_addf(&why, "aborted at step '%s'", cur_step(w)->id);
				wf_fail(w, why.s, why.s, true);
				buf_release(&why);
			} else {
				step_done(w);
			}
		}
	}
	coord_abort_steps(&r->coord, now_ms(r));
	pump(r);
}

bool run_done(const struct run *r)
{
	if (!r->finished)
		return false;
	for (size_t i = 0; i < r->nwfs; i++)
		if (r->wfs[i].proc)
			return false;
	return r->open_handles == 0;
}

enum run_status run_status(const struct run *r)
{
	return r->status;
}

void run_free(struct run *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nwfs; i++) {
		free(r->wfs[i].reason);
		log_close(&r->wfs[i]);
	}
	free(r->wfs);
	coord_release(&r->coord);
	VEC_FREE(r->decisions);
	VEC_FREE(r->ready);
	free(r);
}
