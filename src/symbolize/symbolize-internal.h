/* symbolize-internal: the structures shared by the files of src/symbolize/
 * (modules, per-process address spaces, caches) and their internal calls.
 * Invariant: modules and processes are individually allocated and never
 * move, so pointers to them (held by maps and by libdwfl callbacks) stay
 * valid until symbolizer_free(). Nothing here is thread-safe. */
#ifndef KILN_SYMBOLIZE_SYMBOLIZE_INTERNAL_H
#define KILN_SYMBOLIZE_SYMBOLIZE_INTERNAL_H

#include <elfutils/libdwfl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "symbolize/symbolize.h"

/* ---- keymap: open addressing, (k1, k2) -> non-NULL pointer ---- */

struct keymap_slot {
	uint64_t k1, k2;
	void *val; /* NULL = empty */
};

struct keymap {
	struct keymap_slot *slots;
	size_t cap, n; /* cap is 0 or a power of two */
};

/* Returns the value for (k1, k2), or NULL. */
void *keymap_get(const struct keymap *m, uint64_t k1, uint64_t k2);
/* Sets (k1, k2) to val (non-NULL), replacing any previous value. */
void keymap_put(struct keymap *m, uint64_t k1, uint64_t k2, void *val);
/* Removes (k1, k2) if present. */
void keymap_del(struct keymap *m, uint64_t k1, uint64_t k2);
void keymap_release(struct keymap *m);

/* ---- modules: one per distinct mapped file (path, build id) ---- */

enum module_kind {
	MODULE_ELF,    /* a regular file, read with libelf/libdwfl */
	MODULE_VDSO,   /* the kernel's vdso image (read from our own memory) */
	MODULE_ANON,   /* anonymous executable memory: JIT code (perf map) */
	MODULE_OTHER,  /* a named special mapping ([vsyscall], ...) */
	MODULE_KERNEL, /* the kernel: /proc/kallsyms */
};

struct module_load {
	uint64_t offset, vaddr, filesz, align;
};

#define MODULE_MAX_LOADS 16

struct symmodule {
	uint32_t id; /* 1-based, index + 1 in symbolizer.modules */
	enum module_kind kind;
	char *path;
	char *build_id; /* lowercase hex or NULL */
	bool elf_ok;    /* ELF headers were read */
	int e_type;
	size_t nloads;
	struct module_load loads[MODULE_MAX_LOADS];
	/* symbolization: a Dwfl of its own holding this one module at bias 0
	 * (addresses are ELF vaddrs); opened at the first lookup. */
	bool dwfl_tried;
	Dwfl *dwfl;
	Dwfl_Module *dwmod;
	int fd; /* read-only fd for memory reads by the unwinder, -1 = not open */
	bool fd_tried;
	/* DWARF without .debug_aranges (clang's default), where libdw cannot
	 * find an address's CU: the CUs' own ranges, sorted, built once */
	bool cu_ranges_built;
	struct cu_range *cu_ranges;
	size_t ncu_ranges;
	/* its ELF symbols sorted by address (elfsyms.c), built once */
	bool elfsyms_built;
	struct elfsym *elfsyms;
	size_t nelfsyms;
	/* per CU, its code scopes by address (dwarfscopes.c): (CU offset + 1, its Dwarf) -> index */
	struct keymap scopes;
};

/* ---- address spaces ---- */

struct addrmap {
	uint64_t start, end, pgoff;
	uint64_t bias; /* address = bias + ELF vaddr */
	struct symmodule *mod;
};

struct perfmap_sym {
	uint64_t start, end;
	const char *name;
};

struct reported_module {
	struct symmodule *mod;
	uint64_t bias;
	Dwarf_Addr start, end; /* as libdwfl placed it */
};

struct symproc {
	int pid;
	struct addrmap *maps; /* sorted by start, non-overlapping */
	size_t nmaps, cap;
	uint64_t gen; /* bumped on every change to maps */
	/* unwinding: one Dwfl per process, its modules re-reported when gen
	 * moved since dwfl_gen. */
	Dwfl *dwfl;
	uint64_t dwfl_gen;
	bool attached;
	struct reported_module *reported; /* what the Dwfl holds */
	size_t nreported;
	/* the sample being unwound (valid during symbolizer_unwind only) */
	struct symbolizer *s;
	const uint64_t *regs;
	const unsigned char *stack;
	uint64_t stack_lo; /* the sample's SP: address of stack[0] */
	size_t stack_len;
	const size_t *frames_so_far; /* frames reported so far */
	size_t read_failed_at; /* frames_so_far at the last failed read */
	/* JIT map /tmp/perf-PID.map */
	bool perfmap_tried;
	long long perfmap_size;
	struct perfmap_sym *perfmap;
	size_t nperfmap;
};

struct kallsyms_sym {
	uint64_t addr;
	const char *name;
};

struct cached_loc {
	struct sym_frame *frames;
	size_t nframes;
};

