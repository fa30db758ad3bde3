/* buffer: per-thread event buffers, the pool of 64 KiB blocks, the queue of
 * filled blocks for the writer, and the meta stream. A thread appends to
 * its own block under its own spinlock (uncontended except for the flush
 * thread's ~10 Hz visit); a full block is queued under a short lock. The
 * flush thread takes partial blocks under the same spinlock, so a thread
 * that blocks forever holds back at most one flush interval of data. Each
 * registration of a thread starts a stream (a serial, its HT_THREAD
 * first), and each block of it starts with an HT_CONTEXT naming it.
 * Invariant: a thread's blocks enter the queue in the order they were
 * written (always under its lock), and the queue is written FIFO.
 * Agent mode writes no records: a thread's tbuf holds only its stack cache,
 * and the meta stream takes nothing. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/heaptrace.h"
#include "heap/heap.h"

#define MAX_IN_FLIGHT 64 /* queued blocks before a thread writes them itself */

enum { T_ACTIVE, T_DEAD, T_FREE };
struct tbuf {
	atomic_int lock;
	_Atomic int state;
	struct tbuf *next;  /* registry, never unlinked */
	struct block *blk;
	uint32_t tid;
	struct kh_caches caches;
};

static _Atomic(struct tbuf *) registry;
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t kh_flush_cv;
static struct block *qhead, *qtail, *freelist;
static unsigned in_flight;
static atomic_int metalock;
static struct block *mhead, *mtail;
static pthread_key_t exit_key;
static _Atomic uint32_t next_serial = 1;
static TLS uint8_t scratch[MAX_RECORD + 32]; /* exited threads' records, after a context */

void buffer_init(void)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&kh_flush_cv, &a);
	pthread_condattr_destroy(&a);
	pthread_key_create(&exit_key, buffer_thread_exit);
}

struct block *pool_get(void)
{
	pthread_mutex_lock(&qlock);
	struct block *b = freelist;
	if (b)
		freelist = b->next;
	pthread_mutex_unlock(&qlock);
	if (!b)
		b = heap_map(sizeof *b);
	if (b) {
		b->next = NULL;
		b->len = 0;
	}
	return b;
}

void pool_put(struct block *b)
{
	pthread_mutex_lock(&qlock);
	b->next = freelist;
	freelist = b;
	in_flight--;
	pthread_mutex_unlock(&qlock);
}

void queue_push(struct block *b)
{
	b->next = NULL;
	pthread_mutex_lock(&qlock);
	if (qtail)
		qtail->next = b;
	else
		qhead = b;
	qtail = b;
	in_flight++;
	pthread_mutex_unlock(&qlock);
}

struct block *queue_pop(void)
{
	pthread_mutex_lock(&qlock);
	struct block *b = qhead;
	if (b) {
		qhead = b->next;
		if (!qhead)
			qtail = NULL;
	}
	pthread_mutex_unlock(&qlock);
	return b;
}

static void read_comm(uint32_t tid, char out[16])
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%u/comm", tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, out, 15) : -1;
	if (fd >= 0)
		close(fd);
	if (n < 0)
		n = 0;
	while (n > 0 && out[n - 1] == '\n')
		n--;
	out[n] = 0;
}

static uint8_t *put_thread(uint8_t *w, uint32_t tid, const char *name)
{
	size_t l = strlen(name);
	*w++ = HEAPTRACE_HEAD(HT_THREAD);
	w = put_v(w, kh_self.serial);
	w = put_v(w, tid);
	w = put_v(w, l);
	memcpy(w, name, l);
	return w + l;
}

/* What starts a chunk's run of this thread's events. */
static uint8_t *put_context(uint8_t *w)
{
	*w++ = HEAPTRACE_HEAD(HT_CONTEXT);
	w = put_v(w, kh_self.serial);
	return put_v(w, kh_self.time_us);
}

/* A new stream for the calling thread, which owns t (t->lock held): its
 * serial, and its name first. */
