/* fuzz-debuginflate: libFuzzer harness for the rewriting of compressed
 * debug files (src/symbolize/debuginflate.c). The input is the file, in a
 * memfd: debuginflate must give back either the descriptor it was given
 * or a new one whose ELF libelf reads, with no section compressed by zlib
 * left and every other section's bytes as they were. */
#include <gelf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "symbolize/symbolize-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_output(int fd)
{
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF)
		abort(); /* what debuginflate wrote must be an ELF file */
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e, scn));) {
		GElf_Shdr sh;
		GElf_Chdr ch;
		if (!gelf_getshdr(scn, &sh))
			abort();
		if ((sh.sh_flags & SHF_COMPRESSED) && gelf_getchdr(scn, &ch) && ch.ch_type == ELFCOMPRESS_ZLIB &&
		    sh.sh_type != SHT_NOBITS) {
			size_t shstrndx;
			const char *name = elf_getshdrstrndx(e, &shstrndx) == 0 ? elf_strptr(e, shstrndx, sh.sh_name) : NULL;
			if (name && !strncmp(name, ".debug_", 7))
				abort(); /* a zlib debug section was left compressed */
		}
	}
	elf_end(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	elf_version(EV_CURRENT);
	int fd = memfd_create("fuzz-debuginflate", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	int out = debuginflate(fd);
	if (out != fd)
		check_output(out);
	close(out);
	return 0;
}
