/* launch: starts a command to be profiled, held just before exec until the
 * profiler's events are attached, and reports an exec failure back.
 * Invariant: the child runs nothing of the command before launch_release(),
 * so events opened with enable_on_exec see the command from its first
 * instruction; a failed exec is reported as an errno, not as a silent exit. */
#ifndef KILN_COLLECT_LAUNCH_H
#define KILN_COLLECT_LAUNCH_H

#include <stdbool.h>
#include <sys/types.h>

struct launch {
	pid_t pid;
	int go_fd;  /* written to let the child exec */
	int err_fd; /* the child's exec errno, or end of file on success */
};

/* Forks a child that waits, then execvp(argv[0], argv). Returns 0 or -errno. */
int launch_start(struct launch *l, char *const argv[]);

/* How launch_start_with() sets the child up, in the child only (never in
 * the caller's own environment or descriptors). */
struct launch_options {
	char *const *env;  /* "NAME=VALUE" strings to set, NULL-terminated; or NULL */
	int out_fd;        /* >= 0: the child's stdout and stderr, stdin /dev/null */
	bool new_group;    /* the child leads a process group of its own */
	bool reset_signals; /* SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE back to their
			     * defaults and no signal blocked, whatever the caller inherited */
};
/* launch_start() with options; o NULL is launch_start(). */
int launch_start_with(struct launch *l, char *const argv[], const struct launch_options *o);
/* Lets the child exec. Returns 0 once exec succeeded, or the exec's -errno
 * (the child has then exited with status 127). */
int launch_release(struct launch *l);
/* Kills and reaps a child that was never released (setup failed). */
void launch_abort(struct launch *l);

#endif
