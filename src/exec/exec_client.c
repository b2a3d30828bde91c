/*
 * exec_client: the supervised executor, the engine's side of a run's
 * supervisor (exec_supervise.c; the messages are in exec_proto.h).
 *
 * Every process the engine spawns or adopts is a record here, under its
 * key; what the supervisor (or, for a run taken over, its journal) says
 * of it is kept in the record, and told to the engine's callbacks once:
 * `told` says what they have heard. An adopted process is told what
 * happened to it so far from the next loop iteration on (a zero timer,
 * which runs before any more of the socket is read), then what happens
 * next, as for a process spawned here.
 *
 * When the supervisor dies under a live engine (the socket closes
 * without BYE), its processes are SIGKILLed by their groups (they were
 * re-parented to lockstep, its subreaper) and each that had not ended
 * ends as `interrupted`, as after a reboot; so does any later spawn.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/fsio.h"
#include "base/map.h"
#include "base/pidinfo.h"
#include "base/xalloc.h"
#include "exec/exec.h"
#include "exec/exec_proto.h"
#include "exec/supervise.h"

extern char **environ;

enum told { TOLD_STARTED = 1, TOLD_EXIT = 2, TOLD_CLOSED = 4, TOLD_GONE = 8 };

struct client;

struct crec {
	struct xproc base;         /* first member */
	struct client *c;
	char *key;
	size_t idx;                /* in client.recs */
	struct xcbs cbs;
	bool bound;                /* spawned or adopted: `cbs` are the engine's */
	bool known;                /* the supervisor or the journal knows it */
	bool reported;             /* the live supervisor knows it (PROC) */
	bool started, exited, closed, gone;
	pid_t pid;
	uint64_t pid_start;
	struct proc_status *st;    /* how it ended, once it did (heap: most records never need it) */
	unsigned told;
};

struct client {
	struct executor base;      /* first member */
	uv_loop_t *loop;
	uv_pipe_t pipe;
	bool pipe_open;            /* `pipe` is initialised and not closed */
	bool lost;                 /* the supervisor is gone (or never came) */
	bool attached;             /* to a supervisor that outlived its engine: it knows all it started */
	bool journal_complete;     /* the journal ends with `end`: it has all its supervisors started */
	bool closing;              /* exec_close: BYE sent, waiting for the end */
	bool timers_closing;
	struct buf in;
	struct buf out;
	struct map keys;           /* key -> index in recs */
	VEC(struct crec *) recs;
	uv_timer_t tell;           /* tells adopted and failed records on the next iteration */
	uv_timer_t bye_timer;      /* exec_close's bound on the supervisor's exit */
	int open_handles;
	void (*leftovers_done)(int killed, void *arg);
	void *leftovers_arg;
	char cwd[PATH_MAX];        /* relative working directories are made absolute with it */
};

static const struct exec_ops client_ops;

/* ---- records ---- */

static struct crec *rec_find(struct client *c, const char *key)
{
	size_t i;
	return map_find(&c->keys, key, &i) ? c->recs.v[i] : NULL;
}

static struct crec *rec_get(struct client *c, const char *key)
{
	struct crec *r = rec_find(c, key);
	if (r)
		return r;
	r = xcalloc(1, sizeof(*r));
	r->base.e = &c->base;
	r->c = c;
	r->key = xstrdup(key);
	r->idx = c->recs.n;
	map_add(&c->keys, r->key, r->idx, NULL);
	*VEC_PUSH(c->recs) = r;
	return r;
}

/* Where `r`'s status goes. */
static struct proc_status *rec_status(struct crec *r)
{
	if (!r->st)
		r->st = xcalloc(1, sizeof(*r->st));
	return r->st;
}

/* Forgets `r` (the engine freed it: it is gone). */
static void rec_free(struct client *c, struct crec *r)
{
	struct crec *last = c->recs.v[--c->recs.n];
	map_del(&c->keys, r->key);
	if (last != r) {
		c->recs.v[r->idx] = last;
		last->idx = r->idx;
		map_del(&c->keys, last->key);
		map_add(&c->keys, last->key, last->idx, NULL);
	}
	free(r->st);
	free(r->key);
	free(r);
}

