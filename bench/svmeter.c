/*
 * svmeter: runs one `lockstep run` and measures it together with the
 * run's supervisor (`lockstep __supervise STATE/supervise/RUN`), which
 * lockstep starts but never waits for, so neither GNU time nor the
 * shell's `times` can see its CPU or memory (nor that of the steps it
 * runs). bench/run-bench.sh compiles it with `cc` when the suite starts.
 *
 * usage: svmeter [-i MS] [-s STATE] [-o OUT] [-e ERR] [-w MS] -- CMD [ARG...]
 *
 *   -i MS     sampling interval (default 50)
 *   -s STATE  the run's state directory: the supervisor's pid is read from
 *             STATE/supervise/RUN/pid while it runs
 *   -o, -e    CMD's standard output and error (default: /dev/null)
 *   -w MS     how long to wait for the supervisor once CMD has exited
 *             before it is killed (default 10000)
 *
 * It makes itself a child subreaper (PR_SET_CHILD_SUBREAPER), so the
 * supervisor becomes its child when lockstep exits, and reaps every
 * process of the run: their CPU times all end up in its own
 * RUSAGE_CHILDREN. Before it reaps lockstep or the supervisor it reads
 * the zombie's /proc/PID/stat, for the process's own CPU time apart from
 * its children's. Every interval (and at every SIGCHLD) it reads
 * /proc/PID/smaps_rollup of both for their peak Rss and Pss.
 *
 * Prints one line:
 *   rc wall_s cpu_all_s cpu_lockstep_s cpu_supervisor_s maxrss_kib
 *   rss_lockstep_peak_kib pss_lockstep_peak_kib pss_supervisor_peak_kib
 *   supervisor_pid supervisor_after_ms samples
 * rc: CMD's exit status (128+N after signal N); wall: from start to CMD's
 * exit; cpu_all: user+sys of every process of the run (steps included);
 * cpu_lockstep / cpu_supervisor: their own user+sys (clock ticks); maxrss:
 * CMD's ru_maxrss (as GNU time's %M); supervisor_after_ms: how long it
 * ran on after CMD exited (-1: none seen; -2: killed after -w).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Rss and Pss (KiB) of `pid` from smaps_rollup; 0 when it is gone. */
static int rollup(pid_t pid, long *rss, long *pss)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	*rss = *pss = 0;
	while (fgets(line, sizeof(line), f)) {
		long v;
		if (sscanf(line, "Rss: %ld", &v) == 1)
			*rss = v;
		else if (sscanf(line, "Pss: %ld", &v) == 1)
			*pss = v;
	}
	fclose(f);
	return 0;
}

/*
 * From /proc/PID/stat: the state letter (0 when it is gone), and the own
 * user+sys CPU time (s) of `pid` and that of the children it waited for.
 */
static char proc_stat(pid_t pid, double *own, double *children)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* Fields from 3 (state) on; utime, stime, cutime, cstime are 14-17. */
	unsigned long long v[18] = { 0 };
	char state = 0;
	int field = 2;
	char *save;
	for (char *t = strtok_r(p + 1, " ", &save); t && field < 17; t = strtok_r(NULL, " ", &save)) {
		field++;
		if (field == 3)
			state = t[0];
		else
			v[field] = strtoull(t, NULL, 10);
	}
	double hz = (double)sysconf(_SC_CLK_TCK);
	*own = (double)(v[14] + v[15]) / hz;
	*children = (double)(v[16] + v[17]) / hz;
	return state;
}

static pid_t find_supervisor(const char *state)
{
	char pat[4096];
	snprintf(pat, sizeof(pat), "%s/supervise/*/pid", state);
	glob_t g;
	pid_t pid = 0;
	if (glob(pat, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc && !pid; i++) {
			FILE *f = fopen(g.gl_pathv[i], "r");
			int v;
			if (f && fscanf(f, "%d", &v) == 1 && v > 0)
				pid = v;
			if (f)
				fclose(f);
		}
		globfree(&g);
	}
	return pid;
}

