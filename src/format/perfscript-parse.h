/* perfscript-parse: the per-chunk parser state shared by perfscript.c (the
 * two dialects' line rules) and perfscript-run.c (chunking and threads).
 * Invariant: a parser only ever sees whole lines, and frames it holds point
 * into the chunk being parsed or into its scratch, both alive until the
 * event is emitted. Not part of the public API. */
#ifndef KILN_FORMAT_PERFSCRIPT_PARSE_H
#define KILN_FORMAT_PERFSCRIPT_PARSE_H

#include "base/arena.h"
#include "base/strbuf.h"
#include "format/perfscript.h"

struct ps_frame {
	const char *s;
	size_t len;
};

struct ps_block {
	char *mem;
	size_t size;
};

/* Bump memory for rewritten names, reset after each event. */
struct ps_scratch {
	struct ps_block *blocks;
	size_t nblocks, cap, cur, used;
};

struct ps_warn {
	unsigned long line; /* chunk-relative until the runner rebases it */
	const char *kind;
	size_t text_off;    /* into warn_text */
};

enum ps_stack_filter { PS_KEEP, PS_SKIP, PS_SKIP_REMAINING };

/* What one stack line parsed to, kept so a line seen again (perf script
 * repeats the same frames in most samples) is not parsed again. */
struct ps_cached_line {
	uint64_t hash;
	const char *key;          /* the line, in the cache's arena */
	uint32_t key_len;
	uint32_t nframes;
	const struct ps_frame *frames; /* as pushed, strings in the arena */
	bool java, weird, skip_remaining;
};

struct ps_linecache {
	struct ps_cached_line *slots; /* open addressing; key == NULL is empty */
	size_t cap, count;
	struct arena mem;
};

struct ps_parser {
	const struct perfscript_options *o;
	struct foldtab *out;
	bool include_pid;
	/* the event filter: given, or the first event seen */
	char *filter;
	size_t filter_len;
	bool filter_set;
	/* the event being read */
	bool in_event;              /* inferno: lines are stack lines */
	bool pname_set;             /* perl: an event line was accepted */
	enum ps_stack_filter stack_filter;
	bool has_period;
	uint64_t period;
	struct strbuf pname;
	struct ps_frame *frames;    /* innermost first */
	size_t nframes, frames_cap;
	struct ps_scratch scratch;
	struct strbuf key;
	struct ps_linecache cache;
	/* results */
	unsigned long lineno;
	unsigned long events;
	unsigned long nwarnings;
	struct ps_warn *warns;
	size_t nwarns, warns_cap;
	struct strbuf warn_text;
};

void ps_parser_init(struct ps_parser *p, const struct perfscript_options *o, struct foldtab *out);
void ps_parser_release(struct ps_parser *p);
void ps_parser_set_filter(struct ps_parser *p, const char *event, size_t len);
/* Parses whole lines in data[0..len); the last may lack its '\n'. */
void ps_parser_chunk(struct ps_parser *p, const char *data, size_t len);
/* Emits what end of input completes (the dialect decides). */
void ps_parser_finish(struct ps_parser *p);
/* True when no event is open, so a chunk may end here. */
bool ps_parser_at_rest(const struct ps_parser *p);

#endif
