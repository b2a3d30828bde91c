#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsio.h"
#include "base/map.h"
#include "base/mask.h"
#include "engine/run_internal.h"
#include "events/logpath.h"
#include "pipeline/expr.h"

/*
 * step_run: the `run` step kind. The shell runs in its own process group
 * (engine/proc.c), its output goes to STATE/logs/RUN/WORKFLOW/STEP.ATTEMPT.log
 * (capped; a file that cannot be opened or written is a step.warning) and
 * to the terminal, and its environment is built here. What a step leaves
 * running in the background lives until the run ends (run_finish stops
 * it). The Kubernetes step kinds run the same way, their command made by
 * step_k8s.c.
 */

extern char **environ;

/* ---- logs ---- */

/* A step.warning about log `l`, once per attempt (steplog says when). */
static void log_warning(struct run *r, const struct step_log *l, const char *message)
{
	struct event e = { .type = EV_STEP_WARNING, .workflow = l->workflow, .step = l->step,
			   .attempt = l->attempt, .rollback = l->rollback, .message = message };
	events_emit(r->ev, &e);
}

static void steplog_warning(const char *message, void *arg)
{
	struct step_log *l = arg;
	log_warning(l->run, l, message);
}

/*
 * Names log `l` after attempt `w->attempt` of the workflow's current step
 * and makes its directory; with a log directory and that directory made,
 * `path` gets the file's path. Without a log directory there is no file;
 * when its directory cannot be made, a step.warning says so and the
 * output still goes to the terminal.
 */
static bool log_prepare(struct step_log *l, struct wf_run *w, const struct plan_step *ps, struct buf *path)
{
	struct run *r = w->run;
	*l = (struct step_log){ .f = { .fd = -1 }, .workflow = w->pw->name, .step = ps->id,
				.attempt = w->attempt, .rollback = w->in_rollback, .run = r };
	if (!r->opts.log_dir)
		return false;
	if (!w->log_dir_made) {
		/* Step ids are unique across steps and rollback: one directory. */
		struct buf why = BUF_INIT;
		logpath_workflow_dir(r->opts.log_dir, w->pw->name, path);
		w->log_dir_made = fsio_mkdirs(path->s, &why) == 0;
		if (!w->log_dir_made) {
			buf_addf(&why, "; the output of this attempt is not logged");
			log_warning(r, l, why.s);
		}
		buf_release(&why);
		buf_reset(path);
	}
	if (!w->log_dir_made)
		return false;
	logpath_attempt(r->opts.log_dir, w->pw->name, ps->id, w->attempt, path);
	return true;
}

void step_log_open(struct step_log *l, struct wf_run *w, bool append)
{
	struct run *r = w->run;
	struct buf path = BUF_INIT;
	bool file = log_prepare(l, w, wf_cur_step(w), &path);
	steplog_open(&l->f, file ? path.s : NULL, append, r->opts.max_log_bytes, r->opts.mask,
		     steplog_warning, l);
	buf_release(&path);
}

void step_log_put(struct run *r, struct step_log *l, const char *data, size_t len)
{
	(void)r;
	steplog_put(&l->f, data, len);
}

void step_log_close(struct step_log *l)
{
	steplog_close(&l->f);
}

/* ---- the environment ---- */

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

