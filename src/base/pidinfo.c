#include "base/pidinfo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint64_t pid_start_time(int pid)
{
	char path[64], line[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	line[n] = '\0';
	/* The command name may hold spaces and parentheses: fields start
	 * after the last ')'. */
	char *p = strrchr(line, ')');
	if (!p)
		return 0;
	p++;
	/* p is at the blank before field 3, the state: a zombie is gone. */
	if (p[0] != ' ' || p[1] == 'Z')
		return 0;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return 0;
	return strtoull(p + 1, NULL, 10);
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

int pid_each(void (*fn)(int pid, void *arg), void *arg)
{
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	int self = (int)getpid();
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self)
			continue;
		fn((int)pid, arg);
	}
	closedir(d);
	return 0;
}
