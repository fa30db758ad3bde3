/* suppress: leak suppressions. Two file formats, detected per file from
 * its first line that is not blank or a comment: valgrind memcheck's
 * blocks ("{", a name, "Memcheck:Leak", an optional "match-leak-kinds:",
 * then fun:/obj:/src:/"..." lines from the allocation function outward,
 * "}"), so existing .supp files work unchanged, and kiln's one rule a line
 * (a function name or fnmatch glob matched against every frame). Also
 * writes a memcheck block for a leak (--gen-suppressions).
 * Invariant: a parse adds all of a file's rules or none of them; matching
 * never allocates more than the frames it is given. Nothing here prints. */
#ifndef KILN_ANALYZE_SUPPRESS_H
#define KILN_ANALYZE_SUPPRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/strbuf.h"

/* Leak kinds are the trace's HT_LEAK_* values (0 reachable, 1 possibly,
 * 2 indirectly, 3 definitely lost); a set of kinds is a mask of 1 << kind. */
#define SUPPRESS_ALL_KINDS 0xfu
#define SUPPRESS_MAX_FRAMES 500 /* location lines in one memcheck block */

/* One frame of a leak's stack as the matcher sees it. Frame 0 is the first
 * frame outside the tracker: the allocation function's caller, or
 * libstdc++'s operator new. The trace does not say which C allocation
 * function (malloc, calloc, realloc, ...) was called, so the matcher puts
 * an "allocation function" frame in front, which memcheck's stacks start
 * with: fun: patterns matching any C allocation function's name match it. */
struct suppress_frame {
	const char *fun;   /* the symbol's own (mangled) name; NULL when unknown ("???") */
	const char *shown; /* the name as reports show it (demangled); NULL: fun */
	const char *obj;   /* the module's path; NULL when unknown */
	const char *file;  /* the source file; NULL when unknown */
	int line;          /* its line; 0 when unknown */
};

struct suppress;

struct suppress *suppress_new(void);
void suppress_free(struct suppress *s); /* accepts NULL */

enum suppress_format { SUPPRESS_KILN, SUPPRESS_MEMCHECK };

/* Parses one file's text (len bytes; name says where rules come from) and
 * adds its rules. Memcheck blocks of other tools or other error kinds are
 * read and ignored, as memcheck reads them. Returns 0, or KILN_ERR_FORMAT
 * with d (may be NULL) holding the 1-based line and what is wrong; then no
 * rule of the text was added. *format (may be NULL) gets the format. */
int suppress_parse(struct suppress *s, const char *name, const char *text, size_t len,
		   enum suppress_format *format, struct diag *d);

/* How many rules there are (leak rules only), and what rule i is. Strings
 * live until suppress_free(). */
size_t suppress_count(const struct suppress *s);
struct suppress_info {
	const char *name;   /* the block's name; the rule's text for kiln's format */
	const char *source; /* the name given to suppress_parse */
	unsigned long line; /* where the rule starts */
	unsigned kinds;     /* the leak kinds it matches */
	enum suppress_format format;
};
void suppress_get(const struct suppress *s, size_t i, struct suppress_info *out);
/* The kinds any rule matches (a mask of 1 << kind; 0 for NULL). */
unsigned suppress_kinds(const struct suppress *s);

/* The index of the first rule that suppresses a leak of kind (HT_LEAK_*)
 * with stack frames[0..n) (see struct suppress_frame), or -1. Memcheck's
 * rules match a prefix of the stack, "..." standing for zero or more
 * frames, "*" and "?" in names for any run of characters and any one
 * character; the stack ends at its first frame below main. */
long suppress_match(const struct suppress *s, int kind, const struct suppress_frame *frames, size_t n);

/* Appends a memcheck suppression for a leak of kind with these frames, as
 * valgrind's --gen-suppressions writes one: the allocation function (not
 * in the trace) as "fun:*alloc", then a fun: line per frame, obj: where
 * the function is unknown, up to "(below main)" and at most max_frames
 * location lines. */
void suppress_write_memcheck(struct strbuf *sb, const char *name, int kind, const struct suppress_frame *frames,
			     size_t n, size_t max_frames);

/* kiln heap's default rules (src/analyze/default.supp, memcheck's format),
 * compiled in. */
extern const char suppress_default[];

/* Does pattern match text, with memcheck's wildcards: "*" any run of
 * characters, "?" one character, "\" quoting the next character? */
bool suppress_glob(const char *pattern, const char *text);

#endif
