/* junit: JUnit XML (the Ant/Surefire dialect every CI reads) for test
 * suites of named cases that pass, fail, are skipped or could not run.
 * Invariant: the output is well-formed XML 1.0 in UTF-8 whatever bytes the
 * names and messages hold: markup characters are escaped, and invalid
 * UTF-8 and characters XML forbids become U+FFFD. */
#ifndef KILN_RENDER_JUNIT_H
#define KILN_RENDER_JUNIT_H

#include <stddef.h>
#include <stdio.h>

enum junit_status { JUNIT_PASS, JUNIT_FAIL, JUNIT_SKIP, JUNIT_ERROR };

struct junit_case {
	const char *name;
	const char *classname;
	enum junit_status status;
	const char *message; /* the failure, skip or error message; may be NULL */
	const char *output;  /* system-out text; may be NULL */
};

struct junit_suite {
	const char *name;
	const char *timestamp; /* ISO 8601, may be NULL */
	double time_s;
	const struct junit_case *cases;
	size_t ncases;
};

/* Writes <testsuites> holding every suite, with counts of tests, failures,
 * errors and skips per suite and in all. Returns 0, or -EIO (or -errno)
 * when out reports an error. Does not flush. */
int junit_write(FILE *out, const char *name, const struct junit_suite *suites, size_t nsuites);

#endif
