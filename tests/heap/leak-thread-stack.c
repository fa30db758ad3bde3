/* leak-thread-stack: a 72-byte block whose only pointer is a local of
 * another thread, blocked in a condition wait when main returns: still
 * reachable, 72 bytes in 1 block (besides glibc's own thread blocks). */
#include <pthread.h>

#include "leak-common.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static volatile int ready;

static void *run(void *arg)
{
	(void)arg;
	void *volatile local = malloc(72);
	pthread_mutex_lock(&mu);
	ready = 1;
	pthread_cond_broadcast(&cv);
	for (;;)
		pthread_cond_wait(&cv, &mu); /* never signalled again */
	return local;
}

int main(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, run, NULL))
		return 2;
	pthread_mutex_lock(&mu);
	while (!ready)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	scrub_stack();
	scrub_regs();
	done();
	return 0;
}
