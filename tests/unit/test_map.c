/*
 * Tests for base/map.c: an oracle test of adds, finds and deletes (the
 * backward shift of map_del must keep every other key findable, across
 * wrap-around at the end of the table and through growth).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "base/map.h"

#define NKEYS 600

static void test_oracle(void **state)
{
	(void)state;
	static char keys[NKEYS][16];
	bool in[NKEYS] = { false };
	for (int i = 0; i < NKEYS; i++)
		snprintf(keys[i], sizeof(keys[i]), "%d/s/%d/1", i % 37, i);
	struct map m = MAP_INIT;
	unsigned seed = 12345;
	size_t n = 0;
	for (int round = 0; round < 20000; round++) {
		seed = seed * 1103515245u + 12345u;
		int k = (int)((seed >> 8) % NKEYS);
		if ((seed >> 4) & 1) {
			assert_int_equal(map_add(&m, keys[k], (size_t)k, NULL), !in[k]);
			n += !in[k];
			in[k] = true;
		} else {
			assert_int_equal(map_del(&m, keys[k]), in[k]);
			n -= in[k];
			in[k] = false;
		}
		assert_int_equal(m.n, n);
		if (round % 97 == 0) {
			for (int i = 0; i < NKEYS; i++) {
				size_t v = SIZE_MAX;
				assert_int_equal(map_find(&m, keys[i], &v), in[i]);
				if (in[i])
					assert_int_equal(v, (size_t)i);
			}
		}
	}
	map_release(&m);
	assert_false(map_del(&m, "x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oracle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
