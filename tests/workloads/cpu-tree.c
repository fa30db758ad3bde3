/* cpu-tree: a CPU-bound workload with a known, deep-ish call tree.
 * Usage: cpu-tree [SECONDS]   (default 2; fractional seconds allowed)
 * Spends its time in a handful of named leaves reached through recursion
 * (depth 6..14) and through libc/libm (qsort callbacks, sin/exp, snprintf),
 * so profiles of it have many distinct stacks crossing shared libraries. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static volatile double sink_d;
static volatile uint64_t sink_u;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift: cheap deterministic noise for choosing branches. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* ---- leaves ---- */

NOINLINE static void leaf_math(int n)
{
	double acc = 0;
	for (int i = 0; i < n; i++)
		acc += sin(i * 0.001) * exp(-i * 1e-6);
	sink_d = acc;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

NOINLINE static void leaf_sort(int n)
{
	uint32_t buf[512];
	if (n > 512)
		n = 512;
	for (int i = 0; i < n; i++)
		buf[i] = (uint32_t)next_rand();
	qsort(buf, (size_t)n, sizeof(buf[0]), cmp_u32);
	sink_u = buf[n / 2];
}

NOINLINE static void leaf_format(int n)
{
	char line[128];
	size_t total = 0;
	for (int i = 0; i < n; i++) {
		int len = snprintf(line, sizeof(line), "frame %d at %#x: %.3f", i,
				   (unsigned)(i * 2654435761u), i * 0.5);
		total += (size_t)len + strlen(line);
	}
	sink_u = total;
}

NOINLINE static void leaf_hash(int n)
{
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < n * 8; i++) {
		h ^= (uint64_t)i;
		h *= 1099511628211ull;
	}
	sink_u = h;
}

/* ---- the tree ---- */

NOINLINE static void descend_left(int depth, int work);
NOINLINE static void descend_right(int depth, int work);

NOINLINE static void do_leaf(int depth, int work)
{
	switch ((depth + (int)(next_rand() & 3)) & 3) {
	case 0: leaf_math(work); break;
	case 1: leaf_sort(work / 4); break;
	case 2: leaf_format(work / 16); break;
	default: leaf_hash(work); break;
	}
}

NOINLINE static void descend_left(int depth, int work)
{
	if (depth <= 0) {
		do_leaf(depth, work);
		return;
	}
	if (next_rand() & 1)
		descend_right(depth - 1, work);
	else
		descend_left(depth - 1, work);
	sink_u++;
}

NOINLINE static void descend_right(int depth, int work)
{
	if (depth <= 0) {
		do_leaf(depth + 1, work);
		return;
	}
	if (next_rand() % 3 == 0)
		descend_left(depth - 1, work);
	else
		descend_right(depth - 1, work);
	sink_u++;
}

NOINLINE static void phase_parse(void)
{
	for (int i = 0; i < 8; i++)
		descend_left(6 + (int)(next_rand() % 4), 2000);
}

NOINLINE static void phase_layout(void)
{
	for (int i = 0; i < 8; i++)
		descend_right(9 + (int)(next_rand() % 4), 3000);
}

NOINLINE static void phase_render(void)
{
	for (int i = 0; i < 4; i++) {
		descend_left(11 + (int)(next_rand() % 4), 1500);
		leaf_format(40);
	}
}

NOINLINE static void run_round(void)
{
	phase_parse();
	phase_layout();
	phase_render();
	leaf_math(500);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	if (!(seconds >= 0)) {
		fprintf(stderr, "usage: cpu-tree [SECONDS]\n");
		return 2;
	}
	double end = now() + seconds;
	unsigned long rounds = 0;
	do {
		run_round();
		rounds++;
	} while (now() < end);
	printf("cpu-tree: %lu rounds\n", rounds);
	return 0;
}