struct symbolizer {
	struct symbolizer_options opt;
	char *debuginfo_path;
	const char *debug_root; /* in debuginfo_path */
	Dwfl_Callbacks dwfl_cb;
	struct arena strings; /* every returned string and cached frames */
	struct symmodule **modules;
	size_t nmodules, modules_cap;
	struct keymap module_index; /* (hash path, hash build id or 0) -> module */
	struct keymap procs;        /* (pid, 0) -> struct symproc */
	struct keymap cache;        /* (module id, lookup address) -> cached_loc */
	struct keymap string_index; /* (hash, length) -> interned string */
	/* kernel */
	bool kallsyms_tried;
	bool kallsyms_zero; /* addresses hidden by kptr_restrict */
	struct kallsyms_sym *ksyms;
	size_t nksyms;
	struct symmodule *kernel_mod;
	/* vdso image, from our own address space */
	bool vdso_tried;
	int vdso_memfd;
	/* an ELF header alone, telling libdwfl the unwound processes are x86_64 */
	unsigned char x86_64_ehdr[64];
	Elf *x86_64_elf;
	struct symbolizer_stats stats;
};

/* debuginfo.c: a Dwfl_Callbacks.find_debuginfo that searches this machine
 * only (build id, then .gnu_debuglink), never a debuginfod server. The
 * module's userdata is its symbolizer (debuginfo_claim). */
int debuginfo_find_local(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
			 const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
			 char **debuginfo_file_name);
/* debuginflate.c: fd, or a memfd with fd's zlib-compressed DWARF inflated
 * (fd is closed then). */
int debuginflate(int fd);
static inline void debuginfo_claim(struct symbolizer *s, Dwfl_Module *m)
{
	void **userdata;
	if (m && dwfl_module_info(m, &userdata, NULL, NULL, NULL, NULL, NULL, NULL))
		*userdata = s;
}

/* module.c */
/* Returns the module for a mapped path (NUL-terminated); build_id may be
 * NULL. Never NULL. Reads the ELF headers of regular files once. */
struct symmodule *module_get(struct symbolizer *s, const char *path, const unsigned char *build_id,
			     size_t build_id_len);
/* Load bias of a mapping of mod at start with file offset pgoff. */
uint64_t module_bias(const struct symmodule *mod, uint64_t start, uint64_t pgoff);
/* Opens mod's ELF file for libdwfl: a new fd the caller hands to
 * dwfl_report_elf (which consumes it), or -1. */
int module_open_fd(struct symbolizer *s, struct symmodule *mod);
/* Reads 8 bytes at ELF vaddr from the module's file; false if not in a
 * loaded file range. */
bool module_read_word(struct symbolizer *s, struct symmodule *mod, uint64_t vaddr, uint64_t *out);
void module_free(struct symmodule *mod);

/* addrspace.c */
struct symproc *symproc_get(struct symbolizer *s, int pid, bool create);
const struct addrmap *symproc_find(const struct symproc *p, uint64_t addr);
void symproc_free(struct symproc *p);

/* unwind.c */
void unwind_proc_release(struct symproc *p);

/* dwarfsym.c: resolves ELF vaddr in mod into frames (innermost first),
 * allocated in s->strings. Returns the number of frames (>= 1). */
/* The name of the ELF symbol covering vaddr in mod (whose Dwfl module is
 * dm), or NULL; as dwfl_module_addrinfo, by binary search (elfsyms.c). */
const char *elfsyms_lookup(struct symmodule *mod, Dwfl_Module *dm, uint64_t vaddr);
/* The chain of DW_TAG_inlined_subroutine DIEs holding pc (a CU-relative
 * address in cu, whose Dwarf is dw), innermost first, ending at its DW_TAG_subprogram: at
 * most max DIEs into chain; 0 when the CU's index has no scope for pc
 * (dwarfscopes.c, one index per CU built at its first lookup). */
size_t dwarfscopes_chain(struct symmodule *mod, Dwarf *dw, Dwarf_Die *cu, uint64_t pc, Dwarf_Die *chain, size_t max);
void dwarfscopes_release(struct symmodule *mod);
size_t dwarfsym_resolve(struct symbolizer *s, struct symmodule *mod, uint64_t vaddr,
			struct sym_frame **frames);
/* The symbolization Dwfl module for mod, opened on first use; NULL if the
 * file cannot be read. */
Dwfl_Module *dwarfsym_module(struct symbolizer *s, struct symmodule *mod);

/* kallsyms.c */
/* Returns the kernel symbol containing addr (its start in *sym_addr), or
 * NULL; loads /proc/kallsyms on first use. */
const char *kallsyms_lookup(struct symbolizer *s, uint64_t addr, uint64_t *sym_addr);
void kallsyms_release(struct symbolizer *s);

/* perfmap.c */
/* Returns the JIT symbol of /tmp/perf-PID.map containing addr, or NULL. */
const char *perfmap_lookup(struct symbolizer *s, struct symproc *p, uint64_t addr);
void perfmap_release(struct symproc *p);

/* demangle.c */
/* Returns name demangled (C++, Rust legacy and v0) in s->strings, or name
 * copied into s->strings when it is not mangled. */
const char *demangle_name(struct symbolizer *s, const char *name);

/* vdso.c */
/* Returns the symbolizer's fd (a memfd, owned by s: do not close it)
 * holding the vdso ELF image, or -1. The vdso of every 64-bit process on
 * this kernel is the one mapped into kiln itself. */
int vdso_fd(struct symbolizer *s);
/* Writes "/proc/self/fd/N" for the vdso image into buf; false if none. */
bool vdso_path(struct symbolizer *s, char *buf, size_t size);
void vdso_release(struct symbolizer *s);

/* Interned copy of str in s->strings (NULL stays NULL). */
const char *sym_strdup(struct symbolizer *s, const char *str);

#endif
