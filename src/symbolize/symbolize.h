/* symbolize: what kiln knows about the address spaces of profiled
 * processes: their mappings (captured while they ran), DWARF CFI unwinding
 * of user stacks copied by perf, and address -> frames lookup (function,
 * demangled; file and line; inlined frames expanded), for user code, the
 * kernel (/proc/kallsyms), the vdso and JIT maps (/tmp/perf-PID.map).
 * Invariant: a process's mappings are recorded as events arrive, so one
 * that exited before the end is still symbolized; each (module, address)
 * is resolved once and cached; returned strings live until symbolizer_free.
 * A symbolizer is not thread-safe: use one per thread. */
#ifndef KILN_SYMBOLIZE_SYMBOLIZE_H
#define KILN_SYMBOLIZE_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct symbolizer;

struct symbolizer_options {
	bool no_inlines;  /* do not expand inlined frames */
	bool no_demangle; /* keep mangled names */
	bool no_kernel;   /* do not read /proc/kallsyms */
	const char *debug_dir; /* separate debug info root; NULL = /usr/lib/debug */
	/* never ask debuginfod servers, whatever DEBUGINFOD_URLS says (the
	 * agent, inside other people's processes); without it they are asked
	 * only when DEBUGINFOD_URLS names some */
	bool no_debuginfod;
};

/* Returns a new symbolizer, or NULL with *err set (-errno / KILN_ERR_*). */
struct symbolizer *symbolizer_new(const struct symbolizer_options *o, int *err);
void symbolizer_free(struct symbolizer *s); /* accepts NULL */

/* ---- address-space events (PERF_RECORD_MMAP2, FORK, COMM, EXIT) ---- */

/* Records that pid maps [start, start+len) of path at file offset pgoff.
 * build_id may be NULL (then it is read from the file when needed). Only
 * executable mappings matter for symbolization; others may be ignored. */
int symbolizer_mmap(struct symbolizer *s, int pid, uint64_t start, uint64_t len, uint64_t pgoff,
		    const char *path, const unsigned char *build_id, size_t build_id_len,
		    bool executable);
/* Reads /proc/PID/maps (for processes that were running before recording
 * started). Returns 0 or -errno (e.g. -ENOENT when pid is gone). */
int symbolizer_load_proc(struct symbolizer *s, int pid);
/* child starts with a copy of parent's mappings (fork/clone of a process). */
int symbolizer_fork(struct symbolizer *s, int parent_pid, int child_pid);
/* pid called exec: its old mappings are dropped (new ones follow). */
void symbolizer_exec(struct symbolizer *s, int pid);

/* ---- unwinding ---------------------------------------------------------- */

/* x86_64 user registers as perf_event_open delivers them for
 * sample_regs_user = SYMBOLIZER_REGS_MASK, in ascending PERF_REG_X86_*
 * bit order (AX BX CX DX SI DI BP SP IP FLAGS CS SS R8..R15; DS ES FS GS
 * are not requested). */
#define SYMBOLIZER_REGS_MASK 0xff0fffULL
#define SYMBOLIZER_NREGS 20

/* Unwinds the user stack of a sample in process pid with DWARF CFI (and
 * frame pointers where CFI is missing): regs as above, stack = the bytes
 * perf copied from the sample's stack pointer upwards (stack_len = the
 * sample's dyn_size). Writes up to max addresses to ips: ips[0] is the
 * sample's IP, then return addresses outwards. Sets *truncated when the
 * walk stopped before the outermost frame (stack copy too short, unknown
 * code, CFI error, max reached) rather than at the end of the stack: CFI
 * marking the return address undefined (_start, clone3), or a zero frame
 * pointer in code without CFI. A copy that ends on a page boundary is
 * taken to have reached the top of the stack (perf copies until it
 * faults). Reads only the copy and mapped files, never the live process.
 * Cost: ~0.5 us per frame once a process's modules are loaded. Returns 0
 * or a negative code (-EINVAL). */
int symbolizer_unwind(struct symbolizer *s, int pid, const uint64_t *regs, const void *stack,
		      size_t stack_len, uint64_t *ips, size_t max, size_t *n, bool *truncated);

/* ---- lookup --------------------------------------------------------------- */

struct sym_frame {
	const char *function; /* demangled; NULL when unknown (callers show
			       * the module, e.g. "[kernel.kallsyms]") */
	const char *file;     /* source file, or NULL */
	int line;             /* 0 when unknown */
};

struct sym_location {
	/* innermost first: inlined frames, then the function that contains
	 * them (pprof's Location.line order). nframes >= 1 when the address
	 * is in a known mapping, even if only as "[module]"; 0 otherwise. */
	const struct sym_frame *frames;
	size_t nframes;
	uint32_t module_id;   /* stable id of (file, build id); 0 = none */
	const char *module;   /* mapped file path, "[kernel.kallsyms]", "[vdso]", "[jit]" or NULL */
	const char *build_id; /* lowercase hex, or NULL */
	uint64_t map_start, map_limit, map_offset; /* the mapping, for pprof */
	uint64_t rel_addr;    /* address relative to the module (ELF vaddr space) */
	bool kernel;
};

/* Resolves addr in process pid. is_return_address says addr is a return
 * address (every frame but the sample's own IP), so the call site is
 * looked up (addr - 1). Fills out; strings stay valid until
 * symbolizer_free(). Returns 0, or -ENOENT when addr is in no known
 * mapping (out->nframes == 0 then, but out->module etc. are cleared). */
int symbolizer_lookup(struct symbolizer *s, int pid, uint64_t addr, bool is_return_address,
		      struct sym_location *out);

/* Returns name demangled (Itanium C++, Rust legacy and v0) as a new
 * malloc'd string the caller frees, or NULL when name is not a mangled
 * name libiberty understands. */
char *symbolizer_demangle(const char *name);

/* Counters, for kiln record's summary. */
struct symbolizer_stats {
	unsigned long modules, lookups, cache_hits, unwinds, unwind_truncated;
	unsigned long debug_inflated; /* compressed debug files inflated by debuginflate.c */
};
void symbolizer_get_stats(const struct symbolizer *s, struct symbolizer_stats *st);

#endif
