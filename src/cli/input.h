/* input: opens an input file, detects its format and turns it into folded
 * stacks, for every command that reads profiles (collapse, flame, diff).
 * Invariant: prints its own error messages and returns an exit code, so a
 * command needs one call per input. */
#ifndef KILN_CLI_INPUT_H
#define KILN_CLI_INPUT_H

#include "format/folded.h"
#include "format/perfscript.h"
#include "model/foldtab.h"

struct input_stats {
	const char *format;
	unsigned long long bytes;
	unsigned long lines;
	unsigned long samples;
	char event[128];
};

/* Folds path ("-" or NULL: stdin) into table. perf script text is
 * collapsed with o; folded stacks are summed; a pprof profile contributes
 * its samples. Returns EXIT_OK or EXIT_FAIL (after printing why). */
int input_collapse(const char *path, const struct perfscript_options *o,
		   const struct perfscript_io *io, struct foldtab *table, struct input_stats *st);

/* An opened input whose format is known. */
struct input {
	const char *path;
	int fd;
	char *prefix; /* the first bytes, already read for detection */
	size_t len;
	int format;   /* enum input_format */
};

/* Opens path ("-" or NULL: stdin) and detects its format. Returns EXIT_OK,
 * or prints why not and returns EXIT_FAIL. */
int input_open(struct input *in, const char *path);
void input_close(struct input *in);

/* Streams an opened input's stacks to sink: folded lines as they are read
 * (memory stays flat; fs, if given, counts lines, bytes and bad lines as
 * they go), perf script text and profiles after folding. Returns EXIT_OK or
 * EXIT_FAIL (after printing why). */
int input_stacks_from(struct input *in, folded_sink_fn sink, void *ctx, struct folded_stats *fs);

/* input_open + input_stacks_from + input_close, warning about bad lines. */
int input_stacks(const char *path, folded_sink_fn sink, void *ctx);

struct profile;

/* Loads an opened input as a profile into *out (initialised here; the
 * caller owns it on EXIT_OK and releases it with profile_release()). A
 * pprof profile is read as it is; folded stacks and perf script text become
 * one sample per stack on the sample type samples/count, as
 * profile_add_folded() builds them; an empty input gives an empty profile.
 * st (may be NULL) gets the format name and counts. Returns EXIT_OK, or
 * EXIT_FAIL after printing why (*out is then released). */
int input_profile_from(struct input *in, struct profile *out, struct input_stats *st);

#endif
