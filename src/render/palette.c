/* palette: flamegraph.pl's palettes (see palette.h).
 * Invariant: pure functions of their arguments; the default colouring
 * re-creates flamegraph.pl's per-name seeded drand48 draw, not a global PRNG. */
#include "render/palette.h"

#include <stdint.h>
#include <string.h>

#include "base/error.h"

static const char *const palette_names[PALETTE_COUNT] = {
	"hot", "mem", "io", "wakeup", "chain", "java", "js", "perl",
	"red", "green", "blue", "aqua", "yellow", "purple", "orange",
};

int palette_parse(const char *name)
{
	for (int i = 0; i < PALETTE_COUNT; i++)
		if (!strcmp(name, palette_names[i]))
			return i;
	return KILN_ERR_FORMAT;
}

const char *palette_name(int kind)
{
	return kind >= 0 && kind < PALETTE_COUNT ? palette_names[kind] : NULL;
}

static bool has(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	if (n > len)
		return false;
	for (size_t i = 0; i + n <= len; i++)
		if (s[i] == needle[0] && !memcmp(s + i, needle, n))
			return true;
	return false;
}

static bool ends(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && !memcmp(s + len - n, suffix, n);
}

static bool starts(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && !memcmp(s, prefix, n);
}

/* Java's package roots, optionally behind a JVM "L" type prefix. */
static bool java_package(const char *s, size_t len)
{
	static const char *const roots[] = {"java/", "javax/", "jdk/", "net/", "org/",
					    "com/", "io/", "sun/"};
	if (len && s[0] == 'L') {
		for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
			if (starts(s + 1, len - 1, roots[i]))
				return true;
	}
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		if (starts(s, len, roots[i]))
			return true;
	return false;
}

/* "/" somewhere before a later ".js": a JavaScript source path. */
static bool js_path(const char *s, size_t len)
{
	const char *slash = memchr(s, '/', len);
	return slash && has(slash + 1, len - (size_t)(slash + 1 - s), ".js");
}

/* Resolves the multi-language palettes to the flat palette of one frame. */
static int resolve(int kind, const char *s, size_t len, bool waker)
{
	switch (kind) {
	case PALETTE_JAVA:
		if (ends(s, len, "_[j]")) return PALETTE_GREEN;
		if (ends(s, len, "_[i]")) return PALETTE_AQUA;
		if (java_package(s, len)) return PALETTE_GREEN;
		if (has(s, len, ":::")) return PALETTE_GREEN;
		if (has(s, len, "::")) return PALETTE_YELLOW;
		if (ends(s, len, "_[k]")) return PALETTE_ORANGE;
		return PALETTE_RED;
	case PALETTE_PERL:
		if (has(s, len, "::")) return PALETTE_YELLOW;
		if (has(s, len, "Perl") || has(s, len, ".pl")) return PALETTE_GREEN;
		if (ends(s, len, "_[k]")) return PALETTE_ORANGE;
		return PALETTE_RED;
	case PALETTE_JS:
		if (ends(s, len, "_[j]"))
			return memchr(s, '/', len) ? PALETTE_GREEN : PALETTE_AQUA;
		if (has(s, len, "::")) return PALETTE_YELLOW;
		if (js_path(s, len)) return PALETTE_GREEN;
		if (memchr(s, ':', len)) return PALETTE_AQUA;
		if (len == 1 && s[0] == ' ') return PALETTE_GREEN;
		if (has(s, len, "_[k]")) return PALETTE_ORANGE;
		return PALETTE_RED;
	case PALETTE_WAKEUP:
		return PALETTE_AQUA;
	case PALETTE_CHAIN:
		return waker || has(s, len, "_[w]") ? PALETTE_AQUA : PALETTE_BLUE;
	default:
		return kind;
	}
}

/* flamegraph.pl's --hash vector: the first three characters after any
 * "module`" prefix, weighted early over late; in [0, 1]. */
static double name_vector(const unsigned char *s, size_t len)
{
	for (size_t i = 1; i < len; i++) {
		if (s[i] == '`') {
			s += i + 1;
			len -= i + 1;
			break;
		}
	}
	double vector = 0, weight = 1, max = 1;
	unsigned mod = 10;
	for (size_t i = 0; i < len && mod <= 12; i++, mod++) {
		vector += (double)(s[i] % mod) / (double)(mod - 1) * weight;
		max += weight;
		weight *= 0.70;
	}
	return 1 - vector / max;
}

