/* heap-threads: 64 threads, all alive at once (a barrier), each making 100
 * allocations of 8 * (its index + 1) bytes in thread_work and freeing
 * them: 6400 allocations of 8 * 100 * (1 + ... + 64) = 1664000 bytes. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))
static pthread_barrier_t barrier;

NOINLINE static void thread_work(long idx)
{
	void *volatile p[100];
	for (int i = 0; i < 100; i++)
		p[i] = malloc(8 * (size_t)(idx + 1));
	for (int i = 0; i < 100; i++)
		free(p[i]);
}

static void *run(void *arg)
{
	char name[16];
	snprintf(name, sizeof name, "heapw%ld", (long)arg);
	pthread_setname_np(pthread_self(), name);
	pthread_barrier_wait(&barrier);
	thread_work((long)arg);
	pthread_barrier_wait(&barrier);
	return NULL;
}

int main(void)
{
	pthread_t t[64];
	pthread_barrier_init(&barrier, NULL, 64);
	for (long i = 0; i < 64; i++)
		if (pthread_create(&t[i], NULL, run, (void *)i))
			return 1;
	for (int i = 0; i < 64; i++)
		pthread_join(t[i], NULL);
	printf("heap-threads done\n");
	return 0;
}
