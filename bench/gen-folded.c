/* gen-folded: deterministic generator of synthetic folded stacks for benchmarks.
 * Stacks form a call tree (new stacks share prefixes with recent ones, with a
 * bounded fan-out per frame), names mix C, C++ and Rust styles, and every
 * emitted stack is unique. The same --seed gives the same stacks; --count-seed
 * and --keep vary only which stacks are kept and their counts (for diffs). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECENT 64 /* stacks remembered for prefix sharing */

struct opts {
	unsigned long stacks, names;
	unsigned depth, keep_pct;
	uint64_t seed, count_seed;
};

/* splitmix64: small, fast, and good enough for synthetic data. */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t *s, uint64_t n)
{
	return n ? next_rand(s) % n : 0;
}

static void usage(void)
{
	fputs("usage: gen-folded [--stacks N] [--depth D] [--names N] [--seed S]\n"
	      "                  [--count-seed S] [--keep PCT] > out.folded\n"
	      "  --stacks N      unique stacks to generate (default 100000)\n"
	      "  --depth D       maximum stack depth, >= 4 (default 40)\n"
	      "  --names N       size of the function-name pool (default 4000)\n"
	      "  --seed S        seed for the stacks themselves (default 1)\n"
	      "  --count-seed S  seed for counts and --keep choices (default: --seed)\n"
	      "  --keep PCT      keep each stack with this probability (default 100)\n",
	      stderr);
	exit(2);
}

static unsigned long parse_num(const char *opt, const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end) {
		fprintf(stderr, "gen-folded: %s: not a number: '%s'\n", opt, s);
		exit(2);
	}
	return v;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	bool count_seed_set = false;
	*o = (struct opts){100000, 4000, 40, 100, 1, 1};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 >= argc)
			usage();
		unsigned long v = parse_num(a, argv[++i]);
		if (!strcmp(a, "--stacks"))
			o->stacks = v;
		else if (!strcmp(a, "--depth"))
			o->depth = (unsigned)v;
		else if (!strcmp(a, "--names"))
			o->names = v;
		else if (!strcmp(a, "--seed"))
			o->seed = v;
		else if (!strcmp(a, "--count-seed")) {
			o->count_seed = v;
			count_seed_set = true;
		} else if (!strcmp(a, "--keep"))
			o->keep_pct = (unsigned)v;
		else
			usage();
	}
	if (!count_seed_set)
		o->count_seed = o->seed;
	if (o->depth < 4 || o->depth > 4096 || o->names < 16 || o->keep_pct > 100)
		usage();
}

/* A pool of plausible function names in several languages' styles. */
static char **make_names(unsigned long n, uint64_t seed)
{
	static const char *const words[] = {
		"parse", "render", "layout", "flush", "insert", "lookup", "hash",
		"compress", "decode", "encode", "visit", "walk", "emit", "merge",
		"sort", "alloc", "free", "read", "write", "poll", "dispatch",
		"update", "resolve", "compile", "schedule", "collect", "apply",
	};
	static const char *const types[] = {
		"Widget", "Buffer", "Node", "Tree", "Parser", "Frame", "Session",
		"Allocator", "Table", "Stream", "Graph", "Cache",
	};
	static const char *const mods[] = {
		"core", "net", "io", "model", "render", "util", "sched", "fmt",
	};
	const size_t nw = sizeof(words) / sizeof(words[0]);
	const size_t nt = sizeof(types) / sizeof(types[0]);
	const size_t nm = sizeof(mods) / sizeof(mods[0]);
	uint64_t s = seed ^ 0x6e616d6573ull;
	char **names = malloc(n * sizeof(*names));
	if (!names) {
		perror("gen-folded");
		exit(1);
	}
	for (unsigned long i = 0; i < n; i++) {
		char buf[256];
		const char *w = words[below(&s, nw)], *w2 = words[below(&s, nw)];
		const char *t = types[below(&s, nt)], *m = mods[below(&s, nm)];
		switch (below(&s, 10)) {
		case 0: case 1: case 2: /* C */
			snprintf(buf, sizeof(buf), "%s_%s_%s_%lu", m, w, w2, i);
			break;
		case 3: case 4: case 5: /* C++, some with spaces and templates */
			if (i % 7 == 0)
				snprintf(buf, sizeof(buf),
					 "std::vector<%s::%s*, std::allocator<%s::%s*> >::%s_%lu",
					 m, t, m, t, w, i);
			else
				snprintf(buf, sizeof(buf), "%s::%s<int>::%s_%s_%lu", m, t,
					 w, w2, i);
			break;
		case 6: case 7: case 8: /* Rust */
			snprintf(buf, sizeof(buf), "kiln_%s::%s::%s::%s_%lu", m, t, w, w2, i);
			break;
		default: /* shared-library style */
			snprintf(buf, sizeof(buf), "lib%s.so.%lu`__%s_%s", m, i % 9, w, t);
			break;
		}
		names[i] = strdup(buf);
		if (!names[i]) {
			perror("gen-folded");
			exit(1);
		}
	}
	return names;
}

