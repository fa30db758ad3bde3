/* runctl: kiln run's control of the processes it starts: readiness probes
 * (tcp:PORT, http:URL, delay:SECONDS) and the graceful stop of a process
 * group (SIGINT, then SIGTERM, then SIGKILL, each after a timeout).
 * Invariant: a probe never blocks longer than the timeout it is given, and
 * a stop never sends a harsher signal before the gentler one's timeout. */
#ifndef KILN_COLLECT_RUNCTL_H
#define KILN_COLLECT_RUNCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

enum runctl_ready_kind {
	RUNCTL_READY_NONE,  /* ready as soon as started */
	RUNCTL_READY_TCP,   /* a TCP connect to host:port succeeds */
	RUNCTL_READY_HTTP,  /* a GET of the URL answers 2xx or 3xx */
	RUNCTL_READY_DELAY, /* a fixed time after the start */
};

#define RUNCTL_HOST_MAX 256
#define RUNCTL_PATH_MAX 1024

struct runctl_ready {
	enum runctl_ready_kind kind;
	char host[RUNCTL_HOST_MAX]; /* tcp, http: "127.0.0.1" when not given */
	int port;                   /* tcp, http (80 when an http URL has none) */
	char path[RUNCTL_PATH_MAX]; /* http: "/..." */
	double delay;               /* delay: seconds */
};

/* Parses "tcp:PORT", "tcp:HOST:PORT", "http:URL" (URL http://HOST[:PORT][/PATH],
 * or a bare HOST[:PORT][/PATH]) or "delay:SECONDS" (len bytes, not
 * NUL-terminated). Returns 0, or KILN_ERR_FORMAT with the reason in d. */
int runctl_ready_parse(const char *spec, size_t len, struct runctl_ready *r, struct diag *d);

/* One probe of r (tcp or http), waiting at most timeout_ms. Returns 1 when
 * ready, 0 when not (refused, no answer yet, or an HTTP status that is not
 * 2xx/3xx; *status then holds the status, or 0 when none was read). */
int runctl_probe(const struct runctl_ready *r, int timeout_ms, int *status);

/* The status code of an HTTP response's first line ("HTTP/1.1 200 OK"),
 * from the first len bytes of the response; -1 when it is not one (yet). */
int runctl_http_status(const char *buf, size_t len);

/* A stop in progress: SIGINT first, SIGTERM after timeout seconds, SIGKILL
 * after another timeout; to the process group pid leads when group. */
struct runctl_stop {
	pid_t pid;
	bool group;
	double timeout;
	int last_signal; /* the harshest signal sent so far; 0 before the first */
	double next;     /* when the next signal is due */
};
/* Sends SIGINT now (first_signal: or SIGTERM/SIGKILL to start harsher). */
void runctl_stop_begin(struct runctl_stop *s, pid_t pid, bool group, double timeout, int first_signal,
		       double now);
/* Sends the next signal when it is due. Call until the process is reaped. */
void runctl_stop_step(struct runctl_stop *s, double now);

#endif
