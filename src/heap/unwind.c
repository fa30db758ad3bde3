/* unwind: the tracker's own x86_64 stack walker. A frame's rule (the CFA
 * is rsp or rbp plus an offset; the return address, and the caller's rbp
 * when saved, lie at fixed offsets below the CFA) comes from the DWARF CFI
 * of the object's .eh_frame, found with _dl_find_object and the binary
 * search table of .eh_frame_hdr; it is computed once per address and kept
 * in a per-thread cache. Frame-pointer code has rbp-based rules and is
 * walked the same way. A thread's next walk mostly repeats the root side
 * of its previous one: where it meets a frame of that walk (same pc, sp
 * and, if it matters, rbp), it checks the values that walk read on its way
 * to the root instead of walking again.
 * Invariant: a walk gives exactly the addresses unw_backtrace gives;
 * anything it does not model (signal frames, DWARF expressions, a CFA in
 * another register, an address without CFI, a CFA off the thread's stack)
 * makes it return -1, and the caller asks libunwind for the whole stack.
 * KILN_HEAP_UNWIND_CHECK=1 compares the two on every stack (stacks.c). */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "heap/heap.h"

#if defined(__x86_64__) && defined(DLFO_EH_SEGMENT_TYPE)

extern void *__libc_stack_end;

/* DWARF register numbers (x86_64 psABI) and CFA opcodes */
enum { R_RBP = 6, R_RSP = 7, R_RA = 16 };
enum {
	CFA_nop = 0x00, CFA_set_loc = 0x01, CFA_advance_loc1 = 0x02, CFA_advance_loc2 = 0x03,
	CFA_advance_loc4 = 0x04, CFA_offset_extended = 0x05, CFA_restore_extended = 0x06,
	CFA_undefined = 0x07, CFA_same_value = 0x08, CFA_register = 0x09, CFA_remember_state = 0x0a,
	CFA_restore_state = 0x0b, CFA_def_cfa = 0x0c, CFA_def_cfa_register = 0x0d,
	CFA_def_cfa_offset = 0x0e, CFA_def_cfa_expression = 0x0f, CFA_expression = 0x10,
	CFA_offset_extended_sf = 0x11, CFA_def_cfa_sf = 0x12, CFA_def_cfa_offset_sf = 0x13,
	CFA_val_offset = 0x14, CFA_val_offset_sf = 0x15, CFA_val_expression = 0x16,
	CFA_GNU_args_size = 0x2e, CFA_GNU_negative_offset_extended = 0x2f,
	CFA_advance_loc = 0x40, CFA_offset = 0x80, CFA_restore = 0xc0,
};
/* pointer encodings */
enum {
	PE_absptr = 0x00, PE_uleb128 = 0x01, PE_udata2 = 0x02, PE_udata4 = 0x03, PE_udata8 = 0x04,
	PE_sleb128 = 0x09, PE_sdata2 = 0x0a, PE_sdata4 = 0x0b, PE_sdata8 = 0x0c,
	PE_pcrel = 0x10, PE_datarel = 0x30, PE_indirect = 0x80, PE_omit = 0xff,
};

/* a register's rule while interpreting CFA instructions */
enum { RULE_SAME, RULE_UNDEF, RULE_OFFSET, RULE_OTHER };
struct reg_rule {
	uint8_t how;
	int64_t off;
};
struct cfa_state {
	uint64_t cfa_reg;
	int64_t cfa_off;
	int cfa_bad; /* an expression, or a register we do not follow */
	struct reg_rule rbp, ra;
};

/* A cursor over CFI bytes; any overrun sets bad. */
struct rd {
	const uint8_t *p, *end;
	int bad;
};

static uint64_t rd_u8(struct rd *r)
{
	if (r->p >= r->end) {
		r->bad = 1;
		return 0;
	}
	return *r->p++;
}

static uint64_t rd_fixed(struct rd *r, size_t n)
{
	if ((size_t)(r->end - r->p) < n) {
		r->bad = 1;
		return 0;
	}
	uint64_t v = 0;
	memcpy(&v, r->p, n); /* little-endian */
	r->p += n;
	return v;
}

