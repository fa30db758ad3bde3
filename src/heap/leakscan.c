/* leakscan: the exit-time leak scan (KILN_HEAP_LEAKCHECK=1). It stops the
 * host's other threads, copies the live set into a sorted array, marks what
 * the roots (writable module segments, stacks, registers, TLS, anonymous
 * mappings the heap does not own) reach, sorts the rest into memcheck's
 * kinds and writes one HT_LEAK record per block. Invariant: while threads
 * are stopped nothing here calls malloc or takes a lock a stopped thread
 * may hold (memory comes from heap_map, files are read with read()). */
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "base/heaptrace.h"
#include "heap/heap.h"

int kh_leakcheck;

/* ---- the tracker's own mappings (heap_map), never roots ---- */
struct range {
	uintptr_t lo, hi;
};
#define MAX_REG 16384
static struct range reg[MAX_REG];
static int nreg, reg_overflow;
static atomic_int reglock;
static TLS int in_reg; /* this thread holds reglock: a stop request must wait */

void leakscan_note_map(void *p, size_t len)
{
	in_reg = 1;
	spin_lock(&reglock);
	if (nreg < MAX_REG)
		reg[nreg++] = (struct range){(uintptr_t)p, (uintptr_t)p + len};
	else
		reg_overflow = 1;
	spin_unlock(&reglock);
	in_reg = 0;
}

void leakscan_note_unmap(void *p, size_t len)
{
	(void)len;
	in_reg = 1;
	spin_lock(&reglock);
	for (int i = 0; i < nreg; i++)
		if (reg[i].lo == (uintptr_t)p) {
			reg[i] = reg[--nreg];
			break;
		}
	spin_unlock(&reglock);
	in_reg = 0;
}

void leakscan_fork_child(void)
{
	reglock = 0;
}

static void note(const char *a, const char *b)
{
	const char *parts[] = {"kiln-heap: leak scan: ", a, b, "\n"};
	kh_say(parts, 4);
}

static const char *num(char *buf, uint64_t v)
{
	char *p = buf + 23;
	*p = 0;
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	return p;
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void nap_us(long us)
{
	struct timespec t = {0, us * 1000};
	nanosleep(&t, NULL);
}

/* ---- a growable array of ranges in mmap'd memory ---- */
struct ranges {
	struct range *r;
	size_t n, cap;
};

static int ranges_add(struct ranges *a, uintptr_t lo, uintptr_t hi)
{
	if (hi <= lo)
		return 0;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 1024;
		struct range *r = heap_map(cap * sizeof *r);
		if (!r)
			return -1;
		if (a->r) {
			memcpy(r, a->r, a->n * sizeof *r);
			heap_unmap(a->r, a->cap * sizeof *r);
		}
		a->r = r;
		a->cap = cap;
	}
	a->r[a->n++] = (struct range){lo, hi};
	return 0;
}

static void ranges_free(struct ranges *a)
{
	if (a->r)
		heap_unmap(a->r, a->cap * sizeof *a->r);
	a->r = NULL;
	a->n = a->cap = 0;
}

/* LSD radix sort on the first word of each element (user addresses fit in
 * 48 bits): three passes of 16 bits, tmp as large as a. */
static void radix_sort(void *a, void *tmp, size_t n, size_t esz, uint32_t *count)
{
	uint8_t *src = a, *dst = tmp;
	for (int shift = 0; shift < 48; shift += 16) {
		memset(count, 0, 65536 * sizeof *count);
		for (size_t i = 0; i < n; i++) {
			uintptr_t k;
			memcpy(&k, src + i * esz, sizeof k);
			count[(k >> shift) & 0xffff]++;
		}
		uint32_t sum = 0;
		for (size_t d = 0; d < 65536; d++) {
			uint32_t c = count[d];
			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++) {
			uintptr_t k;
			memcpy(&k, src + i * esz, sizeof k);
			memcpy(dst + (size_t)count[(k >> shift) & 0xffff]++ * esz, src + i * esz, esz);
		}
		uint8_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * esz);
}

