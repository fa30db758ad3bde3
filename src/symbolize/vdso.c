/* vdso: the kernel's vdso image, copied once from kiln's own address
 * space (getauxval(AT_SYSINFO_EHDR)) into a memfd so libdwfl can read its
 * symbols and CFI like any file. Invariant: the image is read at most
 * once; every 64-bit process on this kernel maps the same vdso. */
#include "symbolize/symbolize-internal.h"

#include <elf.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

/* Size of the ELF image at base: the end of its section headers or of its
 * last PT_LOAD file bytes, whichever is further. */
static size_t image_size(const Elf64_Ehdr *eh)
{
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return 0;
	size_t size = (size_t)eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)((const char *)eh + eh->e_phoff);
	for (unsigned i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset + ph[i].p_filesz > size)
			size = (size_t)(ph[i].p_offset + ph[i].p_filesz);
	return size <= (64u << 20) ? size : 0;
}

int vdso_fd(struct symbolizer *s)
{
	if (s->vdso_tried)
		return s->vdso_memfd;
	s->vdso_tried = true;
	s->vdso_memfd = -1;
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
	size_t size = eh ? image_size(eh) : 0;
	if (!size)
		return -1;
	int fd = memfd_create("kiln-vdso", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, eh, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	s->vdso_memfd = fd;
	return fd;
}

bool vdso_path(struct symbolizer *s, char *buf, size_t size)
{
	int fd = vdso_fd(s);
	if (fd < 0)
		return false;
	int n = snprintf(buf, size, "/proc/self/fd/%d", fd);
	return n > 0 && (size_t)n < size;
}

void vdso_release(struct symbolizer *s)
{
	if (s->vdso_tried && s->vdso_memfd >= 0)
		close(s->vdso_memfd);
	s->vdso_memfd = -1;
	s->vdso_tried = false;
}
