/* utf8: decoding one UTF-8 sequence, for the writers that must emit valid
 * text from arbitrary bytes (JSON, XML, HTML). Header-only, no allocation.
 * Invariant: a sequence is accepted only in its shortest form, outside the
 * surrogates and at most U+10FFFF; nothing past s[n-1] is read. */
#ifndef KILN_BASE_UTF8_H
#define KILN_BASE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1-4) of the valid UTF-8 sequence at s[0..n), n >= 1, with its
 * code point in *cp; 0 when it is not one. */
static inline size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	if (!len || len > n || s[0] > 0xf4)
		return 0;
	uint32_t c = s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	static const uint32_t shortest[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (c < shortest[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

#endif
