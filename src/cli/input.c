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
#include "format/pprof.h"
#include "model/profile.h"

int input_open(struct input *in, const char *path)
{
	in->path = path;
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

void input_close(struct input *in)
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

static int read_folded(const char *path, struct input *in, folded_sink_fn sink, void *ctx,
		       struct folded_stats *fs)
{
	struct linereader lr;
	linereader_init(&lr, in->fd, in->prefix, in->len);
	int rc = folded_read(&lr, sink, ctx, fs);
	linereader_release(&lr);
	if (rc < 0)
		return cli_error("%s: %s", cli_input_name(path), kiln_strerror(rc));
	return rc ? EXIT_FAIL : EXIT_OK;
}

static void warn_bad_lines(const char *path, const struct folded_stats *fs)
{
	if (fs->bad_lines)
		cli_warn("%s: ignored %lu line%s that %s not folded stacks (first: line %lu)",
			 cli_input_name(path), fs->bad_lines, fs->bad_lines == 1 ? "" : "s",
			 fs->bad_lines == 1 ? "is" : "are", fs->first_bad_line);
}

/* Reads a pprof profile and passes each sample's stack, folded, to fn. */
static int read_pprof(const char *path, struct input *in, profile_stack_fn fn, void *ctx,
		      struct input_stats *st)
{
	struct profile prof;
	struct diag d = {0};
	int err = pprof_read_fd(in->fd, in->prefix, in->len, &prof, &d);
	if (err)
		return cli_error("%s: not a readable pprof profile: %s%s%s", cli_input_name(path),
				 kiln_strerror(err), d.msg[0] ? ": " : "", d.msg);
	int vi = profile_default_value_index(&prof);
	if (st && vi >= 0 && (size_t)vi < prof.nsample_types)
		snprintf(st->event, sizeof(st->event), "%s/%s",
			 profile_str(&prof, prof.sample_types[vi].type),
			 profile_str(&prof, prof.sample_types[vi].unit));
	int rc = EXIT_OK;
	if (vi >= 0) {
		err = profile_for_each_stack(&prof, vi, fn, ctx);
		if (err)
			rc = err > 0 ? EXIT_FAIL : cli_error("%s: %s", cli_input_name(path), kiln_strerror(err));
	}
	if (st)
		st->samples = prof.nsamples;
	profile_release(&prof);
	return rc;
}

static int fold_stack(void *ctx, const char *stack, size_t len, int64_t value)
{
	struct fold_into *fi = ctx;
	foldtab_add(fi->table, stack, len, value < 0 ? 0 : (uint64_t)value);
	fi->samples++;
	return 0;
}

struct sink_adapter {
	folded_sink_fn sink;
	void *ctx;
};

static int sink_stack(void *ctx, const char *stack, size_t len, int64_t value)
{
	struct sink_adapter *a = ctx;
	struct folded_line fl = {stack, len, (double)value, 0, 1};
	return a->sink(a->ctx, &fl) ? 1 : 0;
}

int input_collapse(const char *path, const struct perfscript_options *o,
		   const struct perfscript_io *io, struct foldtab *table, struct input_stats *st)
{
	struct input in;
	if (input_open(&in, path))
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
		struct folded_stats fs = {0};
		rc = read_folded(path, &in, fold_line, &fi, &fs);
		warn_bad_lines(path, &fs);
		st->samples = fi.samples;
		st->bytes = fs.bytes;
		st->lines = fs.lines;
		break;
	}
	case INPUT_PPROF: {
		struct fold_into fi = {table, 0};
		rc = read_pprof(path, &in, fold_stack, &fi, st);
		break;
	}
	default:
		rc = unsupported(path, in.format);
		break;
	}
	input_close(&in);
	return rc;
}

static void quiet_warning(void *ctx, const struct perfscript_warning *w)
{
	const char *path = ctx;
	static unsigned long shown;
	if (shown++ < 20)
		cli_warn("%s:%lu: %s: %s", cli_input_name(path), w->line, w->kind, w->text);
}

int input_stacks_from(struct input *in, folded_sink_fn sink, void *ctx, struct folded_stats *fs)
{
	const char *path = in->path;
	int rc = EXIT_OK;
	switch (in->format) {
	case INPUT_EMPTY:
		break;
	case INPUT_FOLDED:
		rc = read_folded(path, in, sink, ctx, fs);
		break;
	case INPUT_PPROF: {
		struct sink_adapter a = {sink, ctx};
		rc = read_pprof(path, in, sink_stack, &a, NULL);
		break;
	}
	case INPUT_PERF_SCRIPT: {
		struct foldtab t;
		foldtab_init(&t);
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		struct perfscript_options o = {.nthreads = ncpu > 4 ? 4 : ncpu < 1 ? 1 : (unsigned)ncpu};
		struct perfscript_io io = {quiet_warning, NULL, (void *)path};
		int err = perfscript_collapse(in->fd, in->prefix, in->len, &o, &io, &t, NULL);
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
		rc = unsupported(path, (enum input_format)in->format);
		break;
	}
	return rc;
}

int input_stacks(const char *path, folded_sink_fn sink, void *ctx)
{
	struct input in;
	if (input_open(&in, path))
		return EXIT_FAIL;
	struct folded_stats fs = {0};
	int rc = input_stacks_from(&in, sink, ctx, &fs);
	if (rc == EXIT_OK)
		warn_bad_lines(path, &fs);
	input_close(&in);
	return rc;
}
