/* leak-direct: known verdicts for the exit scan: 16 + 32 + 64 bytes whose
 * last pointer is dropped (definitely lost: 112 bytes in 3 blocks), and 100
 * bytes kept by a global (still reachable: 100 bytes in 1 block). */
#include "leak-common.h"

void *volatile sink;
void *keep;

static NOINLINE void lose(size_t n)
{
	char *p = malloc(n);
	memset(p, 1, n);
	sink = p;
	sink = NULL;
}

int main(void)
{
	lose(16);
	lose(32);
	lose(64);
	keep = malloc(100);
	scrub_stack();
	scrub_regs();
	done();
	return 0;
}
