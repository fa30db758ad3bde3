/* leak-cycle: two 32-byte blocks pointing at each other, nothing else
 * pointing at them: one is definitely lost, the other indirectly lost
 * (32 bytes in 1 block each), as memcheck reports a lost cycle. */
#include "leak-common.h"

void *volatile sink;

static NOINLINE void cycle(void)
{
	void **a = malloc(32), **b = malloc(32);
	memset(a, 0, 32);
	memset(b, 0, 32);
	a[0] = b;
	b[0] = a;
	sink = a;
	sink = NULL;
}

int main(void)
{
	cycle();
	scrub_stack();
	scrub_regs();
	done();
	return 0;
}
