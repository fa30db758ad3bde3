/* heapsample-fork: fork under the agent's heap sampling (t1210). The parent
 * keeps 8 MiB live (site_parent) while a thread allocates without pause and
 * forks 20 children that malloc at once (a lock left held would hang them);
 * the last keeps 16 MiB live (site_child) and leaves through exit(), so a
 * followed child (KILN_AGENT_CHILDREN=1) writes a dump of its own. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLOCK 4096
#define MIB (1024 * 1024)

static void *volatile sink;
static atomic_int stop;
static void *keep[16 * MIB / BLOCK];

__attribute__((noinline)) static void site_parent(void)
{
	for (size_t i = 0; i < 8 * MIB / BLOCK; i++) {
		keep[i] = malloc(BLOCK);
		memset(keep[i], 1, 16);
	}
}

__attribute__((noinline)) static void site_child(void)
{
	for (size_t i = 0; i < 16 * MIB / BLOCK; i++) {
		keep[i] = malloc(BLOCK);
		memset(keep[i], 2, 16);
	}
}

static void *churn(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		void *p = malloc(64 + (size_t)(rand() % 8192));
		sink = p;
		free(p);
	}
	return NULL;
}

int main(void)
{
	site_parent();
	pthread_t t;
	if (pthread_create(&t, NULL, churn, NULL) != 0)
		return 1;
	int bad = 0;
	for (int i = 0; i < 20; i++) {
		pid_t c = fork();
		if (c < 0)
			return 1;
		if (c == 0) {
			if (i < 19) {
				free(malloc(100));
				_exit(0);
			}
			site_child();
			exit(0);
		}
		int st;
		if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad = 1;
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	return bad;
}
