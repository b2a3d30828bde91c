/*
 * exec_supervise: a run's supervisor, `lockstep __supervise DIR` (a
 * hidden command; docs/design.md, "Executors and the supervisor").
 *
 * It runs the run's step processes with the local executor (they are its
 * children, and it is the subreaper of what they leave behind), writes
 * their logs, and tells the engine on the other end of its socket what
 * happens to them (exec_proto.h). It starts in a session of its own, so
 * that neither the terminal's signals nor the death of `lockstep run`
 * reach it. Its directory, STATE/supervise/RUN (0700), holds:
 *
 *   pid      its pid
 *   sock     where a later engine (`lockstep resume`, `abort`) attaches
 *   journal  a line per process event: started, exit (with its status),
 *            gone; written before the engine hears of it, so that a
 *            resume finds every result even when this process is gone;
 *            `begin` when a supervisor starts, `end` when it exits by
 *            itself (then the journal holds all it ever started)
 *
 * Life cycle:
 *
 *   start ─► SERVING (an engine is attached) ─engine goes─► ORPHANED ─┐
 *               ▲  │                                                   │
 *               │  └─BYE─► ENDING ──every process gone──► exit         │
 *               └──────────── a resume attaches ◄──────────────────────┤
 *                                    every process gone (all in the ──►┘ exit
 *                                    journal: nothing is lost)
 *
 * After BYE (the run is over) it removes its directory when it exits;
 * orphaned, it leaves the journal for the resume.
 *
 * Output for the engine goes through the socket as it comes; when the
 * engine does not keep up (more than SUP_QUEUE_MAX bytes queued), output
 * is not sent but only logged, and the engine is told how much it missed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/map.h"
#include "base/mask.h"
#include "base/xalloc.h"
#include "engine/run.h"
#include "exec/exec.h"
#include "exec/exec_proto.h"
#include "exec/supervise.h"

#define SUP_QUEUE_MAX (16u << 20)

struct sup;

/* What the supervisor knows of one process, until it is gone (then the
 * journal has all of it, for a resume). */
struct srec {
	struct sup *s;
	char *key;
	size_t idx;                /* in sup.recs */
	struct xproc *x;           /* until gone */
	pid_t pid;
	uint64_t pid_start;
	bool started, exited, closed, gone;
	struct proc_status st;
	/* Out of descriptors while other processes hold some: its SPAWN
	 * fields, to start it again when one of them lets go. */
	char *retry;
	size_t retry_len;
	bool waits;                /* its start ran out of descriptors: in sup.waiting */
	uv_timer_t *deadline;      /* the step's deadline (SPAWN), until it exits */
	bool timed_out;            /* the deadline stopped it */
};

struct conn {
	uv_pipe_t pipe;            /* first member */
	struct sup *s;
	struct buf in;
	bool dead;                 /* closing: nothing more is sent or read */
};

struct sup {
	uv_loop_t *loop;
	char *dir;
	int dirfd;
	int journal;
	struct executor *ex;       /* made at the first HELLO (it brings the mask) */
	struct mask *mask;
	uv_pipe_t listener;
	struct conn *conn;         /* the attached engine, or NULL */
	VEC(struct conn *) pending; /* accepted, not attached: until their HELLO */
	struct map keys;           /* key -> index in recs (of the processes not gone) */
	VEC(struct srec *) recs;
	size_t live;               /* processes not gone */
	VEC(struct srec *) waiting; /* out of descriptors: spawned again at the next close */
	bool bye;
	bool done;
	uint64_t dropped;          /* output bytes the engine did not get */
	struct buf scratch;
	uv_signal_t sigterm;
};

static void rec_free(struct sup *s, struct srec *r);

/* ---- the journal ---- */

