/* detect: tells which of kiln's input formats a file holds, from its first
 * bytes, so every command accepts perf script text, folded stacks or pprof
 * without being told which.
 * Invariant: looks only at the prefix it is given; never reads a file. */
#ifndef KILN_FORMAT_DETECT_H
#define KILN_FORMAT_DETECT_H

#include <stddef.h>

enum input_format {
	INPUT_EMPTY,       /* no bytes, or only blank and comment lines */
	INPUT_PERF_SCRIPT, /* `perf script` text */
	INPUT_FOLDED,      /* folded stacks */
	INPUT_PPROF,       /* profile.proto, gzipped or not */
	INPUT_PERF_DATA,   /* perf.data ("PERFILE2") */
	INPUT_BINARY,      /* some other binary data */
	INPUT_UNKNOWN,     /* text in no known format */
};

/* Enough bytes to decide; callers read up to this much first. */
enum { DETECT_PREFIX = 64 * 1024 };

/* at_eof says the prefix is the whole input. */
enum input_format detect_format(const void *prefix, size_t len, int at_eof);
const char *detect_format_name(enum input_format f);

#endif
