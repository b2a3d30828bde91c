#include "cli/leftovers.h"

#include <signal.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/pidinfo.h"
#include "base/xalloc.h"

struct found {
	VEC(int) pids;             /* processes found alive */
	VEC(int) groups;           /* their process groups, distinct */
	const char *entry;         /* "LOCKSTEP_RUN_TOKEN=..." or NULL */
};

static void add_group(struct found *f, int g)
{
	if (g <= 1 || g == (int)getpgrp())
		return; /* never init's, never our own */
	for (size_t i = 0; i < f->groups.n; i++)
		if (f->groups.v[i] == g)
			return;
	*VEC_PUSH(f->groups) = g;
}

static void add_pid(struct found *f, int pid)
{
	for (size_t i = 0; i < f->pids.n; i++)
		if (f->pids.v[i] == pid)
			return;
	*VEC_PUSH(f->pids) = pid;
}

static bool by_token(int pid, void *arg)
{
	struct found *f = arg;
	if (!pid_environ_has(pid, f->entry))
		return false;
	add_pid(f, pid);
	pid_t g = getpgid(pid);
	if (g > 0)
		add_group(f, (int)g);
	return false;
}

/* Everything of the run that is alive now. */
static void scan(const struct store_run *run, struct found *f)
{
	f->pids.n = f->groups.n = 0;
	for (size_t w = 0; w < run->nwfs; w++) {
		const struct store_workflow *wf = &run->wfs[w];
		for (size_t s = 0; s < wf->nsteps; s++) {
			const struct store_step *st = &wf->steps[s];
			for (size_t a = 0; a < st->natt; a++) {
				const struct store_attempt *at = &st->att[a];
				if (at->pid <= 0 || !at->pid_start)
					continue;
				if (pid_start_time(at->pid) != at->pid_start)
					continue; /* gone, or the pid is someone else's now */
				add_pid(f, at->pid);
				add_group(f, at->pid);
			}
		}
	}
	if (f->entry)
		pid_each(by_token, f);
}

static void signal_all(const struct found *f, int sig)
{
	for (size_t i = 0; i < f->groups.n; i++)
		kill(-(pid_t)f->groups.v[i], sig);
	for (size_t i = 0; i < f->pids.n; i++)
		kill((pid_t)f->pids.v[i], sig);
}

/* Waits until nothing of the run is alive, at most `ms`. True when gone. */
static bool wait_gone(const struct store_run *run, struct found *f, uint64_t ms)
{
	uint64_t end = clock_mono_ms() + ms;
	for (;;) {
		scan(run, f);
		if (!f->pids.n)
			return true;
		if (clock_mono_ms() >= end)
			return false;
		struct timespec nap = { 0, 20 * 1000 * 1000 };
		nanosleep(&nap, NULL);
	}
}

int leftovers_kill(const struct store_run *run, const char *token, uint64_t grace_ms, FILE *report,
		   const char *cmd)
{
	struct found f = { { 0 }, { 0 }, NULL };
	struct buf entry = BUF_INIT;
	if (token && *token) {
		buf_addf(&entry, "LOCKSTEP_RUN_TOKEN=%s", token);
		f.entry = entry.s;
	}
	scan(run, &f);
	int n = (int)f.pids.n;
	if (n) {
		struct buf list = BUF_INIT;
		for (size_t i = 0; i < f.pids.n && i < 20; i++)
			buf_addf(&list, "%s%d", i ? " " : "", f.pids.v[i]);
		if (f.pids.n > 20)
			buf_adds(&list, " ...");
		fprintf(report, "lockstep %s: run %llu left %d process%s running (pid %s): terminating them\n",
			cmd, (unsigned long long)run->info.id, n, n == 1 ? "" : "es", list.s);
		buf_release(&list);
		signal_all(&f, SIGTERM);
		if (!wait_gone(run, &f, grace_ms)) {
			fprintf(report, "lockstep %s: %zu still alive after the grace period: killing them\n", cmd,
				f.pids.n);
			signal_all(&f, SIGKILL);
			if (!wait_gone(run, &f, 2000))
				fprintf(report, "lockstep %s: warning: %zu process%s of run %llu would not die\n",
					cmd, f.pids.n, f.pids.n == 1 ? "" : "es",
					(unsigned long long)run->info.id);
		}
	}
	VEC_FREE(f.pids);
	VEC_FREE(f.groups);
	buf_release(&entry);
	return n;
}