/* Tells the engine what it has not heard yet of `r`, in order. */
static void tell(struct crec *r)
{
	if (!r->bound)
		return;
	if (r->started && !(r->told & TOLD_STARTED)) {
		r->told |= TOLD_STARTED;
		if (r->cbs.started)
			r->cbs.started(&r->base, r->pid, r->pid_start, r->cbs.arg);
	}
	if (r->exited && !(r->told & TOLD_EXIT)) {
		r->told |= TOLD_EXIT;
		r->cbs.exit(&r->base, r->st, r->cbs.arg);
	}
	if (r->closed && (r->told & TOLD_EXIT) && !(r->told & TOLD_CLOSED)) {
		r->told |= TOLD_CLOSED;
		if (r->cbs.closed)
			r->cbs.closed(&r->base, r->cbs.arg);
	}
	if (r->gone && (r->told & TOLD_CLOSED) && !(r->told & TOLD_GONE)) {
		r->told |= TOLD_GONE;
		r->cbs.gone(&r->base, r->cbs.arg); /* may free it */
	}
}

static void tell_cb(uv_timer_t *t)
{
	struct client *c = t->data;
	/* Backwards: a record freed by its `gone` takes the last one's place,
	 * which was told already; one added meanwhile is told next time. */
	for (size_t i = c->recs.n; i > 0; i--)
		if (i <= c->recs.n)
			tell(c->recs.v[i - 1]);
}

static void tell_soon(struct client *c)
{
	uv_timer_start(&c->tell, tell_cb, 0, 0);
}

/* `r` ends as interrupted: its supervisor is gone, with what it knew. */
static void interrupt(struct crec *r, const char *why)
{
	if (!r->exited) {
		r->exited = true;
		*rec_status(r) = (struct proc_status){ .spawned = false, .exit_code = -1 };
		snprintf(r->st->error, sizeof(r->st->error), "%s", why);
	}
	r->closed = r->gone = true;
}

/* ---- sending ---- */

static void lose(struct client *c);

static void send_out(struct client *c)
{
	if (c->lost || !c->pipe_open) {
		buf_reset(&c->out);
		return;
	}
	xproto_end(&c->out, 0);
	size_t len = c->out.len;
	if (xproto_send((uv_stream_t *)&c->pipe, buf_detach(&c->out, NULL), len) < 0)
		lose(c);
}

static void send_hello(struct client *c, const struct kvlist *secrets)
{
	buf_reset(&c->out);
	xproto_begin(&c->out, XM_HELLO);
	xproto_u64(&c->out, XPROTO_VERSION);
	size_t n = secrets ? secrets->n : 0;
	xproto_u64(&c->out, n);
	for (size_t i = 0; i < n; i++)
		xproto_str(&c->out, secrets->v[i].val);
}

/* ---- receiving ---- */

static int on_frame(enum xmsg type, struct xreader *rd, void *arg)
{
	struct client *c = arg;
	if (type == XM_READY)
		return 0;
	if (type == XM_KILLED) {
		uint64_t n = xproto_get_u64(rd);
		void (*done)(int, void *) = c->leftovers_done;
		c->leftovers_done = NULL;
		if (done)
			done((int)n, c->leftovers_arg);
		return rd->bad ? -1 : 0;
	}
	char *key = xproto_get_str(rd);
	if (!key)
		return -1;
	struct crec *r = rec_get(c, key);
	free(key);
	r->known = true;
	switch (type) {
	case XM_PROC: {
		r->reported = true;
		r->pid = (pid_t)xproto_get_u64(rd);
		r->pid_start = xproto_get_u64(rd);
		uint64_t f = xproto_get_u64(rd);
		xproto_get_status(rd, rec_status(r));
		r->started = f & 1;
		r->exited = f & 2;
		r->closed = f & 4;
		r->gone = f & 8;
		return rd->bad ? -1 : 0;
	}
	case XM_STARTED:
		r->pid = (pid_t)xproto_get_u64(rd);
		r->pid_start = xproto_get_u64(rd);
		r->started = true;
		break;
	case XM_OUTPUT: {
		enum proc_stream s = xproto_get_u64(rd) == PROC_STDERR ? PROC_STDERR : PROC_STDOUT;
		size_t len;
		const char *data = xproto_get_bytes(rd, &len);
		if (!data)
			return -1;
		/* Output before the engine heard of the start (adopted) waits for nothing: it is in the log. */
		if (r->bound && r->cbs.output && len)
			r->cbs.output(&r->base, s, data, len, r->cbs.arg);
		return 0;
	}
	case XM_EXIT:
		xproto_get_status(rd, rec_status(r));
		r->exited = true;
		break;
	case XM_CLOSED:
		r->closed = true;
		break;
	case XM_GONE:
		r->gone = true;
		break;
	case XM_WARNING: {
		char *msg = xproto_get_str(rd);
		if (msg && r->bound && r->cbs.warning)
			r->cbs.warning(&r->base, msg, r->cbs.arg);
		free(msg);
		return msg ? 0 : -1;
	}
	default:
		return -1;
	}
	if (rd->bad)
		return -1;
	tell(r);
	return 0;
}

