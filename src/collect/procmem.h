/* procmem: a process's memory as the kernel reports it: /proc/PID/status,
 * statm, stat, smaps_rollup and smaps, its memory cgroup (v1 or v2), PSI
 * memory pressure and /proc/meminfo; parsers of each file and a sampler.
 * Invariant: a field is only ever set together with its PROCMEM_* bit in
 * `have`; a metric the kernel did not give is absent, never a zero. */
#ifndef KILN_COLLECT_PROCMEM_H
#define KILN_COLLECT_PROCMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One bit per metric of struct procmem_sample. */
enum procmem_metric {
	PROCMEM_RSS, PROCMEM_ANON, PROCMEM_FILE, PROCMEM_SHMEM, PROCMEM_PSS, PROCMEM_VSS,
	PROCMEM_DATA, PROCMEM_STACK, PROCMEM_TEXT, PROCMEM_LIBS, PROCMEM_SWAP, PROCMEM_HWM,
	PROCMEM_HEAP, PROCMEM_MINFLT, PROCMEM_MAJFLT, PROCMEM_THREADS,
	PROCMEM_CG_USAGE, PROCMEM_CG_LIMIT, PROCMEM_PSI_SOME, PROCMEM_PSI_FULL,
	PROCMEM_MEM_TOTAL, PROCMEM_MEM_AVAILABLE,
	PROCMEM_NMETRICS
};
#define PROCMEM_BIT(m) (1u << (m))

/* Sizes are bytes; faults are counts since the process started (the
 * kernel's sum over the process's threads, live and exited); cg_limit is
 * UINT64_MAX for "no limit"; psi_* are the avg10 percentages. */
struct procmem_sample {
	double t; /* seconds since sampling began */
	uint64_t rss, rss_anon, rss_file, rss_shmem, pss, vss;
	uint64_t data, stack, text, libs, swap, hwm;
	uint64_t heap; /* Rss of [heap] plus anonymous private mappings (smaps) */
	uint64_t minflt, majflt, threads;
	uint64_t cg_usage, cg_limit;
	double psi_some, psi_full;
	uint64_t mem_total, mem_available;
	char state; /* from status "State:", 0 when unknown */
	unsigned have; /* PROCMEM_BIT(metric) for each metric found */
};

/* Parsers of one file's text (NUL-terminated). Each sets the fields (and
 * bits) it finds and leaves the others alone; a line it does not know is
 * skipped. Return 0, or KILN_ERR_FORMAT when nothing usable was found. */
int procmem_parse_status(const char *text, struct procmem_sample *s);
/* statm counts pages; fills rss, vss, text and data only where status did not. */
int procmem_parse_statm(const char *text, long page_size, struct procmem_sample *s);
/* Pss, and Swap / Rss / Anonymous where status did not give them. */
int procmem_parse_smaps_rollup(const char *text, struct procmem_sample *s);
/* minflt and majflt (fields 10 and 12 after the command name). */
int procmem_parse_stat(const char *text, struct procmem_sample *s);
/* MemTotal and MemAvailable. */
int procmem_parse_meminfo(const char *text, struct procmem_sample *s);

/* PSI ("some avg10=0.12 avg60=..." / "full ..."). */
struct procmem_psi {
	double some10, some60, full10, full60;
	bool have_some, have_full;
};
int procmem_parse_pressure(const char *text, struct procmem_psi *p);

/* /proc/PID/cgroup: the v2 path ("0::/a/b") and the path in the v1
 * hierarchy holding the memory controller. Sets *v1 and *v2 to malloc'd
 * strings (NULL when absent); returns 0 or KILN_ERR_FORMAT when neither. */
int procmem_parse_cgroup(const char *text, char **v1, char **v2);
/* /proc/self/mountinfo: where the cgroup2 hierarchy and the v1 memory
 * hierarchy are mounted and which cgroup is their root. Each out string is
 * malloc'd or NULL. Returns 0. */
struct procmem_mounts {
	char *v1_dir, *v1_root; /* mount point and root of the v1 memory hierarchy */
	char *v2_dir, *v2_root; /* same for cgroup2 */
};
int procmem_parse_mountinfo(const char *text, struct procmem_mounts *m);
void procmem_mounts_release(struct procmem_mounts *m);
/* A cgroup file holding a byte count, "max" (v2) or a v1 "unlimited"
 * (at least 2^62): sets *v (UINT64_MAX for no limit). Returns 0 or
 * KILN_ERR_FORMAT. */
