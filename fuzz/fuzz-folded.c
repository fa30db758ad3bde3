/* fuzz-folded: libFuzzer harness for the folded parser and the flame graph
 * renderer: every input is parsed as folded lines, fed to flame_add and
 * rendered to memory, in normal, reversed and flame chart modes.
 * Invariant: no input may crash, leak or read out of bounds; the SVG is
 * written to an open_memstream buffer, never to a file. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/folded.h"
#include "render/flame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void render(const uint8_t *data, size_t size, const struct flame_options *o)
{
	struct flame *f = flame_new(o);
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct folded_line fl;
		if (!memchr(p, '\0', len) && folded_parse_line(p, len, &fl) == 0)
			flame_add(f, fl.stack, fl.len, fl.count, fl.count2, fl.ncounts);
		p += len + 1;
	}
	char *buf = NULL;
	size_t blen = 0;
	FILE *fp = open_memstream(&buf, &blen);
	if (fp) {
		int rc = flame_write_svg(f, fp);
		fclose(fp);
		/* whatever was drawn, the document must be complete */
		if (rc == 0 && (blen < 7 || memcmp(buf + blen - 7, "</svg>\n", 7)))
			abort();
		free(buf);
	}
	flame_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flame_options o;
	flame_options_init(&o);
	o.minwidth = -1; /* draw every frame: exercises the most code */
	render(data, size, &o);
	if (size && (data[0] & 1)) {
		o.reverse = true;
		o.flamechart = (data[0] & 2) != 0;
		o.inverted = (data[0] & 4) != 0;
		o.hash = (data[0] & 8) != 0;
		o.colors = data[0] >> 4 < PALETTE_COUNT ? data[0] >> 4 : 0;
		o.minwidth = 0.1;
		render(data, size, &o);
	}
	return 0;
}
