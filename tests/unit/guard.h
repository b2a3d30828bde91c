/*
 * guard: shared by the unit tests that feed hostile inputs. Include after
 * <cmocka.h>.
 */
#ifndef LS_TEST_GUARD_H
#define LS_TEST_GUARD_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Runs fn(text) in a child process and fails if it does not finish within
 * `seconds`: a guard against hangs, never a performance measurement (a
 * correct implementation takes a small fraction of the bound). Takes
 * `text` (malloc'd) and frees it before any assertion, so that a failure
 * leaves no leak report to hide real leaks.
 */
static inline void assert_finishes(void (*fn)(void *), char *text, unsigned seconds,
				   const char *what)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(seconds);
		fn(text);
		_exit(0);
	}
	free(text);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		fail_msg("%s did not finish within %u s", what, seconds);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s: child failed (status %d)", what, status);
}

#endif