static void pipe_closed_cb(uv_handle_t *h);

/* The supervisor is gone: its processes go too, and end interrupted. */
static void lose(struct client *c)
{
	if (c->lost)
		return;
	c->lost = true;
	if (c->pipe_open) {
		c->pipe_open = false;
		uv_close((uv_handle_t *)&c->pipe, pipe_closed_cb);
	}
	if (c->closing)
		return;
	for (size_t i = 0; i < c->recs.n; i++) {
		struct crec *r = c->recs.v[i];
		if (r->gone)
			continue;
		/* Re-parented to lockstep with the supervisor dead: ours to stop. */
		if (r->started && r->pid > 0 && pid_start_time(r->pid) == r->pid_start)
			kill(-r->pid, SIGKILL);
		interrupt(r, "interrupted (the run's supervisor died)");
	}
	if (c->leftovers_done) {
		void (*done)(int, void *) = c->leftovers_done;
		c->leftovers_done = NULL;
		done(0, c->leftovers_arg);
	}
	tell_soon(c);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct client *c = h->data;
	(void)hint;
	buf_grow(&c->in, 65536);
	*b = uv_buf_init(c->in.s + c->in.len, (unsigned)(c->in.cap - c->in.len - 1));
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct client *c = st->data;
	(void)b;
	if (n < 0) {
		lose(c);
		return;
	}
	c->in.len += (size_t)n;
	c->in.s[c->in.len] = '\0';
	if (xproto_split(&c->in, on_frame, c) < 0)
		lose(c);
}

/* ---- the executor ---- */

static void client_free_if_done(struct client *c);

static void handle_closed_cb(uv_handle_t *h)
{
	struct client *c = h->data;
	c->open_handles--;
	client_free_if_done(c);
}

static void pipe_closed_cb(uv_handle_t *h)
{
	handle_closed_cb(h);
}

static void client_free_if_done(struct client *c)
{
	if (!c->closing || c->pipe_open)
		return;
	if (!c->timers_closing) {
		c->timers_closing = true;
		uv_close((uv_handle_t *)&c->tell, handle_closed_cb);
		uv_close((uv_handle_t *)&c->bye_timer, handle_closed_cb);
	}
	if (c->open_handles)
		return;
	for (size_t i = 0; i < c->recs.n; i++) {
		free(c->recs.v[i]->st);
		free(c->recs.v[i]->key);
		free(c->recs.v[i]);
	}
	VEC_FREE(c->recs);
	map_release(&c->keys);
	buf_release(&c->in);
	buf_release(&c->out);
	free(c);
}

static int client_spawn(struct executor *e, const struct xspawn *s, const struct xcbs *cbs,
			struct xproc **out)
{
	struct client *c = (struct client *)e;
	if (!s->key || !s->script || !cbs->exit || !cbs->gone)
		return -EINVAL;
	struct crec *r = rec_get(c, s->key);
	if (r->bound)
		return -EEXIST;
	r->bound = true;
	r->cbs = *cbs;
	*out = &r->base;
	if (c->lost) {
		r->exited = r->closed = r->gone = true;
		*rec_status(r) = (struct proc_status){ .spawned = false, .exit_code = -1 };
		snprintf(r->st->error, sizeof(r->st->error), "interrupted (the run's supervisor died)");
		tell_soon(c);
		return 0;
	}
	struct buf *b = &c->out;
	buf_reset(b);
	xproto_begin(b, XM_SPAWN);
	xproto_str(b, s->key);
	xproto_str(b, s->shell ? s->shell : "/bin/sh");
	xproto_str(b, s->script);
	struct buf cwd = BUF_INIT;
	if (s->cwd && s->cwd[0] != '/')
		buf_addf(&cwd, "%s/%s", c->cwd, s->cwd);
	else
		buf_adds(&cwd, s->cwd ? s->cwd : c->cwd);
	xproto_str(b, cwd.s);
	buf_release(&cwd);
	size_t nenv = 0;
	char *const *env = s->env ? s->env : environ;
	while (env[nenv])
		nenv++;
	xproto_u64(b, nenv);
	for (size_t i = 0; i < nenv; i++)
		xproto_str(b, env[i]);
	xproto_u64(b, s->kill_grace_ms);
	xproto_str(b, s->log_path);
	xproto_u64(b, s->log_append);
	xproto_u64(b, s->max_log_bytes);
	xproto_u64(b, s->deadline_ms);
	send_out(c);
	return 0;
}

