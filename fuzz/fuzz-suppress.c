/* fuzz-suppress: libFuzzer harness for the leak suppression parser (both
 * formats) and matcher. Any input must parse, or fail with KILN_ERR_FORMAT,
 * a message and a line inside the input, keeping no rule of it. Parsed
 * rules are matched against stacks cut from the input's own words; a
 * memcheck block written for such a stack must parse back and match it.
 * Invariant: nothing is written outside memory; no input may crash, leak,
 * hang or read out of bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/suppress.h"
#include "base/heaptrace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_WORDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct suppress *s = suppress_new();
	/* one good rule first: a bad input must not take it away */
	if (suppress_parse(s, "seed", "keep_me\n", 8, NULL, NULL))
		abort();
	struct diag d = {0};
	int rc = suppress_parse(s, "input", text, size, NULL, &d);
	if (rc) {
		unsigned long lines = 1;
		for (size_t i = 0; i < size; i++)
			lines += data[i] == '\n';
		if (rc != KILN_ERR_FORMAT || !d.msg[0] || d.line < 1 || d.line > lines || suppress_count(s) != 1) {
			fprintf(stderr, "fuzz-suppress: bad error %d at line %lu (of %lu): '%s'\n", rc, d.line, lines,
				d.msg);
			abort();
		}
	}
	/* a stack of the input's words (NUL-free runs without blanks) */
	char *copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = 0;
	struct suppress_frame fr[MAX_WORDS];
	size_t n = 0;
	for (char *p = copy, *save = NULL, *w; n < MAX_WORDS && (w = strtok_r(p, " \t\r\n", &save)); p = NULL) {
		fr[n] = (struct suppress_frame){(n % 3) ? w : NULL, w, (n % 2) ? "/usr/lib/libx.so" : NULL,
						(n % 4) ? w : NULL, (int)n};
		n++;
	}
	for (int k = 0; k < 4; k++) {
		long r = suppress_match(s, k, fr, n);
		if (r >= (long)suppress_count(s))
			abort();
	}
	/* a generated block parses back and matches its own stack */
	struct strbuf sb = STRBUF_INIT;
	suppress_write_memcheck(&sb, "gen", HT_LEAK_POSSIBLY, fr, n, 500);
	struct suppress *g = suppress_new();
	bool clean = true; /* words that would change a line's meaning */
	for (size_t i = 0; i < n; i++)
		if (fr[i].fun && (strpbrk(fr[i].fun, "*?\\") || !strcmp(fr[i].fun, "(below main)")))
			clean = false;
	if (suppress_parse(g, "gen", sb.buf, sb.len, NULL, &d) == 0) {
		if (clean && suppress_match(g, HT_LEAK_POSSIBLY, fr, n) != 0) {
			fprintf(stderr, "fuzz-suppress: a generated block does not match its stack:\n%s", sb.buf);
			abort();
		}
	} else if (clean) {
		fprintf(stderr, "fuzz-suppress: a generated block does not parse (line %lu: %s):\n%s", d.line, d.msg,
			sb.buf);
		abort();
	}
	suppress_free(g);
	strbuf_release(&sb);
	free(copy);
	suppress_free(s);
	return 0;
}
