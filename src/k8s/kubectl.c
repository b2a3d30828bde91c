#include "k8s/kubectl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/duration.h"
#include "base/xalloc.h"

/* After SIGTERM at the deadline, how long kubectl has before SIGKILL. */
#define KILL_GRACE_MS 2000

void k8s_duration(uint64_t ms, char *out, size_t n)
{
	if (ms >= 10000)
		ms = (ms + 500) / 1000 * 1000;
	duration_format(ms, out, n);
}

void kubectl_out_release(struct kubectl_out *res)
{
	buf_release(&res->out);
	buf_release(&res->err);
}

/* A klog line ("E1126 06:52:45.592346 19192 memcache.go:265] ..."): noise. */
static bool klog_line(const char *s)
{
	if (!strchr("IWEF", s[0]))
		return false;
	for (int i = 1; i <= 4; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return s[5] == ' ';
}

/*
 * The line that says what went wrong: kubectl's "error: ..." or "Error
 * from server ...", else its first line that is not klog's noise.
 */
void kubectl_first_line(const char *s, struct buf *out)
{
	const char *pick = NULL, *plain = NULL;
	for (const char *l = s; *l;) {
		size_t n = strcspn(l, "\n");
		while (*l == ' ' && n) {
			l++;
			n--;
		}
		if (n && !klog_line(l)) {
			if (!strncmp(l, "error: ", 7) || !strncmp(l, "Error from server", 17)) {
				pick = l;
				break;
			}
			if (!plain)
				plain = l;
		}
		l += n;
		if (*l == '\n')
			l++;
	}
	if (!pick)
		pick = plain ? plain : s;
	if (!strncmp(pick, "error: ", 7))
		pick += 7;
	size_t n = strcspn(pick, "\n");
	while (n && (pick[n - 1] == ' ' || pick[n - 1] == '\r'))
		n--;
	buf_add(out, pick, n);
}

/* Writes all of `data` to `fd`, as far as it goes (the log is best effort). */
static void write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		data += n;
		len -= (size_t)n;
	}
}

/* "$ kubectl get ..." into the log, arguments with spaces quoted. */
static void print_command(char *const *argv)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "$ kubectl");
	for (size_t i = 1; argv[i]; i++) {
		if (strpbrk(argv[i], " \t'\"") || !*argv[i])
			buf_addf(&b, " '%s'", argv[i]);
		else
			buf_addf(&b, " %s", argv[i]);
	}
	buf_addc(&b, '\n');
	fflush(stdout);
	write_all(1, b.s, b.len);
	buf_release(&b);
}

int kubectl_run(const struct kubectl *k, const char *const *args, bool echo,
		struct kubectl_out *res)
{
	res->status = -1;
	res->timed_out = false;
	buf_reset(&res->out);
	buf_reset(&res->err);
	size_t nargs = 0;
	while (args[nargs])
		nargs++;
	char **argv = xcalloc(nargs + 4, sizeof(*argv));
	size_t a = 0;
	argv[a++] = (char *)k->path;
	if (k->context) {
		argv[a++] = (char *)"--context";
		argv[a++] = (char *)k->context;
	}
	for (size_t i = 0; i < nargs; i++)
		argv[a++] = (char *)args[i];
	argv[a] = NULL;
	if (echo)
		print_command(argv);

	if (clock_mono_ms() >= k->deadline_ms) {
		buf_adds(&res->err, "no time left for kubectl");
		res->timed_out = true;
		free(argv);
		return -1;
	}
	int po[2], pe[2];
	if (pipe2(po, O_CLOEXEC) < 0) {
		buf_addf(&res->err, "cannot run kubectl: %s", strerror(errno));
		free(argv);
		return -1;
	}
	if (pipe2(pe, O_CLOEXEC) < 0) {
		buf_addf(&res->err, "cannot run kubectl: %s", strerror(errno));
		close(po[0]);
		close(po[1]);
		free(argv);
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		buf_addf(&res->err, "cannot run kubectl: %s", strerror(errno));
		close(po[0]);
		close(po[1]);
		close(pe[0]);
		close(pe[1]);
		free(argv);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		if (k->kubeconfig)
			setenv("KUBECONFIG", k->kubeconfig, 1);
		execv(argv[0], argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	free(argv);
	close(po[1]);
	close(pe[1]);
	struct pollfd fds[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
	struct buf *dst[2] = { &res->out, &res->err };
	int open_fds = 2, rc = 0;
	bool killed = false, too_much = false;
	uint64_t kill_at = 0;
	char chunk[65536];
	while (open_fds) {
		uint64_t now = clock_mono_ms();
		if (!killed && now >= k->deadline_ms) {
			kill(pid, SIGTERM);
			killed = true;
			res->timed_out = true;
			kill_at = now + KILL_GRACE_MS;
		}
		if (killed && kill_at && now >= kill_at) {
			kill(pid, SIGKILL);
			kill_at = 0;
		}
		uint64_t until = killed ? (kill_at ? kill_at : now + 1000) : k->deadline_ms;
		int timeout = until > now ? (int)(until - now > 1000 ? 1000 : until - now) : 0;
		int n = poll(fds, 2, timeout);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2 && n > 0; i++) {
			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t r = read(fds[i].fd, chunk, sizeof(chunk));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
				continue;
			}
			if (echo)
				write_all(i == 0 ? 1 : 2, chunk, (size_t)r);
			if (dst[i]->len + (size_t)r > KUBECTL_MAX_OUTPUT) {
				if (!too_much)
					kill(pid, SIGKILL);
				too_much = true;
				continue;
			}
			buf_add(dst[i], chunk, (size_t)r);
		}
	}
	for (int i = 0; i < 2; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	int wst = 0;
	while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
		;
	if (too_much) {
		buf_reset(&res->err);
		buf_addf(&res->err, "kubectl wrote more than %u MiB", KUBECTL_MAX_OUTPUT >> 20);
		rc = -1;
	} else if (killed) {
		buf_reset(&res->err);
		buf_adds(&res->err, "kubectl did not finish in time");
		rc = -1;
	} else if (WIFEXITED(wst)) {
		res->status = WEXITSTATUS(wst);
		if (res->status == 127 && !res->out.len && strstr(res->err.s, "cannot run "))
			rc = -1;
	} else {
		buf_reset(&res->err);
		buf_addf(&res->err, "kubectl was killed by signal %d", WTERMSIG(wst));
		rc = -1;
	}
	return rc;
}
