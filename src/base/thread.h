/*
 * thread: starting a helper thread (an output writer, the commit thread).
 * A helper starts with every signal blocked, so that signals reach the
 * thread that runs the loop (libuv's handlers), never a helper. A thread
 * that cannot be started aborts, as out-of-memory does.
 */
#ifndef LS_BASE_THREAD_H
#define LS_BASE_THREAD_H

#include <pthread.h>

/* Starts `fn(arg)` in *t; `what` names it in the message if it cannot start. */
void thread_start(pthread_t *t, void *(*fn)(void *), void *arg, const char *what);

#endif
