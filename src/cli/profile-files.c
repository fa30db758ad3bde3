/* profile-files: pprof, flamegraph and heap chart files (see profile-files.h).
 * Invariant: nothing is left half-written: outfile_close(ok = false) drops
 * the temporary when encoding failed. */
#include "cli/profile-files.h"

#include <stdlib.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "format/pprof.h"
#include "render/flame.h"
#include "render/heapchart.h"

int cli_write_pprof(const struct profile *p, const char *path)
{
	struct outfile out;
	int rc = outfile_open(&out, path);
	if (rc)
		return rc;
	int err = pprof_write(p, out.fp, 6);
	if (err && !ferror(out.fp))
		cli_error("cannot encode the profile: %s", kiln_strerror(err));
	return outfile_close(&out, err == 0);
}

static int feed_flame(void *ctx, const char *stack, size_t len, int64_t value)
{
	flame_add(ctx, stack, len, (double)value, 0, 1);
	return 0;
}

int cli_write_flame(const struct profile *p, int value_index, const char *path, const char *title,
		    const char *countname)
{
	struct flame_options fo;
	flame_options_init(&fo);
	fo.title = title;
	fo.countname = countname;
	struct flame *f = flame_new(&fo);
	int vi = value_index >= 0 ? value_index : profile_default_value_index(p);
	if (vi >= 0)
		profile_for_each_stack(p, vi, feed_flame, f);
	struct outfile out;
	int rc = outfile_open(&out, path);
	if (rc) {
		flame_free(f);
		return rc;
	}
	int err = flame_write_svg(f, out.fp);
	flame_free(f);
	rc = outfile_close(&out, true);
	if (!rc && err && err != KILN_ERR_EMPTY)
		rc = cli_error("cannot write the flamegraph: %s", kiln_strerror(err));
	return rc;
}

int cli_write_heapchart(const struct heapstats *h, const char *path, const char *what)
{
	struct heapchart_point *pts = xcalloc(h->nseries + 1, sizeof(*pts));
	for (size_t i = 0; i < h->nseries; i++)
		pts[i] = (struct heapchart_point){h->series[i].time, h->series[i].live, h->series[i].rss};
	char title[512];
	snprintf(title, sizeof(title), "Heap over time: %s", what);
	struct heapchart c = {title, pts, h->nseries, h->have_end && h->end_time > h->last_time ? h->end_time : h->last_time,
			      h->peak_time, h->peak_bytes};
	struct outfile out;
	int rc = outfile_open(&out, path);
	if (!rc)
		rc = outfile_close(&out, heapchart_write_svg(&c, out.fp) == 0);
	free(pts);
	return rc;
}