char *run_subst_run_id(const char *s, uint64_t id)
{
	return subst_run_id(s, id);
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
 * The environment of a run step: lockstep's own, then the workflow
 * instance's environment (KUBECONFIG from its kubernetes.kubeconfig, then
 * its env), the workflow's env, the step's env, then the LOCKSTEP_*
 * variables (reserved names: a pipeline cannot set them, so they always
 * describe the real step).
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
	const struct plan_environment *pe = w->pw->environment;
	/* Absolute, so that it holds in a step's own dir: too. */
	if (pe && pe->kubeconfig && pe->kubeconfig[0] == '/')
		env_setf(&e, "KUBECONFIG=%s", pe->kubeconfig);
	else if (pe && pe->kubeconfig)
		env_setf(&e, "KUBECONFIG=%s/%s", r->opts.base_dir, pe->kubeconfig);
	static const struct kvlist no_env = { NULL, 0 };
	const struct kvlist *lists[] = { pe ? &pe->env : &no_env, &w->pw->env, &ps->env };
	for (size_t l = 0; l < 3; l++) {
		for (size_t i = 0; i < lists[l]->n; i++) {
			char *v = run_subst_env(r, lists[l]->v[i].val);
			env_setf(&e, "%s=%s", lists[l]->v[i].key, v ? v : lists[l]->v[i].val);
			free(v);
		}
	}
	env_setf(&e, "LOCKSTEP_RUN_ID=%llu", (unsigned long long)r->opts.run_id);
	if (r->opts.token)
		env_setf(&e, "LOCKSTEP_RUN_TOKEN=%s", r->opts.token);
	env_setf(&e, "LOCKSTEP_PIPELINE=%s", plan->pipeline->name);
	env_setf(&e, "LOCKSTEP_WORKFLOW=%s", w->pw->name);
	env_setf(&e, "LOCKSTEP_STEP=%s", ps->id);
	if (pe) {
		env_setf(&e, "LOCKSTEP_ENV=%s", pe->name);
		if (pe->kube_namespace)
			env_setf(&e, "LOCKSTEP_NAMESPACE=%s", pe->kube_namespace);
		if (pe->kube_context)
			env_setf(&e, "LOCKSTEP_KUBE_CONTEXT=%s", pe->kube_context);
	}
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

/* ---- the process ---- */

/*
 * A step ends when its main process exits; what it started in the
 * background goes on until the run ends (proc.h): the step_proc then
 * moves to r->leftovers, its log open while the leftovers hold its pipes,
 * until its proc is gone.
 */
static void leftover_add(struct run *r, struct step_proc *sp)
{
	sp->prev = NULL;
	sp->next = r->leftovers;
	if (r->leftovers)
		r->leftovers->prev = sp;
	r->leftovers = sp;
	r->nleftovers++;
}

static void leftover_del(struct run *r, struct step_proc *sp)
{
	if (sp->prev)
		sp->prev->next = sp->next;
	else
		r->leftovers = sp->next;
	if (sp->next)
		sp->next->prev = sp->prev;
	sp->prev = sp->next = NULL;
	r->nleftovers--;
}

static void proc_output_cb(struct xproc *x, enum proc_stream s, const char *data, size_t len,
			   void *arg)
{
	struct step_proc *sp = arg;
	(void)x;
	step_output_shown(sp->run, &sp->log, s == PROC_STDERR ? RUN_STDERR : RUN_STDOUT, data, len);
}

static void proc_warning_cb(struct xproc *x, const char *message, void *arg)
{
	struct step_proc *sp = arg;
	(void)x;
	log_warning(sp->run, &sp->log, message);
}

static void spawn_queued(struct run *r);

/*
 * A step may start now: fewer than SPAWN_INFLIGHT spawns are on the
 * thread pool, fewer than max_parallel step processes run, and there are
 * descriptors for it. max_procs slots of FDS_RUNNING descriptors each are
 * what the open-files limit allows, cautiously; an ended step whose
 * leftovers still hold its pipes takes FDS_HELD of them until the pipes
 * close. When those fill the slots and no step runs, no running step will
 * free one: the step starts if the descriptors really left allow it, and
 * otherwise waits for a leftover to let go of its pipes. Only the steps
 * being spawned hold a copy of their environment and command; the rest
 * wait in spawn_wait with nothing built, which bounds memory at any
 * width.
 */
#define SPAWN_INFLIGHT 32
/* A running step: two pipes (both ends while it is spawned), a pidfd and
 * its log; an ended one: the read ends of its pipes and its log. */
