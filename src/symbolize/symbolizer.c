/* symbolizer: the public entry points of src/symbolize/ that are not
 * about mappings or unwinding: life cycle, address lookup with its
 * cache, and statistics. Invariant: every (module, call-site address) is
 * resolved once; later lookups return the cached frames, whose strings
 * live in s->strings until symbolizer_free(). */
#include "symbolize/symbolize-internal.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hash.h"
#include "base/xalloc.h"

#define KERNEL_START 0xffff800000000000ULL

struct symbolizer *symbolizer_new(const struct symbolizer_options *o, int *err)
{
	if (elf_version(EV_CURRENT) == EV_NONE) {
		if (err)
			*err = KILN_ERR_FORMAT;
		return NULL;
	}
	struct symbolizer *s = xcalloc(1, sizeof(*s));
	if (o)
		s->opt = *o;
	/* libdwfl's search path: the file's own directory, its .debug/, then
	 * the debug root (which is also searched by build id). */
	const char *root = s->opt.debug_dir ? s->opt.debug_dir : "/usr/lib/debug";
	size_t len = strlen(root);
	s->debuginfo_path = xmalloc(len + sizeof(":.debug:"));
	memcpy(s->debuginfo_path, ":.debug:", sizeof(":.debug:") - 1);
	memcpy(s->debuginfo_path + sizeof(":.debug:") - 1, root, len + 1);
	s->debug_root = s->debuginfo_path + sizeof(":.debug:") - 1;
	s->opt.debug_dir = NULL; /* not owned; the path above holds it */
	s->dwfl_cb.find_elf = dwfl_linux_proc_find_elf;
	/* libdwfl's standard search ends in debuginfod, whose client it loads
	 * (libcurl and a dozen libraries) as soon as a module has no local
	 * debug info, servers named or not */
	const char *urls = getenv("DEBUGINFOD_URLS");
	s->dwfl_cb.find_debuginfo =
		s->opt.no_debuginfod || !urls || !*urls ? debuginfo_find_local : dwfl_standard_find_debuginfo;
	s->dwfl_cb.section_address = dwfl_offline_section_address;
	s->dwfl_cb.debuginfo_path = &s->debuginfo_path;
	s->vdso_memfd = -1;
	Elf64_Ehdr eh = {.e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB,
				     EV_CURRENT},
			 .e_type = ET_CORE,
			 .e_machine = EM_X86_64,
			 .e_version = EV_CURRENT,
			 .e_ehsize = sizeof(Elf64_Ehdr)};
	memcpy(s->x86_64_ehdr, &eh, sizeof(eh));
	s->x86_64_elf = elf_memory((char *)s->x86_64_ehdr, sizeof(eh));
	return s;
}

void symbolizer_free(struct symbolizer *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->procs.cap; i++)
		if (s->procs.slots[i].val)
			symproc_free(s->procs.slots[i].val);
	keymap_release(&s->procs);
	for (size_t i = 0; i < s->nmodules; i++)
		module_free(s->modules[i]);
	free(s->modules);
	keymap_release(&s->module_index);
	keymap_release(&s->cache);
	keymap_release(&s->string_index);
	kallsyms_release(s);
	vdso_release(s);
	if (s->x86_64_elf)
		elf_end(s->x86_64_elf);
	arena_release(&s->strings);
	free(s->debuginfo_path);
	free(s);
}

const char *sym_strdup(struct symbolizer *s, const char *str)
{
	if (!str)
		return NULL;
	size_t len = strlen(str);
	uint64_t h = hash_bytes(str, len);
	const char *hit = keymap_get(&s->string_index, h, len);
	if (hit && memcmp(hit, str, len) == 0)
		return hit;
	char *copy = arena_memdup(&s->strings, str, len);
	if (!hit)
		keymap_put(&s->string_index, h, len, copy);
	return copy;
}

/* One frame with only a function name (or none), for kernel, JIT and
 * special mappings; cached under (k1, k2). */
static struct cached_loc *name_only(struct symbolizer *s, uint64_t k1, uint64_t k2,
				    const char *function)
{
	struct cached_loc *c = keymap_get(&s->cache, k1, k2);
	if (c) {
		s->stats.cache_hits++;
		return c;
	}
	c = arena_alloc(&s->strings, sizeof(*c));
	struct sym_frame *f = arena_alloc(&s->strings, sizeof(*f));
	f->function = function;
	f->file = NULL;
	f->line = 0;
	c->frames = f;
	c->nframes = 1;
	keymap_put(&s->cache, k1, k2, c);
	return c;
}

static int lookup_kernel(struct symbolizer *s, uint64_t addr, uint64_t look,
			 struct sym_location *out)
{
	if (!s->kernel_mod) {
		s->kernel_mod = module_get(s, "[kernel.kallsyms]", NULL, 0);
		s->kernel_mod->kind = MODULE_KERNEL;
	}
	uint64_t sym_addr = 0;
	const char *name = kallsyms_lookup(s, look, &sym_addr);
	struct cached_loc *c = name_only(s, s->kernel_mod->id, sym_addr, name);
	out->frames = c->frames;
	out->nframes = c->nframes;
	out->module_id = s->kernel_mod->id;
	out->module = s->kernel_mod->path;
	out->map_start = KERNEL_START;
	out->map_limit = UINT64_MAX;
	out->rel_addr = addr;
	out->kernel = true;
	return 0;
}

int symbolizer_lookup(struct symbolizer *s, int pid, uint64_t addr, bool is_return_address,
		      struct sym_location *out)
{
	if (!s || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	s->stats.lookups++;
	uint64_t look = is_return_address && addr ? addr - 1 : addr;
	if (addr >= KERNEL_START)
		return lookup_kernel(s, addr, look, out);
	struct symproc *p = symproc_get(s, pid, false);
	const struct addrmap *m = p ? symproc_find(p, look) : NULL;
	if (!m) {
		/* JIT code whose mapping was never seen may still be named. */
		const char *jit = p || pid > 0 ? perfmap_lookup(s, symproc_get(s, pid, true), look)
					       : NULL;
		if (!jit)
			return -ENOENT;
		struct cached_loc *c = name_only(s, 1ULL << 63 | (uint32_t)pid, look, jit);
		out->frames = c->frames;
		out->nframes = c->nframes;
		out->module = "[jit]";
		out->rel_addr = addr;
		return 0;
	}
	struct symmodule *mod = m->mod;
	out->module_id = mod->id;
	out->module = mod->kind == MODULE_ANON ? "[jit]" : mod->path;
	out->build_id = mod->build_id;
	out->map_start = m->start;
	out->map_limit = m->end;
	out->map_offset = m->pgoff;
	out->rel_addr = addr - m->bias;
	struct cached_loc *c;
	switch (mod->kind) {
	case MODULE_ANON:
		c = name_only(s, 1ULL << 63 | (uint32_t)pid, look, perfmap_lookup(s, p, look));
		break;
	case MODULE_ELF:
	case MODULE_VDSO:
		c = keymap_get(&s->cache, mod->id, look - m->bias);
		if (c) {
			s->stats.cache_hits++;
			break;
		}
		c = arena_alloc(&s->strings, sizeof(*c));
		c->nframes = dwarfsym_resolve(s, mod, look - m->bias, &c->frames);
		keymap_put(&s->cache, mod->id, look - m->bias, c);
		break;
	default:
		c = name_only(s, mod->id, 0, NULL);
		break;
	}
	out->frames = c->frames;
	out->nframes = c->nframes;
	return 0;
}

void symbolizer_get_stats(const struct symbolizer *s, struct symbolizer_stats *st)
{
	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	if (s)
		*st = s->stats;
}
