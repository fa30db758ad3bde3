/* heap-signal: allocation inside a signal handler. "sync": 100 raise()s,
 * each handler call allocating 24 bytes in sig_alloc and freeing them.
 * "async": another thread sends 2000 signals while main allocates in a
 * loop (only the output and exit code are checked: no deadlock, no crash). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))
static void *volatile keep;
static volatile sig_atomic_t calls;

NOINLINE static void sig_alloc(void)
{
	keep = malloc(24);
	free(keep);
}

static void handler(int sig)
{
	(void)sig;
	sig_alloc();
	calls++;
}

static pthread_t main_thread;
static volatile int stop;

static void *sender(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++)
		pthread_kill(main_thread, SIGUSR1);
	stop = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	if (argc > 1 && strcmp(argv[1], "async") == 0) {
		main_thread = pthread_self();
		pthread_t t;
		pthread_create(&t, NULL, sender, NULL);
		while (!stop) {
			void *p = malloc(64);
			keep = p;
			free(p);
		}
		pthread_join(t, NULL);
		printf("async done\n");
		return 0;
	}
	for (int i = 0; i < 100; i++)
		raise(SIGUSR1);
	printf("sync done %d\n", (int)calls);
	return 0;
}
