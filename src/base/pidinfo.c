#include "base/pidinfo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/num.h"

int pid_stat(int pid, struct pid_stat *out)
{
	char path[64], line[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n;
	do
		n = read(fd, line, sizeof(line) - 1);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	if (n <= 0)
		return n < 0 ? -e : -ENOENT;
	line[n] = '\0';
	/* "PID (COMM) S PPID PGRP ...": COMM may hold spaces and
	 * parentheses, but nothing after it does: fields start after the
	 * last ')'. */
	char *p = strrchr(line, ')');
	struct pid_stat st;
	if (!p || sscanf(p + 1, " %c %d %d", &st.state, &st.ppid, &st.pgrp) != 3)
		return -EINVAL;
	/* From the blank before field 3 to the one before field 22. */
	p++;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -EINVAL;
	st.start = strtoull(p + 1, NULL, 10);
	*out = st;
	return 0;
}

uint64_t pid_start_time(int pid)
{
	struct pid_stat st;
	if (pid_stat(pid, &st) < 0 || st.state == 'Z')
		return 0;
	return st.start;
}

bool pid_environ_has(int pid, const char *entry)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	size_t want = strlen(entry);
	/* Entries are NUL-terminated; one may straddle two reads, so keep a
	 * window of the current entry's first bytes. */
	char buf[8192];
	char cur[4096];
	size_t curlen = 0;
	bool overflow = false, found = false;
	ssize_t n;
	while (!found && (n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\0') {
				if (!overflow && curlen == want && memcmp(cur, entry, want) == 0) {
					found = true;
					break;
				}
				curlen = 0;
				overflow = false;
			} else if (curlen < sizeof(cur)) {
				cur[curlen++] = buf[i];
			} else {
				overflow = true;
			}
		}
	}
	close(fd);
	return found;
}

int pid_parse_entry(const char *name)
{
	uint64_t v;
	return num_parse(name, 0, INT_MAX, &v, NULL) == 0 ? (int)v : -1;
}

int pid_each(bool (*fn)(int pid, void *arg), void *arg)
{
	DIR *d = opendir("/proc"); /* glibc opens it O_CLOEXEC */
	if (!d)
		return -errno;
	int self = (int)getpid();
	struct dirent *de;
	while ((de = readdir(d))) {
		int pid = pid_parse_entry(de->d_name);
		if (pid <= 0 || pid == self)
			continue;
		if (fn(pid, arg))
			break;
	}
	closedir(d);
	return 0;
}
