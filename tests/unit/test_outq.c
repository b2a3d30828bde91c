/*
 * Tests for base/outq: output written by a thread of its own, so that the
 * producer never blocks on a slow reader. A pipe that nobody reads stands
 * for the slow reader; a reader thread drains it when the test says so.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/outq.h"

/* Reads a pipe to its end into a buffer, on a thread of its own. */
struct reader {
	int fd;
	pthread_t thread;
	struct buf got;
};

static void *read_all(void *arg)
{
	struct reader *r = arg;
	char chunk[65536];
	ssize_t n;
	while ((n = read(r->fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		buf_add(&r->got, chunk, (size_t)n);
	}
	return NULL;
}

static void reader_start(struct reader *r, int fd)
{
	r->fd = fd;
	buf_init(&r->got);
	assert_int_equal(pthread_create(&r->thread, NULL, read_all, r), 0);
}

/* Waits for the end of the pipe (its write end must be closed). */
static void reader_join(struct reader *r)
{
	pthread_join(r->thread, NULL);
	close(r->fd);
}

static size_t count_lines(const struct buf *b)
{
	size_t n = 0;
	for (size_t i = 0; i < b->len; i++)
		n += b->s[i] == '\n';
	return n;
}

static void test_everything_accepted_is_written_in_order(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct reader r;
	reader_start(&r, p[0]);
	struct outq *q = outq_new(p[1]);
	struct buf want = BUF_INIT;
	char line[64];
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(line, sizeof(line), "line %d\n", i);
		assert_true(outq_put(q, line, (size_t)n, SIZE_MAX));
		buf_add(&want, line, (size_t)n);
	}
	outq_free(q);
	close(p[1]);
	reader_join(&r);
	assert_int_equal(r.got.len, want.len);
	assert_memory_equal(r.got.s, want.s, want.len);
	buf_release(&want);
	buf_release(&r.got);
}

/*
 * Nobody reads: the producer is never held up, lines past the limit are
 * dropped whole and counted, and the note says how many before the next
 * line that gets through.
 */
static void test_a_stalled_reader_never_blocks_the_producer(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct outq *q = outq_new(p[1]);
	outq_set_note(q, "see the log");
	char line[128];
	memset(line, 'x', sizeof(line));
	line[sizeof(line) - 1] = '\n';
	/* 100 times what the pipe and the limit hold together. */
	uint64_t t0 = clock_mono_ms();
	size_t accepted = 0, refused = 0;
	for (int i = 0; i < 100000; i++) {
		if (outq_put_lines(q, line, sizeof(line), 64 * 1024))
			accepted++;
		else
			refused++;
	}
	uint64_t took = clock_mono_ms() - t0;
	assert_true(refused > 0);
	assert_int_equal(outq_dropped(q), refused);
	assert_true(outq_backlog(q) <= 64 * 1024);
	/* Generous: a blocked write would take forever, not a second. */
	assert_true(took < 5000);

	struct reader r;
	reader_start(&r, p[0]);
	outq_put_lines(q, "last\n", 5, SIZE_MAX);
	outq_free(q);
	close(p[1]);
	reader_join(&r);
	/* Every accepted line, then the notes (the writer may have made room
	 * now and then: a note each time), which add up to what was refused. */
	size_t notes = 0, noted = 0;
	for (const char *s = r.got.s; (s = strstr(s, "... ")) != NULL; s++) {
		unsigned long long k = 0;
		char tail[64] = "";
		assert_int_equal(sscanf(s, "... %llu lines dropped; %63[^\n]", &k, tail), 2);
		assert_string_equal(tail, "see the log");
		noted += k;
		notes++;
	}
	assert_true(notes >= 1);
	assert_int_equal(noted, refused);
	assert_int_equal(count_lines(&r.got), accepted + notes + 1);
	assert_memory_equal(r.got.s + r.got.len - 5, "last\n", 5);
	buf_release(&r.got);
}

/* Lines dropped at the very end are noted when the queue is drained. */
static void test_drops_at_the_end_are_noted(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct outq *q = outq_new(p[1]);
	assert_true(outq_put_lines(q, "a\n", 2, SIZE_MAX));
	assert_false(outq_put_lines(q, "b\nc\n", 4, 0));
	struct reader r;
	reader_start(&r, p[0]);
	outq_free(q);
	close(p[1]);
	reader_join(&r);
	assert_string_equal(r.got.s, "a\n... 2 lines dropped\n");
	buf_release(&r.got);
}

/* Reads from `fd` until `want` has come, or 2 s pass; what came in `got`. */
static bool read_until(int fd, const char *want, struct buf *got)
{
	uint64_t end = clock_mono_ms() + 2000;
	while (!strstr(got->s, want) && clock_mono_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		char chunk[4096];
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n > 0)
			buf_add(got, chunk, (size_t)n);
	}
	return strstr(got->s, want) != NULL;
}

/*
 * The writer asleep on an empty buffer is woken by a line that follows a
 * note of dropped lines (the note came first, so the line alone did not
 * find the buffer empty: it must still wake it).
 */
