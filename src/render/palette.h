/* palette: flamegraph.pl's colour palettes for flame graph frames.
 * Invariant: every colour is a pure function of the frame name and the
 * options (no random state), so the same input always gives the same SVG. */
#ifndef KILN_RENDER_PALETTE_H
#define KILN_RENDER_PALETTE_H

#include <stdbool.h>
#include <stddef.h>

enum palette_kind {
	PALETTE_HOT = 0, /* the default */
	PALETTE_MEM,
	PALETTE_IO,
	PALETTE_WAKEUP,
	PALETTE_CHAIN,
	PALETTE_JAVA,
	PALETTE_JS,
	PALETTE_PERL,
	PALETTE_RED,
	PALETTE_GREEN,
	PALETTE_BLUE,
	PALETTE_AQUA,
	PALETTE_YELLOW,
	PALETTE_PURPLE,
	PALETTE_ORANGE,
	PALETTE_COUNT
};

struct palette_rgb {
	unsigned char r, g, b;
};

/* Returns the palette named name (flamegraph.pl's --colors words), or a
 * negative KILN_ERR_FORMAT when there is no such palette. */
int palette_parse(const char *name);
/* Returns the palette's name, or NULL for an out-of-range kind. */
const char *palette_name(int kind);

/* The fill of a frame called name[0..len). With by_hash, colours come from
 * flamegraph.pl's --hash name vector; otherwise from the PRNG seeded with the
 * name's byte sum, as flamegraph.pl's default does (so colours match it).
 * waker says the frame lies above a "--" separator (chain palette). */
struct palette_rgb palette_color(int kind, bool by_hash, const char *name, size_t len, bool waker);

/* The fill of a differential frame: red when delta > 0 (grew), blue when it
 * shrank, white when unchanged; intensity by |delta| / maxdelta. */
struct palette_rgb palette_diff_color(double delta, double maxdelta, bool negate);

/* The background gradient stops flamegraph.pl picks for a palette, as
 * "#rrggbb" strings. */
void palette_background(int kind, const char **top, const char **bottom);

#endif
