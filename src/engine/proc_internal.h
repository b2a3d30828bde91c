/*
 * What proc.c and proc_tree.c share; nothing outside engine/proc*.c
 * includes this.
 */
#ifndef LS_ENGINE_PROC_INTERNAL_H
#define LS_ENGINE_PROC_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

/* After a SIGKILL, how long the killed processes may take to vanish before
 * proc stops waiting for them (a process stuck in uninterruptible sleep). */
#define PROC_REAP_MS 1000

#define NS_PER_MS 1000000ULL

/*
 * True when `pid` is the main process of a proc that libuv still has to
 * reap (proc.c): proc_kill_descendants must leave its status to libuv.
 */
bool proc_live_has(pid_t pid);

/*
 * Tells whether group `pgid` has a member that is alive or that is our
 * child (ours to reap). 1: yes; 0: only zombies that another parent will
 * reap; -errno: /proc cannot be read (proc_tree.c).
 */
int proc_scan_group(pid_t pgid);

#endif