/* Open-addressing set of 64-bit stack hashes (0 means empty). */
struct hset {
	uint64_t *slots;
	size_t mask;
};

static bool hset_insert(struct hset *h, uint64_t key)
{
	if (!key)
		key = 1;
	for (size_t i = key & h->mask;; i = (i + 1) & h->mask) {
		if (h->slots[i] == key)
			return false;
		if (!h->slots[i]) {
			h->slots[i] = key;
			return true;
		}
	}
}

static uint64_t hash_stack(const uint32_t *f, unsigned len)
{
	uint64_t h = 1469598103934665603ull;
	for (unsigned i = 0; i < len; i++) {
		h ^= f[i];
		h *= 1099511628211ull;
	}
	return h ^ len;
}

int main(int argc, char **argv)
{
	struct opts o;
	parse_args(argc, argv, &o);

	static char obuf[1 << 20];
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));

	char **names = make_names(o.names, o.seed);
	uint64_t ss = o.seed, cs = o.count_seed ^ 0xc0ffee;

	size_t cap = 16;
	while (cap < o.stacks * 2)
		cap <<= 1;
	struct hset set = {calloc(cap, sizeof(uint64_t)), cap - 1};
	uint32_t(*recent)[4096] = calloc(RECENT, sizeof(*recent));
	unsigned recent_len[RECENT] = {0};
	uint32_t cur[4096];
	if (!set.slots || !recent) {
		perror("gen-folded");
		return 1;
	}

	unsigned long made = 0, tries = 0;
	while (made < o.stacks) {
		if (++tries > o.stacks * 100 + 1000) {
			fprintf(stderr, "gen-folded: cannot find %lu unique stacks\n", o.stacks);
			return 1;
		}
		/* Share a prefix with a recent stack, then grow a new tail whose
		 * frames depend on their caller, so fan-out per frame stays small. */
		unsigned r = (unsigned)below(&ss, RECENT);
		unsigned plen = recent_len[r] ? (unsigned)below(&ss, recent_len[r]) : 0;
		unsigned lo = o.depth / 2, len = lo + (unsigned)below(&ss, o.depth - lo + 1);
		if (len <= plen)
			len = plen + 1;
		if (len > o.depth)
			len = o.depth;
		if (plen >= len)
			plen = len - 1;
		memcpy(cur, recent[r], plen * sizeof(cur[0]));
		for (unsigned i = plen; i < len; i++) {
			uint64_t prev = i ? cur[i - 1] : 0x726f6f74u;
			uint64_t x = prev * 0x9e3779b97f4a7c15ull + below(&ss, i ? 6 : 12) + i;
			x ^= x >> 29;
			cur[i] = (uint32_t)(x % o.names);
		}
		if (!hset_insert(&set, hash_stack(cur, len)))
			continue;
		unsigned slot = (unsigned)(made % RECENT);
		memcpy(recent[slot], cur, len * sizeof(cur[0]));
		recent_len[slot] = len;
		made++;

		/* Counts and --keep come from their own stream. */
		uint64_t c1 = next_rand(&cs), c2 = next_rand(&cs);
		if (c1 % 100 >= o.keep_pct)
			continue;
		unsigned long count = 1 + (c2 % 97) * ((c2 >> 32) % 20 == 0 ? 50 : 1);
		for (unsigned i = 0; i < len; i++) {
			if (i)
				putchar(';');
			fputs(names[cur[i]], stdout);
		}
		printf(" %lu\n", count);
	}
	if (fflush(stdout) != 0) {
		perror("gen-folded: write");
		return 1;
	}
	return 0;
}