static void test_a_note_wakes_a_sleeping_writer(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct outq *q = outq_new(p[1]);
	struct buf got = BUF_INIT;
	assert_true(outq_put(q, "a\n", 2, SIZE_MAX));
	assert_true(read_until(p[0], "a\n", &got));
	/* Backlog 0: the writer took the lock last to wait (it holds it from
	 * the end of its write until it sleeps). */
	for (int i = 0; i < 2000 && outq_backlog(q); i++)
		usleep(1000);
	assert_int_equal(outq_backlog(q), 0);
	assert_false(outq_put_lines(q, "b\n", 2, 0));
	assert_true(outq_put_lines(q, "c\n", 2, SIZE_MAX));
	assert_true(read_until(p[0], "... 1 line dropped\nc\n", &got));
	outq_free(q);
	close(p[1]);
	close(p[0]);
	buf_release(&got);
}

/* A stand-in for the store: chunk i is "event i\n". */
struct source {
	uint64_t calls;
	uint64_t fail_from;        /* 0: never fails */
};

static int64_t fill(uint64_t from, uint64_t to, struct buf *out, void *arg)
{
	struct source *s = arg;
	s->calls++;
	if (s->fail_from && from >= s->fail_from)
		return -1;
	uint64_t last = from;
	for (uint64_t i = from; i <= to && i < from + 7; i++) {
		buf_addf(out, "event %llu\n", (unsigned long long)i);
		last = i;
	}
	return (int64_t)last;
}

/*
 * Past the limit nothing more is kept in memory: the gap is filled from
 * the source when the writer gets there, and the reader sees every chunk
 * once, in order. Chunks the source does not have (the last ones here,
 * as after a store failure) wait behind the gap.
 */
static void test_kept_chunks_past_the_limit_come_from_the_source(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct source src = { 0 };
	struct outq *q = outq_new(p[1]);
	outq_set_fill(q, fill, &src);
	struct buf want = BUF_INIT;
	char line[64];
	const uint64_t n = 50000, from_memory = 49000;
	for (uint64_t i = 1; i <= n; i++) {
		int len = snprintf(line, sizeof(line), "event %llu\n", (unsigned long long)i);
		outq_put_seq(q, i, line, (size_t)len, i >= from_memory ? SIZE_MAX : 4096);
		buf_add(&want, line, (size_t)len);
		if (i < from_memory)
			assert_true(outq_backlog(q) <= 4096);
	}
	struct reader r;
	reader_start(&r, p[0]);
	outq_free(q);
	close(p[1]);
	reader_join(&r);
	assert_true(src.calls > 0);
	assert_int_equal(r.got.len, want.len);
	assert_memory_equal(r.got.s, want.s, want.len);
	buf_release(&want);
	buf_release(&r.got);
}

/* What the source cannot give is counted as lost, and the rest goes on. */
static void test_a_gap_that_cannot_be_filled_is_counted(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct source src = { .fail_from = 1 };
	struct outq *q = outq_new(p[1]);
	outq_set_fill(q, fill, &src);
	char big[100000];
	memset(big, 'y', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	/* The first fills the pipe (the writer blocks), the second waits in
	 * memory, the third and fourth are past the limit: a gap. */
	outq_put_seq(q, 1, big, sizeof(big), SIZE_MAX);
	outq_put_seq(q, 2, big, sizeof(big), SIZE_MAX);
	outq_put_seq(q, 3, "three\n", 6, 1000);
	outq_put_seq(q, 4, "four\n", 5, 1000);
	struct reader r;
	reader_start(&r, p[0]);
	outq_drain(q);
	assert_int_equal(outq_lost(q), 2);
	outq_put_seq(q, 5, "five\n", 5, 1000);
	outq_free(q);
	close(p[1]);
	reader_join(&r);
	assert_int_equal(r.got.len, 2 * sizeof(big) + 5);
	assert_memory_equal(r.got.s + 2 * sizeof(big), "five\n", 5);
	buf_release(&r.got);
}

/* A reader that goes away: the queue is broken, and nothing blocks. */
static void test_a_reader_that_goes_away_breaks_the_queue(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	int p[2];
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	struct outq *q = outq_new(p[1]);
	assert_true(outq_put(q, "x\n", 2, SIZE_MAX));
	outq_drain(q);
	int err = 0;
	assert_true(outq_broken(q, &err));
	assert_int_equal(err, EPIPE);
	/* Discarded, but accepted: nobody counts drops nobody could read. */
	assert_true(outq_put_lines(q, "y\n", 2, 0));
	assert_int_equal(outq_dropped(q), 0);
	assert_int_equal(outq_backlog(q), 0);
	outq_free(q);
	close(p[1]);
}

/* A descriptor someone made non-blocking is waited for, not given up. */
static void test_a_non_blocking_descriptor_loses_nothing(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
	struct outq *q = outq_new(p[1]);
	static char block[1 << 20];
	memset(block, 'z', sizeof(block));
	assert_true(outq_put(q, block, sizeof(block), SIZE_MAX));
	struct reader r;
	reader_start(&r, p[0]);
	outq_free(q);
	close(p[1]);
	reader_join(&r);
	assert_int_equal(r.got.len, sizeof(block));
	buf_release(&r.got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_everything_accepted_is_written_in_order),
		cmocka_unit_test(test_a_stalled_reader_never_blocks_the_producer),
		cmocka_unit_test(test_drops_at_the_end_are_noted),
		cmocka_unit_test(test_a_note_wakes_a_sleeping_writer),
		cmocka_unit_test(test_kept_chunks_past_the_limit_come_from_the_source),
		cmocka_unit_test(test_a_gap_that_cannot_be_filled_is_counted),
		cmocka_unit_test(test_a_reader_that_goes_away_breaks_the_queue),
		cmocka_unit_test(test_a_non_blocking_descriptor_loses_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
