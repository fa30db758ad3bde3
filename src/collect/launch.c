/* launch: fork, hold, exec (see launch.h). */
#include "collect/launch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child, before the hold: the environment, descriptors, group and
 * signals o asks for. Returns 0 or an errno. */
static int child_setup(const struct launch_options *o)
{
	if (o->new_group && setpgid(0, 0) != 0)
		return errno;
	if (o->reset_signals) {
		static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};
		for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
			signal(sigs[i], SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	for (char *const *e = o->env; e && *e; e++)
		if (putenv(*e) != 0)
			return errno;
	if (o->out_fd >= 0) {
		int in = open("/dev/null", O_RDONLY);
		if (in < 0 || dup2(in, 0) < 0 || dup2(o->out_fd, 1) < 0 || dup2(o->out_fd, 2) < 0)
			return errno;
		if (in > 2)
			close(in);
	}
	return 0;
}

int launch_start(struct launch *l, char *const argv[])
{
	return launch_start_with(l, argv, NULL);
}

int launch_start_with(struct launch *l, char *const argv[], const struct launch_options *o)
{
	int go[2], errp[2];
	if (pipe2(go, O_CLOEXEC) != 0)
		return -errno;
	if (pipe2(errp, O_CLOEXEC) != 0) {
		int e = errno;
		close(go[0]);
		close(go[1]);
		return -e;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(go[0]);
		close(go[1]);
		close(errp[0]);
		close(errp[1]);
		return -e;
	}
	if (pid == 0) {
		close(go[1]);
		close(errp[0]);
		int setup_err = o ? child_setup(o) : 0;
		char c;
		ssize_t n;
		do
			n = read(go[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			_exit(127); /* the profiler gave up */
		int e = setup_err;
		if (!e) {
			execvp(argv[0], argv);
			e = errno;
		}
		if (write(errp[1], &e, sizeof(e)) < 0) {
			/* nothing more can be done */
		}
		_exit(127);
	}
	close(go[0]);
	close(errp[1]);
	if (o && o->new_group)
		setpgid(pid, pid); /* as the child does: no race with a signal to the group */
	l->pid = pid;
	l->go_fd = go[1];
	l->err_fd = errp[0];
	return 0;
}

int launch_release(struct launch *l)
{
	char c = 1;
	ssize_t n;
	do
		n = write(l->go_fd, &c, 1);
	while (n < 0 && errno == EINTR);
	close(l->go_fd);
	l->go_fd = -1;
	int e = 0;
	do
		n = read(l->err_fd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(l->err_fd);
	l->err_fd = -1;
	if (n == (ssize_t)sizeof(e)) {
		waitpid(l->pid, NULL, 0);
		return -e;
	}
	return 0;
}

void launch_abort(struct launch *l)
{
	if (l->go_fd >= 0)
		close(l->go_fd);
	if (l->err_fd >= 0)
		close(l->err_fd);
	l->go_fd = l->err_fd = -1;
	kill(l->pid, SIGKILL);
	waitpid(l->pid, NULL, 0);
}
