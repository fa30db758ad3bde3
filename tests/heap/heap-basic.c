/* heap-basic: a known, exact sequence of allocations for the heap tracker's
 * test. In basic_allocs: 9 allocations of 2188 bytes in all (every
 * allocation function once), all freed; in loop_allocs: 1000 allocations
 * of 1..1000 bytes (500500), all freed; in leak_77: one block of 77 bytes
 * never freed. Every call is in a noinline function and not a tail call. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))
static void *volatile keep[16];

NOINLINE static void basic_allocs(void)
{
	void *c = NULL;
	keep[0] = malloc(100);
	keep[1] = calloc(10, 20);
	keep[0] = realloc(keep[0], 300);
	if (posix_memalign(&c, 64, 256))
		abort();
	keep[2] = c;
	keep[3] = aligned_alloc(64, 128);
	keep[4] = memalign(32, 64);
	keep[5] = valloc(1000);
	keep[6] = reallocarray(NULL, 5, 8);
	keep[7] = pvalloc(100);
	for (int i = 0; i < 8; i++)
		free(keep[i]);
}

NOINLINE static void loop_allocs(void)
{
	for (int i = 1; i <= 1000; i++) {
		char *p = malloc((size_t)i);
		p[0] = (char)i;
		keep[8] = p;
		free(keep[8]);
	}
}

NOINLINE static void leak_77(void)
{
	keep[9] = malloc(77);
	keep[9] = NULL;
}

int main(void)
{
	basic_allocs();
	loop_allocs();
	leak_77();
	printf("heap-basic done\n");
	return 7;
}