int main(int argc, char **argv)
{
	long interval_ms = 50, wait_ms = 10000;
	const char *state = NULL, *out = "/dev/null", *err = "/dev/null";
	int opt;
	while ((opt = getopt(argc, argv, "+i:s:o:e:w:")) != -1) {
		switch (opt) {
		case 'i': interval_ms = atol(optarg); break;
		case 's': state = optarg; break;
		case 'o': out = optarg; break;
		case 'e': err = optarg; break;
		case 'w': wait_ms = atol(optarg); break;
		default:
			fprintf(stderr, "usage: svmeter [-i MS] [-s STATE] [-o OUT] [-e ERR] [-w MS] -- CMD [ARG...]\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "svmeter: no command\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		perror("svmeter: PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);

	double t0 = now();
	pid_t cmd = fork();
	if (cmd < 0) {
		perror("svmeter: fork");
		return 1;
	}
	if (cmd == 0) {
		sigprocmask(SIG_UNBLOCK, &chld, NULL);
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (o < 0 || e < 0) {
			perror("svmeter: output");
			_exit(127);
		}
		dup2(o, 1);
		dup2(e, 2);
		close(o);
		close(e);
		execvp(argv[optind], argv + optind);
		perror("svmeter: exec");
		_exit(127);
	}

	int rc = -1;
	double t_cmd = 0, t_sup = 0, cpu_cmd = 0, cpu_sup = 0;
	long maxrss = 0, rss_cmd = 0, pss_cmd = 0, pss_sup = 0, samples = 0;
	pid_t sup = 0;
	bool cmd_done = false, sup_done = false, sup_killed = false;
	struct timespec tick = { interval_ms / 1000, (interval_ms % 1000) * 1000000L };
	for (;;) {
		/* Sample the live ones (a zombie has no smaps_rollup). */
		long r, p;
		if (!cmd_done && rollup(cmd, &r, &p) == 0) {
			samples++;
			if (r > rss_cmd)
				rss_cmd = r;
			if (p > pss_cmd)
				pss_cmd = p;
		}
		if (!sup && state)
			sup = find_supervisor(state);
		if (sup && !sup_done) {
			double own, ch;
			char state = proc_stat(sup, &own, &ch);
			if (state && state != 'Z') {
				cpu_sup = own;
				if (rollup(sup, &r, &p) == 0 && p > pss_sup)
					pss_sup = p;
			} else {
				/* Reaped by lockstep (its subreaper), or a zombie. */
				sup_done = true;
				t_sup = now();
				if (state == 'Z')
					cpu_sup = own;
			}
		}

		/* Reap whatever has ended, reading its own CPU first. */
		for (;;) {
			siginfo_t si;
			si.si_pid = 0;
			if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
				if (errno == EINTR)
					continue;
				goto done; /* ECHILD: nothing of the run is left */
			}
			if (si.si_pid == 0)
				break;
			pid_t pid = si.si_pid;
			if (!sup && state && pid != cmd)
				sup = find_supervisor(state);
			double own = 0, ch;
			proc_stat(pid, &own, &ch);
			int status;
			struct rusage ru;
			if (wait4(pid, &status, 0, &ru) < 0)
				continue;
			if (pid == cmd) {
				cmd_done = true;
				t_cmd = now();
				cpu_cmd = own;
				maxrss = ru.ru_maxrss;
				rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			} else if (pid == sup && !sup_done) {
				sup_done = true;
				t_sup = now();
				cpu_sup = own;
			}
		}
		if (cmd_done && !sup_killed && sup && !sup_done && (now() - t_cmd) * 1000 > wait_ms) {
			kill(sup, SIGKILL);
			sup_killed = true;
		}
		if (cmd_done && (!sup || sup_done) && (now() - t_cmd) * 1000 > wait_ms)
			break; /* a daemon left behind by a step: not the run's */
		struct timespec left = tick;
		if (cmd_done && (!sup || sup_done)) {
			/* Other leftovers of the run: do not wait for them long. */
			left.tv_sec = 0;
			left.tv_nsec = 10000000L;
		}
		sigtimedwait(&chld, NULL, &left);
	}
done:;
	struct rusage all;
	getrusage(RUSAGE_CHILDREN, &all);
	double cpu_all = all.ru_utime.tv_sec + all.ru_utime.tv_usec / 1e6 +
			 all.ru_stime.tv_sec + all.ru_stime.tv_usec / 1e6;
	double after = -1;
	if (sup_killed)
		after = -2;
	else if (sup && sup_done)
		after = t_sup > t_cmd ? (t_sup - t_cmd) * 1000 : 0;
	printf("%d %.6f %.3f %.3f %.3f %ld %ld %ld %ld %d %.0f %ld\n", rc, t_cmd - t0, cpu_all, cpu_cmd,
	       sup ? cpu_sup : 0.0, maxrss, rss_cmd, pss_cmd, pss_sup, (int)sup, after, samples);
	return 0;
}
