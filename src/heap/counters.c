/* counters: the agent's allocation counters, exact or estimated from the
 * samples, kept by each thread in its TLS (plain increments, no lock
 * prefix) and listed once for readers.
 * Invariant: a thread's counts are in the list or in the retired total,
 * never both: its key destructor moves them and unlinks it under the list's
 * lock, and what it counts later goes to retired (see counters_point). */
#include <string.h>

#include "heap/heap.h"

struct cnode {
	struct cnode *next;
	struct kh_counts *c;
};

#define NODES_PER_MAP (4096 / sizeof(struct cnode))

static atomic_int lock;
static struct cnode *head, *spare;
static struct kh_counts retired;
static pthread_key_t key;
static int key_ok;

static void retire(void *arg);

void counters_init(void)
{
	key_ok = pthread_key_create(&key, retire) == 0;
}

static void add_one(uint64_t *to, uint64_t *from, int move)
{
	uint64_t v = __atomic_load_n(from, __ATOMIC_RELAXED);
	if (!v)
		return;
	__atomic_fetch_add(to, v, __ATOMIC_RELAXED);
	if (move)
		__atomic_store_n(from, 0, __ATOMIC_RELAXED);
}

/* to += from; from = 0 when move (only the owning thread moves its own). */
static void add_to(struct kh_counts *to, struct kh_counts *from, int move)
{
	add_one(&to->bytes, &from->bytes, move);
	add_one(&to->frees, &from->frees, move);
	for (int i = 0; i < KH_RAW_BUCKETS; i++)
		add_one(&to->buckets[i], &from->buckets[i], move);
}

static void unlink_node(struct cnode *n)
{
	for (struct cnode **pp = &head; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			n->next = spare;
			spare = n;
			return;
		}
	}
}

/* The thread's key destructor: its counts retire. */
static void retire(void *arg)
{
	struct cnode *n = arg;
	if (kh_self.count_state != KC_ON || n->c != &kh_self.counts)
		return;
	spin_lock(&lock);
	add_to(&retired, &kh_self.counts, 1);
	unlink_node(n);
	kh_self.count_state = KC_RETIRED;
	spin_unlock(&lock);
	kh_self.sample_left = INT64_MIN / 2;
}

static struct cnode *node_get(void)
{
	if (!spare) {
		struct cnode *m = heap_map(NODES_PER_MAP * sizeof *m);
		if (!m)
			return NULL;
		for (size_t i = 0; i < NODES_PER_MAP; i++) {
			m[i].next = spare;
			spare = &m[i];
		}
	}
	struct cnode *n = spare;
	spare = n->next;
	return n;
}

/* Links this thread's counters for the readers: KC_ON, or KC_RETIRED
 * when that cannot be done (its counts then go to retired as it goes). */
static void enlist(void)
{
	kh_self.count_state = KC_BUSY;
	kh_self.guard++;
	spin_lock(&lock);
	struct cnode *n = key_ok ? node_get() : NULL;
	if (n) {
		n->c = &kh_self.counts;
		n->next = head;
		head = n;
	}
	spin_unlock(&lock);
	/* a key index under 32 needs no allocation; a larger one may calloc,
	 * which passes through (guard set) */
	if (n && pthread_setspecific(key, n) != 0) {
		spin_lock(&lock);
		unlink_node(n);
		spin_unlock(&lock);
		n = NULL;
	}
	kh_self.guard--;
	kh_self.count_state = n ? KC_ON : KC_RETIRED;
}

int counters_point(void)
{
	int st = kh_self.count_state;
	if (st == KC_ON)
		return 0;
	if (st == KC_NONE) {
		enlist();
		if (kh_self.count_state == KC_ON)
			return 0;
	}
	if (kh_self.count_state == KC_RETIRED) {
		add_to(&retired, &kh_self.counts, 1);
		kh_self.sample_left = INT64_MIN / 2;
	}
	return -1;
}

static void add_frees(uint64_t n)
{
	if (kh_self.count_state == KC_NONE)
		enlist();
	if (kh_self.count_state == KC_ON)
		kh_self.counts.frees += n;
	else if (kh_self.count_state == KC_RETIRED)
		__atomic_fetch_add(&retired.frees, n, __ATOMIC_RELAXED);
	/* KC_BUSY: a free inside enlist is the tracker's */
}

void counters_free_slow(void)
{
	add_frees(!atomic_load_explicit(&kh_agent_estimate, memory_order_relaxed));
}

/* w rounded down or up at random, as likely up as its fraction */
static uint64_t round_random(double w)
{
	uint64_t n = (uint64_t)w;
	return n + (kh_random01() < w - (double)n);
}

void counters_sample_alloc(uint64_t size)
{
	double w = kh_sample_weight(size, (double)kh_sample_bytes);
	kh_self.counts.bytes += (uint64_t)(w * (double)size + 0.5);
	kh_self.counts.buckets[kh_raw_bucket(size)] += round_random(w);
}

void counters_sample_free(uint64_t size)
{
	add_frees(round_random(kh_sample_weight(size, (double)kh_sample_bytes)));
}

void counters_sum(struct kh_totals *out)
{
	struct kh_counts sum;
	memset(&sum, 0, sizeof sum);
	spin_lock(&lock);
	add_to(&sum, &retired, 0);
	for (struct cnode *n = head; n; n = n->next)
		add_to(&sum, n->c, 0);
	spin_unlock(&lock);
	memset(out, 0, sizeof *out);
	out->bytes = sum.bytes;
	out->frees = sum.frees;
	for (unsigned i = 0; i < KH_RAW_BUCKETS; i++) {
		uint64_t v = sum.buckets[i];
		out->allocs += v;
		out->buckets[kh_bucket_of_raw(i)] += v;
	}
}

void counters_fork_lock(void)
{
	spin_lock(&lock);
}

void counters_fork_unlock(void)
{
	spin_unlock(&lock);
}

/* The child has one thread: the others' counts (up to the fork) retire. */
void counters_after_fork_child(void)
{
	struct cnode *keep = NULL;
	for (struct cnode *n = head, *next; n; n = next) {
		next = n->next;
		if (n->c == &kh_self.counts) {
			n->next = NULL;
			keep = n;
			continue;
		}
		add_to(&retired, n->c, 0);
		n->next = spare;
		spare = n;
	}
	head = keep;
	lock = 0;
}
