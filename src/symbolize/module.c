/* module: the table of mapped files (path, build id) and the ELF facts
 * kiln needs about each: type, PT_LOAD segments (file offset -> vaddr)
 * and build id. Invariant: one module per distinct (path, build id); its
 * id never changes and modules are freed only by symbolizer_free(). */
#include "symbolize/symbolize-internal.h"

#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/hash.h"
#include "base/xalloc.h"

static char *hex_of(const unsigned char *b, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *h = xmalloc(len * 2 + 1);
	for (size_t i = 0; i < len; i++) {
		h[2 * i] = digits[b[i] >> 4];
		h[2 * i + 1] = digits[b[i] & 15];
	}
	h[len * 2] = '\0';
	return h;
}

/* Reads type, PT_LOADs and build id of the ELF file at path. */
static void module_read_elf(struct symmodule *m)
{
	int fd = open(m->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	GElf_Ehdr eh;
	size_t phnum;
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    elf_getphdrnum(elf, &phnum) != 0)
		goto out;
	m->e_type = eh.e_type;
	for (size_t i = 0; i < phnum && m->nloads < MODULE_MAX_LOADS; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		struct module_load *l = &m->loads[m->nloads++];
		l->offset = ph.p_offset;
		l->vaddr = ph.p_vaddr;
		l->filesz = ph.p_filesz;
		l->align = ph.p_align > 1 ? ph.p_align : 4096;
	}
	const void *bid;
	ssize_t bid_len = dwelf_elf_gnu_build_id(elf, &bid);
	if (!m->build_id && bid_len > 0)
		m->build_id = hex_of(bid, (size_t)bid_len);
	m->elf_ok = true;
out:
	elf_end(elf);
	close(fd);
}

static enum module_kind kind_of(const char *path)
{
	if (path[0] == '/' && strncmp(path, "//anon", 6) != 0 && strncmp(path, "/memfd:", 7) != 0 &&
	    strncmp(path, "/dev/zero", 9) != 0 && strncmp(path, "/SYSV", 5) != 0)
		return MODULE_ELF;
	if (strcmp(path, "[vdso]") == 0)
		return MODULE_VDSO;
	if (path[0] == '[' && strncmp(path, "[anon", 5) != 0 && strcmp(path, "[heap]") != 0 &&
	    strncmp(path, "[stack", 6) != 0)
		return MODULE_OTHER;
	return MODULE_ANON;
}

struct symmodule *module_get(struct symbolizer *s, const char *path, const unsigned char *build_id,
			     size_t build_id_len)
{
	size_t plen = strlen(path);
	/* "/usr/bin/x (deleted)": the file may have been replaced; use the name. */
	static const char deleted[] = " (deleted)";
	if (plen > sizeof(deleted) - 1 && strcmp(path + plen - (sizeof(deleted) - 1), deleted) == 0)
		plen -= sizeof(deleted) - 1;
	uint64_t kp = hash_bytes(path, plen);
	uint64_t kb = build_id_len ? hash_bytes(build_id, build_id_len) | 1 : 0;
	struct symmodule *m = keymap_get(&s->module_index, kp, kb);
	if (m && strlen(m->path) == plen && memcmp(m->path, path, plen) == 0)
		return m;

	m = xcalloc(1, sizeof(*m));
	m->path = xmemdup(path, plen);
	m->kind = kind_of(m->path);
	m->fd = -1;
	if (build_id_len)
		m->build_id = hex_of(build_id, build_id_len);
	if (m->kind == MODULE_ELF) {
		module_read_elf(m);
		if (!build_id_len && m->build_id) {
			/* The same file may already be known by its build id. */
			size_t blen = strlen(m->build_id) / 2;
			unsigned char raw[64];
			for (size_t i = 0; i < blen && i < sizeof(raw); i++) {
				unsigned hi = (unsigned)(m->build_id[2 * i] <= '9' ? m->build_id[2 * i] - '0'
										 : m->build_id[2 * i] - 'a' + 10);
				unsigned lo = (unsigned)(m->build_id[2 * i + 1] <= '9'
								 ? m->build_id[2 * i + 1] - '0'
								 : m->build_id[2 * i + 1] - 'a' + 10);
				raw[i] = (unsigned char)(hi << 4 | lo);
			}
			if (blen <= sizeof(raw)) {
				uint64_t kb2 = hash_bytes(raw, blen) | 1;
				struct symmodule *same = keymap_get(&s->module_index, kp, kb2);
				if (same && strcmp(same->path, m->path) == 0) {
					module_free(m);
					keymap_put(&s->module_index, kp, 0, same);
					return same;
				}
				keymap_put(&s->module_index, kp, kb2, m);
			}
		}
	}
	s->modules = xgrow(s->modules, sizeof(*s->modules), s->nmodules + 1, &s->modules_cap);
	s->modules[s->nmodules++] = m;
	m->id = (uint32_t)s->nmodules;
	keymap_put(&s->module_index, kp, kb, m);
	s->stats.modules++;
	return m;
}

