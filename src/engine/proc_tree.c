/*
 * proc_tree: what /proc says about lockstep's processes, and the end of the
 * whole tree (see proc.h: proc_become_subreaper, proc_kill_descendants,
 * proc_seal_fds). proc.c asks it whether a step's group still has a member
 * worth waiting for (proc_scan_group); it asks proc.c which pids libuv
 * still has to reap (proc_live_has), so that it never reaps one of those.
 *
 * /proc/PID/stat gives each process's parent, group and state; a table of
 * every process, sorted by pid, lets the descendants of lockstep be found
 * by following parent links, whatever sessions and groups they moved to.
 */
#include "engine/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/pidinfo.h"
#include "base/xalloc.h"
#include "engine/proc_internal.h"

struct pinfo {
	pid_t pid, ppid, pgrp;
	char state;  /* R, S, D, Z, X, ... */
	bool mark;
};

struct ptable {
	struct pinfo *v;
	size_t n, cap;
};

static bool is_dead(char state)
{
	return state == 'Z' || state == 'X';
}

/* Reads state, ppid and pgrp of `pid`. Returns 0 or -errno. */
static int read_pinfo(pid_t pid, struct pinfo *pi)
{
	struct pid_stat st;
	int r = pid_stat((int)pid, &st);
	if (r < 0)
		return r;
	pi->pid = pid;
	pi->ppid = st.ppid;
	pi->pgrp = st.pgrp;
	pi->state = st.state;
	pi->mark = false;
	return 0;
}

static int pinfo_cmp(const void *a, const void *b)
{
	pid_t x = ((const struct pinfo *)a)->pid, y = ((const struct pinfo *)b)->pid;
	return (x > y) - (x < y);
}

static bool ptable_add(int pid, void *arg)
{
	struct ptable *t = arg;
	struct pinfo pi;
	if (read_pinfo(pid, &pi) == 0)
		*VEC_PUSH(*t) = pi;
	return false;
}

/* Fills `t` with every other process, sorted by pid. Returns 0 or -errno. */
static int ptable_load(struct ptable *t)
{
	t->n = 0;
	int r = pid_each(ptable_add, t);
	qsort(t->v, t->n, sizeof(*t->v), pinfo_cmp);
	return r;
}

static struct pinfo *ptable_find(const struct ptable *t, pid_t pid)
{
	struct pinfo key = { .pid = pid };
	return t->n ? bsearch(&key, t->v, t->n, sizeof(*t->v), pinfo_cmp) : NULL;
}

/* Marks every process whose parent chain leads to `root`. */
static void ptable_mark_descendants(struct ptable *t, pid_t root)
{
	bool changed = true;
	while (changed) {
		changed = false;
		for (size_t i = 0; i < t->n; i++) {
			struct pinfo *pi = &t->v[i];
			if (pi->mark || pi->pid == root)
				continue;
			const struct pinfo *parent = ptable_find(t, pi->ppid);
			if (pi->ppid == root || (parent && parent->mark)) {
				pi->mark = true;
				changed = true;
			}
		}
	}
}

struct group_scan {
	pid_t pgid, self;
	bool found;
};

static bool scan_member(int pid, void *arg)
{
	struct group_scan *g = arg;
	struct pinfo pi;
	if (read_pinfo(pid, &pi) != 0 || pi.pgrp != g->pgid)
		return false;
	g->found = !is_dead(pi.state) || pi.ppid == g->self;
	return g->found;
}

/* proc_internal.h */
int proc_scan_group(pid_t pgid)
{
	struct group_scan g = { pgid, getpid(), false };
	int r = pid_each(scan_member, &g);
	return r < 0 ? r : g.found;
}

/* ---- the whole tree --------------------------------------------------- */

int proc_become_subreaper(void)
{
	return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : -errno;
}

struct pidset {
	pid_t *v;
	size_t n, cap;
};

static bool pidset_has(const struct pidset *s, pid_t pid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == pid)
			return true;
	return false;
}

/*
 * Tells whether a killed process needs no more waiting: reaped now, gone,
 * libuv's to reap, or a zombie that a parent other than us and other than
 * a dying victim will reap. A zombie whose parent is a victim will be
 * re-parented to us (or init) when that parent dies: wait for that.
 */
static bool settled(pid_t pid, pid_t self, const struct pidset *victims)
{
	if (proc_live_has(pid))
		return true;
	int status;
	pid_t r;
	do
		r = waitpid(pid, &status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == pid)
		return true;
	if (r == 0)
		return false;  /* our child, not dead yet */
	struct pinfo pi;
	if (read_pinfo(pid, &pi) != 0)
		return true;
	if (!is_dead(pi.state))
		return false;
	return pi.ppid != self && !pidset_has(victims, pi.ppid);
}

int proc_kill_descendants(void)
{
	pid_t self = getpid();
	struct ptable t = { NULL, 0, 0 };
	struct pidset victims = { NULL, 0, 0 }, pending = { NULL, 0, 0 };
	int killed = 0;

	/* A process may fork between the scan and the kill: scan again until
	 * a scan finds nobody new (a SIGKILLed process cannot fork any more).
	 * The bound only guards against a fork bomb outrunning us. */
	for (int round = 0; round < 64; round++) {
		if (ptable_load(&t) != 0)
			break;
		ptable_mark_descendants(&t, self);
		bool fresh = false;
		for (size_t i = 0; i < t.n; i++) {
			const struct pinfo *pi = &t.v[i];
			if (!pi->mark || pidset_has(&victims, pi->pid))
				continue;
			fresh = true;
			*VEC_PUSH(victims) = pi->pid;
			if (!is_dead(pi->state) && kill(pi->pid, SIGKILL) == 0)
				killed++;
		}
		if (!fresh)
			break;
	}

	/* Reap, with a bound: a killed process dies in microseconds unless
	 * it is stuck in the kernel. */
	for (size_t i = 0; i < victims.n; i++)
		*VEC_PUSH(pending) = victims.v[i];
	uint64_t deadline = uv_hrtime() + PROC_REAP_MS * NS_PER_MS;
	for (;;) {
		size_t k = 0;
		for (size_t i = 0; i < pending.n; i++)
			if (!settled(pending.v[i], self, &victims))
				pending.v[k++] = pending.v[i];
		pending.n = k;
		if (!pending.n || uv_hrtime() >= deadline)
			break;
		struct timespec ms = { 0, 1000000 };
		nanosleep(&ms, NULL);
	}

	VEC_FREE(t);
	VEC_FREE(victims);
	VEC_FREE(pending);
	return killed;
}

int proc_seal_fds(void)
{
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	/* Kernels before 5.11: one descriptor at a time. */
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	int dfd = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		int fd = pid_parse_entry(e->d_name);
		if (fd <= 2 || fd == dfd)
			continue;
		int fl = fcntl(fd, F_GETFD);
		if (fl >= 0 && !(fl & FD_CLOEXEC))
			fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
	closedir(d);
	return 0;
}

long proc_fds_free(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	long open_fds = -1;  /* the directory's own */
	while (readdir(d))
		open_fds++;
	closedir(d);
	open_fds -= 2;  /* "." and ".." */
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)LONG_MAX)
		return LONG_MAX;
	return (long)rl.rlim_cur - open_fds;
}