static void journal(struct sup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void journal(struct sup *s, const char *fmt, ...)
{
	if (s->journal < 0)
		return;
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	/* One write per line (O_APPEND): a reader never sees half of one
	 * unless the disk is full. */
	ssize_t n = write(s->journal, b.s, b.len);
	(void)n;
	buf_release(&b);
}

/* ---- sending ---- */

static void conn_close(struct conn *c);

static void unpend(struct sup *s, struct conn *c)
{
	for (size_t i = 0; i < s->pending.n; i++)
		if (s->pending.v[i] == c)
			s->pending.v[i] = s->pending.v[--s->pending.n];
}

/* Sends the frame in `b` (from `start`) to the engine, if one is attached. */
static void send_frame(struct sup *s, struct buf *b, size_t start)
{
	xproto_end(b, start);
	struct conn *c = s->conn;
	if (!c || c->dead)
		return;
	char *data = xmalloc(b->len - start);
	memcpy(data, b->s + start, b->len - start);
	if (xproto_send((uv_stream_t *)&c->pipe, data, b->len - start) < 0)
		conn_close(c);
}

static bool congested(const struct sup *s)
{
	return s->conn && uv_stream_get_write_queue_size((const uv_stream_t *)&s->conn->pipe) > SUP_QUEUE_MAX;
}

static void send_key(struct sup *s, enum xmsg type, const struct srec *r)
{
	struct buf *b = &s->scratch;
	buf_reset(b);
	xproto_begin(b, type);
	xproto_str(b, r->key);
	send_frame(s, b, 0);
}

static void send_proc(struct sup *s, const struct srec *r)
{
	struct buf *b = &s->scratch;
	buf_reset(b);
	xproto_begin(b, XM_PROC);
	xproto_str(b, r->key);
	xproto_u64(b, (uint64_t)r->pid);
	xproto_u64(b, r->pid_start);
	xproto_u64(b, (uint64_t)r->started | (uint64_t)r->exited << 1 | (uint64_t)r->closed << 2 |
			      (uint64_t)r->gone << 3);
	xproto_status(b, &r->st);
	send_frame(s, b, 0);
}

/* ---- the end ---- */

static void maybe_exit(struct sup *s)
{
	if (s->done || s->live || (s->conn && !s->bye))
		return;
	s->done = true;
	/* Everything it started is in the journal: a resume may start what
	 * is not (its engine died before asking for it). */
	journal(s, "end\t%d\n", (int)getpid());
	unlinkat(s->dirfd, "sock", 0);
	unlinkat(s->dirfd, "pid", 0);
	if (s->bye) {
		unlinkat(s->dirfd, "journal", 0);
		rmdir(s->dir);
	}
	uv_close((uv_handle_t *)&s->listener, NULL);
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	if (s->conn)
		conn_close(s->conn);
	while (s->pending.n)
		conn_close(s->pending.v[0]);
}

/* ---- the processes ---- */

static void on_output(struct xproc *x, enum proc_stream st, const char *data, size_t len, void *arg)
{
	struct srec *r = arg;
	struct sup *s = r->s;
	(void)x;
	if (!s->conn)
		return;
	if (congested(s)) {
		s->dropped += len;
		return;
	}
	struct buf *b = &s->scratch;
	if (s->dropped) {
		buf_reset(b);
		xproto_begin(b, XM_OUTPUT);
		xproto_str(b, r->key);
		xproto_u64(b, PROC_STDERR);
		char note[160];
		int n = snprintf(note, sizeof(note),
				 "\n[lockstep: %llu bytes of step output not shown here; the logs have them]\n",
				 (unsigned long long)s->dropped);
		xproto_bytes(b, note, (size_t)n);
		send_frame(s, b, 0);
		s->dropped = 0;
	}
	buf_reset(b);
	xproto_begin(b, XM_OUTPUT);
	xproto_str(b, r->key);
	xproto_u64(b, st);
	xproto_bytes(b, data, len);
	send_frame(s, b, 0);
}

static void on_started(struct xproc *x, pid_t pid, uint64_t pid_start, void *arg)
{
	struct srec *r = arg;
	(void)x;
	r->started = true;
	r->pid = pid;
	r->pid_start = pid_start;
	journal(r->s, "started\t%s\t%d\t%llu\n", r->key, (int)pid, (unsigned long long)pid_start);
	struct buf *b = &r->s->scratch;
	buf_reset(b);
	xproto_begin(b, XM_STARTED);
	xproto_str(b, r->key);
	xproto_u64(b, (uint64_t)pid);
	xproto_u64(b, pid_start);
	send_frame(r->s, b, 0);
}

static void timer_free_cb(uv_handle_t *h)
{
	free(h);
}

static void drop_deadline(struct srec *r)
{
	if (r->deadline)
		uv_close((uv_handle_t *)r->deadline, timer_free_cb);
	r->deadline = NULL;
}

/* The step's deadline: stopped as its engine would stop it (SIGTERM, SIGKILL after the grace). */
static void deadline_cb(uv_timer_t *t)
{
	struct srec *r = t->data;
	r->timed_out = true;
	if (r->x)
		exec_kill(r->x);
}

static void on_exit_(struct xproc *x, const struct proc_status *st, void *arg)
{
	struct srec *r = arg;
	(void)x;
	if (!st->spawned && (st->error_code == -EMFILE || st->error_code == -ENFILE) && r->s->live > 1) {
		/* Descriptors come back when another process's pipes close:
		 * the step waits for that, as it would for a slot. */
		r->waits = true;
		*VEC_PUSH(r->s->waiting) = r;
		return;
	}
	free(r->retry);
	r->retry = NULL;
	r->exited = true;
	r->st = *st;
	r->st.timed_out = r->timed_out;
	drop_deadline(r);
	st = &r->st;
	/* The journal first: a resume must find the result even if the
	 * engine never hears of it. */
	char err[sizeof(st->error)];
	size_t i = 0;
	for (; st->error[i] && i < sizeof(err) - 1; i++)
		err[i] = (st->error[i] == '\t' || st->error[i] == '\n') ? ' ' : st->error[i];
	err[i] = '\0';
	journal(r->s, "exit\t%s\t%d\t%d\t%d\t%d\t%d\t%llu\t%s\n", r->key, st->spawned, st->exit_code,
		st->term_signal, st->killed | st->timed_out << 1, st->error_code,
		(unsigned long long)st->duration_ms, err);
	struct buf *b = &r->s->scratch;
	buf_reset(b);
	xproto_begin(b, XM_EXIT);
	xproto_str(b, r->key);
	xproto_status(b, st);
	send_frame(r->s, b, 0);
}

static int spawn_rec(struct sup *s, struct srec *r);

/* Descriptors were freed: the spawns that ran out of them try again. */
static void retry_waiting(struct sup *s)
{
	size_t n = s->waiting.n;
	struct srec **v = s->waiting.v;
	s->waiting.v = NULL;
	s->waiting.n = s->waiting.cap = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i]->x)
			*VEC_PUSH(s->waiting) = v[i]; /* its failed start is not gone yet */
		else
			spawn_rec(s, v[i]);
	}
	free(v);
}