static int client_adopt(struct executor *e, const char *key, const struct xcbs *cbs, struct xproc **out)
{
	struct client *c = (struct client *)e;
	struct crec *r = rec_find(c, key);
	/* Unknown to the supervisor (and to the journal of those before it):
	 * the engine died before it asked for the process. */
	if (!r)
		return (c->attached && !c->lost) || c->journal_complete ? -ESRCH : -ENOENT;
	/* Known to have started but with no end and nobody left to say it:
	 * it was interrupted. */
	if (!r || !r->known || r->bound || (!r->exited && c->lost))
		return -ENOENT;
	r->bound = true;
	r->cbs = *cbs;
	*out = &r->base;
	tell_soon(c);
	return 0;
}

static void client_kill(struct xproc *x, bool now)
{
	struct crec *r = (struct crec *)x;
	struct client *c = r->c;
	if (r->gone || c->lost)
		return;
	buf_reset(&c->out);
	xproto_begin(&c->out, XM_KILL);
	xproto_str(&c->out, r->key);
	xproto_u64(&c->out, now);
	send_out(c);
}

static pid_t client_pid(const struct xproc *x)
{
	const struct crec *r = (const struct crec *)x;
	return r->started ? r->pid : 0;
}

static void client_free(struct xproc *x)
{
	struct crec *r = (struct crec *)x;
	rec_free(r->c, r);
}

static void client_kill_leftovers(struct executor *e, void (*done)(int killed, void *arg), void *arg)
{
	struct client *c = (struct client *)e;
	if (c->lost) {
		done(0, arg);
		return;
	}
	c->leftovers_done = done;
	c->leftovers_arg = arg;
	buf_reset(&c->out);
	xproto_begin(&c->out, XM_LEFTOVERS);
	send_out(c);
}

static void bye_timeout_cb(uv_timer_t *t)
{
	struct client *c = t->data;
	/* It does not exit: the end of the run (proc_kill_descendants) kills it. */
	lose(c);
	client_free_if_done(c);
}

static void client_close(struct executor *e)
{
	struct client *c = (struct client *)e;
	c->closing = true;
	uv_timer_stop(&c->tell);
	if (c->lost || !c->pipe_open) {
		client_free_if_done(c);
		return;
	}
	buf_reset(&c->out);
	xproto_begin(&c->out, XM_BYE);
	send_out(c);
	/* It exits once its processes are gone (they are, at the end of a run). */
	uv_timer_start(&c->bye_timer, bye_timeout_cb, SUPERVISE_WAIT_MS, 0);
	uv_unref((uv_handle_t *)&c->bye_timer);
}

static const struct exec_ops client_ops = {
	client_spawn, client_adopt, client_kill, client_pid, client_free, client_kill_leftovers, client_close,
};

static struct client *client_new(uv_loop_t *loop)
{
	struct client *c = xcalloc(1, sizeof(*c));
	c->base.ops = &client_ops;
	c->loop = loop;
	c->in = (struct buf)BUF_INIT;
	c->out = (struct buf)BUF_INIT;
	c->keys = (struct map)MAP_INIT;
	if (!getcwd(c->cwd, sizeof(c->cwd)))
		snprintf(c->cwd, sizeof(c->cwd), "/");
	uv_timer_init(loop, &c->tell);
	uv_timer_init(loop, &c->bye_timer);
	c->tell.data = c->bye_timer.data = c;
	c->open_handles = 2;
	return c;
}

/* Hands the connected socket `fd` to the loop. */
static int client_open(struct client *c, int fd)
{
	uv_pipe_init(c->loop, &c->pipe, 0);
	c->pipe.data = c;
	c->open_handles++;
	c->pipe_open = true;
	if (uv_pipe_open(&c->pipe, fd) < 0) {
		close(fd);
		lose(c);
		return -1;
	}
	uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb);
	return 0;
}

