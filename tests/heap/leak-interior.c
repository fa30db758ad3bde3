/* leak-interior: a 64-byte block whose only pointer (a global) points 8
 * bytes inside it: possibly lost, 64 bytes in 1 block. */
#include "leak-common.h"

char *inside;

static NOINLINE void make(void)
{
	char *p = malloc(64);
	memset(p, 0, 64);
	inside = p + 8;
}

int main(void)
{
	make();
	scrub_stack();
	scrub_regs();
	done();
	return 0;
}
