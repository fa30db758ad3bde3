/* perfscript-run: feeds perf script text to the parser in chunks cut at
 * blank lines, on one thread or on a pool of workers.
 * Invariant: the output and the warnings (in input order, with global line
 * numbers) are the same for any number of threads. The event filter that
 * the first event sets is found on the calling thread before any worker
 * starts, so every worker filters the same way. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/linereader.h"
#include "base/xalloc.h"
#include "format/perfscript-parse.h"

enum { CHUNK_SIZE = 4 << 20 };

/* Where a chunk may end: just after a blank line, where no event is open.
 * Returns the cut offset, or 0 when buf has no blank line. */
static size_t find_cut(const char *buf, size_t len, enum perfscript_dialect d)
{
	for (size_t i = len; i-- > 1;) {
		if (buf[i] != '\n')
			continue;
		if (buf[i - 1] == '\n')
			return i + 1;
		if (d == PERFSCRIPT_INFERNO && buf[i - 1] == '\r' && i >= 2 && buf[i - 2] == '\n')
			return i + 1;
	}
	return 0;
}

static void report_warnings(struct ps_parser *p, unsigned long base, const struct perfscript_io *io)
{
	if (io && io->warn) {
		for (size_t i = 0; i < p->nwarns; i++) {
			struct perfscript_warning w = {
				.line = base + p->warns[i].line,
				.kind = p->warns[i].kind,
				.text = p->warn_text.buf + p->warns[i].text_off,
			};
			io->warn(io->ctx, &w);
		}
	}
	p->nwarns = 0;
	strbuf_reset(&p->warn_text);
}

/* A reader of chunks that always end at a blank line (or at end of input). */
struct chunker {
	int fd;
	enum perfscript_dialect dialect;
	char *buf;
	size_t cap, len;
	int eof;
	unsigned long long bytes;
	/* in-memory input instead of fd */
	const char *mem;
	size_t mem_len, mem_off;
};

/* Reads until buf holds a cut point or input ends. Returns the chunk length
 * (0 at end of input) or -errno. The chunk is buf[0..n); call
 * chunker_consume(n) when done with it. */
static long chunker_next(struct chunker *c)
{
	size_t scanned_cut = 0;
	for (;;) {
		if (c->len > scanned_cut) {
			size_t cut = find_cut(c->buf, c->len, c->dialect);
			if (cut)
				return (long)cut;
			scanned_cut = c->len;
		}
		if (c->eof)
			return (long)c->len;
		if (c->cap - c->len < CHUNK_SIZE)
			c->buf = xgrow(c->buf, 1, c->len + CHUNK_SIZE, &c->cap);
		long n;
		if (c->mem) {
			size_t take = c->mem_len - c->mem_off;
			if (take > c->cap - c->len)
				take = c->cap - c->len;
			memcpy(c->buf + c->len, c->mem + c->mem_off, take);
			c->mem_off += take;
			n = (long)take;
		} else {
			n = read_full(c->fd, c->buf + c->len, CHUNK_SIZE);
			if (n < 0)
				return n;
		}
		if (n == 0 || (!c->mem && n < CHUNK_SIZE) || (c->mem && c->mem_off == c->mem_len))
			c->eof = 1;
		c->len += (size_t)n;
		c->bytes += (unsigned long long)n;
	}
}

