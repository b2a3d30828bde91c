/*
 * exec_local: the executor whose processes are children of this process
 * (engine/proc.c), their output masked into their logs (steplog.h). The
 * supervisor runs its run's steps with it; the engine's unit tests too.
 *
 * A process's masked output reaches `output` as proc hands it over; at
 * its exit, what its mask streams held back comes first, so that every
 * byte the main process wrote precedes `exit`; at `closed` (its pipes
 * are done) the log is flushed again and closed.
 */
#include "exec/exec.h"

#include <errno.h>
#include <stdlib.h>

#include "base/xalloc.h"
#include "exec/steplog.h"

struct local {
	struct executor base;
	uv_loop_t *loop;
	const struct mask *mask;
	int live;                  /* procs not gone */
	bool closing;              /* exec_close was called */
};

struct lproc {
	struct xproc base;
	struct proc *p;
	struct xcbs cbs;
	struct steplog log;
	struct buf shown;          /* scratch for masked output */
};

static void local_free_if_done(struct local *l)
{
	if (l->closing && !l->live)
		free(l);
}

static void show(struct lproc *lp, enum proc_stream s)
{
	if (lp->shown.len && lp->cbs.output)
		lp->cbs.output(&lp->base, s, lp->shown.s, lp->shown.len, lp->cbs.arg);
	buf_reset(&lp->shown);
}

static void flush_streams(struct lproc *lp)
{
	steplog_flush(&lp->log, PROC_STDOUT, &lp->shown);
	show(lp, PROC_STDOUT);
	steplog_flush(&lp->log, PROC_STDERR, &lp->shown);
	show(lp, PROC_STDERR);
}

static void on_output(struct proc *p, enum proc_stream s, const char *data, size_t len, void *arg)
{
	struct lproc *lp = arg;
	(void)p;
	steplog_feed(&lp->log, s, data, len, &lp->shown);
	show(lp, s);
}

static void on_exit_(struct proc *p, const struct proc_status *st, void *arg)
{
	struct lproc *lp = arg;
	(void)p;
	flush_streams(lp);
	lp->cbs.exit(&lp->base, st, lp->cbs.arg);
}

static void on_started(struct proc *p, pid_t pid, uint64_t pid_start, void *arg)
{
	struct lproc *lp = arg;
	(void)p;
	if (lp->cbs.started)
		lp->cbs.started(&lp->base, pid, pid_start, lp->cbs.arg);
}

static void on_closed(struct proc *p, void *arg)
{
	struct lproc *lp = arg;
	(void)p;
	flush_streams(lp);
	steplog_close(&lp->log);
	if (lp->cbs.closed)
		lp->cbs.closed(&lp->base, lp->cbs.arg);
}

static void on_gone(struct proc *p, void *arg)
{
	struct lproc *lp = arg;
	(void)p;
	lp->cbs.gone(&lp->base, lp->cbs.arg);
}

static void on_warning(const char *message, void *arg)
{
	struct lproc *lp = arg;
	if (lp->cbs.warning)
		lp->cbs.warning(&lp->base, message, lp->cbs.arg);
}

static int local_spawn(struct executor *e, const struct xspawn *s, const struct xcbs *cbs,
		       struct xproc **out)
{
	struct local *l = (struct local *)e;
	if (!s->script || !cbs->exit || !cbs->gone)
		return -EINVAL;
	struct lproc *lp = xcalloc(1, sizeof(*lp));
	lp->base.e = e;
	lp->cbs = *cbs;
	lp->shown = (struct buf)BUF_INIT;
	/* Its output is logged from the first byte: the file opens first. */
	steplog_open(&lp->log, s->log_path, s->log_append, s->max_log_bytes, l->mask, on_warning, lp);
	struct proc_opts po = { .shell = s->shell, .script = s->script, .cwd = s->cwd, .env = s->env,
				.kill_grace_ms = s->kill_grace_ms };
	struct proc_cbs pc = { on_output, on_exit_, on_started, on_closed, on_gone, lp };
	int rc = proc_spawn(l->loop, &po, &pc, &lp->p);
	if (rc < 0) {
		steplog_close(&lp->log);
		buf_release(&lp->shown);
		free(lp);
		return rc;
	}
	l->live++;
	*out = &lp->base;
	return 0;
}

static void local_kill(struct xproc *x, bool now)
{
	struct lproc *lp = (struct lproc *)x;
	if (now)
		proc_kill_now(lp->p);
	else
		proc_kill(lp->p);
}

static pid_t local_pid(const struct xproc *x)
{
	return proc_pid(((const struct lproc *)x)->p);
}

static void local_free(struct xproc *x)
{
	struct lproc *lp = (struct lproc *)x;
	struct local *l = (struct local *)x->e;
	proc_free(lp->p);
	steplog_close(&lp->log);
	buf_release(&lp->shown);
	free(lp);
	l->live--;
	local_free_if_done(l);
}

static void local_kill_leftovers(struct executor *e, void (*done)(int killed, void *arg), void *arg)
{
	(void)e;
	int n = proc_kill_descendants();
	done(n, arg);
}

static void local_close(struct executor *e)
{
	struct local *l = (struct local *)e;
	l->closing = true;
	local_free_if_done(l);
}

/* Its processes die with this one: there is never anything to adopt. */
static int local_adopt(struct executor *e, const char *key, const struct xcbs *cbs, struct xproc **out)
{
	(void)e, (void)key, (void)cbs, (void)out;
	return -ENOENT;
}

static const struct exec_ops local_ops = {
	local_spawn, local_adopt, local_kill, local_pid, local_free, local_kill_leftovers, local_close,
};

struct executor *exec_local_new(uv_loop_t *loop, const struct mask *mask)
{
	struct local *l = xcalloc(1, sizeof(*l));
	l->base.ops = &local_ops;
	l->loop = loop;
	l->mask = mask;
	return &l->base;
}

/* ---- the interface, for every executor ---- */

int exec_spawn(struct executor *e, const struct xspawn *s, const struct xcbs *cbs, struct xproc **out)
{
	return e->ops->spawn(e, s, cbs, out);
}

int exec_adopt(struct executor *e, const char *key, const struct xcbs *cbs, struct xproc **out)
{
	return e->ops->adopt(e, key, cbs, out);
}

void exec_kill(struct xproc *x)
{
	x->e->ops->kill(x, false);
}

void exec_kill_now(struct xproc *x)
{
	x->e->ops->kill(x, true);
}

pid_t exec_pid(const struct xproc *x)
{
	return x->e->ops->pid(x);
}

void exec_free(struct xproc *x)
{
	x->e->ops->free(x);
}

void exec_kill_leftovers(struct executor *e, void (*done)(int killed, void *arg), void *arg)
{
	e->ops->kill_leftovers(e, done, arg);
}

void exec_close(struct executor *e)
{
	e->ops->close(e);
}