static void start_stream(struct tbuf *t)
{
	kh_self.serial = atomic_fetch_add(&next_serial, 1);
	kh_self.nallocs = 0;
	t->blk->len = (uint32_t)(put_thread(put_context(t->blk->data), t->tid, kh_self.comm) - t->blk->data);
}

static struct tbuf *register_thread(void)
{
	struct tbuf *t;
	for (t = atomic_load(&registry); t; t = t->next) {
		int f = T_FREE;
		if (atomic_load(&t->state) == T_FREE && atomic_compare_exchange_strong(&t->state, &f, T_ACTIVE))
			break;
	}
	if (!t) {
		t = heap_map(sizeof *t);
		if (!t)
			return NULL;
		t->state = T_ACTIVE;
		struct tbuf *h = atomic_load(&registry);
		do
			t->next = h;
		while (!atomic_compare_exchange_weak(&registry, &h, t));
	}
	spin_lock(&t->lock);
	stacks_clear_cache(&t->caches);
	if (kh_agent) {
		spin_unlock(&t->lock);
		pthread_setspecific(exit_key, t);
		kh_self.buf = t;
		return t;
	}
	if (!t->blk)
		t->blk = pool_get();
	if (t->blk)
		t->blk->len = 0;
	t->tid = kh_tid();
	/* the thread's name, first in its stream; re-read at its exit */
	read_comm(t->tid, kh_self.comm);
	if (t->blk)
		start_stream(t);
	spin_unlock(&t->lock);
	if (!t->blk)
		return NULL;
	pthread_setspecific(exit_key, t);
	kh_self.buf = t;
	return t;
}

struct kh_caches *buffer_stack_cache(void)
{
	struct tbuf *t = kh_self.buf;
	if (!t && !kh_self.exited)
		t = register_thread();
	return t ? &t->caches : NULL;
}

/* Queue t's block and give it a fresh one; t->lock is held. */
static void rotate(struct tbuf *t)
{
	struct block *full = t->blk;
	queue_push(full);
	pthread_mutex_lock(&qlock);
	int backlog = in_flight >= MAX_IN_FLIGHT;
	pthread_cond_signal(&kh_flush_cv);
	pthread_mutex_unlock(&qlock);
	if (backlog)
		writer_drain(); /* the writer is behind: help, in queue order */
	t->blk = pool_get();
	if (!t->blk)
		kh_fail("out of memory for trace buffers", 0);
}

uint8_t *buffer_begin(void)
{
	struct tbuf *t = kh_self.buf;
	if (!t) {
		if (kh_self.exited)
			return put_context(scratch); /* serial 0: no stream */
		t = register_thread();
		if (!t)
			return NULL;
	}
	spin_lock(&t->lock);
	if (t->blk && t->blk->len + MAX_RECORD > BLOCK_BYTES)
		rotate(t);
	if (!t->blk) {
		spin_unlock(&t->lock);
		return NULL;
	}
	uint8_t *w = t->blk->data + t->blk->len;
	return t->blk->len ? w : put_context(w); /* each chunk names its stream */
}

void buffer_end(uint8_t *end)
{
	struct tbuf *t = kh_self.buf;
	if (!t) {
		meta_append(scratch, (size_t)(end - scratch));
		return;
	}
	t->blk->len = (uint32_t)(end - t->blk->data);
	spin_unlock(&t->lock);
}

void buffer_wait(const struct timespec *deadline)
{
	pthread_mutex_lock(&qlock);
	if (!qhead)
		pthread_cond_timedwait(&kh_flush_cv, &qlock, deadline);
	pthread_mutex_unlock(&qlock);
}

/* Take t's partial block (t->lock held). */
static void take(struct tbuf *t)
{
	if (t->blk && t->blk->len) {
		struct block *b = pool_get();
		if (!b)
			return;
		queue_push(t->blk);
		t->blk = b;
	}
}

