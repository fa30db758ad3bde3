/* fuzz-runsummary: libFuzzer harness for summary.json (kiln run's results).
 * Any input parses, or fails with KILN_ERR_FORMAT, a message and a zeroed
 * struct; what parses writes back as JSON that parses to the same text.
 * Invariant: no input may crash, leak, hang or read out of bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/runsummary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dump(const struct runsummary *s, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (!f || runsummary_write(s, f) != 0)
		abort();
	fclose(f);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct runsummary s;
	struct diag d = {0};
	int rc = runsummary_parse((const char *)data, size, &s, &d);
	if (rc) {
		static const struct runsummary zero;
		if (rc != KILN_ERR_FORMAT || !d.msg[0] || memcmp(&s, &zero, sizeof(s)) != 0) {
			fprintf(stderr, "fuzz-runsummary: bad error %d: '%s'\n", rc, d.msg);
			abort();
		}
		return 0;
	}
	size_t len1, len2;
	char *one = dump(&s, &len1);
	struct runsummary t;
	if (runsummary_parse(one, len1, &t, &d) != 0) {
		fprintf(stderr, "fuzz-runsummary: its own output does not parse: '%s'\n", d.msg);
		abort();
	}
	char *two = dump(&t, &len2);
	if (len1 != len2 || memcmp(one, two, len1) != 0) {
		fprintf(stderr, "fuzz-runsummary: a second round trip changed the text\n");
		abort();
	}
	free(one);
	free(two);
	runsummary_release(&s);
	runsummary_release(&t);
	return 0;
}
