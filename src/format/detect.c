/* detect: content sniffing for kiln's inputs (see detect.h). */
#include "format/detect.h"

#include <stdbool.h>
#include <string.h>

#include "format/folded.h"
#include "format/perfscript.h"
#include "format/pprof.h"

static bool only_blank_or_comments(const char *s, size_t len)
{
	const char *end = s + len;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *le = nl ? nl : end;
		const char *p = s;
		while (p < le && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p < le && *p != '#')
			return false;
		s = nl ? nl + 1 : end;
	}
	return true;
}

/* The first non-blank, non-comment line is a folded stack. */
static bool looks_folded(const char *s, size_t len)
{
	const char *end = s + len;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *le = nl ? nl : end;
		struct folded_line fl;
		int rc = folded_parse_line(s, (size_t)(le - s), &fl);
		if (rc == 0)
			return true;
		if (rc < 0 && !(le > s && *s == '#'))
			return false;
		s = nl ? nl + 1 : end;
	}
	return false;
}

enum input_format detect_format(const void *prefix, size_t len, int at_eof)
{
	const unsigned char *b = prefix;
	const char *s = prefix;
	(void)at_eof;
	if (len == 0)
		return INPUT_EMPTY;
	if (len >= 2 && b[0] == 0x1f && b[1] == 0x8b)
		return INPUT_PPROF;
	if (len >= 8 && memcmp(b, "PERFILE2", 8) == 0)
		return INPUT_PERF_DATA;
	/* A stray NUL or control byte in otherwise textual input (a corrupted
	 * symbol name) does not make it binary; many of them do. */
	size_t control = 0;
	for (size_t i = 0; i < len; i++)
		if (b[i] < 0x20 && b[i] != '\n' && b[i] != '\t' && b[i] != '\r')
			control++;
	bool binary = control > 8 && control * 100 > len;
	if (!binary) {
		if (only_blank_or_comments(s, len))
			return INPUT_EMPTY;
		if (perfscript_sniff(s, len))
			return INPUT_PERF_SCRIPT;
		if (looks_folded(s, len))
			return INPUT_FOLDED;
	}
	/* raw (uncompressed) profile.proto: its leading fields must parse */
	if (pprof_sniff(b, len))
		return INPUT_PPROF;
	return binary || memchr(b, '\0', len) ? INPUT_BINARY : INPUT_UNKNOWN;
}

const char *detect_format_name(enum input_format f)
{
	switch (f) {
	case INPUT_EMPTY: return "empty input";
	case INPUT_PERF_SCRIPT: return "perf script text";
	case INPUT_FOLDED: return "folded stacks";
	case INPUT_PPROF: return "pprof profile";
	case INPUT_PERF_DATA: return "perf.data";
	case INPUT_BINARY: return "binary data";
	case INPUT_UNKNOWN: return "unrecognised text";
	}
	return "?";
}