/* ---- the blocks and their marks ---- */
enum { S_NONE, S_POSS, S_REACH, S_IND, S_DEF, S_SILENT };
struct lb {
	uintptr_t p;
	uint64_t size;
	uint32_t stack;
	uint8_t state;
};
static struct lb *blk;
static size_t nblk;
static uintptr_t span_lo, span_len;
static uint32_t *work;
static size_t nwork;
static int clique;       /* phase 2: marking a lost block's subgraph */
static int from_poss;    /* the words being scanned are in a possibly lost block */
static size_t leader;

/* The block containing v (a start pointer may also name a 0-byte block), or -1. */
static long find(uintptr_t v)
{
	size_t lo = 0, hi = nblk;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (blk[mid].p <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -1;
	struct lb *b = &blk[lo - 1];
	return v == b->p || v - b->p < b->size ? (long)(lo - 1) : -1;
}

static size_t (*usable_size)(void *);

static void mark(uintptr_t v)
{
	long i = find(v);
	if (i < 0)
		return;
	struct lb *b = &blk[i];
	/* glibc's arena (top, last_remainder, bins) points at chunk headers,
	 * which lie in the previous block's last 8 usable bytes: not a host
	 * pointer (memcheck, owning the allocator, never sees these) */
	if (v != b->p && usable_size && v == b->p + usable_size((void *)b->p) - 8)
		return;
	if (!clique) {
		/* memcheck's rule: reachable takes a start pointer from a root or
		 * a reachable block; any chain with an interior pointer in it
		 * (a pointer from a possibly lost block too) is possibly lost */
		int k = v == b->p && !from_poss ? S_REACH : S_POSS;
		if (b->state == S_NONE || (b->state == S_POSS && k == S_REACH)) {
			/* an upgraded block is scanned again to upgrade what it reaches */
			b->state = (uint8_t)k;
			work[nwork++] = (uint32_t)i;
		}
	} else if ((size_t)i != leader) {
		if (b->state == S_NONE) {
			b->state = S_IND;
			work[nwork++] = (uint32_t)i;
		} else if (b->state == S_DEF) {
			b->state = S_IND; /* an earlier leader: its subgraph is already indirect */
		}
	}
}

static void scan_words(uintptr_t lo, uintptr_t hi)
{
	lo = (lo + 7) & ~(uintptr_t)7;
	for (uintptr_t a = lo; a + 8 <= hi; a += 8) {
		uintptr_t v = *(const volatile uintptr_t *)a;
		if (v - span_lo < span_len)
			mark(v);
	}
}

static void drain(void)
{
	while (nwork) {
		struct lb *b = &blk[work[--nwork]];
		from_poss = !clique && b->state == S_POSS;
		scan_words(b->p, b->p + b->size);
	}
	from_poss = 0;
}

/* ---- roots ---- */
static struct ranges roots, excl, tls;

static int on_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	int self = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
		if (ph->p_type == PT_LOAD && (uintptr_t)&reglock >= lo && (uintptr_t)&reglock < hi)
			self = 1;
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W)) {
			if (ranges_add(self ? &excl : &roots, lo, hi) < 0)
				return 1;
		} else if (ph->p_type == PT_TLS && info->dlpi_tls_data && !self) {
			uintptr_t t = (uintptr_t)info->dlpi_tls_data;
			if (ranges_add(&tls, t, t + ph->p_memsz) < 0)
				return 1;
		}
	}
	return 0;
}

/* ---- stopping the other threads ---- */
enum { T_SENT = 1, T_BUSY, T_STOPPED, T_SKIPPED };
#define NREGS 64
struct tslot {
	_Atomic int state;
	int tid;
	uintptr_t sp;
	uintptr_t regs[NREGS];
};
#define MAX_THREADS 4096
static struct tslot *slots;
static _Atomic int nslots;
static _Atomic int release_flag;