/* The PT_LOAD whose page-aligned file range holds off, or NULL. */
static const struct module_load *load_of(const struct symmodule *m, uint64_t off)
{
	for (size_t i = 0; i < m->nloads; i++) {
		const struct module_load *l = &m->loads[i];
		uint64_t lo = l->offset & ~(l->align - 1);
		if (off >= lo && off < l->offset + l->filesz)
			return l;
	}
	return NULL;
}

uint64_t module_bias(const struct symmodule *mod, uint64_t start, uint64_t pgoff)
{
	if (mod->kind == MODULE_VDSO)
		return start; /* the image is mapped from its first byte */
	if (mod->kind != MODULE_ELF || !mod->elf_ok)
		return start - pgoff;
	if (mod->e_type == ET_EXEC)
		return 0;
	const struct module_load *l = load_of(mod, pgoff);
	if (!l)
		return start - pgoff;
	/* vaddr and file offset of a segment are congruent modulo the page,
	 * so vaddr(off) = off - p_offset + p_vaddr holds at the map start. */
	return start - (pgoff - l->offset + l->vaddr);
}

int module_open_fd(struct symbolizer *s, struct symmodule *mod)
{
	if (mod->kind == MODULE_VDSO)
		return vdso_fd(s) >= 0 ? fcntl(vdso_fd(s), F_DUPFD_CLOEXEC, 0) : -1;
	if (mod->kind != MODULE_ELF || !mod->elf_ok)
		return -1;
	return open(mod->path, O_RDONLY | O_CLOEXEC);
}

bool module_read_word(struct symbolizer *s, struct symmodule *mod, uint64_t vaddr, uint64_t *out)
{
	if (!mod->fd_tried) {
		mod->fd_tried = true;
		mod->fd = module_open_fd(s, mod);
	}
	if (mod->fd < 0)
		return false;
	uint64_t off = vaddr;
	if (mod->kind == MODULE_ELF) {
		bool found = false;
		for (size_t i = 0; i < mod->nloads; i++) {
			const struct module_load *l = &mod->loads[i];
			if (vaddr >= l->vaddr && vaddr + 8 <= l->vaddr + l->filesz) {
				off = vaddr - l->vaddr + l->offset;
				found = true;
				break;
			}
		}
		if (!found)
			return false;
	}
	return pread(mod->fd, out, 8, (off_t)off) == 8;
}

void module_free(struct symmodule *mod)
{
	if (!mod)
		return;
	if (mod->dwfl)
		dwfl_end(mod->dwfl);
	if (mod->fd >= 0)
		close(mod->fd);
	free(mod->path);
	free(mod->build_id);
	free(mod->cu_ranges);
	free(mod->elfsyms);
	dwarfscopes_release(mod);
	free(mod);
}
