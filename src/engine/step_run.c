#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/map.h"
#include "engine/run_internal.h"
#include "pipeline/expr.h"

/*
 * step_run: the `run` step kind. The shell runs in its own process group
 * (engine/proc.c), its output goes to STATE/logs/RUN/WORKFLOW/STEP.ATTEMPT.log
 * (capped) and to the terminal, and its environment is built here. The
 * Kubernetes step kinds run the same way, their command made by step_k8s.c.
 */

extern char **environ;

/* ---- logs ---- */

/* ---- logs ---- */

static void mkdirs(const char *path)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0700);
			*s = '/';
		}
	}
	mkdir(p, 0700);
	free(p);
}

void run_log_component(struct buf *path, const char *name)
{
	for (const char *c = name; *c; c++) {
		unsigned char u = (unsigned char)*c;
		if (u == '/' || u == '%' || u < 0x20 || u == 0x7f || (c == name && u == '.'))
			buf_addf(path, "%%%02X", u);
		else
			buf_addc(path, *c);
	}
}

static void log_open(struct wf_run *w, const struct plan_step *ps, bool append)
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
	run_log_component(&path, w->pw->name);
	if (!w->log_dir_made) {
		mkdirs(path.s);
		w->log_dir_made = true;
	}
	buf_addf(&path, "/%s.%d.log", ps->id, w->attempt);
	/* Its owner's only, like the directory it is in (docs/store.md). */
	w->log_fd = open(path.s, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC) | O_CLOEXEC, 0600);
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

void step_log_open(struct wf_run *w, bool append)
{
	log_open(w, wf_cur_step(w), append);
}

void step_log_write(struct wf_run *w, const char *data, size_t len)
{
	log_write(w, data, len);
}

void step_run_log_close(struct wf_run *w)
{
	if (w->log_fd >= 0)
		close(w->log_fd);
	w->log_fd = -1;
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

static void proc_output_cb(struct proc *p, enum proc_stream s, const char *data, size_t len,
			   void *arg)
{
	struct wf_run *w = arg;
	(void)p;
	step_output(w, s, data, len);
}

static void spawn_queued(struct run *r);

/*
 * A step may start now: a process slot is free (descriptors), and fewer
 * than SPAWN_INFLIGHT spawns are on the thread pool. Only the steps being
 * spawned hold a copy of their environment and command; the rest wait in
 * spawn_wait with nothing built, which bounds memory at any width.
 */
#define SPAWN_INFLIGHT 32
static bool spawn_slot(const struct run *r)
{
	return r->nprocs < r->max_procs && r->nspawning < SPAWN_INFLIGHT;
}

/* For the store only: what a resume must kill if lockstep dies. */
static void proc_started_cb(struct proc *p, pid_t pid, uint64_t pid_start, void *arg)
{
	struct wf_run *w = arg;
	(void)p;
	w->run->nspawning--;
	spawn_queued(w->run);
	const struct plan_step *ps = wf_cur_step(w);
	struct event e = { .type = EV_STEP_PROCESS, .workflow = w->pw->name, .step = ps->id,
			   .attempt = w->attempt, .pid = (int)pid, .pid_start = pid_start,
			   .rollback = w->in_rollback };
	events_emit(w->run->ev, &e);
}

static void proc_exit_cb(struct proc *p, const struct proc_status *st, void *arg)
{
	struct wf_run *w = arg;
	struct run *r = w->run;
	if (!st->spawned)
		r->nspawning--;
	/*
	 * Out of descriptors after all (handles of ended steps close a loop
	 * iteration later): wait for a slot like any queued step, if any other
	 * step is running to free one.
	 */
	if (!st->spawned && (st->error_code == -EMFILE || st->error_code == -ENFILE) &&
	    r->nprocs > 1) {
		step_run_log_close(w);
		w->proc = NULL;
		proc_free(p);
		r->nprocs--;
		w->spawn_pending = true;
		*VEC_PUSH(r->spawn_wait) = w->index;
		return;
	}
	run_timer_drop(r, &w->timer);
	step_output_end(w);
	step_run_log_close(w);
	w->proc = NULL;
	enum step_kind kind = wf_cur_step(w)->src->kind;
	bool helper = kind == STEP_K8S_ROLLING || kind == STEP_K8S_ROLLBACK;
	/* The Kubernetes helper's exit status is lockstep's own business: its
	 * reason, from its result file, says what happened. */
	char *reason = helper ? step_k8s_reason(w) : NULL;
	enum step_state state;
	bool has_code = st->spawned && !st->term_signal && !helper;
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
	step_emit_finished(w, state, has_code, st->exit_code);
	struct proc_status copy = *st;
	proc_free(p);
	r->nprocs--;
	spawn_queued(r);
	if (state == STEP_SUCCEEDED)
		wf_step_done(w);
	else if (reason && state == STEP_FAILED)
		wf_step_failed_detail(w, reason);
	else
		wf_step_failed(w, &copy);
	free(reason);
	run_pump(r);
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
	/* Taken as a whole: spawning can queue nothing new here. */
	size_t n = r->commit_wait.n;
	size_t *ws = xmalloc(n * sizeof(*ws));
	memcpy(ws, r->commit_wait.v, n * sizeof(*ws));
	r->commit_wait.n = 0;
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

void step_run_cancel_pending(struct wf_run *w)
{
	w->spawn_pending = false;
}

/*
 * Every running step holds four file descriptors (two pipes, a pidfd, its log),
 * and a process may have only so many: past the limit a step waits for a
 * slot instead of failing with "too many open files". Its step.started is
 * already out and its timeout already runs: the wait is part of the step.
 */
void step_run_begin(struct wf_run *w)
{
	struct run *r = w->run;
	if (r->opts.defer_spawns) {
		/* The process starts once its step.started is recorded. */
		w->spawn_pending = true;
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

static void spawn_now(struct wf_run *w)
{
	struct run *r = w->run;
	const struct plan_step *ps = wf_cur_step(w);
	r->nprocs++;
	r->nspawning++;
	log_open(w, ps, false);
	char **env = build_env(w, ps);
	struct buf dir = BUF_INIT;
	if (ps->dir && ps->dir[0] == '/')
		buf_adds(&dir, ps->dir);
	else if (ps->dir)
		buf_addf(&dir, "%s/%s", r->opts.base_dir, ps->dir);
	else
		buf_adds(&dir, r->opts.base_dir);
	char *script;
	if (ps->src->kind == STEP_RUN) {
		script = subst_run_id(ps->run, r->opts.run_id);
	} else {
		struct buf k = BUF_INIT;
		step_k8s_command(w, &k);
		script = buf_detach(&k, NULL);
	}
	char *cwd = subst_run_id(dir.s, r->opts.run_id);
	struct proc_opts po = {
		.shell = ps->src->shell == SHELL_BASH ? "/bin/bash" : "/bin/sh",
		.script = script ? script : ps->run,
		.cwd = cwd ? cwd : dir.s,
		.env = env,
		.kill_grace_ms = r->opts.kill_grace_ms,
	};
	struct proc_cbs cbs = { proc_output_cb, proc_exit_cb, proc_started_cb, w };
	/* Spawn failures come back through proc_exit_cb. */
	proc_spawn(r->loop, &po, &cbs, &w->proc);
	free(script);
	free(cwd);
	buf_release(&dir);
	free_env(env);
}