static void on_stop(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si;
	int e = errno;
	int tid = (int)syscall(SYS_gettid), n = atomic_load(&nslots);
	struct tslot *s = NULL;
	for (int i = 0; i < n && !s; i++)
		if (slots[i].tid == tid)
			s = &slots[i];
	if (!s || atomic_load(&s->state) != T_SENT || atomic_load(&release_flag)) {
		errno = e;
		return;
	}
	if (kh_self.in_liveset || in_reg) {
		atomic_store(&s->state, T_BUSY); /* asked again in a moment */
		errno = e;
		return;
	}
	ucontext_t *uc = ucv;
	size_t nw = sizeof uc->uc_mcontext < sizeof s->regs ? sizeof uc->uc_mcontext : sizeof s->regs;
	memcpy(s->regs, &uc->uc_mcontext, nw);
#if defined(__x86_64__)
	s->sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
	s->sp = (uintptr_t)uc->uc_mcontext.sp;
#else
	s->sp = 0; /* unknown: its whole stack mapping is scanned */
#endif
	atomic_store(&s->state, T_STOPPED);
	while (!atomic_load(&release_flag)) {
		struct timespec t = {0, 50 * 1000000};
		syscall(SYS_futex, (int *)&release_flag, FUTEX_WAIT_PRIVATE, 0, &t, NULL, 0);
	}
	errno = e;
}

static ssize_t read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == cap)
			break;
	}
	close(fd);
	return (ssize_t)n;
}

/* Does thread tid block sig? 1 yes (all: 2), 0 no. */
static int blocks_sig(int tid, int sig)
{
	char path[64] = "/proc/self/task/", nb[24], buf[2048];
	strcat(path, num(nb, (uint64_t)tid));
	strcat(path, "/status");
	ssize_t n = read_file(path, buf, sizeof buf - 1);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	const char *p = strstr(buf, "SigBlk:");
	if (!p)
		return 0;
	p += 7;
	while (*p == ' ' || *p == '\t')
		p++;
	uint64_t m = 0;
	for (;; p++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
		if (d < 0)
			break;
		m = m << 4 | (uint64_t)d;
	}
	if (!(m >> (sig - 1) & 1))
		return 0;
	return (m | (1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)) | 3ull << 31) == ~0ull ? 2 : 1;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int stop_sig;
static struct sigaction stop_old;
static int silent_blocked; /* threads that block every signal (the tracker's flush thread among them) */

/* The process's other threads, from /proc/self/task, without allocating
 * (getdents64 into a buffer of its own). */
struct other_threads {
	int fd, self;
	long n, o;
	char buf[4096];
};

static int other_threads_open(struct other_threads *it)
{
	it->self = (int)syscall(SYS_gettid);
	it->n = it->o = 0;
	it->fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return it->fd;
}

/* The next thread's tid, or 0 when there are no more (the fd is closed). */
static int other_threads_next(struct other_threads *it)
{
	for (;;) {
		if (it->o >= it->n) {
			it->n = syscall(SYS_getdents64, it->fd, it->buf, sizeof it->buf);
			it->o = 0;
			if (it->n <= 0) {
				close(it->fd);
				it->fd = -1;
				return 0;
			}
		}
		struct linux_dirent64 *d = (struct linux_dirent64 *)(it->buf + it->o);
		it->o += d->d_reclen;
		int tid = 0;
		for (const char *c = d->d_name; *c >= '0' && *c <= '9'; c++)
			tid = tid * 10 + (*c - '0');
		if (tid && tid != it->self)
			return tid;
	}
}

/* Signal every other thread once; new ones are listed on a second round. */
static void stop_threads(void)
{
	for (int round = 0; round < 2; round++) {
		struct other_threads it;
		if (other_threads_open(&it) < 0)
			return;
		for (int tid; (tid = other_threads_next(&it)) > 0;) {
			int k = atomic_load(&nslots), known = 0;
			for (int i = 0; i < k && !known; i++)
				known = slots[i].tid == tid;
			if (known || k == MAX_THREADS)
				continue;
			struct tslot *s = &slots[k];
			s->tid = tid;
			int b = blocks_sig(tid, stop_sig);
			atomic_store(&s->state, b ? T_SKIPPED : T_SENT);
			atomic_store(&nslots, k + 1);
			if (b == 2)
				silent_blocked++;
			else if (b == 1) {
				char nb[24];
				note("a thread blocks the stop signal, its whole stack is scanned: tid ",
				     num(nb, (uint64_t)tid));
			}
			if (!b && syscall(SYS_tgkill, getpid(), tid, stop_sig) < 0)
				atomic_store(&s->state, T_SKIPPED); /* gone */
		}
	}
	/* wait for the answers, about 100 ms at most */
	uint64_t deadline = now_ns() + 100 * 1000000ull;
	for (;;) {
		int pending = 0, n = atomic_load(&nslots);
		for (int i = 0; i < n; i++) {
			int st = atomic_load(&slots[i].state);
			if (st == T_BUSY) {
				atomic_store(&slots[i].state, T_SENT);
				if (syscall(SYS_tgkill, getpid(), slots[i].tid, stop_sig) < 0)
					atomic_store(&slots[i].state, T_SKIPPED);
				st = T_SENT;
			}
			pending += st == T_SENT;
		}
		if (!pending)
			break;
		if (now_ns() > deadline) {
			for (int i = 0; i < n; i++)
				if (atomic_load(&slots[i].state) == T_SENT) {
					char nb[24];
					note("a thread did not stop within 100 ms, its whole stack is scanned: tid ",
					     num(nb, (uint64_t)slots[i].tid));
				}
			break;
		}
		nap_us(200);
	}
}

