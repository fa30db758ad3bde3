/* shares: a CPU-bound workload with a known profile: of its CPU time,
 * 60% is in work_a, 30% in work_b and 10% in work_c, all called from main.
 * Usage: shares [SECONDS] (default 1). The three functions run the same
 * inner loop, interleaved in rounds of 6:3:1 calls, so the split holds at
 * any sampling frequency and duration. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static volatile uint64_t sink;

static inline uint64_t spin(uint64_t x, int n)
{
	for (int i = 0; i < n; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return x;
}

NOINLINE void work_a(void) { sink = spin(sink, 200000); }
NOINLINE void work_b(void) { sink = spin(sink, 200000); }
NOINLINE void work_c(void) { sink = spin(sink, 200000); }

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	double end = now() + seconds;
	unsigned long rounds = 0;
	do {
		for (int i = 0; i < 6; i++)
			work_a();
		for (int i = 0; i < 3; i++)
			work_b();
		work_c();
		rounds++;
	} while (now() < end);
	printf("shares: %lu rounds\n", rounds);
	return 0;
}