static void on_closed(struct xproc *x, void *arg)
{
	struct srec *r = arg;
	(void)x;
	if (r->waits)
		return;
	r->closed = true;
	send_key(r->s, XM_CLOSED, r);
	retry_waiting(r->s);
}

static void on_gone(struct xproc *x, void *arg)
{
	struct srec *r = arg;
	struct sup *s = r->s;
	r->x = NULL;
	exec_free(x);
	s->live--;
	if (r->waits) {
		/* A spawn that ran out of descriptors waits (on_exit_), unless
		 * nothing is left to free any: then it tries again now. */
		if (s->live == 0) {
			for (size_t i = 0; i < s->waiting.n; i++)
				if (s->waiting.v[i] == r)
					s->waiting.v[i] = s->waiting.v[--s->waiting.n];
			spawn_rec(s, r);
		}
		return;
	}
	r->gone = true;
	journal(s, "gone\t%s\n", r->key);
	send_key(s, XM_GONE, r);
	rec_free(s, r);
	maybe_exit(s);
}

static void on_warning(struct xproc *x, const char *message, void *arg)
{
	struct srec *r = arg;
	(void)x;
	struct buf *b = &r->s->scratch;
	buf_reset(b);
	xproto_begin(b, XM_WARNING);
	xproto_str(b, r->key);
	xproto_str(b, message);
	send_frame(r->s, b, 0);
}

