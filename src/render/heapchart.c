/* heapchart: a fixed-size SVG chart: y from 0 to the largest of peak heap
 * and RSS rounded up to a 1-2-5 step, x over the run's duration.
 * Invariant: coordinates are printed with fixed precision, so output is
 * byte-for-byte deterministic. */
#include "render/heapchart.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "base/strbuf.h"

enum { W = 1000, H = 420, L = 90, R = 30, T = 50, B = 60 };

static double nice_step(double max, int ticks)
{
	double raw = max / ticks, p = 1;
	while (p * 10 <= raw)
		p *= 10;
	while (p > raw && p > 1e-9)
		p /= 10;
	if (raw <= p)
		return p;
	if (raw <= 2 * p)
		return 2 * p;
	if (raw <= 5 * p)
		return 5 * p;
	return 10 * p;
}

static void fmt_bytes(struct strbuf *sb, double v)
{
	static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int i = 0;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	strbuf_addf(sb, v == (double)(long long)v ? "%.0f %s" : "%.1f %s", v, u[i]);
}

static void fmt_time(struct strbuf *sb, double us)
{
	if (us >= 1e6)
		strbuf_addf(sb, "%.3g s", us / 1e6);
	else if (us >= 1e3)
		strbuf_addf(sb, "%.3g ms", us / 1e3);
	else
		strbuf_addf(sb, "%.0f us", us);
}

