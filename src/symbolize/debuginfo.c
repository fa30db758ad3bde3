/* debuginfo: finds a module's separate debug info on this machine only:
 * by build id under the debug root, then by its .gnu_debuglink beside the
 * file, in the file's .debug/ and under the debug root, as libdwfl's
 * standard search does, but without its last resort, the debuginfod
 * client: dwfl_standard_find_debuginfo loads libdebuginfod (libcurl and a
 * dozen more libraries) whenever a module has no local debug info, and
 * with DEBUGINFOD_URLS set it asks servers over the network. Invariant: a
 * debuglink candidate is taken only when its build id is the module's,
 * or, when the module has none, when its CRC-32 is the link's. */
#include "symbolize/symbolize-internal.h"

#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* CRC-32 of the whole file (the checksum .gnu_debuglink records) */
static bool file_crc32(int fd, uint32_t *out)
{
	unsigned char buf[1 << 16];
	uint32_t crc = 0;
	off_t at = 0;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof buf, at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		if (n == 0)
			break;
		crc = libdeflate_crc32(crc, buf, (size_t)n);
		at += n;
	}
	*out = crc;
	return true;
}

static bool same_build_id(int fd, const void *bits, int len)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return false;
	const void *theirs;
	ssize_t n = dwelf_elf_gnu_build_id(elf, &theirs);
	bool same = n == len && memcmp(theirs, bits, (size_t)len) == 0;
	elf_end(elf);
	return same;
}

/* The debug file path names for this module, or -1. */
static int open_matching(const char *path, const char *module_file, const void *bits, int bits_len, GElf_Word crc)
{
	struct stat a, b;
	if (stat(path, &a) != 0 || !S_ISREG(a.st_mode))
		return -1;
	if (stat(module_file, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return -1; /* the link names the module itself */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	uint32_t c;
	bool ok = bits_len > 0 ? same_build_id(fd, bits, bits_len) : file_crc32(fd, &c) && c == crc;
	if (!ok) {
		close(fd);
		return -1;
	}
	return fd;
}

/* root/.build-id/xx/yyyy.debug, when it carries the build id */
static int open_by_build_id(const char *root, const unsigned char *bits, int len, char **name)
{
	char path[4096];
	int n = snprintf(path, sizeof path, "%s/.build-id/", root);
	if (len < 2 || n < 0 || (size_t)n + 2 * (size_t)len + 8 > sizeof path)
		return -1;
	for (int i = 0; i < len; i++)
		n += sprintf(path + n, i == 1 ? "/%02x" : "%02x", bits[i]);
	strcpy(path + n, ".debug");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char *copy = same_build_id(fd, bits, len) ? strdup(path) : NULL;
	if (!copy) {
		close(fd);
		return -1;
	}
	*name = copy;
	return fd;
}

static int inflate_counted(struct symbolizer *s, int fd)
{
	int out = debuginflate(fd);
	if (s && out != fd)
		s->stats.debug_inflated++;
	return out;
}

int debuginfo_find_local(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
			 const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
			 char **debuginfo_file_name)
{
	(void)modname;
	(void)base;
	struct symbolizer *s = userdata ? *userdata : NULL;
	const char *root = s && s->debug_root ? s->debug_root : "/usr/lib/debug";
	const unsigned char *bits = NULL;
	GElf_Addr vaddr;
	int bits_len = dwfl_module_build_id(mod, &bits, &vaddr);
	if (bits_len < 0)
		bits_len = 0;
	/* not dwfl_build_id_find_debuginfo: it opens the file into the module
	 * itself, so the descriptor returned here would not be the one used */
	int fd = bits_len ? open_by_build_id(root, bits, bits_len, debuginfo_file_name) : -1;
	if (fd >= 0)
		return inflate_counted(s, fd);
	if (!debuglink_file || !file_name || strchr(debuglink_file, '/'))
		return -1;
	const char *slash = strrchr(file_name, '/');
	int dir_len = slash ? (int)(slash - file_name) : 0;
	const char *dir = slash ? file_name : ".";
	if (!slash)
		dir_len = 1;
	char path[4096];
	const char *const forms[] = {"%.*s/%s", "%.*s/.debug/%s", "%s%.*s/%s"};
	for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
		int n;
		if (i < 2)
			n = snprintf(path, sizeof path, forms[i], dir_len, dir, debuglink_file);
		else if (slash && file_name[0] == '/')
			n = snprintf(path, sizeof path, forms[i], root, dir_len, dir, debuglink_file);
		else
			continue;
		if (n < 0 || (size_t)n >= sizeof path)
			continue;
		fd = open_matching(path, file_name, bits, bits_len, debuglink_crc);
		if (fd >= 0) {
			char *copy = strdup(path);
			if (!copy) {
				close(fd);
				return -1;
			}
			*debuginfo_file_name = copy;
			return inflate_counted(s, fd);
		}
	}
	return -1;
}