#define FDS_RUNNING 6
#define FDS_HELD 3
/* What lockstep keeps for itself beside steps (the store, http-checks). */
#define FDS_SPARE 32
static bool spawn_slot(const struct run *r)
{
	if (r->nspawning >= SPAWN_INFLIGHT || r->nprocs >= r->max_parallel)
		return false;
	if ((r->nprocs + 1) * FDS_RUNNING + r->nheld * FDS_HELD <= r->max_procs * FDS_RUNNING)
		return true;
	return r->nprocs == 0 && proc_fds_free() >= FDS_RUNNING + FDS_SPARE;
}

/* For the store only: what a resume must kill if lockstep dies. */
static void proc_started_cb(struct xproc *p, pid_t pid, uint64_t pid_start, void *arg)
{
	struct step_proc *sp = arg;
	struct wf_run *w = sp->w;
	(void)p;
	sp->started = true;
	w->run->nspawning--;
	spawn_queued(w->run);
	if (sp->adopted)
		return; /* its step.process is recorded: the dead engine said it */
	const struct plan_step *ps = wf_cur_step(w);
	struct event e = { .type = EV_STEP_PROCESS, .workflow = w->pw->name, .step = ps->id,
			   .attempt = w->attempt, .pid = (int)pid, .pid_start = pid_start,
			   .rollback = w->in_rollback };
	events_emit(w->run->ev, &e);
}

/* The status of an attempt whose process ended so. */
static enum step_state attempt_status(const struct wf_run *w, const struct proc_status *st)
{
	if (!st->spawned)
		return STEP_FAILED;
	if (w->timed_out)
		return STEP_TIMED_OUT;
	if (st->killed && (w->run->aborting || w->stopped_by != SIZE_MAX))
		return STEP_ABORTED;
	return st->exit_code == 0 && !st->term_signal ? STEP_SUCCEEDED : STEP_FAILED;
}

/* How a step's process ended: its step.finished, and what follows. */
static void end_attempt(struct wf_run *w, struct step_proc *sp, const struct proc_status *st)
{
	/* The Kubernetes helper's exit status is lockstep's own business: its
	 * reason, from its result file, says what happened. */
	/* Its supervisor stopped it at its deadline (lockstep was dead then). */
	if (st->timed_out)
		w->timed_out = true;
	char *(*helper)(struct wf_run *) = wf_kind(w)->helper_reason;
	char *reason = helper ? helper(w) : NULL;
	struct step_end how = { .status = attempt_status(w, st), .then = STEP_THEN_FAILED, .proc = st,
				.has_exit_code = st->spawned && !st->term_signal && !helper,
				.exit_code = st->exit_code };
	if (how.status == STEP_SUCCEEDED)
		how.then = STEP_THEN_NEXT;
	else if (how.status == STEP_FAILED)
		how.detail = reason;
	/* Adopted: its process ran under the supervisor, which timed it. */
	if (sp->adopted && st->spawned)
		how.duration_ms = st->duration_ms ? st->duration_ms : 1;
	/* What the step printed came before (the executor let its held-back
	 * ends go first): its step.finished follows it. */
	step_end(w, &how);
	free(reason);
}

static void proc_exit_cb(struct xproc *p, const struct proc_status *st, void *arg)
{
	struct step_proc *sp = arg;
	struct wf_run *w = sp->w;
	struct run *r = sp->run;
	(void)p;
	sp->w = NULL;
	w->proc = NULL;
	r->nprocs--;
	if (!sp->started)
		r->nspawning--;
	/* Until `gone`: what the step left running lives on. */
	leftover_add(r, sp);
	if (sp->pipes_open) {
		sp->holds_slot = true;
		r->nheld++;
	}
	/*
	 * Out of descriptors after all (handles of ended steps close a loop
	 * iteration later): wait for a slot like any queued step, if any other
	 * step is running to free one.
	 */
	if (!st->spawned && (st->error_code == -EMFILE || st->error_code == -ENFILE) &&
	    r->nprocs > 0) {
		w->spawn_pending = true;
		*VEC_PUSH(r->spawn_wait) = w->index;
		return;
	}
	end_attempt(w, sp, st);
	/* A hard abort came first: what it leaves goes at once too. */
	if (r->hard_abort)
		exec_kill_now(p);
	run_pump(r);
}