static void chunker_consume(struct chunker *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* ---- worker pool ------------------------------------------------------- */

struct job {
	char *data;
	size_t len, cap;
	int state; /* 0 free, 1 queued, 2 running, 3 done */
	/* results, moved out of the worker's parser */
	unsigned long lines;
	struct ps_warn *warns;
	size_t nwarns, warns_cap;
	struct strbuf warn_text;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *jobs;
	size_t njobs;
	size_t next_run;  /* ring index of the next job a worker takes */
	int stopping;
	const struct perfscript_options *o;
	const char *filter;
	size_t filter_len;
	bool filter_set;
};

struct worker {
	struct pool *pool;
	pthread_t thread;
	struct foldtab table;
	struct ps_parser parser;
	unsigned long events, warnings;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *pl = w->pool;
	pthread_mutex_lock(&pl->mu);
	for (;;) {
		struct job *j = &pl->jobs[pl->next_run];
		while (j->state != 1 && !pl->stopping) {
			pthread_cond_wait(&pl->cv, &pl->mu);
			j = &pl->jobs[pl->next_run];
		}
		if (j->state != 1)
			break;
		j->state = 2;
		pl->next_run = (pl->next_run + 1) % pl->njobs;
		pthread_mutex_unlock(&pl->mu);

		struct ps_parser *p = &w->parser;
		p->lineno = 0;
		ps_parser_chunk(p, j->data, j->len);
		ps_parser_finish(p); /* a chunk ends at rest, or at end of input */
		j->lines = p->lineno;
		/* hand the warnings over with the job */
		struct ps_warn *tw = j->warns;
		size_t tcap = j->warns_cap;
		j->warns = p->warns;
		j->nwarns = p->nwarns;
		j->warns_cap = p->warns_cap;
		p->warns = tw;
		p->warns_cap = tcap;
		p->nwarns = 0;
		struct strbuf ts = j->warn_text;
		j->warn_text = p->warn_text;
		p->warn_text = ts;
		strbuf_reset(&p->warn_text);

		pthread_mutex_lock(&pl->mu);
		j->state = 3;
		pthread_cond_broadcast(&pl->cv);
	}
	pthread_mutex_unlock(&pl->mu);
	return NULL;
}

static int run_parallel(struct chunker *c, struct ps_parser *mainp, const struct perfscript_options *o,
			const struct perfscript_io *io, struct foldtab *out, unsigned long *line_base,
			struct perfscript_stats *st)
{
	unsigned nw = o->nthreads;
	struct pool pl = {0};
	pthread_mutex_init(&pl.mu, NULL);
	pthread_cond_init(&pl.cv, NULL);
	pl.njobs = (size_t)nw * 2 + 1;
	pl.jobs = xcalloc(pl.njobs, sizeof(*pl.jobs));
	pl.o = o;
	struct worker *ws = xcalloc(nw, sizeof(*ws));
	unsigned started = 0;
	int rc = 0;
	for (unsigned i = 0; i < nw; i++) {
		ws[i].pool = &pl;
		foldtab_init(&ws[i].table);
		ps_parser_init(&ws[i].parser, o, &ws[i].table);
		if (mainp->filter_set)
			ps_parser_set_filter(&ws[i].parser, mainp->filter, mainp->filter_len);
		if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
			foldtab_release(&ws[i].table);
			ps_parser_release(&ws[i].parser);
			break;
		}
		started++;
	}
	if (!started) {
		rc = -EAGAIN;
		goto out;
	}

	size_t submit = 0, retire = 0, inflight = 0;
	bool input_done = false;
	while (!input_done || inflight) {
		pthread_mutex_lock(&pl.mu);
		/* retire finished jobs in order */
		while (inflight && pl.jobs[retire].state == 3) {
			struct job *j = &pl.jobs[retire];
			pthread_mutex_unlock(&pl.mu);
			for (size_t k = 0; k < j->nwarns; k++) {
				if (io && io->warn) {
					struct perfscript_warning w = {
						.line = *line_base + j->warns[k].line,
						.kind = j->warns[k].kind,
						.text = j->warn_text.buf + j->warns[k].text_off,
					};
					io->warn(io->ctx, &w);
				}
			}
			*line_base += j->lines;
			j->nwarns = 0;
			strbuf_reset(&j->warn_text);
			pthread_mutex_lock(&pl.mu);
			j->state = 0;
			retire = (retire + 1) % pl.njobs;
			inflight--;
		}
		if (input_done || pl.jobs[submit].state != 0) {
			if (inflight && pl.jobs[retire].state != 3)
				pthread_cond_wait(&pl.cv, &pl.mu);
			pthread_mutex_unlock(&pl.mu);
			continue;
		}
		pthread_mutex_unlock(&pl.mu);

		long n = chunker_next(c);
		if (n < 0) {
			rc = (int)n;
			input_done = true;
			continue;
		}
		if (n == 0) {
			input_done = true;
			continue;
		}
		struct job *j = &pl.jobs[submit];
		j->data = xgrow(j->data, 1, (size_t)n, &j->cap);
		memcpy(j->data, c->buf, (size_t)n);
		j->len = (size_t)n;
		chunker_consume(c, (size_t)n);
		if (io && io->progress)
			io->progress(io->ctx, c->bytes);
		pthread_mutex_lock(&pl.mu);
		j->state = 1;
		pthread_cond_broadcast(&pl.cv);
		pthread_mutex_unlock(&pl.mu);
		submit = (submit + 1) % pl.njobs;
		inflight++;
	}

	pthread_mutex_lock(&pl.mu);
	pl.stopping = 1;
	pthread_cond_broadcast(&pl.cv);
	pthread_mutex_unlock(&pl.mu);
	for (unsigned i = 0; i < started; i++) {
		pthread_join(ws[i].thread, NULL);
		foldtab_merge(out, &ws[i].table);
		st->events += ws[i].parser.events;
		st->warnings += ws[i].parser.nwarnings;
		foldtab_release(&ws[i].table);
		ps_parser_release(&ws[i].parser);
	}
out:
	for (size_t i = 0; i < pl.njobs; i++) {
		free(pl.jobs[i].data);
		free(pl.jobs[i].warns);
		strbuf_release(&pl.jobs[i].warn_text);
	}
	free(pl.jobs);
	free(ws);
	pthread_mutex_destroy(&pl.mu);
	pthread_cond_destroy(&pl.cv);
	return rc;
}