static uint64_t rd_uleb(struct rd *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0;; shift += 7) {
		uint64_t b = rd_u8(r);
		if (r->bad || shift > 63) {
			r->bad = 1;
			return 0;
		}
		v |= (b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
}

static int64_t rd_sleb(struct rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint64_t b;
	do {
		b = rd_u8(r);
		if (r->bad || shift > 63) {
			r->bad = 1;
			return 0;
		}
		v |= (b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (shift < 64 && (b & 0x40))
		v |= ~(uint64_t)0 << shift;
	return (int64_t)v;
}

/* An encoded pointer; datarel is relative to base. */
static uint64_t rd_enc(struct rd *r, uint8_t enc, uint64_t base)
{
	if (enc == PE_omit || (enc & PE_indirect)) {
		r->bad = 1;
		return 0;
	}
	uint64_t at = (uint64_t)(uintptr_t)r->p, v;
	switch (enc & 0x0f) {
	case PE_absptr: v = rd_fixed(r, 8); break;
	case PE_uleb128: v = rd_uleb(r); break;
	case PE_udata2: v = rd_fixed(r, 2); break;
	case PE_udata4: v = rd_fixed(r, 4); break;
	case PE_udata8: v = rd_fixed(r, 8); break;
	case PE_sleb128: v = (uint64_t)rd_sleb(r); break;
	case PE_sdata2: v = (uint64_t)(int64_t)(int16_t)rd_fixed(r, 2); break;
	case PE_sdata4: v = (uint64_t)(int64_t)(int32_t)rd_fixed(r, 4); break;
	case PE_sdata8: v = rd_fixed(r, 8); break;
	default: r->bad = 1; return 0;
	}
	switch (enc & 0x70) {
	case 0: return v;
	case PE_pcrel: return v + at;
	case PE_datarel: return v + base;
	default: r->bad = 1; return 0;
	}
}

/* An unknown register's operand is parsed and ignored; rbp's and the
 * return address's are kept. */
static struct reg_rule *reg_of(struct cfa_state *s, uint64_t reg)
{
	return reg == R_RBP ? &s->rbp : reg == R_RA ? &s->ra : NULL;
}

/* DW_CFA_restore: the register's rule from the CIE */
static void restore_rule(struct cfa_state *s, const struct cfa_state *init, uint64_t reg)
{
	if (reg == R_RBP)
		s->rbp = init->rbp;
	else if (reg == R_RA)
		s->ra = init->ra;
}

static void set_rule(struct cfa_state *s, uint64_t reg, uint8_t how, int64_t off)
{
	struct reg_rule *x = reg_of(s, reg);
	if (x) {
		x->how = how;
		x->off = off;
	}
}

#define STATE_STACK 16

/* Runs CFA instructions [p, end) from location loc until the row that
 * holds pc; init is the CIE's state (for DW_CFA_restore). 0 or -1. */
static int run_cfa(struct cfa_state *s, const struct cfa_state *init, const uint8_t *p, const uint8_t *end,
		   uint64_t loc, uint64_t pc, uint64_t code_align, int64_t data_align, uint8_t fde_enc)
{
	struct cfa_state stack[STATE_STACK];
	int depth = 0;
	struct rd r = {p, end, 0};
	while (r.p < r.end && !r.bad) {
		uint8_t op = (uint8_t)rd_u8(&r);
		uint64_t reg, delta = 0;
		int64_t off;
		switch (op & 0xc0) {
		case CFA_advance_loc:
			delta = (uint64_t)(op & 0x3f) * code_align;
			goto advance;
		case CFA_offset:
			off = (int64_t)rd_uleb(&r) * data_align;
			set_rule(s, op & 0x3f, RULE_OFFSET, off);
			continue;
		case CFA_restore:
			restore_rule(s, init, op & 0x3f);
			continue;
		}
		switch (op) {
		case CFA_nop:
		case CFA_GNU_args_size:
			if (op == CFA_GNU_args_size)
				rd_uleb(&r);
			break;
		case CFA_set_loc: {
			uint64_t nl = rd_enc(&r, fde_enc, 0);
			if (r.bad || nl < loc)
				return -1;
			if (nl > pc)
				return 0;
			loc = nl;
			break;
		}
		case CFA_advance_loc1: delta = rd_fixed(&r, 1) * code_align; goto advance;
		case CFA_advance_loc2: delta = rd_fixed(&r, 2) * code_align; goto advance;
		case CFA_advance_loc4: delta = rd_fixed(&r, 4) * code_align; goto advance;
		case CFA_offset_extended:
			reg = rd_uleb(&r);
			off = (int64_t)rd_uleb(&r) * data_align;
			set_rule(s, reg, RULE_OFFSET, off);
			break;
		case CFA_offset_extended_sf:
			reg = rd_uleb(&r);
			off = rd_sleb(&r) * data_align;
			set_rule(s, reg, RULE_OFFSET, off);
			break;
		case CFA_GNU_negative_offset_extended:
			reg = rd_uleb(&r);
			off = -(int64_t)rd_uleb(&r) * data_align;
			set_rule(s, reg, RULE_OFFSET, off);
			break;
		case CFA_restore_extended:
			restore_rule(s, init, rd_uleb(&r));
			break;
		case CFA_undefined:
			set_rule(s, rd_uleb(&r), RULE_UNDEF, 0);
			break;
		case CFA_same_value:
			set_rule(s, rd_uleb(&r), RULE_SAME, 0);
			break;
		case CFA_register:
			reg = rd_uleb(&r);
			if (rd_uleb(&r) == reg)
				set_rule(s, reg, RULE_SAME, 0);
			else
				set_rule(s, reg, RULE_OTHER, 0);
			break;
		case CFA_val_offset:
		case CFA_val_offset_sf:
			reg = rd_uleb(&r);
			if (op == CFA_val_offset)
				rd_uleb(&r);
			else
				rd_sleb(&r);
			set_rule(s, reg, RULE_OTHER, 0);
			break;
		case CFA_expression:
		case CFA_val_expression:
			reg = rd_uleb(&r);
			off = (int64_t)rd_uleb(&r);
			if (r.bad || off < 0 || off > r.end - r.p)
				return -1;
			r.p += off;
			set_rule(s, reg, RULE_OTHER, 0);
			break;
		case CFA_remember_state:
			if (depth == STATE_STACK)
				return -1;
			stack[depth++] = *s;
			break;
		case CFA_restore_state:
			if (!depth)
				return -1;
			*s = stack[--depth]; /* the CFA too, as GCC's unwinder and libunwind do */
			break;
		case CFA_def_cfa:
			s->cfa_reg = rd_uleb(&r);
			s->cfa_off = (int64_t)rd_uleb(&r);
			s->cfa_bad = 0;
			break;
		case CFA_def_cfa_sf:
			s->cfa_reg = rd_uleb(&r);
			s->cfa_off = rd_sleb(&r) * data_align;
			s->cfa_bad = 0;
			break;
		case CFA_def_cfa_register:
			s->cfa_reg = rd_uleb(&r);
			break;
		case CFA_def_cfa_offset:
			s->cfa_off = (int64_t)rd_uleb(&r);
			break;
		case CFA_def_cfa_offset_sf:
			s->cfa_off = rd_sleb(&r) * data_align;
			break;
		case CFA_def_cfa_expression:
			off = (int64_t)rd_uleb(&r);
			if (r.bad || off < 0 || off > r.end - r.p)
				return -1;
			r.p += off;
			s->cfa_bad = 1;
			break;
		default:
			return -1; /* an opcode of another architecture or vendor */
		}
		continue;
	advance:
		if (loc + delta > pc)
			return 0;
		loc += delta;
	}
	return r.bad ? -1 : 0;
}

/* The CIE at p: its state after the initial instructions. 0 or -1. */
struct cie {
	uint64_t code_align;
	int64_t data_align;
	uint8_t fde_enc;
	int has_z;
	const uint8_t *insns, *end;
};

static int parse_cie(const uint8_t *p, struct cie *c)
{
	struct rd r = {p, p + 4, 0};
	uint64_t len = rd_fixed(&r, 4);
	if (len == 0 || len == 0xffffffffu || len > (1u << 24))
		return -1;
	r.end = p + 4 + len;
	if (rd_fixed(&r, 4) != 0)
		return -1; /* not a CIE */
	uint64_t version = rd_u8(&r);
	if (version != 1 && version != 3)
		return -1;
	const char *aug = (const char *)r.p;
	size_t alen = strnlen(aug, (size_t)(r.end - r.p));
	if (alen == (size_t)(r.end - r.p))
		return -1;
	r.p += alen + 1;
	if (strstr(aug, "eh"))
		return -1;
	c->code_align = rd_uleb(&r);
	c->data_align = rd_sleb(&r);
	uint64_t ra = version == 1 ? rd_u8(&r) : rd_uleb(&r);
	if (ra != R_RA)
		return -1;
	c->fde_enc = PE_absptr;
	c->has_z = aug[0] == 'z';
	if (c->has_z) {
		uint64_t zlen = rd_uleb(&r);
		if (r.bad || zlen > (uint64_t)(r.end - r.p))
			return -1;
		const uint8_t *zend = r.p + zlen;
		for (const char *a = aug + 1; *a; a++) {
			switch (*a) {
			case 'R': c->fde_enc = (uint8_t)rd_u8(&r); break;
			case 'L': rd_u8(&r); break;
			case 'P': {
				uint8_t enc = (uint8_t)rd_u8(&r);
				rd_enc(&r, enc & 0x7f, 0); /* the personality's address, not followed */
				break;
			}
			case 'S': return -1; /* a signal frame: libunwind's business */
			default: return -1;
			}
		}
		r.p = zend;
	} else if (aug[0]) {
		return -1;
	}
	if (r.bad)
		return -1;
	c->insns = r.p;
	c->end = r.end;
	return 0;
}

/* The FDE covering pc in the object whose .eh_frame_hdr is at hdr. */
static const uint8_t *find_fde(const uint8_t *hdr, uint64_t pc)
{
	if (hdr[0] != 1)
		return NULL;
	uint8_t ptr_enc = hdr[1], count_enc = hdr[2], table_enc = hdr[3];
	struct rd r = {hdr + 4, hdr + 4 + 16, 0};
	rd_enc(&r, ptr_enc, (uint64_t)(uintptr_t)hdr);
	uint64_t n = rd_enc(&r, count_enc, (uint64_t)(uintptr_t)hdr);
	if (r.bad || table_enc != (PE_datarel | PE_sdata4) || n == 0)
		return NULL;
	const uint8_t *table = r.p;
	uint64_t lo = 0, hi = n;
	int32_t v[2];
	while (lo < hi) { /* the last entry with initial location <= pc */
		uint64_t mid = lo + (hi - lo) / 2;
		memcpy(v, table + mid * 8, 4);
		if ((uint64_t)(uintptr_t)hdr + (uint64_t)(int64_t)v[0] <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	memcpy(v, table + (lo - 1) * 8, 8);
	return hdr + v[1];
}

/* Computes the rule for pc (the exact address for the first frame, the
 * return address minus one for the others). */
static void compute_rule(struct unwind_rule *u, uint64_t pc)
{
	memset(u, 0, sizeof *u);
	u->pc = pc;
	u->kind = UNWIND_FAIL;
	struct dl_find_object fo;
	if (_dl_find_object((void *)(uintptr_t)pc, &fo) != 0 || !fo.dlfo_eh_frame)
		return;
	const uint8_t *fde = find_fde(fo.dlfo_eh_frame, pc);
	if (!fde)
		return;
	struct rd r = {fde, fde + 8, 0};
	uint64_t len = rd_fixed(&r, 4);
	if (len < 8 || len == 0xffffffffu || len > (1u << 24))
		return;
	r.end = fde + 4 + len;
	const uint8_t *idp = r.p;
	uint64_t cie_off = rd_fixed(&r, 4);
	if (cie_off == 0)
		return; /* a CIE, not an FDE */
	struct cie c;
	if (parse_cie(idp - cie_off, &c) < 0)
		return;
	uint64_t begin = rd_enc(&r, c.fde_enc, 0);
	uint64_t range = rd_enc(&r, c.fde_enc & 0x0f, 0);
	if (r.bad || pc < begin || pc - begin >= range)
		return;
	if (c.has_z) {
		uint64_t zlen = rd_uleb(&r);
		if (r.bad || zlen > (uint64_t)(r.end - r.p))
			return;
		r.p += zlen;
	}
	struct cfa_state init = {.cfa_reg = R_RSP, .cfa_off = 8, .rbp = {RULE_SAME, 0}, .ra = {RULE_SAME, 0}};
	if (run_cfa(&init, &init, c.insns, c.end, 0, UINT64_MAX, c.code_align, c.data_align, c.fde_enc) < 0)
		return;
	struct cfa_state s = init;
	if (run_cfa(&s, &init, r.p, r.end, begin, pc, c.code_align, c.data_align, c.fde_enc) < 0)
		return;
	if (s.ra.how == RULE_UNDEF) {
		u->kind = UNWIND_END; /* the outermost frame (_start, clone) */
		return;
	}
	if (s.cfa_bad || (s.cfa_reg != R_RSP && s.cfa_reg != R_RBP) || s.cfa_off < INT32_MIN ||
	    s.cfa_off > INT32_MAX)
		return;
	/* both saved where a frame keeps them, just below the CFA (the walk
	 * relies on it: reads within 128 bytes below a CFA on the stack) */
	if (s.ra.how != RULE_OFFSET || s.ra.off < -128 || s.ra.off > -8)
		return;
	if (s.rbp.how == RULE_OFFSET ? s.rbp.off < -128 || s.rbp.off > -8 : s.rbp.how != RULE_SAME)
		return;
	u->kind = s.cfa_reg == R_RBP ? UNWIND_CFA_RBP : UNWIND_CFA_RSP;
	u->cfa_off = (int32_t)s.cfa_off;
	u->ra_off = (int8_t)s.ra.off;
	u->rbp_off = s.rbp.how == RULE_OFFSET ? (int16_t)s.rbp.off : 0;
}

static _Atomic uint32_t generation = 1;

void unwind_forget(void)
{
	atomic_fetch_add(&generation, 1);
}

/* How a walk ended at a frame: its rule says it is the outermost, or the
 * return address it read is 0. */
enum { END_RULE = 1, END_ZERO = 2 };

/* The rule for pc from the hashed cache (sets of two, the latest used
 * first), else computed. */
static inline const struct unwind_rule *rule_lookup(struct kh_caches *c, uint64_t pc)
{
	struct unwind_rule *set = c->rules[(pc * 0x9e3779b97f4a7c15ull) >> (64 - UNWIND_CACHE_BITS)];
	if (__builtin_expect(set[0].pc == pc, 1))
		return &set[0];
	struct unwind_rule r;
	if (set[1].pc == pc)
		r = set[1];
	else
		compute_rule(&r, pc);
	set[1] = set[0];
	set[0] = r;
	return &set[0];
}

/* A word that reads 0, for the checks that have nothing to read. */
static const uint64_t check_none;

/* Frame f's check, from f and its caller (NULL for the memo's first
 * frame): the root's end by its rule reads nothing; the end by a 0 return
 * address reads that 0; any other frame its caller's return address and,
 * where the walk from its caller on depends on it, the caller's rbp. (The
 * first frame of a walk cut short is no end: the memo is emptied then.) */
static inline void set_check(struct unwind_check *q, const struct unwind_frame *f,
			     const struct unwind_frame *caller)
{
	uint64_t none = (uint64_t)(uintptr_t)&check_none;
	q->ra_at = f->end == END_RULE ? none : f->ra_at;
	q->ra = f->end || !caller ? 0 : caller->pc + 1;
	q->bp_at = f->check_bp ? f->bp_at : none;
	q->bp = f->check_bp ? caller->bp : 0;
}

__attribute__((noinline)) int unwind_walk(struct kh_caches *c, uint32_t *fresh)
{
	uint64_t pc, sp, bp;
	__asm__ volatile("lea 0(%%rip), %0\n\t"
			 "mov %%rsp, %1\n\t"
			 "mov %%rbp, %2\n\t"
			 : "=r"(pc), "=r"(sp), "=r"(bp));
	uint32_t g = atomic_load_explicit(&generation, memory_order_relaxed);
	if (__builtin_expect(c->rules_gen != g, 0)) {
		memset(c->rules, 0, sizeof c->rules);
		c->memo_n = 0;
		c->rules_gen = g;
	}
	/* the stack's top: glibc keeps a thread's descriptor above its
	 * stack; the main thread's stack ends below __libc_stack_end */
	uint64_t hi = (uint64_t)(uintptr_t)pthread_self();
	if (!(hi > sp && hi - sp < (1ull << 30))) {
		hi = (uint64_t)(uintptr_t)__libc_stack_end;
		if (!(hi > sp && hi - sp < (1ull << 32))) {
			c->memo_n = 0;
			return -1;
		}
	}
	/* from the hook's frame, when it is one of this stack's: the host's
	 * frame that called it is the first */
	uint64_t hf = kh_self.host_frame;
	int own = 1;
	if (hf && !(hf & 15) && hf > sp && hf + 16 <= hi) {
		pc = *(const uint64_t *)(uintptr_t)(hf + 8) - 1;
		bp = *(const uint64_t *)(uintptr_t)hf;
		sp = hf + 16;
		own = 0;
	}
	/* Each step goes from a frame (pc, sp, bp) to its caller's. A CFA
	 * must lie above the frame's sp and at most at the stack's top; the
	 * saved values are read within 128 bytes below it, so never below the
	 * first frame's red zone (mapped, by the ABI) nor above the top. Fresh
	 * frames go to the stage, leaf first; the memo's frames are met from
	 * its leaf toward its root (both walks' sps ascend). */
	struct unwind_frame *m = c->memo, *st = c->stage;
	int mi = (int)c->memo_n - 1, k = 0, joined = -1, cut = 0, may_join = 1;
	for (;;) {
		while (mi >= 0 && m[mi].sp < sp)
			mi--;
		if (may_join && mi >= 0 && m[mi].sp == sp && m[mi].pc == pc && (!m[mi].bp_matters || m[mi].bp == bp) &&
		    mi + 1 + k <= UNWIND_MEMO && c->memo_hi == hi) {
			/* the previous walk had this frame: check what it read on
			 * its way to the root (a caller's rbp where it matters).
			 * Its addresses lie above this frame's sp and were checked
			 * against the same stack top. */
			int j = mi;
			const struct unwind_check *chk = &c->check[j];
			for (; j >= 0; j--, chk--)
				if ((*(const uint64_t *)(uintptr_t)chk->ra_at ^ chk->ra) |
				    (*(const uint64_t *)(uintptr_t)chk->bp_at ^ chk->bp))
					break;
			if (j < 0) {
				joined = mi;
				break;
			}
			/* frame j steps elsewhere now: mi..j+1 are the same frames
			 * (with their real rbp), but on another path to the root;
			 * walk on from frame j */
			for (int q = mi; q > j; q--) {
				if (k < UNWIND_MEMO) {
					st[k] = m[q];
					st[k++].bp = bp;
				}
				if (m[q].bp_at)
					bp = *(const uint64_t *)(uintptr_t)m[q].bp_at;
			}
			pc = m[j].pc, sp = m[j].sp;
			mi = j;
			may_join = 0; /* not frame j itself again */
		} else {
			may_join = 1;
		}
		if (k == UNWIND_MEMO) {
			cut = 1;
			break;
		}
		const struct unwind_rule *u = rule_lookup(c, pc);
		struct unwind_frame *f = &st[k++];
		f->pc = pc, f->sp = sp, f->bp = bp;
		f->uses_bp = u->kind == UNWIND_CFA_RBP;
		f->end = 0;
		if (__builtin_expect(u->kind < UNWIND_CFA_RSP, 0)) {
			if (u->kind == UNWIND_FAIL) {
				c->memo_n = 0;
				return -1;
			}
			f->end = END_RULE;
			f->bp_at = f->ra_at = 0;
			break;
		}
		uint64_t cfa = (u->kind == UNWIND_CFA_RBP ? bp : sp) + (uint64_t)(int64_t)u->cfa_off;
		if (__builtin_expect(cfa - sp - 1 >= hi - sp, 0)) {
			c->memo_n = 0;
			return -1;
		}
		f->ra_at = cfa + (uint64_t)(int64_t)u->ra_off;
		uint64_t ra = *(const uint64_t *)(uintptr_t)f->ra_at;
		f->bp_at = 0;
		if (u->rbp_off) {
			f->bp_at = cfa + (uint64_t)(int64_t)u->rbp_off;
			bp = *(const uint64_t *)(uintptr_t)f->bp_at;
		}
		if (!ra) {
			f->end = END_ZERO;
			break;
		}
		sp = cfa;
		pc = ra - 1;
		/* the caller's rule is likely a cache miss: start loading it */
		__builtin_prefetch(c->rules[(pc * 0x9e3779b97f4a7c15ull) >> (64 - UNWIND_CACHE_BITS)]);
	}
	/* the fresh frames go after the shared ones, root first */
	int base = joined + 1;
	for (int x = base; x < base + k; x++) {
		struct unwind_frame *f = &m[x];
		*f = st[base + k - 1 - x];
		f->bp_matters = f->end != END_RULE && (f->uses_bp || (!f->bp_at && x > 0 && f[-1].bp_matters));
		f->check_bp = f->bp_at && x > 0 && f[-1].bp_matters;
		set_check(&c->check[x], f, x > 0 ? f - 1 : NULL);
	}
	c->memo_n = (uint32_t)(base + k);
	c->memo_own = (uint32_t)own;
	c->memo_hi = hi;
	*fresh = (uint32_t)base;
	return cut;
}

#else

void unwind_forget(void)
{
}

int unwind_walk(struct kh_caches *c, uint32_t *fresh)
{
	(void)fresh;
	c->memo_n = 0;
	return -1;
}

#endif