static struct srec *find(struct sup *s, const char *key)
{
	size_t i;
	return key && map_find(&s->keys, key, &i) ? s->recs.v[i] : NULL;
}

/* Forgets `r` (gone: the journal says all of it). */
static void rec_free(struct sup *s, struct srec *r)
{
	struct srec *last = s->recs.v[--s->recs.n];
	map_del(&s->keys, r->key);
	if (last != r) {
		s->recs.v[r->idx] = last;
		last->idx = r->idx;
		map_del(&s->keys, last->key);
		map_add(&s->keys, last->key, last->idx, NULL);
	}
	drop_deadline(r);
	free(r->retry);
	free(r->key);
	free(r);
}

/* Starts record `r` from its SPAWN fields (r->retry). */
static int spawn_rec(struct sup *s, struct srec *r)
{
	struct xreader rd0 = { r->retry, r->retry + r->retry_len, false }, *rd = &rd0;
	char *key = xproto_get_str(rd), *shell = xproto_get_str(rd), *script = xproto_get_str(rd);
	char *cwd = xproto_get_str(rd);
	uint64_t nenv = xproto_get_u64(rd);
	if (rd->bad || nenv > 1u << 20) {
		free(key), free(shell), free(script), free(cwd);
		return -1;
	}
	char **env = xcalloc(nenv + 1, sizeof(*env));
	for (uint64_t i = 0; i < nenv && !rd->bad; i++)
		env[i] = xproto_get_str(rd);
	uint64_t grace = xproto_get_u64(rd);
	char *log = xproto_get_str(rd);
	bool append = xproto_get_u64(rd) != 0;
	uint64_t cap = xproto_get_u64(rd);
	uint64_t deadline = xproto_get_u64(rd);
	int rc = rd->bad ? -1 : 0;
	r->waits = false;
	if (rc == 0) {
		struct xspawn xs = { .key = r->key, .shell = shell, .script = script, .cwd = cwd,
				     .env = env, .kill_grace_ms = grace, .log_path = *log ? log : NULL,
				     .log_append = append, .max_log_bytes = cap };
		struct xcbs cbs = { on_output, on_exit_, on_started, on_closed, on_gone, on_warning, r };
		rc = exec_spawn(s->ex, &xs, &cbs, &r->x);
		if (rc == 0)
			s->live++;
		/* Counted from the first start: a wait for descriptors counts. */
		if (rc == 0 && deadline && !r->deadline) {
			r->deadline = xmalloc(sizeof(*r->deadline));
			uv_timer_init(s->loop, r->deadline);
			r->deadline->data = r;
			uv_timer_start(r->deadline, deadline_cb, deadline, 0);
		}
	}
	for (uint64_t i = 0; i < nenv; i++)
		free(env[i]);
	free(env);
	free(key), free(shell), free(script), free(cwd), free(log);
	return rc;
}

static int do_spawn(struct sup *s, struct xreader *rd)
{
	const char *fields = rd->p;
	size_t len = (size_t)(rd->end - rd->p);
	char *key = xproto_get_str(rd);
	if (!key || !s->ex)
		return free(key), -1;
	rd->p = rd->end; /* spawn_rec reads the rest */
	if (find(s, key)) {
		free(key);
		return 0; /* a key is started once */
	}
	struct srec *r = xcalloc(1, sizeof(*r));
	r->s = s;
	r->key = key;
	r->retry = xmalloc(len);
	memcpy(r->retry, fields, len);
	r->retry_len = len;
	r->idx = s->recs.n;
	map_add(&s->keys, r->key, r->idx, NULL);
	*VEC_PUSH(s->recs) = r;
	return spawn_rec(s, r);
}

