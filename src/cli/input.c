/* input: format detection and dispatch for every profile-reading command. */
#include "cli/input.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/linereader.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "format/detect.h"

struct opened {
	int fd;
	char *prefix;
	size_t len;
	enum input_format format;
};

static int open_and_detect(const char *path, struct opened *in)
{
	in->fd = cli_open_input(path);
	if (in->fd < 0)
		return EXIT_FAIL;
	in->prefix = xmalloc(DETECT_PREFIX);
	long n = read_full(in->fd, in->prefix, DETECT_PREFIX);
	if (n < 0) {
		cli_error("cannot read '%s': %s", cli_input_name(path), kiln_strerror((int)n));
		free(in->prefix);
		if (in->fd > 0)
			close(in->fd);
		return EXIT_FAIL;
	}
	in->len = (size_t)n;
	in->format = detect_format(in->prefix, in->len, in->len < DETECT_PREFIX);
	return EXIT_OK;
}

static void close_input(struct opened *in)
{
	free(in->prefix);
	if (in->fd > 0)
		close(in->fd);
}

static int unsupported(const char *path, enum input_format f)
{
	const char *name = cli_input_name(path);
	switch (f) {
	case INPUT_PERF_DATA:
		return cli_error("%s: perf.data files are not read yet; run 'perf script' on it and pass the text", name);
	case INPUT_BINARY:
		return cli_error("%s: binary data, not perf script text, folded stacks or a pprof profile", name);
	case INPUT_UNKNOWN:
		return cli_error("%s: not perf script text, folded stacks or a pprof profile", name);
	case INPUT_PPROF:
		return cli_error("%s: pprof input is not supported by this build", name);
	default:
		return cli_error("%s: unsupported input (%s)", name, detect_format_name(f));
	}
}

struct fold_into {
	struct foldtab *table;
	unsigned long samples;
};

static int fold_line(void *ctx, const struct folded_line *fl)
{
	struct fold_into *fi = ctx;
	double v = fl->ncounts == 2 ? fl->count2 : fl->count;
	foldtab_add(fi->table, fl->stack, fl->len, v < 0 ? 0 : (uint64_t)(v + 0.5));
	fi->samples++;
	return 0;
}

static int read_folded(const char *path, struct opened *in, folded_sink_fn sink, void *ctx,
		       struct input_stats *st)
{
	struct linereader lr;
	linereader_init(&lr, in->fd, in->prefix, in->len);
	struct folded_stats fs = {0};
	int rc = folded_read(&lr, sink, ctx, &fs);
	linereader_release(&lr);
	if (st) {
		st->bytes = fs.bytes;
		st->lines = fs.lines;
	}
	if (rc < 0)
		return cli_error("%s: %s", cli_input_name(path), kiln_strerror(rc));
	if (fs.bad_lines)
		cli_warn("%s: ignored %lu lines that are not folded stacks (first: line %lu)",
			 cli_input_name(path), fs.bad_lines, fs.first_bad_line);
	return EXIT_OK;
}

int input_collapse(const char *path, const struct perfscript_options *o,
		   const struct perfscript_io *io, struct foldtab *table, struct input_stats *st)
{
	struct opened in;
	if (open_and_detect(path, &in))
		return EXIT_FAIL;
	int rc = EXIT_OK;
	st->format = detect_format_name(in.format);
	switch (in.format) {
	case INPUT_EMPTY:
		break;
	case INPUT_PERF_SCRIPT: {
		struct perfscript_stats ps;
		int err = perfscript_collapse(in.fd, in.prefix, in.len, o, io, table, &ps);
		if (err)
			rc = cli_error("%s: %s", cli_input_name(path), kiln_strerror(err));
		st->bytes = ps.bytes;
		st->lines = ps.lines;
		st->samples = ps.events;
		memcpy(st->event, ps.event, sizeof(st->event));
		break;
	}
	case INPUT_FOLDED: {
		struct fold_into fi = {table, 0};
		rc = read_folded(path, &in, fold_line, &fi, st);
		st->samples = fi.samples;
		break;
	}
	default:
		rc = unsupported(path, in.format);
		break;
	}
	close_input(&in);
	return rc;
}

static void quiet_warning(void *ctx, const struct perfscript_warning *w)
{
	const char *path = ctx;
	static unsigned long shown;
	if (shown++ < 20)
		cli_warn("%s:%lu: %s: %s", cli_input_name(path), w->line, w->kind, w->text);
}

int input_stacks(const char *path, folded_sink_fn sink, void *ctx)
{
	struct opened in;
	if (open_and_detect(path, &in))
		return EXIT_FAIL;
	int rc = EXIT_OK;
	switch (in.format) {
	case INPUT_EMPTY:
		break;
	case INPUT_FOLDED:
		rc = read_folded(path, &in, sink, ctx, NULL);
		break;
	case INPUT_PERF_SCRIPT: {
		struct foldtab t;
		foldtab_init(&t);
		struct perfscript_options o = {.nthreads = 2};
		struct perfscript_io io = {quiet_warning, NULL, (void *)path};
		int err = perfscript_collapse(in.fd, in.prefix, in.len, &o, &io, &t, NULL);
		if (err) {
			rc = cli_error("%s: %s", cli_input_name(path), kiln_strerror(err));
		} else {
			const struct fold_entry **v = foldtab_sorted(&t);
			for (size_t i = 0; i < t.count && rc == EXIT_OK; i++) {
				struct folded_line fl = {v[i]->key, v[i]->len, (double)v[i]->count, 0, 1};
				if (sink(ctx, &fl))
					rc = EXIT_FAIL;
			}
			free(v);
		}
		foldtab_release(&t);
		break;
	}
	default:
		rc = unsupported(path, in.format);
		break;
	}
	close_input(&in);
	return rc;
}
