/* unwind: DWARF CFI unwinding of perf user-stack samples with libdwfl,
 * one Dwfl per process whose modules are re-reported only when the
 * process's mappings changed; frame-pointer walking within the stack
 * copy takes over where CFI is missing. Invariant: memory is read only
 * from the sample's stack copy or from mapped files, never from a live
 * process, so results do not depend on whether it still runs. */
#include "symbolize/symbolize-internal.h"

#include <dwarf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

/* perf's packed order for SYMBOLIZER_REGS_MASK: AX BX CX DX SI DI BP SP
 * IP FLAGS CS SS R8..R15. */
enum { PR_AX, PR_BX, PR_CX, PR_DX, PR_SI, PR_DI, PR_BP, PR_SP, PR_IP, PR_FLAGS, PR_CS, PR_SS, PR_R8 };

static pid_t tid_of(const struct symproc *p)
{
	return p->pid > 0 ? p->pid : 1;
}

static pid_t cb_next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	(void)dwfl;
	if (*thread_argp)
		return 0;
	*thread_argp = arg;
	return tid_of(arg);
}

static bool cb_get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	(void)dwfl;
	(void)tid;
	*thread_argp = arg;
	return true;
}

static bool stack_word(const struct symproc *p, uint64_t addr, uint64_t *out)
{
	if (!p->stack || addr < p->stack_lo || addr - p->stack_lo > p->stack_len ||
	    p->stack_len - (addr - p->stack_lo) < 8)
		return false;
	memcpy(out, p->stack + (addr - p->stack_lo), 8);
	return true;
}

static bool cb_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	(void)dwfl;
	struct symproc *p = arg;
	uint64_t v;
	if (stack_word(p, addr, &v)) {
		*result = v;
		return true;
	}
	/* Not on the copied stack: maybe a constant in a mapped file. */
	const struct addrmap *m = symproc_find(p, addr);
	if (m && module_read_word(p->s, m->mod, addr - m->bias, &v)) {
		*result = v;
		return true;
	}
	/* libdwfl takes a return address it cannot read for the end of the
	 * stack. When the read was just above the copy, the copy was too
	 * short: remember the frame so the walk counts as cut. A copy that
	 * ends on a page boundary stopped at the top of the stack mapping
	 * (perf copies until it faults), so nothing lies above it. */
	uint64_t end = p->stack_lo + p->stack_len;
	if (p->frames_so_far && addr >= end && addr - end < (1u << 20) && (end & 4095) != 0)
		p->read_failed_at = *p->frames_so_far;
	return false;
}

static bool cb_set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	const struct symproc *p = arg;
	const uint64_t *r = p->regs;
	Dwarf_Word dw[17] = {
		r[PR_AX], r[PR_DX], r[PR_CX], r[PR_BX], r[PR_SI], r[PR_DI], r[PR_BP], r[PR_SP],
		r[PR_R8], r[PR_R8 + 1], r[PR_R8 + 2], r[PR_R8 + 3], r[PR_R8 + 4], r[PR_R8 + 5],
		r[PR_R8 + 6], r[PR_R8 + 7], r[PR_IP],
	};
	if (!dwfl_thread_state_registers(thread, 0, 17, dw))
		return false;
	dwfl_thread_state_register_pc(thread, r[PR_IP]);
	return true;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = cb_next_thread,
	.get_thread = cb_get_thread,
	.memory_read = cb_memory_read,
	.set_initial_registers = cb_set_initial_registers,
};

void unwind_proc_release(struct symproc *p)
{
	if (p->dwfl)
		dwfl_end(p->dwfl);
	p->dwfl = NULL;
	p->attached = false;
	p->dwfl_gen = 0;
	free(p->reported);
	p->reported = NULL;
	p->nreported = 0;
}

/* Reports mod at bias to p's Dwfl. A module reported last time at the
 * same place is kept with dwfl_report_module (libdwfl's dwfl_report_elf
 * refuses a file it already holds and would drop it); new ones are
 * opened. Records what was reported in p->reported[*n]. */
static void report_module(struct symbolizer *s, struct symproc *p, struct symmodule *mod,
			  uint64_t bias, struct reported_module *out, size_t *n)
{
	for (size_t i = 0; i < p->nreported; i++) {
		const struct reported_module *r = &p->reported[i];
		if (r->mod == mod && r->bias == bias) {
			if (dwfl_report_module(p->dwfl, mod->path, r->start, r->end))
				out[(*n)++] = *r;
			return;
		}
	}
	const char *file = mod->path;
	char vpath[64];
	if (mod->kind == MODULE_VDSO) {
		if (!vdso_path(s, vpath, sizeof(vpath)))
			return;
		file = vpath;
	}
	/* Overlapping or unreadable modules are left out; their frames fall
	 * back to frame pointers. */
	Dwfl_Module *dm = dwfl_report_elf(p->dwfl, mod->path, file, -1, bias, true);
	debuginfo_claim(s, dm);
	Dwarf_Addr start, end;
	if (dm && dwfl_module_info(dm, NULL, &start, &end, NULL, NULL, NULL, NULL))
		out[(*n)++] = (struct reported_module){mod, bias, start, end};
}