static void leftovers_done(int killed, void *arg)
{
	struct sup *s = arg;
	struct buf *b = &s->scratch;
	buf_reset(b);
	xproto_begin(b, XM_KILLED);
	xproto_u64(b, (uint64_t)killed);
	send_frame(s, b, 0);
}

static int do_hello(struct sup *s, struct xreader *rd)
{
	if (xproto_get_u64(rd) != XPROTO_VERSION)
		return -1; /* another lockstep: cut off (it stops this one) */
	uint64_t n = xproto_get_u64(rd);
	if (!s->ex) {
		s->mask = mask_new();
		for (uint64_t i = 0; i < n && !rd->bad; i++) {
			size_t len;
			const char *v = xproto_get_bytes(rd, &len);
			if (v)
				mask_add(s->mask, v, len);
		}
		s->ex = exec_local_new(s->loop, s->mask);
	}
	s->bye = false;
	for (size_t i = 0; i < s->recs.n; i++)
		send_proc(s, s->recs.v[i]);
	struct buf *b = &s->scratch;
	buf_reset(b);
	xproto_begin(b, XM_READY);
	send_frame(s, b, 0);
	return 0;
}

static void conn_attach(struct sup *s, struct conn *c);

static int on_frame(enum xmsg type, struct xreader *rd, void *arg)
{
	struct conn *c = arg;
	struct sup *s = c->s;
	if (c != s->conn) {
		/* A new engine (a resume) is attached by its HELLO, in the
		 * right version, and only then replaces the one before it. */
		if (type != XM_HELLO || xproto_get_u64(rd) != XPROTO_VERSION)
			return -1;
		rd->p -= sizeof(uint64_t);
		conn_attach(s, c);
	}
	switch (type) {
	case XM_HELLO:
		return do_hello(s, rd);
	case XM_SPAWN:
		return do_spawn(s, rd);
	case XM_KILL: {
		char *key = xproto_get_str(rd);
		bool now = xproto_get_u64(rd) != 0;
		struct srec *r = find(s, key);
		free(key);
		if (r && r->x) {
			if (now)
				exec_kill_now(r->x);
			else
				exec_kill(r->x);
		}
		return rd->bad ? -1 : 0;
	}
	case XM_LEFTOVERS:
		if (!s->ex)
			return -1;
		exec_kill_leftovers(s->ex, leftovers_done, s);
		return 0;
	case XM_BYE:
		s->bye = true;
		maybe_exit(s);
		return 0;
	default:
		return -1;
	}
}

/* ---- the connection ---- */

static void conn_closed_cb(uv_handle_t *h)
{
	struct conn *c = (struct conn *)h;
	buf_release(&c->in);
	free(c);
}

static void conn_close(struct conn *c)
{
	struct sup *s = c->s;
	if (c->dead)
		return;
	c->dead = true;
	unpend(s, c);
	if (s->conn == c)
		s->conn = NULL;
	uv_close((uv_handle_t *)&c->pipe, conn_closed_cb);
	s->dropped = 0;
	maybe_exit(s);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct conn *c = (struct conn *)h;
	(void)hint;
	buf_grow(&c->in, 65536);
	*b = uv_buf_init(c->in.s + c->in.len, (unsigned)(c->in.cap - c->in.len - 1));
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = (struct conn *)st;
	(void)b;
	if (n < 0) {
		conn_close(c);
		return;
	}
	c->in.len += (size_t)n;
	c->in.s[c->in.len] = '\0';
	if (xproto_split(&c->in, on_frame, c) < 0)
		conn_close(c);
}

