/*
 * leftovers: the processes a dead `lockstep run` left behind, found and
 * killed before a resume or an abort takes its run over.
 *
 * Two ways to find them, because neither alone is enough:
 *   - the recorded step processes (pid == process group, and start time):
 *     a group whose leader is still the recorded process is the step's;
 *   - the run's token: every step process, and whatever it started,
 *     inherits LOCKSTEP_RUN_TOKEN in its environment (/proc/PID/environ),
 *     which also finds a process started in the moment before its pid was
 *     recorded, and daemons that left their step's process group.
 * Each group found gets SIGTERM, and SIGKILL after the grace period.
 */
#ifndef LS_CLI_LEFTOVERS_H
#define LS_CLI_LEFTOVERS_H

#include <stdint.h>
#include <stdio.h>

#include "store/store.h"

/*
 * Kills what is left of run `run` (token may be NULL); waits until it is
 * gone (SIGKILL after `grace_ms`, then at most about two seconds more).
 * Says what it did on `report` (one line per group) and returns how many
 * processes it found alive.
 */
int leftovers_kill(const struct store_run *run, const char *token, uint64_t grace_ms, FILE *report,
		   const char *cmd);

#endif