/* Its output is over: the log closes, and its slot is free. */
static void proc_closed_cb(struct xproc *p, void *arg)
{
	struct step_proc *sp = arg;
	struct run *r = sp->run;
	(void)p;
	sp->pipes_open = false;
	if (sp->holds_slot) {
		sp->holds_slot = false;
		r->nheld--;
		spawn_queued(r);
	}
}

/* Nothing of the step is left. When the run only waited for that, it
 * finishes now. */
static void proc_gone_cb(struct xproc *p, void *arg)
{
	struct step_proc *sp = arg;
	struct run *r = sp->run;
	leftover_del(r, sp);
	exec_free(p);
	free(sp);
	if (r->ending && !r->leftovers) {
		run_finish(r);
		run_pump(r);
	}
}

bool step_run_stop_leftovers(struct run *r, bool now)
{
	for (struct step_proc *sp = r->leftovers; sp; sp = sp->next) {
		if (now)
			exec_kill_now(sp->x);
		else
			exec_kill(sp->x);
	}
	return r->leftovers != NULL;
}

void step_run_assert_valid(const struct run *r)
{
	size_t n = 0, held = 0;
	for (const struct step_proc *sp = r->leftovers; sp; sp = sp->next) {
		n++;
		held += sp->holds_slot;
		if (!sp->w && sp->pipes_open != sp->holds_slot) {
			fprintf(stderr, "step_run_assert_valid: %s/%s: an ended step holds a slot "
					"exactly while its pipes are open\n",
				sp->log.workflow, sp->log.step);
			abort();
		}
	}
	if (n != r->nleftovers || held != r->nheld || (r->finished && n)) {
		fprintf(stderr, "step_run_assert_valid: %zu leftovers (counted %zu), %zu holding "
				"their pipes (counted %zu)%s\n",
			n, r->nleftovers, held, r->nheld, r->finished ? ", after the run finished" : "");
		abort();
	}
}

static void spawn_now(struct wf_run *w);

/* Starts the next queued run step, if there is a free slot. */
static void spawn_queued(struct run *r)
{
	while (spawn_slot(r) && r->spawn_wait_head < r->spawn_wait.n) {
		struct wf_run *w = &r->wfs[r->spawn_wait.v[r->spawn_wait_head++]];
		if (r->spawn_wait_head == r->spawn_wait.n)
			r->spawn_wait.n = r->spawn_wait_head = 0;
		/* A step cancelled while queued (timeout, abort) has no claim. */
		if (!w->spawn_pending)
			continue;
		w->spawn_pending = false;
		spawn_now(w);
	}
}

void run_committed(struct run *r)
{
	if (!r->commit_wait.n)
		return;
	/* Only the steps whose step.started is recorded: commits end on a
	 * thread of their own, and what was emitted since the batch in
	 * flight was taken is not recorded yet. The queue is in seq order. */
	uint64_t recorded = events_recorded_seq(r->ev);
	size_t n = 0;
	while (n < r->commit_wait.n && r->wfs[r->commit_wait.v[n]].commit_seq <= recorded)
		n++;
	if (!n)
		return;
	/* Taken out first: spawning can queue nothing new here. */
	size_t *ws = xmalloc(n * sizeof(*ws));
	memcpy(ws, r->commit_wait.v, n * sizeof(*ws));
	memmove(r->commit_wait.v, r->commit_wait.v + n, (r->commit_wait.n - n) * sizeof(*ws));
	r->commit_wait.n -= n;
	for (size_t i = 0; i < n; i++) {
		struct wf_run *w = &r->wfs[ws[i]];
		if (!w->spawn_pending)
			continue; /* cancelled meanwhile (timeout, abort) */
		if (!spawn_slot(r)) {
			*VEC_PUSH(r->spawn_wait) = w->index;
			continue;
		}
		w->spawn_pending = false;
		spawn_now(w);
	}
	free(ws);
}