static void release_threads(void)
{
	atomic_store(&release_flag, 1);
	syscall(SYS_futex, (int *)&release_flag, FUTEX_WAKE_PRIVATE, 1 << 30, NULL, NULL, 0);
	/* a request still pending (a thread that never ran) is discarded by
	 * SIG_IGN before the host's own disposition comes back */
	struct sigaction ign;
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigaction(stop_sig, &ign, NULL);
	sigaction(stop_sig, &stop_old, NULL);
}

static int pick_signal(void)
{
	for (int s = SIGRTMAX; s >= SIGRTMIN; s--) {
		struct sigaction old;
		if (sigaction(s, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL)
			return s;
	}
	return 0;
}

/* ---- the live set's copy ---- */
struct fill {
	size_t n, cap;
};
static void fill_one(void *ctx, uintptr_t p, uint64_t size, uint32_t stack, uint32_t flags)
{
	struct fill *f = ctx;
	if (f->n < f->cap)
		blk[f->n] = (struct lb){p, size, stack, (flags & LIVE_SILENT) ? S_SILENT : S_NONE};
	f->n++;
}

/* A glibc arena heap (not the main arena): HEAP_MAX_SIZE-aligned, its
 * first word (heap_info.ar_ptr) points near the start of such a heap. */
static int arena_heap(uintptr_t lo, uintptr_t hi)
{
	const uintptr_t hmax = 2 * 4 * 1024 * 1024 * sizeof(long);
	if ((lo & (hmax - 1)) || hi - lo < sizeof(uintptr_t))
		return 0;
	uintptr_t ar = *(const volatile uintptr_t *)lo;
	return ar && (ar & (hmax - 1)) < 256;
}

static int has_block(uintptr_t lo, uintptr_t hi)
{
	size_t a = 0, b = nblk;
	while (a < b) {
		size_t m = (a + b) / 2;
		if (blk[m].p < lo)
			a = m + 1;
		else
			b = m;
	}
	return a < nblk && blk[a].p < hi;
}

/* Scan [lo, hi) minus the excluded ranges (sorted, merged). */
static void scan_minus(uintptr_t lo, uintptr_t hi)
{
	size_t a = 0, b = excl.n;
	while (a < b) {
		size_t m = (a + b) / 2;
		if (excl.r[m].hi <= lo)
			a = m + 1;
		else
			b = m;
	}
	for (size_t k = a; k < excl.n && excl.r[k].lo < hi; k++) {
		if (excl.r[k].lo > lo)
			scan_words(lo, excl.r[k].lo);
		if (excl.r[k].hi > lo)
			lo = excl.r[k].hi;
		if (lo >= hi)
			return;
	}
	scan_words(lo, hi);
}

static uint64_t hexnum(const char **p)
{
	uint64_t v = 0;
	for (;; (*p)++) {
		char c = **p;
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return v;
		v = v << 4 | (uint64_t)d;
	}
}

/* The mappings: stacks from their thread's stack pointer, anonymous
 * rw mappings the heap does not own, whole. */
static void scan_maps(const char *maps, size_t len, const uintptr_t *sps, size_t nsps)
{
	const char *p = maps, *end = maps + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		const char *q = p;
		uintptr_t lo = hexnum(&q);
		q++;
		uintptr_t hi = hexnum(&q);
		int rw = q + 3 < eol && q[1] == 'r' && q[2] == 'w';
		/* the path: after five fields */
		for (int f = 0; f < 5 && q < eol; f++) {
			while (q < eol && *q == ' ')
				q++;
			while (q < eol && *q != ' ')
				q++;
		}
		while (q < eol && *q == ' ')
			q++;
		size_t plen = (size_t)(eol - q);
		p = eol + 1;
		if (!rw)
			continue;
		int anon = plen == 0 || (plen >= 6 && !memcmp(q, "[anon:", 6)) || (plen == 7 && !memcmp(q, "[stack]", 7));
		if (!anon)
			continue; /* file mappings: modules' segments are roots already */
		uintptr_t sp = 0;
		for (size_t i = 0; i < nsps; i++)
			if (sps[i] >= lo && sps[i] < hi && (!sp || sps[i] < sp))
				sp = sps[i];
		if (sp) {
			scan_minus(sp, hi);
			continue;
		}
		if (has_block(lo, hi) || arena_heap(lo, hi))
			continue; /* the malloc heap: blocks are scanned only when reached */
		scan_minus(lo, hi);
	}
}

