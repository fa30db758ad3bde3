/* memchart: the memory-over-time SVG (see memchart.h).
 * Invariant: every coordinate is printed with a fixed precision from the
 * input alone, so output is byte-for-byte reproducible. */
#include "render/memchart.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "base/error.h"
#include "base/strbuf.h"

enum { W = 960, H = 480, ML = 80, MR = 30, MT = 56, MB = 70 };

/* A round tick step (1, 2 or 5 times a power of ten) giving about 5-8 ticks. */
static double nice_step(double range)
{
	if (!(range > 0))
		return 1;
	double raw = range / 6;
	double p = pow(10, floor(log10(raw)));
	double m = raw / p;
	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

struct unit {
	double div;
	const char *name;
};

static struct unit byte_unit(double max)
{
	if (max >= 1024.0 * 1024 * 1024 * 2)
		return (struct unit){1024.0 * 1024 * 1024, "GiB"};
	if (max >= 1024.0 * 1024 * 2)
		return (struct unit){1024.0 * 1024, "MiB"};
	if (max >= 1024.0 * 2)
		return (struct unit){1024.0, "KiB"};
	return (struct unit){1, "B"};
}

static void add_num(struct strbuf *sb, double v)
{
	/* trims "12.50" to "12.5" and "3.00" to "3" */
	char buf[64];
	snprintf(buf, sizeof(buf), "%.2f", v);
	char *dot = strchr(buf, '.');
	if (dot) {
		char *e = buf + strlen(buf) - 1;
		while (e > dot && *e == '0')
			*e-- = 0;
		if (e == dot)
			*e = 0;
	}
	if (!strcmp(buf, "-0"))
		strcpy(buf, "0");
	strbuf_adds(sb, buf);
}

int memchart_write_svg(const struct memchart *c, FILE *out)
{
	if (!c->n)
		return KILN_ERR_EMPTY;
	double t0 = c->t[0], t1 = c->t[c->n - 1];
	/* sampling starts a few microseconds after 0: start the axis at 0 */
	if (t0 > 0 && t0 < (t1 - t0) * 0.05)
		t0 = 0;
	if (!(t1 > t0))
		t1 = t0 + 1;
	double ymax = 0;
	for (size_t s = 0; s < c->nseries; s++)
		for (size_t i = 0; i < c->n; i++)
			if (!isnan(c->series[s].y[i]) && c->series[s].y[i] > ymax)
				ymax = c->series[s].y[i];
	if (c->have_peak && c->peak_y > ymax)
		ymax = c->peak_y;
	/* a limit far above the data would flatten it: draw it only when near */
	bool show_limit = c->limit > 0 && c->limit <= ymax * 1.5;
	if (show_limit && c->limit > ymax)
		ymax = c->limit;
	if (!(ymax > 0))
		ymax = 1;
	struct unit u = byte_unit(ymax);
	double ystep = nice_step(ymax / u.div) * u.div;
	double ytop = ceil(ymax / ystep) * ystep;
	double xstep = nice_step(t1 - t0);
	double pw = W - ML - MR, ph = H - MT - MB;
#define X(t) (ML + ((t) - t0) / (t1 - t0) * pw)
#define Y(v) (MT + ph - (v) / ytop * ph)

	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb,
		    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		    "font-family=\"Verdana, sans-serif\" font-size=\"12\">\n"
		    "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
		    W, H, W, H, W, H);
	strbuf_adds(&sb, "<text x=\"480\" y=\"22\" text-anchor=\"middle\" font-size=\"16\">");
	const char *title = c->title ? c->title : "Memory over time";
	strbuf_add_xml(&sb, title, strlen(title));
	strbuf_adds(&sb, "</text>\n");
	if (c->subtitle) {
		strbuf_adds(&sb, "<text x=\"480\" y=\"40\" text-anchor=\"middle\" fill=\"#555555\">");
		strbuf_add_xml(&sb, c->subtitle, strlen(c->subtitle));
		strbuf_adds(&sb, "</text>\n");
	}
	/* grid and y ticks */
	strbuf_adds(&sb, "<g class=\"yaxis\" stroke=\"#e0e0e0\">\n");
	for (double v = 0; v <= ytop + ystep / 2; v += ystep)
		strbuf_addf(&sb, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", ML, Y(v), W - MR, Y(v));
	strbuf_adds(&sb, "</g>\n<g class=\"ylabels\" text-anchor=\"end\" fill=\"#333333\">\n");
	for (double v = 0; v <= ytop + ystep / 2; v += ystep) {
		strbuf_addf(&sb, "<text x=\"%d\" y=\"%.1f\">", ML - 6, Y(v) + 4);
		add_num(&sb, v / u.div);
		strbuf_addf(&sb, " %s</text>\n", u.name);
	}
	strbuf_adds(&sb, "</g>\n<g class=\"xlabels\" text-anchor=\"middle\" fill=\"#333333\">\n");
	double xfirst = ceil(t0 / xstep) * xstep;
	for (double t = xfirst; t <= t1 + xstep * 1e-6; t += xstep) {
		strbuf_addf(&sb, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333333\"/>", X(t),
			    MT + (int)ph, X(t), MT + (int)ph + 5);
		strbuf_addf(&sb, "<text x=\"%.1f\" y=\"%d\">", X(t), MT + (int)ph + 18);
		add_num(&sb, t);
		strbuf_adds(&sb, "</text>\n");
	}
	strbuf_adds(&sb, "</g>\n");
	strbuf_addf(&sb,
		    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333333\"/>\n"
		    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333333\"/>\n"
		    "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#333333\">time (s)</text>\n",
		    ML, MT, ML, MT + (int)ph, ML, MT + (int)ph, W - MR, MT + (int)ph, ML + (int)pw / 2,
		    MT + (int)ph + 36);
	if (show_limit) {
		strbuf_addf(&sb,
			    "<line class=\"limit\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#d62728\" "
			    "stroke-dasharray=\"2,3\"/>\n<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#d62728\">",
			    ML, Y(c->limit), W - MR, Y(c->limit), W - MR - 4, Y(c->limit) - 4);
		const char *ln = c->limit_name ? c->limit_name : "limit";
		strbuf_add_xml(&sb, ln, strlen(ln));
		strbuf_adds(&sb, "</text>\n");
	}
	/* the lines: a NaN starts a new subpath */
	for (size_t s = 0; s < c->nseries; s++) {
		const struct memchart_series *se = &c->series[s];
		strbuf_adds(&sb, "<path class=\"series\" fill=\"none\" stroke-width=\"2\" stroke=\"");
		strbuf_add_xml(&sb, se->color, strlen(se->color));
		strbuf_adds(&sb, "\" d=\"");
		bool pen = false;
		for (size_t i = 0; i < c->n; i++) {
			if (isnan(se->y[i])) {
				pen = false;
				continue;
			}
			strbuf_addf(&sb, "%s%.1f,%.1f ", pen ? "L" : "M", X(c->t[i]), Y(se->y[i]));
			pen = true;
		}
		strbuf_adds(&sb, "\"><title>");
		strbuf_add_xml(&sb, se->name, strlen(se->name));
		strbuf_adds(&sb, "</title></path>\n");
	}
	if (c->have_trend) {
		double ya = c->trend_slope * t0 + c->trend_intercept, yb = c->trend_slope * t1 + c->trend_intercept;
		/* clip to the plot: a steep trend may leave it */
		double ta = t0, tb = t1;
		if (ya < 0 && c->trend_slope > 0) { ta = -c->trend_intercept / c->trend_slope; ya = 0; }
		if (yb < 0 && c->trend_slope < 0) { tb = -c->trend_intercept / c->trend_slope; yb = 0; }
		if (yb > ytop && c->trend_slope > 0) { tb = (ytop - c->trend_intercept) / c->trend_slope; yb = ytop; }
		if (ya > ytop && c->trend_slope < 0) { ta = (ytop - c->trend_intercept) / c->trend_slope; ya = ytop; }
		if (tb > ta)
			strbuf_addf(&sb,
				    "<line class=\"trend\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#7f7f7f\" "
				    "stroke-width=\"1.5\" stroke-dasharray=\"6,4\"><title>least-squares trend of RSS</title></line>\n",
				    X(ta), Y(ya), X(tb), Y(yb));
	}
	if (c->have_peak) {
		strbuf_addf(&sb, "<circle class=\"peak\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#d62728\"/>\n",
			    X(c->peak_t), Y(c->peak_y));
		double lx = X(c->peak_t);
		const char *anchor = lx > W - 200 ? "end" : "start";
		strbuf_addf(&sb, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"#d62728\">peak ",
			    lx + (anchor[0] == 'e' ? -8 : 8), Y(c->peak_y) + (Y(c->peak_y) < MT + 14 ? 14 : -6),
			    anchor);
		add_num(&sb, c->peak_y / u.div);
		strbuf_addf(&sb, " %s at ", u.name);
		add_num(&sb, c->peak_t);
		strbuf_adds(&sb, " s</text>\n");
	}
	/* legend */
	int lx = ML;
	int ly = H - 16;
	for (size_t s = 0; s < c->nseries + (c->have_trend ? 1 : 0); s++) {
		bool trend = s == c->nseries;
		const char *name = trend ? "trend (least squares)" : c->series[s].name;
		const char *color = trend ? "#7f7f7f" : c->series[s].color;
		strbuf_addf(&sb, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke-width=\"2\"%s stroke=\"", lx,
			    ly - 4, lx + 24, ly - 4, trend ? " stroke-dasharray=\"6,4\"" : "");
		strbuf_add_xml(&sb, color, strlen(color));
		strbuf_addf(&sb, "\"/><text x=\"%d\" y=\"%d\">", lx + 30, ly);
		strbuf_add_xml(&sb, name, strlen(name));
		strbuf_adds(&sb, "</text>\n");
		lx += 40 + 8 * (int)strlen(name);
	}
	strbuf_adds(&sb, "</svg>\n");
#undef X
#undef Y
	size_t w = fwrite(sb.buf, 1, sb.len, out);
	int rc = w == sb.len ? 0 : -EIO;
	strbuf_release(&sb);
	return rc;
}