int heapchart_write_svg(const struct heapchart *c, FILE *out)
{
	struct strbuf sb = STRBUF_INIT;
	double ymax = (double)c->peak_bytes, xmax = (double)c->end_time;
	for (size_t i = 0; i < c->npoints; i++) {
		if ((double)c->points[i].live > ymax)
			ymax = (double)c->points[i].live;
		if ((double)c->points[i].rss > ymax)
			ymax = (double)c->points[i].rss;
		if ((double)c->points[i].time > xmax)
			xmax = (double)c->points[i].time;
	}
	if (ymax < 1)
		ymax = 1;
	if (xmax < 1)
		xmax = 1;
	/* byte axis in powers of 1024 units, 1-2-5 steps of that unit */
	double unit = 1;
	while (ymax / unit >= 1024 && unit < 1099511627776.0)
		unit *= 1024;
	double ystep = nice_step(ymax / unit, 5) * unit;
	double ytop = ystep;
	while (ytop < ymax)
		ytop += ystep;
	double xstep = nice_step(xmax, 8);
	const double pw = W - L - R, ph = H - T - B;
#define X(t) (L + pw * (double)(t) / xmax)
#define Y(v) (T + ph - ph * (double)(v) / ytop)
	strbuf_addf(&sb,
		    "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		    "<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		    "xmlns=\"http://www.w3.org/2000/svg\" font-family=\"Verdana, sans-serif\" font-size=\"12\">\n"
		    "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n"
		    "<text x=\"%d\" y=\"28\" text-anchor=\"middle\" font-size=\"17\">",
		    W, H, W, H, W, H, W / 2);
	const char *title = c->title ? c->title : "Heap over time";
	strbuf_add_xml(&sb, title, strlen(title));
	strbuf_adds(&sb, "</text>\n<g stroke=\"#dddddd\" stroke-width=\"1\">\n");
	for (double v = 0; v <= ytop + ystep / 2; v += ystep)
		strbuf_addf(&sb, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", L, Y(v), W - R, Y(v));
	strbuf_adds(&sb, "</g>\n<g text-anchor=\"end\">\n");
	for (double v = 0; v <= ytop + ystep / 2; v += ystep) {
		strbuf_addf(&sb, "<text x=\"%d\" y=\"%.1f\">", L - 6, Y(v) + 4);
		fmt_bytes(&sb, v);
		strbuf_adds(&sb, "</text>\n");
	}
	strbuf_adds(&sb, "</g>\n<g text-anchor=\"middle\">\n");
	for (double t = 0; t <= xmax * 1.0001; t += xstep) {
		strbuf_addf(&sb, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#000000\"/>\n", X(t),
			    H - B, X(t), H - B + 5);
		strbuf_addf(&sb, "<text x=\"%.1f\" y=\"%d\">", X(t), H - B + 20);
		fmt_time(&sb, t);
		strbuf_adds(&sb, "</text>\n");
	}
	strbuf_addf(&sb, "</g>\n<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">time</text>\n", L + (int)pw / 2,
		    H - 15);
	strbuf_addf(&sb, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000000\"/>\n", L, T, L, H - B);
	strbuf_addf(&sb, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000000\"/>\n", L, H - B, W - R,
		    H - B);
	/* live heap: a step area */
	if (c->npoints) {
		strbuf_addf(&sb, "<path id=\"heap\" fill=\"#f4a259\" fill-opacity=\"0.75\" stroke=\"#c2571a\" d=\"M%.1f %.1f",
			    X(0), Y(0));
		for (size_t i = 0; i < c->npoints; i++) {
			const struct heapchart_point *p = &c->points[i];
			uint64_t t1 = i + 1 < c->npoints ? c->points[i + 1].time : (c->end_time > p->time ? c->end_time : p->time);
			strbuf_addf(&sb, " L%.1f %.1f L%.1f %.1f", X(p->time), Y(p->live), X(t1), Y(p->live));
		}
		uint64_t tl = c->points[c->npoints - 1].time;
		if (c->end_time > tl)
			tl = c->end_time;
		strbuf_addf(&sb, " L%.1f %.1f Z\"><title>live heap</title></path>\n", X(tl), Y(0));
		/* RSS: a line through the points that have a sample */
		bool started = false;
		for (size_t i = 0; i < c->npoints; i++) {
			const struct heapchart_point *p = &c->points[i];
			if (!p->rss)
				continue;
			strbuf_addf(&sb, "%s%.1f %.1f", started ? " L" : "<path id=\"rss\" fill=\"none\" stroke=\"#3b6ea5\" stroke-width=\"2\" d=\"M",
				    X(p->time), Y(p->rss));
			started = true;
		}
		if (started)
			strbuf_adds(&sb, "\"><title>RSS</title></path>\n");
	}
	if (c->peak_bytes) {
		strbuf_addf(&sb,
			    "<g id=\"peak\"><line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#b00020\" "
			    "stroke-dasharray=\"4 3\"/><circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#b00020\"/>"
			    "<text x=\"%.1f\" y=\"%.1f\" fill=\"#b00020\" text-anchor=\"%s\">peak ",
			    X(c->peak_time), T, X(c->peak_time), H - B, X(c->peak_time), Y(c->peak_bytes),
			    X(c->peak_time) + (X(c->peak_time) > W - 250 ? -8 : 8), Y(c->peak_bytes) - 8,
			    X(c->peak_time) > W - 250 ? "end" : "start");
		fmt_bytes(&sb, (double)c->peak_bytes);
		strbuf_adds(&sb, " at ");
		fmt_time(&sb, (double)c->peak_time);
		strbuf_adds(&sb, "</text></g>\n");
	}
	strbuf_addf(&sb,
		    "<g font-size=\"12\"><rect x=\"%d\" y=\"36\" width=\"12\" height=\"12\" fill=\"#f4a259\"/>"
		    "<text x=\"%d\" y=\"46\">live heap</text>"
		    "<line x1=\"%d\" y1=\"42\" x2=\"%d\" y2=\"42\" stroke=\"#3b6ea5\" stroke-width=\"2\"/>"
		    "<text x=\"%d\" y=\"46\">RSS</text></g>\n</svg>\n",
		    W - R - 170, W - R - 154, W - R - 80, W - R - 62, W - R - 56);
#undef X
#undef Y
	size_t n = fwrite(sb.buf, 1, sb.len, out);
	int rc = n == sb.len ? 0 : -(errno ? errno : EIO);
	strbuf_release(&sb);
	return rc;
}
