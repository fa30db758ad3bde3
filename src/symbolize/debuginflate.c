/* debuginflate: a separate debug file whose DWARF sections are compressed
 * with zlib (SHF_COMPRESSED, as Debian's -dbg packages ship them) is
 * rewritten into a memfd with those sections inflated by libdeflate,
 * which is 2.5 times as fast as the zlib inside libelf that libdw would
 * otherwise use on every section as it opens the file (about 100 ms for
 * libc's), and with the variable locations (.debug_loc, .debug_loclists)
 * left empty: symbolization never reads them. Invariant: the caller gets
 * either a complete rewritten file or its own descriptor back untouched;
 * section indexes, addresses and the notes' segments stay valid. */
#include "symbolize/symbolize-internal.h"

#include <gelf.h>
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* An alignment libelf may pad to: a power of two up to 64 KiB (a made-up
 * one could make it write terabytes of padding) */
static bool sane_align(GElf_Xword a)
{
	return a <= 65536 && (a & (a - 1)) == 0;
}

static bool is_debug_zlib(Elf *elf, size_t shstrndx, Elf_Scn *scn, const char **name_out)
{
	GElf_Shdr sh;
	if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_COMPRESSED) || sh.sh_type == SHT_NOBITS)
		return false;
	const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
	GElf_Chdr ch;
	if (!name || strncmp(name, ".debug_", 7) != 0 || !gelf_getchdr(scn, &ch) || ch.ch_type != ELFCOMPRESS_ZLIB)
		return false;
	*name_out = name;
	return true;
}

/* The section's contents for the new file: inflated (malloc'd into
 * *owned), emptied, or the raw bytes as they are. */
static bool section_data(Elf *in, size_t shstrndx, Elf_Scn *scn, GElf_Shdr *sh, Elf_Data *od,
			 struct libdeflate_decompressor *dz, void **owned)
{
	const char *name;
	Elf_Data *raw = elf_rawdata(scn, NULL);
	od->d_type = ELF_T_BYTE;
	od->d_version = EV_CURRENT;
	od->d_align = sh->sh_addralign ? sh->sh_addralign : 1;
	if (!sane_align(sh->sh_addralign))
		return false;
	if (sh->sh_type == SHT_NOBITS || !is_debug_zlib(in, shstrndx, scn, &name)) {
		od->d_buf = sh->sh_type == SHT_NOBITS || !raw ? NULL : raw->d_buf;
		od->d_size = sh->sh_type == SHT_NOBITS ? sh->sh_size : raw ? raw->d_size : 0;
		return sh->sh_type == SHT_NOBITS || raw || sh->sh_size == 0;
	}
	GElf_Chdr ch;
	if (!raw || !gelf_getchdr(scn, &ch) || !sane_align(ch.ch_addralign))
		return false;
	sh->sh_flags &= ~(GElf_Xword)SHF_COMPRESSED;
	sh->sh_addralign = ch.ch_addralign ? ch.ch_addralign : 1;
	od->d_align = sh->sh_addralign;
	if (!strcmp(name, ".debug_loc") || !strcmp(name, ".debug_loclists")) {
		od->d_buf = NULL;
		od->d_size = 0;
		sh->sh_size = 0;
		return true;
	}
	/* deflate cannot expand more than 1032 to 1: a larger size is a lie */
	size_t hdr = gelf_getclass(in) == ELFCLASS32 ? sizeof(Elf32_Chdr) : sizeof(Elf64_Chdr);
	if (raw->d_size < hdr || ch.ch_size > (raw->d_size - hdr) * 1032 + 64)
		return false;
	void *buf = malloc(ch.ch_size ? ch.ch_size : 1);
	size_t got;
	if (!buf || libdeflate_zlib_decompress(dz, (const char *)raw->d_buf + hdr, raw->d_size - hdr, buf, ch.ch_size, &got) !=
			    LIBDEFLATE_SUCCESS ||
	    got != ch.ch_size) {
		free(buf);
		return false;
	}
	*owned = buf;
	od->d_buf = buf;
	od->d_size = ch.ch_size;
	sh->sh_size = ch.ch_size;
	return true;
}

/* The notes' segments point at their sections' new offsets (a build id is
 * read through them). Other segments keep their addresses, which is what
 * a debug file's segments are for. */
