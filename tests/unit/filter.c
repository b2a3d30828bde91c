/*
 * filter: LOCKSTEP_TEST=PATTERN runs only the tests of a unit test program
 * whose names match PATTERN (cmocka's test filter: * and ? are wildcards):
 *
 *   LOCKSTEP_TEST='test_b2_*' build/tests/test_check
 *
 * Linked into every unit test program (tests/CMakeLists.txt); it runs
 * before main(), so the programs need no code of their own for it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

__attribute__((constructor)) static void filter_from_env(void)
{
	const char *pattern = getenv("LOCKSTEP_TEST");
	if (pattern && *pattern)
		cmocka_set_test_filter(pattern);
}