static struct conn *conn_new(struct sup *s)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	c->s = s;
	c->in = (struct buf)BUF_INIT;
	uv_pipe_init(s->loop, &c->pipe, 0);
	return c;
}

static void conn_attach(struct sup *s, struct conn *c)
{
	/* A new engine replaces the one before it (which is dead: a run is
	 * taken over only once its owner is gone). */
	unpend(s, c);
	if (s->conn)
		conn_close(s->conn);
	s->conn = c;
}

static void accept_cb(uv_stream_t *server, int status)
{
	struct sup *s = server->data;
	if (status < 0)
		return;
	struct conn *c = conn_new(s);
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
		uv_close((uv_handle_t *)&c->pipe, conn_closed_cb);
		return;
	}
	/* Only this user's processes may drive it. */
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uv_os_fd_t fd;
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
		uv_close((uv_handle_t *)&c->pipe, conn_closed_cb);
		return;
	}
	*VEC_PUSH(s->pending) = c;
	uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb);
}

static void sigterm_cb(uv_signal_t *h, int sig)
{
	(void)h;
	(void)sig;
	/* Somebody wants it gone (the run's processes with it): they get
	 * SIGKILL, and it exits when they are. */
	struct sup *s = h->data;
	for (size_t i = 0; i < s->recs.n; i++)
		if (s->recs.v[i]->x)
			exec_kill_now(s->recs.v[i]->x);
	s->bye = true;
	maybe_exit(s);
}

int supervise_main(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] != '/') {
		fprintf(stderr, "lockstep __supervise: internal use only (a run's step processes): DIR\n");
		return 2;
	}
	/* Its own session: no terminal signal reaches it, nor its steps. */
	setsid();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	run_prepare_process();
	struct sup s = { .dir = argv[1], .journal = -1, .keys = MAP_INIT, .scratch = BUF_INIT };
	s.dirfd = open(s.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s.dirfd < 0) {
		fprintf(stderr, "lockstep __supervise: %s: %s\n", s.dir, strerror(errno));
		return 1;
	}
	s.journal = openat(s.dirfd, "journal", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	journal(&s, "begin\t%d\n", (int)getpid());
	uv_loop_t loop;
	uv_loop_init(&loop);
	s.loop = &loop;
	/* The engine that started it is on descriptor 3. */
	struct conn *first = conn_new(&s);
	if (uv_pipe_open(&first->pipe, SUPERVISE_FD) < 0) {
		fprintf(stderr, "lockstep __supervise: no engine on descriptor %d\n", SUPERVISE_FD);
		return 1;
	}
	conn_attach(&s, first);
	uv_read_start((uv_stream_t *)&first->pipe, alloc_cb, read_cb);
	uv_pipe_init(&loop, &s.listener, 0);
	s.listener.data = &s;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d/sock", s.dirfd);
	unlinkat(s.dirfd, "sock", 0);
	if (uv_pipe_bind(&s.listener, path) == 0)
		uv_listen((uv_stream_t *)&s.listener, 8, accept_cb);
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	int pfd = openat(s.dirfd, "pid", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (pfd >= 0) {
		ssize_t w = write(pfd, pid, (size_t)n);
		(void)w;
		close(pfd);
	}
	uv_signal_init(&loop, &s.sigterm);
	s.sigterm.data = &s;
	uv_signal_start(&s.sigterm, sigterm_cb, SIGTERM);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (s.ex)
		exec_close(s.ex);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	for (size_t i = 0; i < s.recs.n; i++) {
		free(s.recs.v[i]->retry);
		free(s.recs.v[i]->key);
		free(s.recs.v[i]);
	}
	VEC_FREE(s.waiting);
	VEC_FREE(s.pending);
	VEC_FREE(s.recs);
	map_release(&s.keys);
	if (s.mask)
		mask_free(s.mask);
	buf_release(&s.scratch);
	if (s.journal >= 0)
		close(s.journal);
	close(s.dirfd);
	return 0;
}
