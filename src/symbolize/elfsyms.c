/* elfsyms: a module's ELF symbols (what libdwfl reads: .symtab, from the
 * separate debug file when there is one, else .dynsym) sorted by address
 * once, so each lookup is a binary search; libdwfl's own lookup scans every
 * symbol, which made it most of a profile's symbolization cost.
 * Invariant: among symbols at one address the global one wins, then weak,
 * then local, as libdwfl chooses; a sized symbol covers [value, value+size),
 * a sizeless one reaches the next symbol. Names point into libdwfl's ELF
 * string tables and live as long as the module's Dwfl. */
#include "symbolize/symbolize-internal.h"

#include <gelf.h>
#include <stdlib.h>

#include "base/xalloc.h"

struct elfsym {
	uint64_t start, end;
	const char *name;
	int rank;      /* 0 global, 1 weak, 2 local */
	bool sizeless; /* end is its section's end, until cut at the next symbol */
};

static int rank_of(const GElf_Sym *sym)
{
	switch (GELF_ST_BIND(sym->st_info)) {
	case STB_GLOBAL: return 0;
	case STB_WEAK: return 1;
	default: return 2;
	}
}

static int by_start_then_rank(const void *a, const void *b)
{
	const struct elfsym *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank - y->rank;
	return (int)x->sizeless - (int)y->sizeless; /* sized first */
}

static void build(struct symmodule *mod, Dwfl_Module *dm)
{
	int count = dwfl_module_getsymtab(dm);
	if (count <= 0)
		return;
	struct elfsym *v = xcalloc((size_t)count, sizeof(*v));
	size_t n = 0;
	for (int i = 1; i < count; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		Elf *elf = NULL;
		Dwarf_Addr bias = 0;
		const char *name = dwfl_module_getsym_info(dm, i, &sym, &addr, &shndx, &elf, &bias);
		int type = GELF_ST_TYPE(sym.st_info);
		if (!name || !name[0] || shndx == SHN_UNDEF || shndx == SHN_ABS || addr == 0 ||
		    (type != STT_FUNC && type != STT_NOTYPE && type != STT_GNU_IFUNC && type != STT_OBJECT))
			continue;
		uint64_t end = addr + sym.st_size;
		if (sym.st_size == 0) {
			/* a sizeless symbol reaches no further than its section
			 * (_init must not swallow the .plt after it) */
			GElf_Shdr sh;
			Elf_Scn *scn = elf ? elf_getscn(elf, shndx) : NULL;
			if (!scn || !gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC))
				continue;
			end = sh.sh_addr + bias + sh.sh_size;
			if (end <= addr)
				continue;
		}
		v[n++] = (struct elfsym){addr, end, name, rank_of(&sym), sym.st_size == 0};
	}
	qsort(v, n, sizeof(*v), by_start_then_rank);
	/* one symbol per address; a sizeless one reaches the next */
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && v[k - 1].start == v[i].start)
			continue;
		v[k++] = v[i];
	}
	for (size_t i = 0; i + 1 < k; i++)
		if (v[i].sizeless && v[i + 1].start < v[i].end)
			v[i].end = v[i + 1].start;
	mod->elfsyms = v;
	mod->nelfsyms = k;
}

const char *elfsyms_lookup(struct symmodule *mod, Dwfl_Module *dm, uint64_t vaddr)
{
	if (!mod->elfsyms_built) {
		mod->elfsyms_built = true;
		build(mod, dm);
	}
	const struct elfsym *v = mod->elfsyms;
	size_t lo = 0, hi = mod->nelfsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].start <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* the nearest symbol at or below, else an enclosing one a little
	 * further down (a function with a label or an alias inside it) */
	for (size_t i = lo, seen = 0; i > 0 && seen < 8; i--, seen++)
		if (vaddr < v[i - 1].end)
			return v[i - 1].name;
	return NULL;
}
