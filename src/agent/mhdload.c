/* mhdload: loads libmicrohttpd (and with it gnutls, nettle, p11-kit...)
 * with dlopen when the agent first serves, never when the host loads
 * libkiln.so, and resolves server.c's functions into one table. Invariant:
 * the table is complete or mhd_load() fails; the library stays loaded for
 * good; everything the loader allocates on the way is the agent's own. */
#include "agent/mhdload.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

struct mhd_api mhd;

/* Held only to publish a result, never across dlopen (a host thread in
 * dlopen holds the loader's lock and may call kiln_agent_start from a
 * library constructor). */
static pthread_mutex_t publish_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int load_result = 1; /* 1: not loaded yet; then 0 or -errno */

/* Called with the heap guard set. Concurrent calls are harmless: dlopen
 * returns the same handle, and only the first result is published. */
static int load(struct mhd_api *api)
{
	char msg[224];
	void *lib = dlopen(MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		const char *why = dlerror();
		snprintf(msg, sizeof msg, "cannot load %s (%s); the agent cannot serve", MHD_SONAME,
			 why ? why : "dlopen failed");
		agent_warn(msg, 0);
		return -ELIBACC;
	}
#define MHD_API_RESOLVE(name)                                                                                  \
	*(void **)&api->name = dlsym(lib, "MHD_" #name);                                                       \
	if (!api->name) {                                                                                      \
		snprintf(msg, sizeof msg, "%s has no MHD_%s; the agent cannot serve", MHD_SONAME, #name);      \
		agent_warn(msg, 0);                                                                            \
		return -ELIBBAD; /* not unloaded: its destructors would run under the host */               \
	}
	MHD_API_FUNCS(MHD_API_RESOLVE)
#undef MHD_API_RESOLVE
	return 0;
}

int mhd_load(void)
{
	int r = atomic_load(&load_result);
	if (r <= 0)
		return r;
	struct mhd_api api;
	agent_heap_own_begin();
	r = load(&api);
	agent_heap_own_end();
	pthread_mutex_lock(&publish_lock);
	if (atomic_load(&load_result) > 0) {
		if (r == 0)
			mhd = api;
		atomic_store(&load_result, r);
	}
	r = atomic_load(&load_result);
	pthread_mutex_unlock(&publish_lock);
	return r;
}

void mhd_after_fork_child(void)
{
	pthread_mutex_init(&publish_lock, NULL);
}
