/* writer: the trace file. It holds the file descriptor, turns blocks of
 * records into compressed chunks (libdeflate, raw deflate, whole blocks at
 * a time: a block is one chunk), and runs the flush
 * thread: every ~100 ms it takes every thread's partial buffer, samples
 * RSS, checks for new modules, and writes. Invariant: all chunk writes
 * happen under wlock, and a block's meta records go out before it, so a
 * stack, info or module record is always in the file before any event
 * that names it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <libdeflate.h>

#include "base/heaptrace.h"
#include "heap/heap.h"

static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static int fd = -1;
static dev_t fd_dev;
static ino_t fd_ino;
/* Compression: libdeflate's level 2, 5% smaller than level 1 on the
 * traces of real programs (python3, cc1: 2.5:1 and better). While recent
 * chunks compress worse than 1.5:1 (random sizes, as heap-bench's: 1.3:1,
 * and slowly: 55 MB/s, a fifth of the flush thread's time on 2 busy
 * threads), one chunk in two is stored as it is (deflate's stored blocks)
 * and the other compressed at level 1, which keeps measuring. Each
 * compressor is allocated once (a silent allocation of the tracker's
 * own). */
static struct libdeflate_compressor *zc[3]; /* by level */
static unsigned zratio = 128; /* compressed / raw of recent chunks, in 1/256ths (decaying average) */
static unsigned zpoor;        /* chunks written while compression pays little */
static uint8_t *zout;
static size_t zout_cap;
static _Atomic int flusher_started;
static _Atomic unsigned long chunks_written;

unsigned long writer_chunks(void)
{
	return atomic_load_explicit(&chunks_written, memory_order_relaxed);
}

