/* heap-bench: N malloc/free pairs of 16..4096 bytes (a fixed pseudo-random
 * sequence) on T threads, N split evenly; prints the wall time. Usage:
 * heap-bench [PAIRS] [THREADS] (default 10000000 1). Keeps 64 blocks live
 * per thread so frees are not always of the newest block. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long pairs_per_thread;

static void *run(void *arg)
{
	uint64_t x = 88172645463325252ull + (uintptr_t)arg;
	void *slot[64] = {0};
	for (long i = 0; i < pairs_per_thread; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned k = (unsigned)(x >> 58);
		free(slot[k]);
		slot[k] = malloc(16 + (size_t)(x % 4081));
	}
	for (int k = 0; k < 64; k++)
		free(slot[k]);
	return NULL;
}

int main(int argc, char **argv)
{
	long pairs = argc > 1 ? atol(argv[1]) : 10000000;
	int threads = argc > 2 ? atoi(argv[2]) : 1;
	pairs_per_thread = pairs / threads;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	pthread_t t[64];
	for (int i = 0; i < threads && i < 64; i++)
		pthread_create(&t[i], NULL, run, (void *)(uintptr_t)i);
	for (int i = 0; i < threads && i < 64; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.3f s\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
