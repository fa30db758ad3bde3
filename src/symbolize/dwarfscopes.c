/* dwarfscopes: per CU, an index of its subprograms and inlined subroutines
 * by address, built by one walk of the CU's DIEs, so an address's chain of
 * inlined calls is a binary search and a few parent steps; libdw's
 * dwarf_getscopes walks the CU's whole DIE tree for every address, which
 * made it most of kiln heap report's time on big CUs (CPython's ceval.c).
 * Invariant: entries are sorted by (lo, -hi) and each one's parent is the
 * nearest earlier entry containing its start, which for DWARF's nested
 * ranges is the enclosing scope; an address no entry holds gives 0 and the
 * caller falls back to libdw. */
#include "symbolize/symbolize-internal.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <stdlib.h>

#include "base/xalloc.h"

struct scope_entry {
	uint64_t lo, hi;  /* [lo, hi), CU-relative (ELF) addresses */
	Dwarf_Off die;    /* a DW_TAG_subprogram or DW_TAG_inlined_subroutine */
	int64_t parent;   /* index of the enclosing entry, -1: none */
};

struct scope_index {
	struct scope_entry *e;
	size_t n;
};

static int by_lo_then_outer_first(const void *a, const void *b)
{
	const struct scope_entry *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi > y->hi ? -1 : x->hi < y->hi;
}

/* Tags whose children may hold code scopes. */
static bool may_hold_scopes(int tag)
{
	switch (tag) {
	case DW_TAG_subprogram:
	case DW_TAG_inlined_subroutine:
	case DW_TAG_lexical_block:
	case DW_TAG_namespace:
	case DW_TAG_class_type:
	case DW_TAG_structure_type:
	case DW_TAG_union_type:
	case DW_TAG_module:
		return true;
	default:
		return false;
	}
}

#define MAX_DEPTH 256

static struct scope_index *build(Dwarf_Die *cu)
{
	struct scope_index *ix = xcalloc(1, sizeof(*ix));
	size_t cap = 0;
	Dwarf_Die stack[MAX_DEPTH];
	int depth = 0;
	if (dwarf_child(cu, &stack[0]) != 0)
		return ix;
	for (;;) {
		Dwarf_Die *d = &stack[depth];
		int tag = dwarf_tag(d);
		if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) {
			Dwarf_Addr base, lo, hi;
			ptrdiff_t it = 0;
			while ((it = dwarf_ranges(d, it, &base, &lo, &hi)) > 0) {
				if (hi <= lo)
					continue;
				ix->e = xgrow(ix->e, sizeof(*ix->e), ix->n + 1, &cap);
				ix->e[ix->n++] = (struct scope_entry){lo, hi, dwarf_dieoffset(d), -1};
			}
		}
		/* down into scopes, else along, else up and along */
		if (may_hold_scopes(tag) && depth + 1 < MAX_DEPTH && dwarf_child(d, &stack[depth + 1]) == 0) {
			depth++;
			continue;
		}
		while (dwarf_siblingof(&stack[depth], &stack[depth]) != 0) {
			if (depth == 0)
				goto done;
			depth--;
		}
	}
done:
	qsort(ix->e, ix->n, sizeof(*ix->e), by_lo_then_outer_first);
	/* parents by a sweep: the open entries form a stack of nested ranges */
	int64_t *open = xmalloc((ix->n + 1) * sizeof(*open));
	size_t nopen = 0;
	for (size_t i = 0; i < ix->n; i++) {
		while (nopen && ix->e[open[nopen - 1]].hi <= ix->e[i].lo)
			nopen--;
		ix->e[i].parent = nopen ? open[nopen - 1] : -1;
		open[nopen++] = (int64_t)i;
	}
	free(open);
	return ix;
}

size_t dwarfscopes_chain(struct symmodule *mod, Dwarf *dw, Dwarf_Die *cu, uint64_t pc, Dwarf_Die *chain, size_t max)
{
	Dwarf_Off cu_off = dwarf_dieoffset(cu);
	struct scope_index *ix = keymap_get(&mod->scopes, cu_off + 1, (uintptr_t)dw);
	if (!ix) {
		ix = build(cu);
		keymap_put(&mod->scopes, cu_off + 1, (uintptr_t)dw, ix);
	}
	size_t lo = 0, hi = ix->n;
	while (lo < hi) { /* the last entry starting at or below pc */
		size_t mid = lo + (hi - lo) / 2;
		if (ix->e[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	int64_t i = (int64_t)lo - 1;
	while (i >= 0 && !(pc < ix->e[i].hi))
		i = ix->e[i].parent;
	size_t n = 0;
	for (; i >= 0 && n < max; i = ix->e[i].parent)
		if (dwarf_offdie(dw, ix->e[i].die, &chain[n]))
			n++;
	return n;
}

void dwarfscopes_release(struct symmodule *mod)
{
	for (size_t i = 0; i < mod->scopes.cap; i++) {
		struct scope_index *ix = mod->scopes.slots[i].val;
		if (ix) {
			free(ix->e);
			free(ix);
		}
	}
	keymap_release(&mod->scopes);
}
