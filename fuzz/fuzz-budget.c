/* fuzz-budget: libFuzzer harness for kiln check's budget files (the line
 * parser and every key's value parser behind it). Any input is read into a
 * budget or refused with KILN_ERR_FORMAT, a message and a line within the
 * input; what is read validates and evaluates without trouble.
 * Invariant: no input may crash, leak, hang or read out of bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/budget.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct budget b;
	budget_init(&b);
	struct diag d = {0};
	int rc = budget_read_file(&b, (const char *)data, size, &d);
	if (rc) {
		unsigned long lines = 1;
		for (size_t i = 0; i < size; i++)
			lines += data[i] == '\n';
		if (rc != KILN_ERR_FORMAT || !d.msg[0] || d.line < 1 || d.line > lines) {
			fprintf(stderr, "fuzz-budget: bad error %d at line %lu: '%s'\n", rc, d.line, d.msg);
			abort();
		}
		budget_release(&b);
		return 0;
	}
	if (b.seed_defaults)
		budget_seed_defaults(&b);
	if (budget_validate(&b, &d) == 0) {
		/* every budget against an empty run: each one skips (or fails
		 * under strict), none passes */
		struct runsummary s = {.version = RUNSUMMARY_VERSION};
		struct budget_result r[BUDGET_MAX_RESULTS];
		size_t n = budget_evaluate(&b, &s, NULL, r);
		for (size_t i = 0; i < n; i++)
			if (r[i].verdict == BUDGET_PASS || !r[i].no_data) {
				fprintf(stderr, "fuzz-budget: %s passed without data\n", r[i].label);
				abort();
			}
	}
	budget_release(&b);
	return 0;
}
