/* fuzz-pprof: libFuzzer harness for the pprof reader. Any input must either
 * fail with a negative code and a message, or give a profile that every
 * value index can be walked as folded stacks and that kiln's own writer
 * turns into bytes its reader accepts again, identically on a second trip. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/pprof.h"
#include "model/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz-pprof: %s\n", what);
	abort();
}

static int walk(void *ctx, const char *stack, size_t len, int64_t value)
{
	(void)value;
	if (len == 0 || strlen(stack) != len || memchr(stack, '\n', len))
		fail("emitted stack is not one non-empty folded line");
	++*(size_t *)ctx;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct profile p, q;
	struct diag d = {0};
	(void)pprof_sniff(data, size);
	int rc = pprof_read(data, size, &p, &d);
	if (rc) {
		if (rc > 0 || d.msg[0] == '\0')
			fail("error without a negative code and a message");
		return 0;
	}
	for (size_t i = 0; i < p.nsample_types; i++) {
		size_t n = 0;
		if (profile_for_each_stack(&p, (int)i, walk, &n) != 0 || n > p.nsamples)
			fail("profile_for_each_stack failed on a parsed profile");
	}
	int vi = profile_default_value_index(&p);
	if (p.nsample_types && (vi < 0 || (size_t)vi >= p.nsample_types))
		fail("default value index out of range");

	void *enc1, *enc2;
	size_t len1, len2;
	if (pprof_encode(&p, PPROF_RAW, &enc1, &len1) != 0)
		fail("cannot encode a parsed profile");
	if (pprof_read(enc1, len1, &q, &d) != 0)
		fail("kiln cannot read what it wrote");
	if (q.nsamples != p.nsamples || q.nlocations != p.nlocations ||
	    q.nfunctions != p.nfunctions || q.nmappings != p.nmappings)
		fail("round trip changed the profile's shape");
	if (pprof_encode(&q, PPROF_RAW, &enc2, &len2) != 0)
		fail("cannot encode a re-read profile");
	if (len1 != len2 || memcmp(enc1, enc2, len1) != 0)
		fail("second round trip changed the bytes");
	free(enc1);
	free(enc2);
	profile_release(&q);
	profile_release(&p);
	return 0;
}