static void merge_excl(void)
{
	size_t w = 0;
	for (size_t i = 0; i < excl.n; i++) {
		if (w && excl.r[i].lo <= excl.r[w - 1].hi) {
			if (excl.r[i].hi > excl.r[w - 1].hi)
				excl.r[w - 1].hi = excl.r[i].hi;
		} else {
			excl.r[w++] = excl.r[i];
		}
	}
	excl.n = w;
}

static void write_records(void)
{
	static const uint8_t kind[] = {
		[S_NONE] = HT_LEAK_DEFINITELY, [S_POSS] = HT_LEAK_POSSIBLY, [S_REACH] = HT_LEAK_REACHABLE,
		[S_IND] = HT_LEAK_INDIRECTLY, [S_DEF] = HT_LEAK_DEFINITELY,
	};
	for (size_t i = 0; i < nblk; i++) {
		struct lb *b = &blk[i];
		if (b->state == S_SILENT)
			continue;
		uint8_t rec[MAX_RECORD], *w = rec;
		*w++ = HEAPTRACE_HEAD(HT_LEAK);
		w = put_v(w, b->p);
		w = put_v(w, b->size);
		w = put_v(w, b->stack);
		w = put_v(w, kind[b->state]);
		meta_append(rec, (size_t)(w - rec));
	}
}

/* Debug timing: KILN_HEAP_LEAKCHECK_TIME=1 prints the scan's duration. */
static int show_time;

