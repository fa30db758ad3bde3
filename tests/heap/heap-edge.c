/* heap-edge: results and errno of the edge cases, printed, so a run with
 * the tracker can be compared byte for byte with a run without it. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static volatile size_t huge = SIZE_MAX / 2;

int main(void)
{
	errno = 1234;
	free(NULL);
	printf("free(NULL) errno %d\n", errno);
	void *p = malloc(10);
	printf("malloc errno %d\n", errno);
	errno = 77;
	free(p);
	printf("free errno %d\n", errno);
	p = malloc(10);
	errno = 0;
	void *q = realloc(p, 0);
	printf("realloc(p, 0) %s errno %d\n", q ? "non-null" : "null", errno);
	free(q);
	errno = 0;
	q = realloc(NULL, 0);
	printf("realloc(NULL, 0) %s errno %d\n", q ? "non-null" : "null", errno);
	free(q);
	errno = 0;
	q = malloc(huge);
	printf("huge malloc %s errno %d\n", q ? "non-null" : "null", errno);
	errno = 0;
	q = calloc(huge, 4);
	printf("overflowing calloc %s errno %d\n", q ? "non-null" : "null", errno);
	p = malloc(8);
	errno = 0;
	q = realloc(p, huge);
	printf("huge realloc %s errno %d\n", q ? "non-null" : "null", errno);
	errno = 0;
	q = reallocarray(p, huge, 4);
	printf("overflowing reallocarray %s errno %d\n", q ? "non-null" : "null", errno);
	free(p);
	errno = 5;
	int rc = posix_memalign(&q, 3, 16);
	printf("posix_memalign(3) rc %d errno %d\n", rc, errno);
	errno = 0;
	q = aligned_alloc(64, huge);
	printf("huge aligned_alloc %s errno %d\n", q ? "non-null" : "null", errno);
	q = malloc(0);
	printf("malloc(0) %s\n", q ? "non-null" : "null");
	free(q);
	return 0;
}