static void client_abandon(struct client *c)
{
	c->closing = true;
	c->lost = true;
	if (c->pipe_open) {
		c->pipe_open = false;
		uv_close((uv_handle_t *)&c->pipe, pipe_closed_cb);
	}
	client_free_if_done(c);
}

/* Starts `self_exe __supervise DIR` with `fd` as its descriptor 3. */
static int start_supervisor(const char *dir, const char *self_exe, int fd, struct buf *err)
{
	char exe[PATH_MAX];
	if (!self_exe) {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0) {
			buf_addf(err, "cannot find lockstep's own executable: %s", strerror(errno));
			return -1;
		}
		exe[n] = '\0';
		self_exe = exe;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fd, SUPERVISE_FD);
	char *argv[] = { (char *)self_exe, (char *)"__supervise", (char *)dir, NULL };
	pid_t pid;
	int rc = posix_spawn(&pid, self_exe, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		buf_addf(err, "cannot start the run's supervisor (%s __supervise): %s", self_exe, strerror(rc));
		return -1;
	}
	return 0;
}

static struct executor *start_in(struct client *c, const char *dir, const char *self_exe,
				 const struct kvlist *secrets, struct buf *err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		buf_addf(err, "cannot make a socket for the run's supervisor: %s", strerror(errno));
		client_abandon(c);
		return NULL;
	}
	int rc = start_supervisor(dir, self_exe, sv[1], err);
	close(sv[1]);
	if (rc < 0) {
		close(sv[0]);
		client_abandon(c);
		return NULL;
	}
	client_open(c, sv[0]);
	send_hello(c, secrets);
	send_out(c);
	return &c->base;
}

struct executor *exec_supervised_start(uv_loop_t *loop, const char *dir, const char *self_exe,
				       const struct kvlist *secrets, struct buf *err)
{
	if (dir[0] != '/') {
		buf_addf(err, "the supervisor's directory must be absolute: %s", dir);
		return NULL;
	}
	if (fsio_mkdirs(dir, err) < 0)
		return NULL;
	chmod(dir, 0700);
	return start_in(client_new(loop), dir, self_exe, secrets, err);
}

/* ---- taking over ---- */

/* One line of the journal (exec_supervise.c) into the records. */
static void journal_line(struct client *c, char *line)
{
	char *f[10];
	size_t n = 0;
	for (char *p = line; n < 10;) {
		f[n++] = p;
		p = strchr(p, '\t');
		if (!p)
			break;
		*p++ = '\0';
	}
	if (n < 2)
		return;
	/* Complete up to here only if the last supervisor said `end`. */
	c->journal_complete = !strcmp(f[0], "end");
	if (!strcmp(f[0], "begin") || !strcmp(f[0], "end"))
		return;
	struct crec *r = rec_get(c, f[1]);
	r->known = true;
	long long v[6] = { 0 };
	if (!strcmp(f[0], "started") && n >= 4) {
		r->started = true;
		r->pid = (pid_t)strtol(f[2], NULL, 10);
		r->pid_start = strtoull(f[3], NULL, 10);
	} else if (!strcmp(f[0], "exit") && n >= 9) {
		/* The journal is lockstep's own: its numbers are well formed. */
		for (size_t i = 0; i < 6; i++)
			v[i] = strtoll(f[2 + i], NULL, 10);
		r->exited = true;
		*rec_status(r) = (struct proc_status){ .spawned = v[0] != 0, .exit_code = (int)v[1],
					      .term_signal = (int)v[2], .killed = (v[3] & 1) != 0,
					      .timed_out = (v[3] & 2) != 0,
					      .error_code = (int)v[4], .duration_ms = (uint64_t)v[5] };
		snprintf(r->st->error, sizeof(r->st->error), "%s", f[8]);
	} else if (!strcmp(f[0], "gone")) {
		r->closed = r->gone = true;
	}
}

static void read_journal(struct client *c, const char *dir)
{
	struct buf path = BUF_INIT;
	buf_addf(&path, "%s/journal", dir);
	char *text = NULL;
	size_t len = 0;
	if (fsio_read_file(path.s, SIZE_MAX, &text, &len) == 0) {
		char *p = text;
		while (*p) {
			char *nl = strchr(p, '\n');
			if (!nl)
				break; /* a half-written last line: its process died with the machine */
			*nl = '\0';
			journal_line(c, p);
			p = nl + 1;
		}
	}
	buf_release(&path);
	free(text);
}

/* Connects to the supervisor's socket in `dir`: a descriptor, or -1. */
static int connect_to(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/sock", dfd);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		fd = -1;
	}
	close(dfd);
	return fd;
}

