/* mhdload.h: libmicrohttpd as the agent sees it: a table of the functions
 * server.c calls, filled by dlopen when the agent first serves (mhdload.c).
 * Invariant: <microhttpd.h> is used here for types and constants only; no
 * MHD_ function is called directly, so libkiln.so does not link it. */
#ifndef KILN_AGENT_MHDLOAD_H
#define KILN_AGENT_MHDLOAD_H

#include <microhttpd.h>

#include "agent/agent.h"

/* The soname loaded: ABI 12 is the one <microhttpd.h> describes. */
#define MHD_SONAME "libmicrohttpd.so.12"

/* X(name): MHD_name, called as mhd.name, typed as the header declares it. */
#define MHD_API_FUNCS(X)                                                                                       \
	X(start_daemon)                                                                                        \
	X(stop_daemon)                                                                                         \
	X(set_panic_func)                                                                                      \
	X(get_connection_info)                                                                                 \
	X(get_connection_values)                                                                               \
	X(lookup_connection_value)                                                                             \
	X(lookup_connection_value_n)                                                                           \
	X(create_response_from_buffer)                                                                         \
	X(add_response_header)                                                                                 \
	X(queue_response)                                                                                      \
	X(destroy_response)

struct mhd_api {
#define MHD_API_FIELD(name) __typeof__(MHD_##name) *name;
	MHD_API_FUNCS(MHD_API_FIELD)
#undef MHD_API_FIELD
};

/* Valid once mhd_load() (agent.h) has returned 0. */
extern struct mhd_api mhd AGENT_HIDDEN;

#endif
