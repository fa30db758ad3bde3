/* demangle: C++ (Itanium) and Rust (legacy and v0) symbol names, through
 * libiberty's cplus_demangle. Invariant: a name that is not mangled, or
 * does not demangle, comes back unchanged. */
#include "symbolize/symbolize-internal.h"

#include <libiberty/demangle.h>
#include <stdlib.h>
#include <string.h>

char *symbolizer_demangle(const char *name)
{
	if (!name || name[0] != '_' || (name[1] != 'Z' && name[1] != 'R'))
		return NULL;
	return cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
}

const char *demangle_name(struct symbolizer *s, const char *name)
{
	/* versioned ELF symbols ("clock_nanosleep@GLIBC_2.2.5",
	 * "__libc_start_main@@GLIBC_2.34") are shown without the version */
	char *plain = NULL;
	const char *at = strchr(name, '@');
	if (at && at > name) {
		plain = strndup(name, (size_t)(at - name));
		if (plain)
			name = plain;
	}
	const char *r;
	char *d = s->opt.no_demangle ? NULL : symbolizer_demangle(name);
	r = sym_strdup(s, d ? d : name);
	free(d);
	free(plain);
	return r;
}
