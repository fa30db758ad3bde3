/* humanize: numbers as people read them, for kiln's HTML pages and the
 * comparison tables of kiln diff: bytes in binary units, counts with
 * thousands separators, durations in the largest sensible unit.
 * Invariant: pure functions of their arguments; the result always fits
 * (truncated, never overflowing) and is NUL-terminated when cap > 0. */
#ifndef KILN_RENDER_HUMANIZE_H
#define KILN_RENDER_HUMANIZE_H

#include <stddef.h>
#include <stdint.h>

/* Room enough for every result below. */
#define HUMANIZE_MAX 48

/* "0 B", "512 B", "1.50 KiB", "12.3 MiB", "117 GiB": three significant
 * digits from KiB up; a negative value keeps its sign ("-2.00 MiB"). */
char *humanize_bytes(double bytes, char *buf, size_t cap);
/* "0", "999", "12,345", "1,234,567". */
char *humanize_count(uint64_t n, char *buf, size_t cap);
/* "0 s", "850 ms", "12 us", "1.05 s", "59.9 s", "2 min 05 s", "1 h 02 min". */
char *humanize_duration(double seconds, char *buf, size_t cap);
/* A share in percent: "12.3%", "100%", "0%", "< 0.1%" for tiny shares. */
char *humanize_pct(double pct, char *buf, size_t cap);

#endif
