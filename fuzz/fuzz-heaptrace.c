/* fuzz-heaptrace: libFuzzer harness for the heap trace reader and the
 * analysis. Any input must either fail with a negative code (and a message
 * for format errors) or be analysed with consistent totals. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "analyze/heapstats.h"
#include "format/heaptrace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct heapstats h;
	struct diag d = {0};
	int rc = heapstats_analyze_mem(&h, data, size, &d);
	if (rc > 0 || (rc == KILN_ERR_FORMAT && !d.msg[0])) {
		fprintf(stderr, "fuzz-heaptrace: bad return %d\n", rc);
		abort();
	}
	if (rc == 0 && h.live_bytes > h.alloc_bytes + h.mmap_bytes && !h.mmaps) {
		fprintf(stderr, "fuzz-heaptrace: more live than allocated\n");
		abort();
	}
	if (rc == 0) {
		size_t n;
		free(heapstats_sorted(&h, HEAPSTATS_BY_PEAK, &n));
		free(heapstats_findings(&h, &n));
	}
	heapstats_release(&h);
	return 0;
}
