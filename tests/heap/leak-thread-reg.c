/* leak-thread-reg: an 88-byte block whose only pointer is in register r12
 * of another thread spinning when main returns (x86-64; best effort: the
 * thread must answer the scan's stop signal): still reachable, 88 bytes. */
#include <pthread.h>

#include "leak-common.h"

static volatile int ready;
void *volatile sink;

static NOINLINE void *get(void)
{
	void *p = malloc(88);
	sink = p;
	sink = NULL;
	return p;
}

static void *run(void *arg)
{
	(void)arg;
#if defined(__x86_64__)
	register void *p __asm__("r12") = get();
	scrub_stack(); /* malloc's dead frames below */
	__asm__ volatile("" : "+r"(p));
	ready = 1;
	for (;;)
		__asm__ volatile("pause" : "+r"(p));
#else
	void *volatile p = get();
	ready = 1;
	for (;;)
		;
#endif
	return NULL;
}

int main(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, run, NULL))
		return 2;
	while (!ready)
		;
	scrub_stack();
	scrub_regs();
	done();
	return 0;
}