bool supervise_alive(const char *dir)
{
	int fd = connect_to(dir);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static int ready_frame(enum xmsg type, struct xreader *rd, void *arg)
{
	bool *ready = ((void **)arg)[1];
	if (type == XM_READY)
		*ready = true;
	return on_frame(type, rd, ((void **)arg)[0]);
}

/*
 * Says HELLO on `fd` and reads what the supervisor knows until READY,
 * blocking, at most SUPERVISE_WAIT_MS. 0, or -1 when it does not answer.
 */
static int attach(struct client *c, int fd, const struct kvlist *secrets)
{
	send_hello(c, secrets);
	xproto_end(&c->out, 0);
	for (size_t at = 0; at < c->out.len;) {
		ssize_t n = write(fd, c->out.s + at, c->out.len - at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		at += (size_t)n;
	}
	buf_reset(&c->out);
	bool ready = false;
	void *args[2] = { c, &ready };
	uint64_t until = clock_mono_ms() + SUPERVISE_WAIT_MS;
	while (!ready) {
		uint64_t now = clock_mono_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (now >= until || poll(&p, 1, (int)(until - now)) <= 0)
			return -1;
		buf_grow(&c->in, 65536);
		ssize_t n = read(fd, c->in.s + c->in.len, c->in.cap - c->in.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c->in.len += (size_t)n;
		c->in.s[c->in.len] = '\0';
		if (xproto_split(&c->in, ready_frame, args) < 0)
			return -1;
	}
	return 0;
}

/* SIGTERM to the supervisor in `dir` (it kills its processes and exits);
 * waits for it at most SUPERVISE_WAIT_MS. */
static void stop_supervisor(const char *dir)
{
	struct buf path = BUF_INIT, cmd = BUF_INIT;
	buf_addf(&path, "%s/pid", dir);
	char *text = NULL;
	size_t len = 0;
	pid_t pid = 0;
	if (fsio_read_file(path.s, 64, &text, &len) == 0)
		pid = (pid_t)strtol(text, NULL, 10);
	free(text);
	buf_reset(&path);
	buf_addf(&path, "/proc/%d/cmdline", (int)pid);
	text = NULL;
	/* Only a supervisor: the pid may be someone else's by now. */
	if (pid > 1 && fsio_read_file(path.s, 1 << 16, &text, &len) == 0 && len > 12 &&
	    memmem(text, len, "__supervise", 11)) {
		kill(pid, SIGTERM);
		uint64_t until = clock_mono_ms() + SUPERVISE_WAIT_MS;
		while (kill(pid, 0) == 0 && clock_mono_ms() < until)
			poll(NULL, 0, 20);
	}
	free(text);
	buf_release(&path);
	buf_release(&cmd);
}

struct executor *exec_supervised_resume(uv_loop_t *loop, const char *dir, const char *self_exe,
					const struct kvlist *secrets, bool *attached, struct buf *err)
{
	*attached = false;
	struct client *c = client_new(loop);
	read_journal(c, dir);
	int fd = connect_to(dir);
	if (fd >= 0 && attach(c, fd, secrets) == 0) {
		*attached = true;
		c->attached = true;
		/* The supervisor forgets a process once it is gone, after its
		 * journal has it: what went since the first reading is there. */
		read_journal(c, dir);
		/* Started by an earlier supervisor that died without its end:
		 * lost with it. */
		for (size_t i = 0; i < c->recs.n; i++)
			if (!c->recs.v[i]->reported && !c->recs.v[i]->exited)
				c->recs.v[i]->known = false;
		client_open(c, fd);
		return &c->base;
	}
	if (fd >= 0) {
		/* Alive but deaf to this lockstep (another version): it is
		 * stopped, its steps with it, and they are lost. */
		close(fd);
		stop_supervisor(dir);
	}
	/* It may have written its last lines and exited since the journal
	 * was read: what it wrote is all there now. */
	read_journal(c, dir);
	/* Nobody is left to finish what the journal shows started: those
	 * were interrupted. A new supervisor runs what comes next. */
	if (fsio_mkdirs(dir, err) < 0) {
		client_abandon(c);
		return NULL;
	}
	chmod(dir, 0700);
	for (size_t i = 0; i < c->recs.n; i++)
		if (!c->recs.v[i]->exited)
			c->recs.v[i]->known = false;
	return start_in(c, dir, self_exe, secrets, err);
}
