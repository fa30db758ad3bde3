/* humanize: numbers as people read them (see humanize.h).
 * Invariant: snprintf bounds every write; no state, no allocation. */
#include "render/humanize.h"

#include <math.h>
#include <stdio.h>

char *humanize_bytes(double bytes, char *buf, size_t cap)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	const char *sign = bytes < 0 ? "-" : "";
	double v = fabs(bytes);
	size_t u = 0;
	if (!isfinite(v)) {
		snprintf(buf, cap, "?");
		return buf;
	}
	/* 1023.7 KiB prints as "1.00 MiB", not "1024 KiB" */
	while (u + 1 < sizeof(units) / sizeof(units[0]) && v >= 1023.5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, cap, "%s%.0f B", sign, v);
	else if (v < 9.995)
		snprintf(buf, cap, "%s%.2f %s", sign, v, units[u]);
	else if (v < 99.95)
		snprintf(buf, cap, "%s%.1f %s", sign, v, units[u]);
	else
		snprintf(buf, cap, "%s%.0f %s", sign, v, units[u]);
	return buf;
}

char *humanize_count(uint64_t n, char *buf, size_t cap)
{
	char digits[24], out[32];
	int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n);
	size_t o = 0;
	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	snprintf(buf, cap, "%s", out);
	return buf;
}

char *humanize_duration(double s, char *buf, size_t cap)
{
	if (!isfinite(s) || s < 0)
		snprintf(buf, cap, "?");
	else if (s == 0)
		snprintf(buf, cap, "0 s");
	else if (s < 1e-3)
		snprintf(buf, cap, "%.0f us", s * 1e6);
	else if (s < 0.9995)
		snprintf(buf, cap, "%.0f ms", s * 1e3);
	else if (s < 9.995)
		snprintf(buf, cap, "%.2f s", s);
	else if (s < 59.95)
		snprintf(buf, cap, "%.1f s", s);
	else if (s < 3599.5) {
		long t = lround(s);
		snprintf(buf, cap, "%ld min %02ld s", t / 60, t % 60);
	} else if (s / 60 >= 1e15) { /* lround() would overflow a long */
		snprintf(buf, cap, "%.3g h", s / 3600);
	} else {
		long m = lround(s / 60);
		snprintf(buf, cap, "%ld h %02ld min", m / 60, m % 60);
	}
	return buf;
}

char *humanize_pct(double pct, char *buf, size_t cap)
{
	if (!isfinite(pct))
		snprintf(buf, cap, "?");
	else if (pct == 0)
		snprintf(buf, cap, "0%%");
	else if (pct > 0 && pct < 0.05)
		snprintf(buf, cap, "< 0.1%%");
	else if (fabs(pct - 100) < 0.05)
		snprintf(buf, cap, "100%%");
	else
		snprintf(buf, cap, "%.1f%%", pct);
	return buf;
}
