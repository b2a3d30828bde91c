#include "events/logpath.h"

#include <limits.h>
#include <unistd.h>

#include "base/logname.h"

void logpath_run_dir(const char *state_dir, uint64_t run, struct buf *out)
{
	buf_addf(out, "%s/logs/%llu", state_dir, (unsigned long long)run);
}

void logpath_supervise_dir(const char *state_dir, uint64_t run, struct buf *out)
{
	if (state_dir[0] != '/') {
		char cwd[PATH_MAX];
		buf_adds(out, getcwd(cwd, sizeof(cwd)) ? cwd : ".");
		buf_addc(out, '/');
	}
	buf_addf(out, "%s/supervise/%llu", state_dir, (unsigned long long)run);
}

void logpath_workflow_dir(const char *run_dir, const char *workflow, struct buf *out)
{
	buf_addf(out, "%s/", run_dir);
	log_component(out, workflow);
}

void logpath_attempt_file(const char *run_dir, const char *workflow, const char *step, int attempt,
			  const char *suffix, struct buf *out)
{
	logpath_workflow_dir(run_dir, workflow, out);
	buf_addf(out, "/%s.%d%s", step, attempt, suffix);
}

void logpath_attempt(const char *run_dir, const char *workflow, const char *step, int attempt,
		     struct buf *out)
{
	logpath_attempt_file(run_dir, workflow, step, attempt, LOGPATH_LOG, out);
}