static int write_all(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Did the host close our descriptor and reuse its number? */
static int fd_is_ours(void)
{
	struct stat st;
	return fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == fd_dev && st.st_ino == fd_ino;
}

static void write_chunk(const uint8_t *raw, uint32_t len)
{
	if (fd < 0 || !len || atomic_load(&kh_state) != KH_ON)
		return;
	int level = zratio * 3 <= 256 * 2 ? 2 : zpoor++ & 1 ? 0 : 1;
	struct libdeflate_compressor **c = &zc[level];
	if (!*c) {
		*c = libdeflate_alloc_compressor(level);
		if (!*c) {
			kh_fail("out of memory for compression", 0);
			return;
		}
	}
	if (!zout) {
		zout_cap = sizeof(struct heaptrace_chunk) + libdeflate_deflate_compress_bound(*c, BLOCK_BYTES);
		zout = heap_map(zout_cap);
		if (!zout) {
			kh_fail("out of memory for compression", 0);
			return;
		}
	}
	size_t zlen = libdeflate_deflate_compress(*c, raw, len, zout + sizeof(struct heaptrace_chunk),
						  zout_cap - sizeof(struct heaptrace_chunk));
	if (!zlen) {
		kh_fail("compression failed", 0);
		return;
	}
	if (len >= 4096 && level) /* a few meta records say little */
		zratio = (zratio * 3 + (unsigned)(zlen * 256 / len)) / 4;
	struct heaptrace_chunk h = {
		.magic = HEAPTRACE_CHUNK_MAGIC,
		.compressed_len = (uint32_t)zlen,
		.raw_len = len,
		.crc32 = libdeflate_crc32(0, raw, len),
	};
	memcpy(zout, &h, sizeof h);
	int rc = fd_is_ours() ? write_all(zout, sizeof h + zlen) : -EBADF;
	if (rc < 0)
		kh_fail("cannot write the trace", -rc);
	atomic_fetch_add_explicit(&chunks_written, 1, memory_order_relaxed);
}

void writer_drain(void)
{
	pthread_mutex_lock(&wlock);
	for (;;) {
		/* the block first, then the meta records: every STACK and INFO
		 * record a queued block names was in the meta stream before the
		 * block was queued, so it goes out first */
		struct block *b = queue_pop();
		for (struct block *m = meta_take(); m;) {
			struct block *n = m->next;
			write_chunk(m->data, m->len);
			pool_put(m);
			m = n;
		}
		if (!b)
			break;
		write_chunk(b->data, b->len);
		pool_put(b);
	}
	pthread_mutex_unlock(&wlock);
}

static int open_excl(const char *name)
{
	char path[4200];
	for (int i = 0; i < 1000; i++) {
		if (i == 0)
			snprintf(path, sizeof path, "%s", name);
		else
			snprintf(path, sizeof path, "%s.%d", name, i);
		int f = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (f >= 0 || errno != EEXIST)
			return f >= 0 ? f : -errno;
	}
	return -EEXIST;
}

int writer_open(int followed)
{
	const char *tmpl = getenv("KILN_HEAP_TRACE");
	if (!tmpl || !*tmpl)
		tmpl = "kiln-heap.%p.trace";
	char name[4096];
	size_t o = 0;
	for (const char *s = tmpl; *s && o < sizeof name - 24; s++) {
		if (s[0] == '%' && s[1] == 'p') {
			o += (size_t)snprintf(name + o, sizeof name - o, "%d", (int)getpid());
			s++;
		} else {
			name[o++] = *s;
		}
	}
	name[o] = 0;
	int f = open_excl(name);
	if (f < 0)
		return f;
	/* a high descriptor number: out of the way of hosts that assume
	 * they know which numbers are free */
	int hi = fcntl(f, F_DUPFD_CLOEXEC, 700);
	if (hi >= 0) {
		close(f);
		f = hi;
	}
	struct stat st;
	if (fstat(f, &st) < 0) {
		int e = errno;
		close(f);
		return -e;
	}
	fd = f;
	fd_dev = st.st_dev;
	fd_ino = st.st_ino;
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	struct heaptrace_header h;
	memset(&h, 0, sizeof h);
	memcpy(h.magic, HEAPTRACE_MAGIC, 8);
	h.version = HEAPTRACE_VERSION;
	h.header_size = sizeof h;
	h.start_realtime_ns = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
	h.start_monotonic_ns = kh_start_ns;
	h.pid = (uint32_t)getpid();
	h.ppid = (uint32_t)getppid();
	h.sample_bytes = (uint32_t)kh_sample_bytes;
	h.flags = (kh_trace_mmap ? HEAPTRACE_F_MMAP : 0) | (followed ? HEAPTRACE_F_FOLLOWED : 0);
	h.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	int rc = write_all(&h, sizeof h);
	if (rc < 0) {
		close(fd);
		fd = -1;
	}
	return rc;
}

static void rss_record(void)
{
	int f = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return;
	char buf[128];
	ssize_t n = read(f, buf, sizeof buf - 1);
	close(f);
	if (n <= 0)
		return;
	buf[n] = 0;
	const char *p = buf;
	while (*p && *p != ' ')
		p++;
	uint64_t res = 0;
	for (p++; *p >= '0' && *p <= '9'; p++)
		res = res * 10 + (uint64_t)(*p - '0');
	uint8_t rec[32], *w = rec;
	*w++ = HEAPTRACE_HEAD(HT_RSS);
	w = put_v(w, kh_now_us());
	w = put_v(w, res * (uint64_t)sysconf(_SC_PAGESIZE));
	meta_append(rec, (size_t)(w - rec));
}

static void *flusher(void *arg)
{
	(void)arg;
	kh_self.guard = 1; /* nothing this thread does is tracked */
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		if (atomic_load(&kh_state) == KH_OFF)
			return NULL; /* switched off for good */
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (atomic_load(&kh_state) == KH_ON && (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec))) {
			buffer_capture_all(0);
			rss_record();
			modules_check();
			next = now;
			next.tv_nsec += 100 * 1000000;
			if (next.tv_nsec >= 1000000000) {
				next.tv_nsec -= 1000000000;
				next.tv_sec++;
			}
		}
		if (atomic_load(&kh_state) == KH_ON)
			writer_drain();
		buffer_wait(&next);
	}
}

/* A detached helper thread that blocks every signal, so the host's
 * handlers never run on it. */
static int helper(void *(*fn)(void *), size_t stack)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, stack);
	pthread_t t;
	int rc = pthread_create(&t, &a, fn, NULL);
	pthread_attr_destroy(&a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* The flush thread and the clock's ticker (control.c), lazily, once per
 * process. */
void writer_start_flusher(void)
{
	int f = 0;
	if (atomic_load_explicit(&flusher_started, memory_order_relaxed) ||
	    !atomic_compare_exchange_strong(&flusher_started, &f, 1))
		return;
	int rc = helper(flusher, 256 * 1024);
	if (rc)
		kh_fail("cannot start the flush thread", rc);
	else if (helper(kh_ticker, 64 * 1024))
		kh_ticker_reset(); /* no ticker: events read the clock */
}

void writer_fork_lock(void)
{
	pthread_mutex_lock(&wlock);
}

void writer_fork_unlock(void)
{
	pthread_mutex_unlock(&wlock);
}

/* In a child that starts its own trace: no flush thread yet, a new file. */
void writer_after_fork_child(void)
{
	pthread_mutex_init(&wlock, NULL);
	flusher_started = 0;
	if (fd >= 0)
		close(fd);
	fd = -1;
}

