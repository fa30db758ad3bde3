/* dwarfsym: (module, ELF vaddr) -> frames, with libdwfl: the ELF symbol
 * (.symtab, else .dynsym, also from separate debug info found by build id
 * or .gnu_debuglink), DWARF file:line, and the chain of inlined
 * subroutines with their call sites. Invariant: each module gets one Dwfl
 * of its own holding it at bias 0, so addresses are ELF vaddrs. */
#include "symbolize/symbolize-internal.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

#define MAX_FRAMES 64

Dwfl_Module *dwarfsym_module(struct symbolizer *s, struct symmodule *mod)
{
	if (mod->dwfl_tried)
		return mod->dwmod;
	mod->dwfl_tried = true;
	char vpath[64];
	const char *file = mod->path;
	if (mod->kind == MODULE_VDSO) {
		if (!vdso_path(s, vpath, sizeof(vpath)))
			return NULL;
		file = vpath;
	} else if (mod->kind != MODULE_ELF || !mod->elf_ok) {
		return NULL;
	}
	mod->dwfl = dwfl_begin(&s->dwfl_cb);
	if (!mod->dwfl)
		return NULL;
	dwfl_report_begin(mod->dwfl);
	mod->dwmod = dwfl_report_elf(mod->dwfl, mod->path, file, -1, 0, true);
	debuginfo_claim(s, mod->dwmod);
	dwfl_report_end(mod->dwfl, NULL, NULL);
	if (!mod->dwmod) {
		dwfl_end(mod->dwfl);
		mod->dwfl = NULL;
	}
	return mod->dwmod;
}

/* The function name of a subprogram or inlined subroutine DIE, demangled
 * from its linkage name when it has one. */
static const char *die_function(struct symbolizer *s, Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name = NULL;
	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
		name = dwarf_formstring(&attr);
	if (name)
		return demangle_name(s, name);
	if (dwarf_attr_integrate(die, DW_AT_name, &attr))
		name = dwarf_formstring(&attr);
	return name ? sym_strdup(s, name) : NULL;
}

/* The call site (DW_AT_call_file, DW_AT_call_line) of an inlined DIE. */
static void call_site(struct symbolizer *s, Dwarf_Die *die, const char **file, int *line)
{
	Dwarf_Attribute attr;
	Dwarf_Word v;
	*file = NULL;
	*line = 0;
	if (dwarf_attr(die, DW_AT_call_line, &attr) && dwarf_formudata(&attr, &v) == 0)
		*line = (int)v;
	Dwarf_Die cu;
	Dwarf_Files *files;
	size_t nfiles;
	if (dwarf_attr(die, DW_AT_call_file, &attr) && dwarf_formudata(&attr, &v) == 0 &&
	    dwarf_diecu(die, &cu, NULL, NULL) && dwarf_getsrcfiles(&cu, &files, &nfiles) == 0 &&
	    v < nfiles)
		*file = sym_strdup(s, dwarf_filesrc(files, v, NULL, NULL));
}

/* ---- CUs by address when .debug_aranges is missing ---- */

struct cu_range {
	uint64_t lo, hi;  /* [lo, hi) in ELF vaddrs */
	Dwarf_Off cu_off; /* the CU DIE's offset */
};

static int cmp_cu_range(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void build_cu_ranges(struct symmodule *mod, Dwarf *dw)
{
	size_t n = 0, cap = 0;
	struct cu_range *r = NULL;
	Dwarf_Off off = 0, next;
	size_t hsize;
	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu;
		if (dwarf_offdie(dw, off + hsize, &cu)) {
			Dwarf_Addr base, lo, hi;
			ptrdiff_t it = 0;
			while ((it = dwarf_ranges(&cu, it, &base, &lo, &hi)) > 0) {
				if (hi <= lo)
					continue;
				r = xgrow(r, sizeof(*r), n + 1, &cap);
				r[n++] = (struct cu_range){lo, hi, dwarf_dieoffset(&cu)};
			}
		}
		off = next;
	}
	if (n)
		qsort(r, n, sizeof(*r), cmp_cu_range);
	mod->cu_ranges = r;
	mod->ncu_ranges = n;
}

/* The CU holding vaddr, found through the CUs' own ranges: for modules
 * whose DWARF has no .debug_aranges. Returns false when none holds it. */