int procmem_parse_cgroup_value(const char *text, uint64_t *v);

/* One mapping of /proc/PID/smaps. */
struct procmem_map {
	uint64_t start, end;
	char perms[5];
	char *name; /* the path or [heap], [stack], [anon:x]...; "" for anonymous */
	uint64_t rss, pss, swap, anon; /* bytes */
};
struct procmem_thread {
	pid_t tid;
	uint64_t sp; /* stack pointer, 0 when the kernel did not tell */
	char comm[17];
};
struct procmem_maps {
	struct procmem_map *maps;
	size_t n, cap;
	struct procmem_thread *threads;
	size_t nthreads, threads_cap;
};
/* Parses smaps text into m (replacing what it held). Returns 0 or
 * KILN_ERR_FORMAT when a mapping line is malformed. */
int procmem_parse_smaps(const char *text, struct procmem_maps *m);
/* /proc/PID/task/TID/syscall: "NR args... SP PC", "-1 SP PC" or
 * "running". Sets *sp and returns 0, or returns KILN_ERR_FORMAT. */
int procmem_parse_syscall_sp(const char *text, uint64_t *sp);
/* Rss of [heap] and of anonymous private mappings ("" or [anon:...]). */
uint64_t procmem_maps_heap(const struct procmem_maps *m);
void procmem_maps_release(struct procmem_maps *m);

/* --breakdown: memory by component, summed over mappings. */
enum procmem_kind {
	PROCMEM_K_LIB,          /* a shared library: path matches *.so or *.so.N */
	PROCMEM_K_FILE,         /* other file mappings: the executable, data files, memfd */
	PROCMEM_K_HEAP,         /* [heap] */
	PROCMEM_K_STACK,        /* [stack]: the main thread's */
	PROCMEM_K_THREAD_STACK, /* a thread's stack: holds the thread's stack pointer,
				   or (without one) an anonymous mapping right above a
				   guard page, as glibc lays out pthread stacks */
	PROCMEM_K_ANON,         /* other anonymous mappings (malloc arenas, mmap) */
	PROCMEM_K_SPECIAL,      /* [vdso], [vvar], [vsyscall] and the like */
};
extern const char *const procmem_kind_names[];
struct procmem_part {
	char *name;
	enum procmem_kind kind;
	uint64_t rss, pss, swap, size; /* bytes */
	unsigned nmaps;
};
struct procmem_breakdown {
	struct procmem_part *parts; /* sorted by rss, largest first, then name */
	size_t n;
	uint64_t rss; /* the sum over parts */
	bool stacks_by_sp; /* thread stacks were found from stack pointers */
};
/* Groups m's mappings into parts (thread stacks from m->threads). */
void procmem_breakdown_build(const struct procmem_maps *m, struct procmem_breakdown *b);
void procmem_breakdown_release(struct procmem_breakdown *b);

/* The sampler of one process. */
struct procmem {
	pid_t pid;
	char *cg_dir;     /* the process's memory cgroup directory, NULL if none */
	char *cg_top;     /* its hierarchy's mount point (limits are looked up to here) */
	int cg_version;   /* 1, 2, or 0 */
	char *psi_path;   /* memory.pressure of the cgroup, else /proc/pressure/memory */
	long page_size;
	unsigned failed;  /* PROCMEM_BIT of metrics that could not be read at least once */
};
/* Looks up pid and its cgroup. Returns 0, -ESRCH when there is no such
 * process, or another -errno. */
int procmem_open(struct procmem *pm, pid_t pid);
/* Takes one sample at time t. With want_heap, reads smaps for the heap
 * column; with maps non-NULL, also keeps the parsed smaps and the threads'
 * stack pointers there. Returns 0 (metrics that cannot be read are left
 * out of s->have), or -ESRCH when the process is gone or a zombie. */
int procmem_sample(struct procmem *pm, double t, bool want_heap, struct procmem_maps *maps,
		   struct procmem_sample *s);
void procmem_release(struct procmem *pm);

/* Reads a whole (small, /proc-like) file into a malloc'd NUL-terminated
 * string. Returns 0 or -errno. */
int procmem_read_file(const char *path, char **text, size_t *len);

#endif