void buffer_capture_all(int block)
{
	for (struct tbuf *t = atomic_load(&registry); t; t = t->next) {
		int st = atomic_load(&t->state);
		if (st == T_FREE)
			continue;
		if (block)
			spin_lock(&t->lock);
		else if (!spin_trylock(&t->lock))
			continue; /* busy now: next tick */
		take(t);
		if (st == T_DEAD)
			atomic_store(&t->state, T_FREE); /* drained: reusable */
		spin_unlock(&t->lock);
	}
}

void buffer_capture_self(void)
{
	struct tbuf *t = kh_self.buf;
	if (!t)
		return;
	spin_lock(&t->lock);
	take(t);
	spin_unlock(&t->lock);
}

/* Thread exit (the key's destructor): a last HT_THREAD if the name
 * changed; later events of this thread go to the meta stream. */
void buffer_thread_exit(void *arg)
{
	struct tbuf *t = arg;
	if (t == kh_self.buf && kh_agent) {
		kh_self.exited = 1;
		kh_self.buf = NULL;
		atomic_store(&t->state, T_FREE); /* nothing to drain */
		return;
	}
	if (atomic_load(&kh_state) != KH_ON || t != kh_self.buf)
		return;
	kh_self.guard++;
	char name[16];
	read_comm(t->tid, name);
	if (strcmp(name, kh_self.comm) != 0) {
		uint8_t *w = buffer_begin();
		if (w)
			buffer_end(put_thread(w, t->tid, name));
	}
	kh_self.exited = 1;
	kh_self.buf = NULL;
	kh_self.serial = 0;
	atomic_store(&t->state, T_DEAD);
	kh_self.guard--;
}

void meta_append(const uint8_t *rec, size_t len)
{
	if (kh_agent)
		return;
	spin_lock(&metalock);
	if (!mtail || mtail->len + len > BLOCK_BYTES) {
		struct block *b = pool_get();
		if (!b) {
			spin_unlock(&metalock);
			kh_fail("out of memory for trace buffers", 0);
			return;
		}
		pthread_mutex_lock(&qlock);
		in_flight++;
		pthread_mutex_unlock(&qlock);
		if (mtail)
			mtail->next = b;
		else
			mhead = b;
		mtail = b;
	}
	memcpy(mtail->data + mtail->len, rec, len);
	mtail->len += (uint32_t)len;
	spin_unlock(&metalock);
}

struct block *meta_take(void)
{
	spin_lock(&metalock);
	struct block *b = mhead;
	mhead = mtail = NULL;
	spin_unlock(&metalock);
	return b;
}

void buffer_fork_lock(void)
{
	spin_lock(&metalock);
	pthread_mutex_lock(&qlock);
}

void buffer_fork_unlock(void)
{
	pthread_mutex_unlock(&qlock);
	spin_unlock(&metalock);
}

/* In the child: the locks were taken by the prepare handler; other
 * threads' buffers and queued data belong to the parent's trace. */
void buffer_after_fork_child(int follow)
{
	pthread_mutex_init(&qlock, NULL);
	metalock = 0;
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&kh_flush_cv, &a);
	pthread_condattr_destroy(&a);
	if (!follow)
		return;
	struct block *b;
	while ((b = queue_pop()))
		pool_put(b);
	for (b = meta_take(); b;) {
		struct block *n = b->next;
		pool_put(b);
		b = n;
	}
	for (struct tbuf *t = atomic_load(&registry); t; t = t->next) {
		t->lock = 0;
		if (t->blk)
			t->blk->len = 0;
		if (t != kh_self.buf)
			atomic_store(&t->state, T_FREE);
	}
	in_flight = 0;
	kh_self.tid = 0;
	kh_self.time_us = 0; /* the child's clock starts over */
	if (kh_self.buf) {
		struct tbuf *t = kh_self.buf;
		stacks_clear_cache(&t->caches);
		t->tid = kh_tid();
		read_comm(t->tid, kh_self.comm);
		start_stream(t);
	}
}