void step_run_slot_free(struct run *r)
{
	spawn_queued(r);
}

enum step_stop step_run_cancel(struct wf_run *w, const char *why, bool now)
{
	(void)why;
	if (w->proc) {
		/* Its exit ends the step (timed out, or aborted). */
		if (now)
			exec_kill_now(w->proc);
		else
			exec_kill(w->proc);
		return STOP_LATER;
	}
	if (w->spawn_pending) {
		/* It gives up its place in the queue for a process slot. */
		w->spawn_pending = false;
		return STOP_UNSTARTED;
	}
	/* Taken over with its process lost: step_run_resume ends it. */
	return STOP_LATER;
}

/*
 * A step of a run taken over whose process the run's supervisor (or its
 * journal) knows is adopted: what happened to it while lockstep was dead
 * is told now, as if it had happened under this engine, and the rest as
 * it happens. An abort that goes on, or fail-fast, stops it.
 */
static int adopt(struct wf_run *w)
{
	struct run *r = w->run;
	struct step_proc *sp = xcalloc(1, sizeof(*sp));
	sp->run = r;
	sp->w = w;
	sp->pipes_open = true;
	sp->adopted = true;
	const struct plan_step *ps = wf_cur_step(w);
	sp->log = (struct step_log){ .f = { .fd = -1 }, .workflow = w->pw->name, .step = ps->id,
				     .attempt = w->attempt, .rollback = w->in_rollback, .run = r };
	struct buf key = BUF_INIT;
	step_run_key(w, &key);
	struct xcbs cbs = { proc_output_cb, proc_exit_cb, proc_started_cb, proc_closed_cb,
			    proc_gone_cb, proc_warning_cb, sp };
	int rc = exec_adopt(run_exec(r), key.s, &cbs, &sp->x);
	buf_release(&key);
	if (rc < 0) {
		free(sp);
		return rc;
	}
	r->nprocs++;
	r->nspawning++;
	w->proc = sp->x;
	if ((r->aborting && !w->in_rollback) || w->stopped_by != SIZE_MAX)
		exec_kill(w->proc);
	return 0;
}

void step_run_resume(struct wf_run *w, const struct step_resume *at)
{
	(void)at;
	int rc = adopt(w);
	if (rc == 0)
		return;
	struct run *r = w->run;
	bool stopping = (r->aborting && !w->in_rollback) || w->stopped_by != SIZE_MAX;
	if (rc == -ESRCH && !stopping && !r->no_new_steps) {
		/* Its step.started is recorded, its process never started: it
		 * starts now, as the same attempt (nothing of it ever ran). */
		if (spawn_slot(r)) {
			spawn_now(w);
		} else {
			w->spawn_pending = true;
			*VEC_PUSH(r->spawn_wait) = w->index;
		}
		return;
	}
	/* Its process is lost (its supervisor died too; the take-over killed
	 * what was left of it): the attempt was interrupted, a failure that
	 * may be retried. */
	struct proc_status st = { .spawned = false, .exit_code = -1 };
	snprintf(st.error, sizeof(st.error), "interrupted");
	bool aborted = (w->run->aborting && !w->in_rollback) || w->stopped_by != SIZE_MAX;
	step_end(w, &(struct step_end){ .status = aborted ? STEP_ABORTED : STEP_FAILED,
					.then = STEP_THEN_FAILED, .proc = &st });
}