static int collapse(struct chunker *c, const struct perfscript_options *o,
		    const struct perfscript_io *io, struct foldtab *out, struct perfscript_stats *stats)
{
	struct perfscript_stats local = {0};
	struct perfscript_stats *st = stats ? stats : &local;
	memset(st, 0, sizeof(*st));
	struct ps_parser p;
	ps_parser_init(&p, o, out);
	unsigned long line_base = 0;
	int rc = 0;
	/* Parse on this thread until the event filter is known; then hand
	 * the rest to the workers. */
	for (;;) {
		if (p.filter_set && o->nthreads > 1)
			break;
		long n = chunker_next(c);
		if (n <= 0) {
			rc = (int)n;
			break;
		}
		p.lineno = 0;
		ps_parser_chunk(&p, c->buf, (size_t)n);
		if (!c->eof || (size_t)n < c->len)
			ps_parser_finish(&p); /* chunk ends at a blank line */
		report_warnings(&p, line_base, io);
		line_base += p.lineno;
		chunker_consume(c, (size_t)n);
		if (io && io->progress)
			io->progress(io->ctx, c->bytes);
	}
	if (rc == 0 && p.filter_set && o->nthreads > 1)
		rc = run_parallel(c, &p, o, io, out, &line_base, st);
	ps_parser_finish(&p);
	st->lines = line_base;
	st->events += p.events;
	st->warnings += p.nwarnings;
	st->bytes = c->bytes;
	if (p.filter_set) {
		size_t n = p.filter_len < sizeof(st->event) - 1 ? p.filter_len : sizeof(st->event) - 1;
		memcpy(st->event, p.filter, n);
		st->event[n] = '\0';
	}
	ps_parser_release(&p);
	return rc;
}

int perfscript_collapse(int fd, const void *prefix, size_t prefix_len,
			const struct perfscript_options *o, const struct perfscript_io *io,
			struct foldtab *out, struct perfscript_stats *stats)
{
	struct chunker c = {.fd = fd, .dialect = o->dialect};
	c.cap = CHUNK_SIZE + prefix_len;
	c.buf = xmalloc(c.cap);
	if (prefix_len)
		memcpy(c.buf, prefix, prefix_len);
	c.len = prefix_len;
	c.bytes = prefix_len;
	int rc = collapse(&c, o, io, out, stats);
	free(c.buf);
	return rc;
}

int perfscript_collapse_buffer(const char *data, size_t len, const struct perfscript_options *o,
			       const struct perfscript_io *io, struct foldtab *out,
			       struct perfscript_stats *stats)
{
	struct chunker c = {.fd = -1, .dialect = o->dialect, .mem = data, .mem_len = len};
	c.eof = len == 0;
	int rc = collapse(&c, o, io, out, stats);
	free(c.buf);
	return rc;
}
