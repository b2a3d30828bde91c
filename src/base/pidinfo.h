/*
 * pidinfo: facts about other processes, read from /proc (Linux).
 *
 * A pid alone does not name a process for long: once it exits, the number
 * is reused. A pid together with its start time (field 22 of
 * /proc/PID/stat, clock ticks since boot) does: that is how lockstep
 * records the owner of a run and the processes of its steps, and how it
 * tells, later, whether the very same process is still alive.
 */
#ifndef LS_BASE_PIDINFO_H
#define LS_BASE_PIDINFO_H

#include <stdbool.h>
#include <stdint.h>

/* What /proc/PID/stat says about a process (the fields lockstep uses). */
struct pid_stat {
	char state;                /* R, S, D, T, Z (zombie), X (dead), ... */
	int ppid;
	int pgrp;
	uint64_t start;            /* field 22: start time, clock ticks since boot */
};

/*
 * Reads /proc/PID/stat of process `pid` into *out: the one parser of
 * that file. Returns 0, -errno when it cannot be read (-ENOENT: no such
 * process), or -EINVAL when it cannot be parsed.
 */
int pid_stat(int pid, struct pid_stat *out);
/*
 * The start time of process `pid` in clock ticks since boot, or 0 when
 * there is no such process or it is a zombie (it has ended): "is the
 * very same process still alive?". A zombie's start time, which still
 * names it, is pid_stat's.
 */
uint64_t pid_start_time(int pid);
/*
 * True when the initial environment of process `pid` (/proc/PID/environ)
 * holds the entry `entry` ("KEY=VALUE") exactly. False when it does not,
 * or when it cannot be read (gone, or another user's).
 */
bool pid_environ_has(int pid, const char *entry);
/*
 * Calls `fn` for every process on the system (numeric entries of /proc),
 * except this one, until it returns true (found: stop). Returns 0, or
 * -errno when /proc cannot be read.
 */
int pid_each(bool (*fn)(int pid, void *arg), void *arg);
/* Parses a /proc entry name (a pid, or a descriptor in /proc/PID/fd); -1 when it is not one. */
int pid_parse_entry(const char *name);

#endif
