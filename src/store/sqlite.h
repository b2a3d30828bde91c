/*
 * sqlite: the embedded store backend, STATE/lockstep.db. Used through
 * store.h; this header is for store.c and the tests.
 */
#ifndef LS_STORE_SQLITE_H
#define LS_STORE_SQLITE_H

#include "base/buf.h"
#include "store/store.h"

/* The schema this lockstep writes (PRAGMA user_version). */
#define STORE_SQLITE_SCHEMA 3

/*
 * Opens STATE/lockstep.db as store_open() does. `target` is the schema
 * version to migrate to: 0 for STORE_SQLITE_SCHEMA; the tests pass a
 * lower one to make a database as an older lockstep left it.
 */
int store_sqlite_open(const char *state_dir, unsigned flags, int target, struct store **out,
		      struct buf *err);

#endif
