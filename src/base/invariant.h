/*
 * invariant: the checks of a state machine's invariant checker
 * (coord_assert_valid, run_assert_valid): a violated invariant is a bug
 * in lockstep, reported with the checker's name, the condition and a
 * message, and then abort(), so that a test run stops where the state
 * went wrong rather than somewhere after.
 *
 *   INVARIANT("run_assert_valid", w->proc == NULL, "%s: no process", name);
 */
#ifndef LS_BASE_INVARIANT_H
#define LS_BASE_INVARIANT_H

#include <stdio.h>
#include <stdlib.h>

#define INVARIANT(checker, cond, ...)                                             \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "%s: %s: ", checker, #cond);              \
			fprintf(stderr, __VA_ARGS__);                             \
			fputc('\n', stderr);                                      \
			abort();                                                  \
		}                                                                 \
	} while (0)

#endif