void step_run_command(struct wf_run *w, struct buf *script)
{
	const struct plan_step *ps = wf_cur_step(w);
	char *s = subst_run_id(ps->run, w->run->opts.run_id);
	buf_adds(script, s ? s : ps->run);
	free(s);
}

/*
 * Every running step holds four file descriptors (two pipes, a pidfd, its
 * log), an ended step whose leftovers hold its pipes three, and a process
 * may have only so many: past the limit a step waits for a slot instead
 * of failing with "too many open files". Its step.started is already out
 * and its timeout already runs: the wait is part of the step.
 */
void step_run_begin(struct wf_run *w)
{
	struct run *r = w->run;
	if (r->opts.defer_spawns) {
		/* The process starts once its step.started is recorded. */
		w->spawn_pending = true;
		w->commit_seq = r->ev->seq;
		*VEC_PUSH(r->commit_wait) = w->index;
		return;
	}
	if (!spawn_slot(r)) {
		w->spawn_pending = true;
		*VEC_PUSH(r->spawn_wait) = w->index;
		return;
	}
	spawn_now(w);
}

/* The key of the workflow's current attempt, by which its executor knows
 * it across a resume (exec/exec.h). */
void step_run_key(const struct wf_run *w, struct buf *key)
{
	buf_addf(key, "%zu/%c/%zu/%d", w->index, w->in_rollback ? 'r' : 's', w->step, w->attempt);
}

/* What is left of the step's timeout (at least 1 ms), or 0 without one. */
static uint64_t deadline_of(const struct wf_run *w, const struct plan_step *ps)
{
	if (!ps->src->timeout_ms)
		return 0;
	uint64_t spent = run_now(w->run) - w->step_started_ms;
	return ps->src->timeout_ms > spent ? ps->src->timeout_ms - spent : 1;
}

static void spawn_now(struct wf_run *w)
{
	struct run *r = w->run;
	const struct plan_step *ps = wf_cur_step(w);
	r->nprocs++;
	r->nspawning++;
	struct step_proc *sp = xcalloc(1, sizeof(*sp));
	sp->run = r;
	sp->w = w;
	sp->pipes_open = true;
	struct buf path = BUF_INIT;
	bool file = log_prepare(&sp->log, w, ps, &path);
	char **env = build_env(w, ps);
	struct buf dir = BUF_INIT;
	if (ps->dir && ps->dir[0] == '/')
		buf_adds(&dir, ps->dir);
	else if (ps->dir)
		buf_addf(&dir, "%s/%s", r->opts.base_dir, ps->dir);
	else
		buf_adds(&dir, r->opts.base_dir);
	struct buf script = BUF_INIT;
	wf_kind(w)->command(w, &script);
	char *cwd = subst_run_id(dir.s, r->opts.run_id);
	struct buf key = BUF_INIT;
	step_run_key(w, &key);
	struct xspawn xs = {
		.key = key.s,
		.shell = ps->src->shell == SHELL_BASH ? "/bin/bash" : "/bin/sh",
		.script = script.s,
		.cwd = cwd ? cwd : dir.s,
		.env = env,
		.kill_grace_ms = r->opts.kill_grace_ms,
		.log_path = file ? path.s : NULL,
		.max_log_bytes = r->opts.max_log_bytes,
		.deadline_ms = deadline_of(w, ps),
	};
	struct xcbs cbs = { proc_output_cb, proc_exit_cb, proc_started_cb, proc_closed_cb,
			    proc_gone_cb, proc_warning_cb, sp };
	/* Spawn failures (a lost supervisor too) come back through proc_exit_cb. */
	int rc = exec_spawn(run_exec(r), &xs, &cbs, &sp->x);
	if (rc < 0) {
		fprintf(stderr, "lockstep: internal error: exec_spawn: %s\n", strerror(-rc));
		abort();
	}
	w->proc = sp->x;
	buf_release(&key);
	buf_release(&path);
	buf_release(&script);
	free(cwd);
	buf_release(&dir);
	free_env(env);
}