static bool cu_by_ranges(struct symmodule *mod, Dwfl_Module *dm, uint64_t vaddr, Dwarf_Die *out,
			 Dwarf_Addr *bias)
{
	Dwarf *dw = dwfl_module_getdwarf(dm, bias);
	if (!dw)
		return false;
	if (!mod->cu_ranges_built) {
		mod->cu_ranges_built = true;
		build_cu_ranges(mod, dw);
	}
	uint64_t a = vaddr - *bias;
	size_t lo = 0, hi = mod->ncu_ranges;
	while (lo < hi) { /* the last range starting at or below a */
		size_t mid = lo + (hi - lo) / 2;
		if (mod->cu_ranges[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* ranges may nest or overlap (rarely): look back a few */
	for (size_t i = lo, k = 0; i > 0 && k < 8; i--, k++) {
		const struct cu_range *r = &mod->cu_ranges[i - 1];
		if (a >= r->lo && a < r->hi)
			return dwarf_offdie(dw, r->cu_off, out) != NULL;
	}
	return false;
}

/* glibc's and the linker's start code: the frames below main */
static bool is_start_code(const char *name)
{
	/* __libc_start_main comes versioned (@@GLIBC_2.34) and as _impl */
	return !strncmp(name, "__libc_start_", 13) || !strcmp(name, "_start");
}

size_t dwarfsym_resolve(struct symbolizer *s, struct symmodule *mod, uint64_t vaddr,
			struct sym_frame **frames)
{
	struct sym_frame f[MAX_FRAMES];
	size_t n = 0;
	const char *outer = NULL, *file = NULL;
	int line = 0;
	Dwfl_Module *dm = dwarfsym_module(s, mod);
	if (dm) {
		const char *symname = elfsyms_lookup(mod, dm, vaddr);
		if (symname)
			outer = demangle_name(s, symname);
		/* the C runtime's start code, below main: its name is all anyone
		 * reads, and its lines would cost the DWARF of all of libc
		 * (libdw inflates every compressed section when it opens them) */
		if (symname && is_start_code(symname))
			dm = NULL;
	}
	if (dm) {
		Dwfl_Line *ln = dwfl_module_getsrc(dm, vaddr);
		Dwarf_Addr bias = 0;
		Dwarf_Die cu_found, *cu = NULL;
		if (ln) {
			const char *src = dwfl_lineinfo(ln, NULL, &line, NULL, NULL, NULL);
			file = src ? sym_strdup(s, src) : NULL;
			if (!file)
				line = 0;
		} else if (cu_by_ranges(mod, dm, vaddr, &cu_found, &bias)) {
			cu = &cu_found;
			Dwarf_Line *dl = dwarf_getsrc_die(cu, vaddr - bias);
			const char *src = dl ? dwarf_linesrc(dl, NULL, NULL) : NULL;
			if (src && dwarf_lineno(dl, &line) == 0)
				file = sym_strdup(s, src);
			else
				line = 0;
		}
		if (!cu && !s->opt.no_inlines)
			cu = dwfl_module_addrdie(dm, vaddr, &bias);
		if (s->opt.no_inlines)
			cu = NULL;
		Dwarf_Die *scopes = NULL, *chain = NULL, indexed[MAX_FRAMES];
		int nc = 0;
		Dwarf *dw = cu ? dwarf_cu_getdwarf(cu->cu) : NULL; /* the CU's own (split, alt) */
		if (dw)
			nc = (int)dwarfscopes_chain(mod, dw, cu, vaddr - bias, indexed, MAX_FRAMES);
		if (nc > 0) {
			chain = indexed;
		} else if (cu && dwarf_getscopes(cu, vaddr - bias, &scopes) > 0) {
			nc = dwarf_getscopes_die(&scopes[0], &chain);
			if (nc < 0)
				nc = 0;
		}
		if (nc > 0) {
			for (int i = 0; i < nc && n < MAX_FRAMES - 1; i++) {
				int tag = dwarf_tag(&chain[i]);
				if (tag == DW_TAG_inlined_subroutine) {
					f[n].function = die_function(s, &chain[i]);
					f[n].file = file;
					f[n].line = line;
					n++;
					call_site(s, &chain[i], &file, &line);
				} else if (tag == DW_TAG_subprogram) {
					if (!outer)
						outer = die_function(s, &chain[i]);
					break;
				}
			}
		}
		if (chain != indexed)
			free(chain);
		free(scopes);
	}
	f[n].function = outer;
	f[n].file = file;
	f[n].line = line;
	n++;
	*frames = arena_alloc(&s->strings, n * sizeof(**frames));
	memcpy(*frames, f, n * sizeof(**frames));
	return n;
}
