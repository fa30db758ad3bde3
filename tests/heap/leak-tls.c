/* leak-tls: a 40-byte block whose only pointer is in the main thread's
 * __thread variable: still reachable, 40 bytes in 1 block; and a 24-byte
 * block dropped (definitely lost). */
#include "leak-common.h"

__thread void *tls_ptr;
void *volatile sink;

static NOINLINE void make(void)
{
	tls_ptr = malloc(40);
	char *p = malloc(24);
	memset(p, 0, 24);
	sink = p;
	sink = NULL;
}

int main(void)
{
	make();
	scrub_stack();
	scrub_regs();
	done();
	return 0;
}
