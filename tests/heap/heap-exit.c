/* heap-exit: ways to end. Modes: exit (status 3), _exit (status 4), abort,
 * assert, double (a double free: glibc aborts), unknown (free of a pointer
 * malloc never returned), hold (allocate 1000 x 16 bytes in hold_allocs,
 * print "ready", then sleep until killed). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
static void *volatile keep[1000];

NOINLINE static void hold_allocs(void)
{
	for (int i = 0; i < 1000; i++)
		keep[i] = malloc(16);
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "exit";
	keep[0] = malloc(10);
	printf("mode %s\n", m);
	fflush(stdout);
	if (!strcmp(m, "exit"))
		exit(3);
	if (!strcmp(m, "_exit"))
		_exit(4);
	if (!strcmp(m, "abort"))
		abort();
	if (!strcmp(m, "assert"))
		assert(argc == 100);
	if (!strcmp(m, "double")) {
		free(keep[0]);
		free(keep[0]);
	}
	if (!strcmp(m, "unknown")) {
		char *volatile p = malloc(64);
		char *q = p + 16;
		free(q);
	}
	if (!strcmp(m, "hold")) {
		hold_allocs();
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	return 0;
}
