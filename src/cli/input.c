/* input: format detection and dispatch for every profile-reading command. */
#include "cli/input.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/linereader.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "collect/perfdata-import.h"
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

/* Loads a perf.data file, unwound and symbolized on this machine, into
 * *out (the caller releases it on EXIT_OK). It is read with pread, so it
 * must be a file, not standard input. */
static int load_perf_data(const char *path, struct input *in, struct profile *out,
			  struct input_stats *st)
{
	if (!path || !strcmp(path, "-"))
		return cli_error("standard input: perf.data must be read from a file; "
				 "give its name (kiln collapse perf.data), or pipe 'perf script' instead");
	struct diag d = {0};
	struct perfdata_import_stats ps;
	int err = perfdata_import(in->fd, out, &ps, &d);
	if (err)
		return cli_error("%s: cannot read perf.data: %s%s%s", cli_input_name(path),
				 kiln_strerror(err), d.msg[0] ? ": " : "", d.msg);
	if (ps.file.lost)
		cli_warn("%s: the kernel lost %llu samples while recording", cli_input_name(path),
			 ps.file.lost);
	if (st) {
		st->samples = ps.prof.samples;
		st->bytes = ps.file.data_bytes;
		snprintf(st->event, sizeof(st->event), "cpu/nanoseconds");
	}
	return EXIT_OK;
}

/* Reads a perf.data file and passes each sample's stack, folded, to fn. */
static int read_perf_data(const char *path, struct input *in, profile_stack_fn fn, void *ctx,
			  struct input_stats *st)
{
	struct profile prof;
	if (load_perf_data(path, in, &prof, st))
		return EXIT_FAIL;
	int rc = EXIT_OK;
	int vi = profile_default_value_index(&prof);
	int err = vi >= 0 ? profile_for_each_stack(&prof, vi, fn, ctx) : 0;
	if (err)
		rc = err > 0 ? EXIT_FAIL : cli_error("%s: %s", cli_input_name(path), kiln_strerror(err));
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
	case INPUT_PERF_DATA: {
		struct fold_into fi = {table, 0};
		rc = read_perf_data(path, &in, fold_stack, &fi, st);
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
	case INPUT_PERF_DATA: {
		struct sink_adapter a = {sink, ctx};
		rc = read_perf_data(path, in, sink_stack, &a, NULL);
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

/* input_profile_from: any input as a struct profile (kiln report). */

struct profile_into {
	struct profile *prof;
	unsigned long samples;
	int err;
};

static int profile_line_sink(void *ctx, const struct folded_line *fl)
{
	struct profile_into *pi = ctx;
	double v = fl->ncounts == 2 ? fl->count2 : fl->count;
	if (!(v >= 0.5))
		return 0; /* zero, negative or NaN: nothing to count */
	int64_t n = v >= 9.2e18 ? INT64_MAX : (int64_t)(v + 0.5);
	int err = profile_add_folded(pi->prof, fl->stack, fl->len, n);
	if (err) {
		pi->err = err;
		return 1;
	}
	pi->samples++;
	return 0;
}

int input_profile_from(struct input *in, struct profile *out, struct input_stats *st)
{
	const char *path = in->path;
	int rc = EXIT_OK;
	if (st)
		st->format = detect_format_name((enum input_format)in->format);
	switch (in->format) {
	case INPUT_EMPTY:
		profile_init(out);
		break;
	case INPUT_PPROF: {
		struct diag d = {0};
		int err = pprof_read_fd(in->fd, in->prefix, in->len, out, &d);
		if (err)
			return cli_error("%s: not a readable pprof profile: %s%s%s", cli_input_name(path),
					 kiln_strerror(err), d.msg[0] ? ": " : "", d.msg);
		if (st)
			st->samples = out->nsamples;
		break;
	}
	case INPUT_PERF_DATA:
		if (load_perf_data(path, in, out, st))
			return EXIT_FAIL;
		break;
	case INPUT_FOLDED: {
		profile_init(out);
		struct profile_into pi = {out, 0, 0};
		struct folded_stats fs = {0};
		rc = read_folded(path, in, profile_line_sink, &pi, &fs);
		if (pi.err)
			rc = cli_error("%s: %s", cli_input_name(path), kiln_strerror(pi.err));
		else if (rc == EXIT_OK)
			warn_bad_lines(path, &fs);
		if (st) {
			st->samples = pi.samples;
			st->bytes = fs.bytes;
			st->lines = fs.lines;
		}
		break;
	}
	case INPUT_PERF_SCRIPT: {
		profile_init(out);
		struct foldtab t;
		foldtab_init(&t);
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		struct perfscript_options o = {.nthreads = ncpu > 4 ? 4 : ncpu < 1 ? 1 : (unsigned)ncpu};
		struct perfscript_io io = {quiet_warning, NULL, (void *)path};
		struct perfscript_stats ps = {0};
		int err = perfscript_collapse(in->fd, in->prefix, in->len, &o, &io, &t, &ps);
		if (err) {
			rc = cli_error("%s: %s", cli_input_name(path), kiln_strerror(err));
		} else {
			const struct fold_entry **v = foldtab_sorted(&t);
			for (size_t i = 0; i < t.count && !err; i++)
				err = profile_add_folded(out, v[i]->key, v[i]->len,
							 v[i]->count > INT64_MAX ? INT64_MAX : (int64_t)v[i]->count);
			free(v);
			if (err)
				rc = cli_error("%s: %s", cli_input_name(path), kiln_strerror(err));
		}
		foldtab_release(&t);
		if (st) {
			st->bytes = ps.bytes;
			st->lines = ps.lines;
			st->samples = ps.events;
			memcpy(st->event, ps.event, sizeof(st->event));
		}
		break;
	}
	default:
		return unsupported(path, (enum input_format)in->format);
	}
	if (rc != EXIT_OK)
		profile_release(out);
	return rc;
}
