/*
 * replay: a main() for fuzz targets built without libFuzzer.
 *
 * Runs LLVMFuzzerTestOneInput() once on every input named on the command
 * line: a file is one input, a directory is every file below it
 * (recursively, in byte order of names, skipping dotfiles, so runs are
 * reproducible). This is how the corpus replays in every check with any
 * compiler: a crash or a sanitizer report is the failure signal.
 *
 * Exit status: 0 when every input ran, 1 when a path does not exist, an
 * input cannot be read, or a path holds no input at all (an empty corpus,
 * or one whose files were all left out, tests nothing: a replay that ran
 * nothing must not pass), 2 for usage.
 *
 * Plain libc on purpose: a replay driver must work for any target,
 * including one that does not link the lockstep libraries.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, as in libFuzzer: a target may define it to set itself up. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Inputs larger than this are refused rather than read into memory. */
#define REPLAY_MAX_INPUT (64u * 1024 * 1024)

static size_t replayed;

static void *replay_alloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fputs("replay: out of memory\n", stderr);
		abort();
	}
	return p;
}

/* Reads `path` and runs the target on it. Returns 0 or -1 (reported). */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	unsigned char *data = replay_alloc(cap);
	for (;;) {
		if (len == cap) {
			if (cap >= REPLAY_MAX_INPUT) {
				fprintf(stderr, "replay: %s: too large (limit %u bytes)\n", path,
					REPLAY_MAX_INPUT);
				free(data);
				fclose(f);
				return -1;
			}
			cap *= 2;
			unsigned char *p = realloc(data, cap);
			if (!p) {
				fputs("replay: out of memory\n", stderr);
				abort();
			}
			data = p;
		}
		size_t n = fread(data + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	int failed = ferror(f);
	fclose(f);
	if (failed) {
		fprintf(stderr, "replay: %s: read error\n", path);
		free(data);
		return -1;
	}
	/*
	 * An exact-size copy, so that a read one byte past the input is an
	 * out-of-bounds read the sanitizers see, as under libFuzzer.
	 */
	unsigned char *exact = replay_alloc(len);
	memcpy(exact, data, len);
	free(data);
	/* Names the input first: if the target crashes, this is the culprit. */
	fprintf(stderr, "Running: %s\n", path);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	replayed++;
	return 0;
}

static int skip_dotfiles(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* Byte order, not the locale's collation: the same order on every machine. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int replay_path(const char *path, int top);

static int replay_dir(const char *path)
{
	struct dirent **names;
	int n = scandir(path, &names, skip_dotfiles, by_name);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(path) + 1 + strlen(names[i]->d_name) + 1;
		char *child = replay_alloc(len);
		snprintf(child, len, "%s/%s", path, names[i]->d_name);
		if (replay_path(child, 0) < 0)
			rc = -1;
		free(child);
		free(names[i]);
	}
	free(names);
	return rc;
}

/*
 * Replays a file or a directory. Below the top level, symbolic links to
 * directories are not followed, so a link loop cannot make the walk
 * endless; links to files are replayed.
 */
static int replay_path(const char *path, int top)
{
	struct stat st;
	if ((top ? stat(path, &st) : lstat(path, &st)) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			return 0;
	}
	if (S_ISDIR(st.st_mode))
		return replay_dir(path);
	if (S_ISREG(st.st_mode))
		return replay_file(path);
	if (top) {
		fprintf(stderr, "replay: %s: not a file or directory\n", path);
		return -1;
	}
	return 0; /* fifos, sockets, devices inside a corpus: not inputs */
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		size_t before = replayed;
		if (replay_path(argv[i], 1) < 0) {
			rc = 1;
		} else if (replayed == before) {
			fprintf(stderr, "replay: %s: no input in it: an empty corpus tests nothing\n", argv[i]);
			rc = 1;
		}
	}
	printf("replayed %zu inputs\n", replayed);
	return rc;
}
