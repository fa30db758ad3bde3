/* modules: HT_MODULE records for every executable mapping of every loaded
 * object (path, address range, file offset, GNU build id), from
 * dl_iterate_phdr at start, when a stack shows an unknown address, and when
 * the loader's load/unload counters move (checked by the flush thread).
 * An unload (dlclose, or the counters) also drops the unwinder's rules.
 * Invariant: mlock is never held while calling into the loader, and each
 * (start, end, path) is reported once per trace. */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "base/hash.h"
#include "base/heaptrace.h"
#include "heap/heap.h"

#define MAX_MODS 4096

struct mod {
	uint64_t start, end, key;
};

static struct mod mods[MAX_MODS];
static int nmods;
static atomic_int mlock;
uint64_t kh_self_start, kh_self_end;
static _Atomic unsigned long long seen_adds, seen_subs;

int modules_knows(uint64_t ip)
{
	int r = 0;
	spin_lock(&mlock);
	for (int i = 0; i < nmods && !r; i++)
		r = ip >= mods[i].start && ip < mods[i].end;
	spin_unlock(&mlock);
	return r;
}

static size_t build_id(struct dl_phdr_info *info, uint8_t *out, size_t cap)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		const uint8_t *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			ElfW(Nhdr) nh;
			memcpy(&nh, p, sizeof nh);
			const uint8_t *name = p + sizeof nh;
			const uint8_t *desc = name + ((nh.n_namesz + 3) & ~3u);
			const uint8_t *next = desc + ((nh.n_descsz + 3) & ~3u);
			if (next > end)
				break;
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
			    nh.n_descsz <= cap) {
				memcpy(out, desc, nh.n_descsz);
				return nh.n_descsz;
			}
			p = next;
		}
	}
	return 0;
}

static int scan_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	int *index = arg;
	int is_main = (*index)++ == 0;
	atomic_store(&seen_adds, info->dlpi_adds);
	atomic_store(&seen_subs, info->dlpi_subs);
	char exe[4096];
	const char *path = info->dlpi_name ? info->dlpi_name : "";
	if (!*path && is_main) {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		exe[n > 0 ? n : 0] = 0;
		path = exe;
	}
	size_t plen = strnlen(path, 4000);
	uint64_t phash = hash_bytes(path, plen);
	uint8_t bid[64];
	size_t blen = (size_t)-1;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uint64_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
		if ((uint64_t)(uintptr_t)&modules_scan >= start && (uint64_t)(uintptr_t)&modules_scan < end) {
			kh_self_start = start;
			kh_self_end = end;
		}
		spin_lock(&mlock);
		int known = 0;
		for (int j = 0; j < nmods && !known; j++)
			known = mods[j].start == start && mods[j].end == end && mods[j].key == phash;
		if (known || nmods == MAX_MODS) {
			spin_unlock(&mlock);
			continue;
		}
		int id = ++nmods;
		mods[id - 1] = (struct mod){start, end, phash};
		if (blen == (size_t)-1)
			blen = build_id(info, bid, sizeof bid);
		uint8_t rec[4200], *w = rec;
		*w++ = HEAPTRACE_HEAD(HT_MODULE);
		w = put_v(w, (uint64_t)id);
		w = put_v(w, start);
		w = put_v(w, end);
		w = put_v(w, ph->p_offset);
		w = put_v(w, plen);
		memcpy(w, path, plen);
		w += plen;
		w = put_v(w, blen);
		memcpy(w, bid, blen);
		w += blen;
		meta_append(rec, (size_t)(w - rec));
		spin_unlock(&mlock);
	}
	return 0;
}

void modules_scan(void)
{
	int index = 0;
	dl_iterate_phdr(scan_one, &index);
}

static int counters(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	int *changed = arg;
	*changed = (info->dlpi_adds != atomic_load(&seen_adds)) | (info->dlpi_subs != atomic_load(&seen_subs)) << 1;
	return 1;
}

void modules_check(void)
{
	int changed = 0;
	dl_iterate_phdr(counters, &changed);
	if (changed & 2)
		unwind_forget();
	if (changed)
		modules_scan();
}

/* Code may be unmapped, and other code mapped at its addresses: the
 * unwinder's cached rules go. */
EXPORT int dlclose(void *handle)
{
	static int (*real)(void *);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "dlclose");
	int rc = real(handle);
	unwind_forget();
	return rc;
}

void modules_reset(void)
{
	mlock = 0;
	nmods = 0;
}

void modules_fork_lock(void)
{
	spin_lock(&mlock);
}

void modules_fork_unlock(void)
{
	spin_unlock(&mlock);
}
