/* heapsample-test: a known heap for tests/e2e/t1210-agent-heap.sh. With 1:
 * 200 MiB in 4 KiB blocks freed in site_a (tag alpha), 50 MiB in site_b
 * (beta, a second thread), 64 MiB kept live in site_c (gamma inside outer),
 * 3 x 20 MiB freed in site_d. With 0 only the rest (thread, tags), so the
 * counters differ by 80387 allocations and 64003 frees. With 2, 0 and
 * site_e's reallocs: 16 allocations and 16 frees more than 0. No stdio. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/kiln.h"
/* weak: the program also runs without the agent (then it tags nothing) */
#pragma weak kiln_tag_push
#pragma weak kiln_tag_pop

static void push(const char *name)
{
	if (kiln_tag_push)
		kiln_tag_push(name);
}

static void pop(void)
{
	if (kiln_tag_pop)
		kiln_tag_pop();
}

#define BLOCK 4096
#define MIB (1024 * 1024)

static void *volatile sink;
static volatile int marker; /* keeps the sites' code distinct (no identical code folding) */
static int work;

__attribute__((noinline)) static void site_a(size_t total)
{
	for (size_t n = 0; n < total; n += BLOCK) {
		char *p = malloc(BLOCK);
		marker = 1;
		sink = p;
		free(p);
	}
}

__attribute__((noinline)) static void site_b(size_t total)
{
	for (size_t n = 0; n < total; n += BLOCK) {
		char *p = malloc(BLOCK);
		marker = 2;
		sink = p;
		free(p);
	}
}

static void *keep[64 * MIB / BLOCK];

__attribute__((noinline)) static void site_c(size_t total)
{
	for (size_t i = 0; i < total / BLOCK; i++) {
		keep[i] = malloc(BLOCK);
		memset(keep[i], 3, 16);
	}
}

__attribute__((noinline)) static void site_d(void)
{
	for (int i = 0; i < 3; i++) {
		char *p = malloc(20 * MIB);
		marker = 4;
		sink = p;
		free(p);
	}
}

/* A block grown by realloc from 1 KiB to 16 MiB (14 calls: each counts an
 * allocation and a free), freed; then realloc(NULL, 100), an allocation
 * only, and realloc(p, 0), a free only. 16 allocations of 33,553,508
 * bytes, 16 frees. */
__attribute__((noinline)) static void site_e(void)
{
	char *p = malloc(1024);
	for (size_t size = 2048; p && size <= 16 * MIB; size *= 2) {
		char *q = realloc(p, size);
		if (!q)
			break;
		p = q;
		p[size - 1] = 5;
	}
	sink = p;
	free(p);
	p = realloc(NULL, 100);
	sink = p;
	sink = realloc(p, 0);
}

static void *thread_b(void *arg)
{
	(void)arg;
	push("beta");
	if (work)
		site_b(50 * MIB);
	pop();
	return NULL;
}

int main(int argc, char **argv)
{
	work = argc > 1 && argv[1][0] == '1';
	pthread_t t;
	if (pthread_create(&t, NULL, thread_b, NULL) != 0)
		return 1;
	push("alpha");
	if (work)
		site_a(200 * MIB);
	pop();
	pthread_join(t, NULL);
	push("outer");
	push("gamma");
	if (work)
		site_c(64 * MIB);
	pop();
	pop();
	if (work)
		site_d();
	if (argc > 1 && argv[1][0] == '2')
		site_e();
	return 0;
}
