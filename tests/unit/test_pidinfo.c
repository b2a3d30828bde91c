/*
 * Tests for base/pidinfo.c on real processes: the start time tells a
 * live process from a dead one (and a zombie counts as dead), the
 * environment lookup matches whole entries only (also one longer than a
 * read buffer), and pid_each lists other processes but not this one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/pidinfo.h"

/* A child that waits (in `sleep`) with `env` as its whole environment. */
static pid_t start_child(char *const env[])
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *const argv[] = { (char *)"sleep", (char *)"30", NULL };
		execve("/bin/sleep", argv, env);
		_exit(127);
	}
	/* execve is done once /proc shows the new environment. */
	for (int i = 0; i < 2000; i++) {
		char path[64], buf[16];
		snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
		FILE *f = fopen(path, "re");
		size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
		if (f)
			fclose(f);
		if (n > 0 && !strncmp(buf, env[0], n < strlen(env[0]) ? n : strlen(env[0])))
			break;
		usleep(1000);
	}
	return pid;
}

static void test_start_time(void **state)
{
	(void)state;
	uint64_t self = pid_start_time((int)getpid());
	assert_true(self > 0);
	assert_int_equal(pid_start_time((int)getpid()), self);

	char *const env[] = { (char *)"PIDINFO_TEST=1", NULL };
	pid_t pid = start_child(env);
	uint64_t child = pid_start_time((int)pid);
	assert_true(child >= self);
	struct pid_stat st;
	assert_int_equal(pid_stat((int)pid, &st), 0);
	assert_int_equal(st.ppid, (int)getpid());
	assert_int_equal(st.pgrp, (int)getpgrp());
	assert_int_equal(st.start, child);
	assert_true(st.state != 'Z');
	kill(pid, SIGKILL);
	/* A zombie is gone already for pid_start_time... */
	for (int i = 0; i < 2000 && pid_start_time((int)pid); i++)
		usleep(1000);
	assert_int_equal(pid_start_time((int)pid), 0);
	/* ...but pid_stat still names it, by the same start time. */
	assert_int_equal(pid_stat((int)pid, &st), 0);
	assert_int_equal(st.state, 'Z');
	assert_int_equal(st.start, child);
	waitpid(pid, NULL, 0);
	assert_true(pid_stat((int)pid, &st) < 0);
	assert_int_equal(pid_start_time((int)pid), 0);
	assert_int_equal(pid_start_time(0), 0);
	assert_int_equal(pid_start_time(-1), 0);
}

static void test_environ_has(void **state)
{
	(void)state;
	/* An entry longer than one read of /proc/PID/environ (8 KiB). */
	size_t big = 20000;
	char *long_entry = malloc(big + 16);
	strcpy(long_entry, "PIDINFO_BIG=");
	memset(long_entry + 12, 'x', big);
	long_entry[12 + big] = '\0';
	char *const env[] = { (char *)"LOCKSTEP_RUN_TOKEN=abc123", long_entry,
			      (char *)"LAST=yes", NULL };
	pid_t pid = start_child(env);
	assert_true(pid_environ_has((int)pid, "LOCKSTEP_RUN_TOKEN=abc123"));
	assert_true(pid_environ_has((int)pid, "LAST=yes"));
	/* Whole entries only: not a prefix, not a longer value. */
	assert_false(pid_environ_has((int)pid, "LOCKSTEP_RUN_TOKEN=abc"));
	assert_false(pid_environ_has((int)pid, "LOCKSTEP_RUN_TOKEN=abc1234"));
	assert_false(pid_environ_has((int)pid, "RUN_TOKEN=abc123"));
	/* The long entry is skipped over, never matched by its start. */
	assert_false(pid_environ_has((int)pid, "PIDINFO_BIG=xxxx"));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_false(pid_environ_has((int)pid, "LAST=yes"));
	free(long_entry);
}

struct seen {
	pid_t child;
	bool child_seen, self_seen;
	size_t n;
};

static bool on_pid(int pid, void *arg)
{
	struct seen *s = arg;
	s->n++;
	if (pid == (int)s->child)
		s->child_seen = true;
	if (pid == (int)getpid())
		s->self_seen = true;
	return false;
}

static bool stop_at_once(int pid, void *arg)
{
	(void)pid;
	(*(size_t *)arg)++;
	return true;
}

static void test_each(void **state)
{
	(void)state;
	char *const env[] = { (char *)"PIDINFO_EACH=1", NULL };
	struct seen s = { .child = start_child(env) };
	assert_int_equal(pid_each(on_pid, &s), 0);
	assert_true(s.child_seen);
	assert_false(s.self_seen);
	assert_true(s.n >= 1);
	/* true stops the walk. */
	size_t calls = 0;
	assert_int_equal(pid_each(stop_at_once, &calls), 0);
	assert_int_equal(calls, 1);
	assert_int_equal(pid_parse_entry("123"), 123);
	assert_int_equal(pid_parse_entry("self"), -1);
	assert_int_equal(pid_parse_entry("+1"), -1);
	assert_int_equal(pid_parse_entry(""), -1);
	kill(s.child, SIGKILL);
	waitpid(s.child, NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_time),
		cmocka_unit_test(test_environ_has),
		cmocka_unit_test(test_each),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
