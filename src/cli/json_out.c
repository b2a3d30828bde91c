#include "cli/json_out.h"

#include "events/codec.h"
#include "store/store.h"

/* Events read back from the store per page. */
#define PAGE 512

struct page_ctx {
	struct buf *out;
	uint64_t to;
	int64_t last;
};

static void add_line(const struct store_event *se, void *arg)
{
	struct page_ctx *c = arg;
	if (se->seq > c->to)
		return;
	buf_adds(c->out, se->json);
	buf_addc(c->out, '\n');
	c->last = (int64_t)se->seq;
}

/* On the queue's thread: the lines of events from..to, read back. */
static int64_t fill(uint64_t from, uint64_t to, struct buf *out, void *arg)
{
	struct json_out *j = arg;
	struct buf err = BUF_INIT;
	int r = 0;
	if (!j->st)
		r = store_open(j->state_dir, STORE_READONLY, &j->st, &err);
	struct page_ctx c = { out, to, -1 };
	if (r == 0)
		r = store_read_events(j->st, j->run, from - 1, PAGE, add_line, &c, &err);
	/* A hole in the record would shift every later line: stop at it. */
	if (r == 0 && c.last < 0)
		buf_addf(&err, "events from seq %llu on are not in the store",
			 (unsigned long long)from);
	if (err.len && !j->err.len)
		buf_add(&j->err, err.s, err.len);
	buf_release(&err);
	return c.last;
}

void json_out_init(struct json_out *j, struct outq *q, const struct events *ev, const char *state_dir,
		   uint64_t run)
{
	j->q = q;
	j->ev = ev;
	j->state_dir = state_dir;
	j->run = run;
	j->st = NULL;
	buf_init(&j->err);
	outq_set_fill(q, fill, j);
}

void json_out_release(struct json_out *j)
{
	store_close(j->st);
	j->st = NULL;
	buf_release(&j->err);
}

void json_out_sink(const struct event *ev, void *arg)
{
	struct json_out *j = arg;
	struct buf b = BUF_INIT;
	event_to_json(ev, &b);
	buf_addc(&b, '\n');
	/* Only what the store has can be left to it. */
	bool recorded = ev->seq <= j->ev->last_committed;
	outq_put_seq(j->q, ev->seq, b.s, b.len, recorded ? JSON_OUT_LIMIT : SIZE_MAX);
	buf_release(&b);
}
