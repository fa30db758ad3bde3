/* leak-indirect: a list of 5 nodes of 24 bytes whose head pointer is
 * dropped: the head is definitely lost (24 bytes in 1 block), the 4 nodes
 * it reaches indirectly lost (96 bytes in 4 blocks). */
#include "leak-common.h"

struct node {
	struct node *next;
	long pad[2];
};
void *volatile sink;

static NOINLINE void build(int n)
{
	struct node *head = NULL;
	for (int i = 0; i < n; i++) {
		struct node *x = malloc(sizeof *x);
		memset(x, 0, sizeof *x);
		x->next = head;
		head = x;
	}
	sink = head;
	sink = NULL;
}

int main(void)
{
	build(5);
	scrub_stack();
	scrub_regs();
	done();
	return 0;
}
