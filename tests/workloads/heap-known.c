/* heap-known: a program with an exactly known heap profile for kiln heap:
 * 1000 + 2000 + 4096 bytes live together (peak 7096 bytes in 3 blocks),
 * one temporary 100-byte block, and exactly 48 bytes leaked in 3 blocks.
 * Invariant: no stdio (its buffers would add allocations); exits with
 * argv[1] (default 0). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *volatile sink;

/* The empty asm after each call keeps it a real call, not a tail jump, so
 * alloc_a/b/c are on the stack when malloc runs, even at -O2. */
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")
__attribute__((noinline)) static void *alloc_a(void) { void *p = malloc(1000); KEEP(p); return p; }
__attribute__((noinline)) static void *alloc_b(void) { void *p = malloc(2000); KEEP(p); return p; }
__attribute__((noinline)) static void *alloc_c(void) { void *p = malloc(4096); KEEP(p); return p; }

__attribute__((noinline)) static void leak_one(void)
{
	char *p = malloc(16);
	memset(p, 0x5a, 16);
	sink = p;
	sink = NULL; /* the only pointer is gone */
}

__attribute__((noinline)) static void temporary(void)
{
	char *p = malloc(100);
	sink = p;
	free(p);
	sink = NULL;
}

__attribute__((noinline)) static void scrub_stack(void)
{
	volatile char pad[4096];
	memset((char *)pad, 0, sizeof(pad));
}

int main(int argc, char **argv)
{
	void *a = alloc_a(), *b = alloc_b(), *c = alloc_c();
	sink = a, sink = b, sink = c;
	free(b);
	free(a);
	temporary();
	for (int i = 0; i < 3; i++)
		leak_one();
	free(c);
	sink = NULL;
	scrub_stack();
	static const char msg[] = "heap-known done\n";
	if (write(1, msg, sizeof(msg) - 1) < 0)
		return 1;
	return argc > 1 ? atoi(argv[1]) : 0;
}