/* Brings p's Dwfl up to date with its maps; false if unusable. */
static bool proc_dwfl(struct symbolizer *s, struct symproc *p)
{
	if (p->dwfl && p->dwfl_gen == p->gen && p->attached)
		return true;
	if (!p->dwfl) {
		p->dwfl = dwfl_begin(&s->dwfl_cb);
		if (!p->dwfl)
			return false;
		p->attached = false;
		p->nreported = 0;
	}
	struct reported_module *now = xcalloc(p->nmaps + 1, sizeof(*now));
	size_t n = 0;
	dwfl_report_begin(p->dwfl);
	for (size_t i = 0; i < p->nmaps; i++) {
		struct symmodule *mod = p->maps[i].mod;
		if (mod->kind == MODULE_ELF ? !mod->elf_ok : mod->kind != MODULE_VDSO)
			continue;
		bool seen = false;
		for (size_t j = 0; j < n && !seen; j++)
			seen = now[j].mod == mod;
		if (!seen)
			report_module(s, p, mod, p->maps[i].bias, now, &n);
	}
	dwfl_report_end(p->dwfl, NULL, NULL);
	free(p->reported);
	p->reported = now;
	p->nreported = n;
	p->dwfl_gen = p->gen;
	/* The architecture comes from a fixed x86_64 ELF header: left to
	 * choose, libdwfl may take it from any module. */
	if (!p->attached && s->x86_64_elf)
		p->attached =
			dwfl_attach_state(p->dwfl, s->x86_64_elf, tid_of(p), &thread_callbacks, p);
	return p->attached;
}

struct unwind_out {
	uint64_t *ips;
	size_t n, max;
	bool full;
	bool bp_known;
	uint64_t bp; /* rbp of the last frame, for the frame-pointer fallback */
};

static int frame_cb(Dwfl_Frame *f, void *arg)
{
	struct unwind_out *o = arg;
	Dwarf_Addr pc;
	if (!dwfl_frame_pc(f, &pc, NULL))
		return DWARF_CB_ABORT;
	if (o->n >= o->max) {
		o->full = true;
		return DWARF_CB_ABORT;
	}
	o->ips[o->n++] = pc;
	Dwarf_Word bp;
	o->bp_known = dwfl_frame_reg(f, 6, &bp) == 0;
	o->bp = bp;
	return DWARF_CB_OK;
}

/* Follows the rbp chain from bp. Returns true only when it ended cleanly:
 * after at least one frame, at a zero frame pointer (code without frame
 * pointers often leaves rbp zero, so a zero at the start proves nothing);
 * false when it left the stack copy or went the wrong way. */
static bool fp_walk(const struct symproc *p, uint64_t bp, struct unwind_out *o)
{
	size_t added = 0;
	while (o->n < o->max) {
		if (bp == 0)
			return added > 0;
		uint64_t next, ret;
		if (!stack_word(p, bp, &next) || !stack_word(p, bp + 8, &ret) || ret == 0)
			return false;
		o->ips[o->n++] = ret;
		added++;
		if (next != 0 && next <= bp)
			return false;
		bp = next;
	}
	o->full = true;
	return false;
}

int symbolizer_unwind(struct symbolizer *s, int pid, const uint64_t *regs, const void *stack,
		      size_t stack_len, uint64_t *ips, size_t max, size_t *n, bool *truncated)
{
	if (!s || !regs || !ips || !n || !truncated || (!stack && stack_len))
		return -EINVAL;
	if (max == 0) {
		*n = 0;
		*truncated = true;
		return 0;
	}
	s->stats.unwinds++;
	struct symproc *p = symproc_get(s, pid, true);
	p->s = s;
	p->regs = regs;
	p->stack = stack;
	p->stack_lo = regs[PR_SP];
	p->stack_len = stack_len;

	struct unwind_out o = {.ips = ips, .max = max};
	p->frames_so_far = &o.n;
	p->read_failed_at = SIZE_MAX;
	bool clean = false;
	int rc = -1;
	if (proc_dwfl(s, p))
		rc = dwfl_getthread_frames(p->dwfl, tid_of(p), frame_cb, &o);
	if (rc == 0) {
		/* A read that failed while unwinding the last frame ended the
		 * walk: the stack copy was too short. */
		clean = p->read_failed_at != o.n;
	} else if (!o.full && o.n > 0 && o.bp_known && o.bp == 0 && p->read_failed_at != o.n &&
		   symproc_find(p, ips[o.n - 1] - (o.n > 1))) {
		/* CFI stopped in known code whose frame pointer is zero: the
		 * ABI's mark of the outermost frame (ld.so's _start has no
		 * CFI and starts with rbp = 0). */
		clean = true;
	} else if (!o.full) {
		if (o.n == 0) { /* not even the first frame: start from the registers */
			ips[o.n++] = regs[PR_IP];
			o.bp_known = true;
			o.bp = regs[PR_BP];
		}
		if (o.bp_known)
			clean = fp_walk(p, o.bp, &o);
	}
	p->regs = NULL;
	p->frames_so_far = NULL;
	p->stack = NULL;
	p->stack_len = 0;
	*n = o.n;
	*truncated = !clean;
	if (!clean)
		s->stats.unwind_truncated++;
	return 0;
}