/* The first drand48 draw after srand(byte sum of the name), as Perl does:
 * state = seed << 16 | 0x330e, one LCG step, scaled to [0, 1). */
static double name_draw(const unsigned char *s, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += s[i];
	uint64_t x = ((uint64_t)sum << 16) | 0x330e;
	x = (x * 0x5DEECE66DULL + 0xB) & 0xffffffffffffULL;
	return (double)x / 281474976710656.0;
}

static struct palette_rgb rgb(int r, int g, int b)
{
	struct palette_rgb c = {(unsigned char)r, (unsigned char)g, (unsigned char)b};
	return c;
}

struct palette_rgb palette_color(int kind, bool by_hash, const char *name, size_t len, bool waker)
{
	const unsigned char *s = (const unsigned char *)name;
	double v1, v2, v3;
	if (by_hash) {
		/* flamegraph.pl also hashes the reversed name. Reversed, the
		 * first backtick at index >= 1 is the last one at index
		 * <= len - 2 here, and the vector reads the three characters
		 * before it (or the last three), so only those are needed. */
		unsigned char rev[3];
		size_t from = len, k = 0;
		for (size_t i = len >= 2 ? len - 1 : 0; i-- > 0;)
			if (s[i] == '`') {
				from = i;
				break;
			}
		while (from-- > 0 && k < 3)
			rev[k++] = s[from];
		v1 = name_vector(s, len);
		v2 = name_vector(rev, k);
		v3 = v2;
	} else {
		v1 = v2 = v3 = name_draw(s, len);
	}
	switch (resolve(kind, name, len, waker)) {
	case PALETTE_HOT:
		return rgb(205 + (int)(50 * v3), (int)(230 * v1), (int)(55 * v2));
	case PALETTE_MEM:
		return rgb(0, 190 + (int)(50 * v2), (int)(210 * v1));
	case PALETTE_IO: {
		int x = 80 + (int)(60 * v1);
		return rgb(x, x, 190 + (int)(55 * v2));
	}
	case PALETTE_RED: {
		int x = 50 + (int)(80 * v1);
		return rgb(200 + (int)(55 * v1), x, x);
	}
	case PALETTE_GREEN: {
		int x = 50 + (int)(60 * v1);
		return rgb(x, 200 + (int)(55 * v1), x);
	}
	case PALETTE_BLUE: {
		int x = 80 + (int)(60 * v1);
		return rgb(x, x, 205 + (int)(50 * v1));
	}
	case PALETTE_YELLOW: {
		int x = 175 + (int)(55 * v1);
		return rgb(x, x, 50 + (int)(20 * v1));
	}
	case PALETTE_PURPLE: {
		int x = 190 + (int)(65 * v1);
		return rgb(x, 80 + (int)(60 * v1), x);
	}
	case PALETTE_AQUA:
		return rgb(50 + (int)(60 * v1), 165 + (int)(55 * v1), 165 + (int)(55 * v1));
	case PALETTE_ORANGE:
		return rgb(190 + (int)(65 * v1), 90 + (int)(65 * v1), 0);
	default:
		return rgb(0, 0, 0);
	}
}

struct palette_rgb palette_diff_color(double delta, double maxdelta, bool negate)
{
	int r = 255, g = 255, b = 255;
	double v = negate ? -delta : delta;
	if (maxdelta <= 0)
		maxdelta = 1;
	if (v > maxdelta)
		v = maxdelta;
	if (v < -maxdelta)
		v = -maxdelta;
	if (v > 0)
		g = b = (int)(210 * (maxdelta - v) / maxdelta);
	else if (v < 0)
		r = g = (int)(210 * (maxdelta + v) / maxdelta);
	return rgb(r, g, b);
}

void palette_background(int kind, const char **top, const char **bottom)
{
	switch (kind) {
	case PALETTE_MEM:
		*top = "#eef2ee", *bottom = "#e0ffe0";
		break;
	case PALETTE_IO: case PALETTE_WAKEUP: case PALETTE_CHAIN:
		*top = "#eeeeee", *bottom = "#e0e0ff";
		break;
	case PALETTE_RED: case PALETTE_GREEN: case PALETTE_BLUE: case PALETTE_AQUA:
	case PALETTE_YELLOW: case PALETTE_PURPLE: case PALETTE_ORANGE:
		*top = "#f8f8f8", *bottom = "#e8e8e8";
		break;
	default:
		*top = "#eeeeee", *bottom = "#eeeeb0";
	}
}