__attribute__((noinline)) void leakscan_run(void)
{
	ucontext_t uc;
	getcontext(&uc); /* the exiting thread's registers, scanned below */
	uintptr_t mysp = (uintptr_t)__builtin_frame_address(0);
	if (!kh_leakcheck || kh_sample_bytes)
		return;
	uint64_t t0 = now_ns();
	const char *why = NULL;
	size_t blk_bytes = 0, maps_cap = 0, maps_len = 0;
	uint32_t *count = NULL;
	void *tmp = NULL;
	char *maps = NULL;
	uintptr_t *sps = NULL;
	size_t nsps = 0;
	int stopped = 0;

	if (dl_iterate_phdr(on_module, NULL)) {
		why = "out of memory";
		goto out;
	}
	slots = heap_map(MAX_THREADS * sizeof *slots);
	stop_sig = pick_signal();
	if (!slots || !stop_sig) {
		why = slots ? "no free real-time signal to stop threads" : "out of memory";
		goto out;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_stop;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigfillset(&sa.sa_mask);
	if (sigaction(stop_sig, &sa, &stop_old) < 0) {
		why = "sigaction failed";
		goto out;
	}
	stopped = 1;
	stop_threads();

	/* the live set: count, map, copy (threads are stopped; the flush
	 * thread may still add its own silent blocks, hence the margin) */
	kh_self.in_liveset++;
	for (int attempt = 0; attempt < 3 && !blk; attempt++) {
		if (liveset_trylock_all() < 0) {
			why = "the live set stayed locked";
			break;
		}
		size_t n = liveset_count_locked();
		liveset_fork_unlock();
		size_t cap = n + n / 8 + 1024;
		blk_bytes = cap * sizeof *blk;
		blk = heap_map(blk_bytes);
		if (!blk) {
			why = "out of memory";
			break;
		}
		if (liveset_trylock_all() < 0) {
			why = "the live set stayed locked";
			break;
		}
		struct fill f = {0, cap};
		liveset_each_locked(fill_one, &f);
		liveset_fork_unlock();
		if (f.n > cap) {
			heap_unmap(blk, blk_bytes);
			blk = NULL;
			continue;
		}
		nblk = f.n;
	}
	kh_self.in_liveset--;
	if (!blk) {
		if (!why)
			why = "the live set kept growing";
		goto out;
	}
	tmp = heap_map(nblk * sizeof *blk + 1);
	count = heap_map(65536 * sizeof *count);
	work = heap_map(2 * nblk * sizeof *work + 1); /* a block is pushed at most twice */
	sps = heap_map((MAX_THREADS + 1) * sizeof *sps);
	if (!tmp || !count || !work || !sps) {
		why = "out of memory";
		goto out;
	}
	radix_sort(blk, tmp, nblk, sizeof *blk, count);
	if (nblk) {
		span_lo = blk[0].p;
		uintptr_t top = 0;
		for (size_t i = 0; i < nblk; i++)
			if (blk[i].p + blk[i].size + 1 > top)
				top = blk[i].p + blk[i].size + 1;
		span_len = top - span_lo;
	}
	/* /proc/self/maps, read whole (grown until it fits) */
	for (maps_cap = 1 << 20;; maps_cap *= 4) {
		maps = heap_map(maps_cap);
		if (!maps) {
			why = "out of memory";
			goto out;
		}
		ssize_t r = read_file("/proc/self/maps", maps, maps_cap);
		if (r < 0) {
			why = "cannot read /proc/self/maps";
			goto out;
		}
		if ((size_t)r < maps_cap) {
			maps_len = (size_t)r;
			break;
		}
		heap_unmap(maps, maps_cap);
		maps = NULL;
	}
	/* the tracker's own memory, after the last heap_map of the scan */
	spin_lock(&reglock);
	int overflow = reg_overflow;
	for (int i = 0; i < nreg && !why; i++)
		if (ranges_add(&excl, reg[i].lo, reg[i].hi) < 0)
			why = "out of memory";
	spin_unlock(&reglock);
	if (why)
		goto out;
	{
		size_t n = excl.n ? excl.n : 1;
		void *t2 = heap_map(n * sizeof *excl.r);
		if (!t2) {
			why = "out of memory";
			goto out;
		}
		radix_sort(excl.r, t2, excl.n, sizeof *excl.r, count);
		heap_unmap(t2, n * sizeof *excl.r);
		merge_excl();
	}

	/* roots: registers, stacks and anonymous mappings, modules, TLS */
	scan_words((uintptr_t)&uc.uc_mcontext, (uintptr_t)&uc.uc_mcontext + sizeof uc.uc_mcontext);
	sps[nsps++] = mysp;
	for (int i = 0, n = atomic_load(&nslots); i < n; i++)
		if (atomic_load(&slots[i].state) == T_STOPPED) {
			scan_words((uintptr_t)slots[i].regs, (uintptr_t)(slots[i].regs + NREGS));
			if (slots[i].sp > 128)
				sps[nsps++] = slots[i].sp - 128; /* the red zone */
		}
	if (!overflow)
		scan_maps(maps, maps_len, sps, nsps);
	else
		note("too many tracker mappings", "; anonymous mappings are not scanned");
	for (size_t i = 0; i < roots.n; i++)
		scan_minus(roots.r[i].lo, roots.r[i].hi);
	for (size_t i = 0; i < tls.n; i++)
		scan_minus(tls.r[i].lo, tls.r[i].hi);
	drain();

	/* lost blocks in address order: each one's subgraph is indirectly lost */
	clique = 1;
	for (size_t i = 0; i < nblk; i++) {
		if (blk[i].state != S_NONE)
			continue;
		leader = i;
		work[nwork++] = (uint32_t)i;
		drain();
		if (blk[i].state == S_NONE)
			blk[i].state = S_DEF;
	}
	clique = 0;
out:
	if (stopped)
		release_threads();
	uint64_t t1 = now_ns();
	if (why) {
		note(why, "; no leak scan");
	} else {
		/* every block's HT_ALLOC goes to the file before its HT_LEAK */
		buffer_capture_all(1);
		writer_drain();
		write_records();
	}
	if (show_time) {
		char nb[24], nb2[24];
		note(num(nb, (t1 - t0) / 1000000), " ms");
		note("blocks: ", num(nb2, nblk));
	}
	if (blk)
		heap_unmap(blk, blk_bytes);
	if (tmp)
		heap_unmap(tmp, nblk * sizeof *blk + 1);
	if (count)
		heap_unmap(count, 65536 * sizeof *count);
	if (work)
		heap_unmap(work, 2 * nblk * sizeof *work + 1);
	if (sps)
		heap_unmap(sps, (MAX_THREADS + 1) * sizeof *sps);
	if (maps)
		heap_unmap(maps, maps_cap);
	blk = NULL;
	tmp = NULL;
	nblk = 0;
	ranges_free(&roots);
	ranges_free(&excl);
	ranges_free(&tls);
	/* slots stay mapped: a late handler may still read them */
}

/* ---- what the C runtime keeps until exit ---- */
static int libc_freeres_off, cxx_freeres_off; /* KILN_HEAP_FREERES=0, KILN_HEAP_CXX_FREERES=0 */

/* 1 when no host thread but the caller is left: the other tasks allowed
 * are the tracker's flush thread and its clock's ticker, which block every
 * signal (a host thread implies an allocation, its DTV, so both run by
 * then). */
static int alone(void)
{
	struct other_threads it;
	if (other_threads_open(&it) < 0)
		return 0;
	int others = 0, ok = 1;
	for (int tid; (tid = other_threads_next(&it)) > 0;)
		ok = ok && ++others <= 2 && blocks_sig(tid, SIGUSR1) == 2;
	return ok;
}

typedef void (*freeres_fn)(void);

/* libstdc++'s __gnu_cxx::__freeres, in the global scope or in a copy of
 * libstdc++ loaded RTLD_LOCAL. */
static int find_cxx(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	const char *name = info->dlpi_name, *base = name ? strrchr(name, '/') : NULL;
	base = base ? base + 1 : name;
	if (!base || strncmp(base, "libstdc++.so", 12))
		return 0;
	void *h = dlopen(name, RTLD_LAZY | RTLD_NOLOAD);
	if (!h)
		return 0;
	*(void **)arg = dlsym(h, "_ZN9__gnu_cxx9__freeresEv");
	dlclose(h);
	return *(void **)arg != NULL;
}

void leakscan_freeres(void)
{
	if (!kh_leakcheck || kh_sample_bytes || (libc_freeres_off && cxx_freeres_off) || !alone())
		return;
	freeres_fn cxx = NULL, libc = NULL;
	kh_self.guard++; /* dlsym's and dlopen's own allocations are not the host's */
	*(void **)&cxx = dlsym(RTLD_DEFAULT, "_ZN9__gnu_cxx9__freeresEv");
	if (!cxx)
		dl_iterate_phdr(find_cxx, &cxx);
	*(void **)&libc = dlsym(RTLD_DEFAULT, "__libc_freeres");
	kh_self.guard--;
	/* libstdc++ first: its pool's free goes through libc */
	if (cxx && !cxx_freeres_off)
		cxx();
	if (libc && !libc_freeres_off)
		libc();
}

void leakscan_init(void)
{
	const char *fr = getenv("KILN_HEAP_FREERES"), *cfr = getenv("KILN_HEAP_CXX_FREERES");
	libc_freeres_off = fr && *fr == '0';
	cxx_freeres_off = cfr && *cfr == '0';
	const char *t = getenv("KILN_HEAP_LEAKCHECK_TIME");
	show_time = t && *t == '1';
	*(void **)&usable_size = dlsym(RTLD_NEXT, "malloc_usable_size");
}