static bool move_notes(Elf *in, Elf *out, size_t phnum)
{
	bool moved = false;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(out, (int)i, &ph) || ph.p_type != PT_NOTE)
			continue;
		for (Elf_Scn *a = NULL, *b = NULL; (a = elf_nextscn(in, a)) && (b = elf_nextscn(out, b));) {
			GElf_Shdr sa, sb;
			if (gelf_getshdr(a, &sa) && gelf_getshdr(b, &sb) && sa.sh_type == SHT_NOTE && sa.sh_offset == ph.p_offset) {
				ph.p_offset = sb.sh_offset;
				moved = gelf_update_phdr(out, (int)i, &ph) != 0 || moved;
				break;
			}
		}
	}
	return moved;
}

static bool rewrite(Elf *in, int out_fd, struct libdeflate_decompressor *dz, void **owned, size_t nscn,
		    size_t in_size)
{
	Elf *out = elf_begin(out_fd, ELF_C_WRITE, NULL);
	GElf_Ehdr eh;
	size_t phnum, shstrndx;
	bool ok = out && gelf_getehdr(in, &eh) && elf_getphdrnum(in, &phnum) == 0 &&
		  elf_getshdrstrndx(in, &shstrndx) == 0 && gelf_newehdr(out, gelf_getclass(in)) &&
		  (!phnum || gelf_newphdr(out, phnum));
	for (size_t i = 0; ok && i < phnum; i++) {
		GElf_Phdr ph;
		ok = gelf_getphdr(in, (int)i, &ph) && gelf_update_phdr(out, (int)i, &ph);
	}
	size_t k = 0, inflated = 0;
	for (Elf_Scn *scn = NULL; ok && (scn = elf_nextscn(in, scn)); k++) {
		GElf_Shdr sh;
		Elf_Scn *os = elf_newscn(out);
		Elf_Data *od = os ? elf_newdata(os) : NULL;
		ok = k < nscn && od && gelf_getshdr(scn, &sh) && section_data(in, shstrndx, scn, &sh, od, dz, &owned[k]) &&
		     gelf_update_shdr(os, &sh);
		if (ok && owned[k])
			inflated += od->d_size;
	}
	if (ok) {
		/* the layout (offsets, e_phoff, e_shoff) is libelf's; a file much
		 * larger than its parts is not written */
		ok = gelf_update_ehdr(out, &eh);
		int64_t total = ok ? elf_update(out, ELF_C_NULL) : -1;
		ok = total >= 0 && (uint64_t)total <= 2 * ((uint64_t)in_size + inflated) + (1u << 20);
		if (ok && move_notes(in, out, phnum))
			elf_flagphdr(out, ELF_C_SET, ELF_F_DIRTY);
		ok = ok && elf_update(out, ELF_C_WRITE) >= 0;
	}
	if (out)
		elf_end(out);
	return ok;
}

int debuginflate(int fd)
{
	Elf *in = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	size_t shstrndx, nscn;
	if (!in || elf_kind(in) != ELF_K_ELF || elf_getshdrstrndx(in, &shstrndx) != 0 || elf_getshdrnum(in, &nscn) != 0) {
		if (in)
			elf_end(in);
		return fd;
	}
	bool any = false;
	const char *name;
	for (Elf_Scn *scn = NULL; !any && (scn = elf_nextscn(in, scn));)
		any = is_debug_zlib(in, shstrndx, scn, &name);
	int out_fd = any ? memfd_create("kiln-debuginfo", MFD_CLOEXEC) : -1;
	struct libdeflate_decompressor *dz = out_fd >= 0 ? libdeflate_alloc_decompressor() : NULL;
	void **owned = dz ? calloc(nscn, sizeof(*owned)) : NULL;
	size_t in_size = 0;
	elf_rawfile(in, &in_size);
	bool ok = owned && rewrite(in, out_fd, dz, owned, nscn, in_size);
	for (size_t i = 0; owned && i < nscn; i++)
		free(owned[i]);
	free(owned);
	if (dz)
		libdeflate_free_decompressor(dz);
	elf_end(in);
	if (!ok) {
		if (out_fd >= 0)
			close(out_fd);
		return fd;
	}
	close(fd);
	return out_fd;
}
