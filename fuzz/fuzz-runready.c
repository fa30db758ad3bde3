/* fuzz-runready: libFuzzer harness for kiln run's --ready specs and the
 * HTTP status line its probe reads. A spec parses, or fails with
 * KILN_ERR_FORMAT and a message; what parses has a kind, a NUL-terminated
 * host and path, and a port in range.
 * Invariant: no input may crash, leak, hang or read out of bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/runctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exact-size copies, so reads past the input are caught */
	char *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	struct runctl_ready r;
	struct diag d = {0};
	int rc = runctl_ready_parse(copy, size, &r, &d);
	if (rc) {
		if (rc != KILN_ERR_FORMAT || !d.msg[0])
			abort();
	} else {
		if (r.kind == RUNCTL_READY_NONE)
			abort();
		if ((r.kind == RUNCTL_READY_TCP || r.kind == RUNCTL_READY_HTTP) &&
		    (r.port < 1 || r.port > 65535 || strnlen(r.host, sizeof(r.host)) == sizeof(r.host)))
			abort();
		if (r.kind == RUNCTL_READY_HTTP && (r.path[0] != '/' || strnlen(r.path, sizeof(r.path)) == sizeof(r.path)))
			abort();
	}
	int st = runctl_http_status(copy, size);
	if (st != -1 && (st < 100 || st > 999))
		abort();
	free(copy);
	return 0;
}
