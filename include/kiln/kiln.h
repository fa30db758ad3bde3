/* kiln.h: the public API of the kiln agent, libkiln.so. Link it (-lkiln)
 * or preload it (LD_PRELOAD=libkiln.so KILN_AGENT=127.0.0.1:6060) to serve
 * Prometheus /metrics, JSON memory endpoints and Go-style /debug/pprof
 * profiles from any process (docs/agent.md). Every function returns 0 or a
 * negative errno; none of them prints, exits or changes errno on success. */
#ifndef KILN_KILN_H
#define KILN_KILN_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define KILN_API __attribute__((visibility("default")))
#else
#define KILN_API
#endif

/* Starts the agent's HTTP server on addr ("127.0.0.1:6060", "[::1]:6060",
 * "localhost:6060", ":6060" or "6060" meaning 127.0.0.1; port 0 picks a
 * free port, see kiln_agent_port). addr NULL means KILN_AGENT from the
 * environment, else 127.0.0.1:6060. A non-loopback address must be
 * written out (e.g. "0.0.0.0:6060") and needs a bearer token of at least
 * 16 characters: token, or KILN_AGENT_TOKEN from the environment when
 * token is NULL; a token, once given, is required on every request, on
 * loopback too. Returns 0, -EALREADY when running, -EINVAL for a bad
 * address or a missing or short token, -ELIBACC when libmicrohttpd.so.12
 * cannot be loaded (-ELIBBAD: it lacks a function; one warning on stderr
 * either way), or the error of the bind. */
KILN_API int kiln_agent_start(const char *addr, const char *token);

/* Stops the server and waits for requests in flight (a CPU profile in
 * progress ends early). Idempotent. */
KILN_API int kiln_agent_stop(void);

/* The TCP port the agent listens on, or -ENOTCONN when it is not running. */
KILN_API int kiln_agent_port(void);

/* Attributes this thread's allocations to component name until the
 * matching kiln_tag_pop(); tags nest (up to 16 deep). name is copied.
 * Every push opens a level that its pop closes, even when the push fails
 * (-EINVAL for an empty name, -EOVERFLOW past 16 levels, -ENOSPC past 1024
 * distinct names; the allocations then keep the enclosing tag), so pushes
 * and pops stay paired. Not async-signal-safe. */
KILN_API int kiln_tag_push(const char *name);
KILN_API int kiln_tag_pop(void);

#ifdef __cplusplus
}
#endif

#endif
