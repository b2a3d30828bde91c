#include "base/thread.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void thread_start(pthread_t *t, void *(*fn)(void *), void *arg, const char *what)
{
	/* The new thread inherits the mask in force when it is created. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		fprintf(stderr, "fatal: cannot start %s: %s\n", what, strerror(r));
		abort();
	}
}
