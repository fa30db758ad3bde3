/* test-symbolize: mappings (mmap, overlap, fork, exec), demangling, ELF
 * and DWARF symbolization (symbols, file:line, inlined frames, C++), JIT
 * maps, kernel and vdso frames, and CFI unwinding of a live stopped child
 * built without frame pointers (tests/symbolize/deep.c, compiled here). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "symbolize/symbolize.h"

static char tmpdir[64];
static char deep_src[4096];

/* ---- helpers ---- */

static int run(const char *cmd)
{
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* The line of deep.c holding "MARK:<name>". */
static int mark_line(const char *name)
{
	FILE *f = fopen(deep_src, "r");
	assert_non_null(f);
	char line[512], want[64];
	snprintf(want, sizeof(want), "MARK:%s ", name);
	int n = 0, found = 0;
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (strstr(line, want)) {
			found = n;
			break;
		}
	}
	fclose(f);
	assert_int_not_equal(found, 0);
	return found;
}

/* Address and size of symbol name in binary, from nm -S. */
static bool nm_symbol(const char *binary, const char *name, uint64_t *addr, uint64_t *size)
{
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "nm -S '%s'", binary);
	FILE *p = popen(cmd, "r");
	if (!p)
		return false;
	char line[1024];
	bool ok = false;
	while (fgets(line, sizeof(line), p)) {
		uint64_t a, sz;
		char type, sym[900];
		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %c %899s", &a, &sz, &type, sym) == 4 &&
		    strcmp(sym, name) == 0) {
			*addr = a;
			*size = sz;
			ok = true;
		}
	}
	pclose(p);
	return ok;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static struct symbolizer *new_symbolizer(void)
{
	int err = 0;
	struct symbolizer *s = symbolizer_new(NULL, &err);
	assert_non_null(s);
	return s;
}

/* Builds tests/symbolize/deep.c into tmpdir/deep (once). */
static const char *deep_binary(void)
{
	static char path[128];
	if (!path[0]) {
		snprintf(path, sizeof(path), "%s/deep", tmpdir);
		char cmd[8192];
		snprintf(cmd, sizeof(cmd), "cc -O2 -g -fomit-frame-pointer -o '%s' '%s'", path,
			 deep_src);
		assert_int_equal(run(cmd), 0);
	}
	return path;
}

/* ---- mappings ---- */

static void test_mappings(void **state)
{
	(void)state;
	struct symbolizer *s = new_symbolizer();
	struct sym_location loc;
	const int pid = 4194000;
	assert_int_equal(symbolizer_lookup(s, pid, 0x1000, false, &loc), -ENOENT);
	assert_int_equal(loc.nframes, 0);
	assert_null(loc.module);

	assert_int_equal(symbolizer_mmap(s, pid, 0x10000, 0x40000, 0x2000, "/nonexistent/libx.so",
					 NULL, 0, true),
			 0);
	assert_int_equal(symbolizer_lookup(s, pid, 0x10000, false, &loc), 0);
	assert_string_equal(loc.module, "/nonexistent/libx.so");
	assert_int_equal(loc.nframes, 1);
	assert_null(loc.frames[0].function);
	assert_int_equal(loc.map_offset, 0x2000);
	uint32_t id = loc.module_id;
	assert_int_not_equal(id, 0);

	/* A data mapping over the middle punches a hole and splits the map. */
	assert_int_equal(symbolizer_mmap(s, pid, 0x20000, 0x1000, 0, "/dev/zero", NULL, 0, false), 0);
	assert_int_equal(symbolizer_lookup(s, pid, 0x20800, false, &loc), -ENOENT);
	assert_int_equal(symbolizer_lookup(s, pid, 0x21000, false, &loc), 0);
	assert_int_equal(loc.map_start, 0x21000);
	assert_int_equal(loc.map_limit, 0x50000);
	assert_int_equal(loc.map_offset, 0x2000 + 0x11000);
	assert_int_equal(loc.module_id, id);
	assert_int_equal(symbolizer_lookup(s, pid, 0x1ffff, false, &loc), 0);
	assert_int_equal(loc.map_limit, 0x20000);
	/* A return address at the very start of a map belongs before it. */
	assert_int_equal(symbolizer_lookup(s, pid, 0x10000, true, &loc), -ENOENT);

	/* fork copies, exec drops. */
	assert_int_equal(symbolizer_fork(s, pid, pid + 1), 0);
	assert_int_equal(symbolizer_lookup(s, pid + 1, 0x30000, false, &loc), 0);
	assert_int_equal(loc.module_id, id);
	symbolizer_exec(s, pid);
	assert_int_equal(symbolizer_lookup(s, pid, 0x30000, false, &loc), -ENOENT);
	assert_int_equal(symbolizer_lookup(s, pid + 1, 0x30000, false, &loc), 0);

	assert_int_equal(symbolizer_load_proc(s, -5), -ENOENT);
	assert_int_equal(symbolizer_mmap(NULL, 1, 0, 1, 0, "x", NULL, 0, true), -EINVAL);
	symbolizer_free(s);
	symbolizer_free(NULL);
}

/* ---- demangling ---- */

static void expect_demangle(const char *mangled, const char *want)
{
	char *d = symbolizer_demangle(mangled);
	if (!want) {
		assert_null(d);
		return;
	}
	assert_non_null(d);
	assert_string_equal(d, want);
	free(d);
}

static void test_demangle(void **state)
{
	(void)state;
	expect_demangle("_ZN3foo3barEi", "foo::bar(int)");
	expect_demangle("_ZNK2ns6Widget4spinEv", "ns::Widget::spin() const");
	/* Rust legacy: the hash is dropped. */
	expect_demangle("_ZN4core3fmt5write17h0123456789abcdefE", "core::fmt::write");
	/* Rust v0. */
	expect_demangle("_RNvCs1234_7mycrate3foo", "mycrate::foo");
	expect_demangle("_RNvNtCs1234_7mycrate6module4func", "mycrate::module::func");
	expect_demangle("main", NULL);
	expect_demangle("_Zgarbage", NULL);
	expect_demangle(NULL, NULL);
}

/* ---- ELF and DWARF symbolization without a live process ---- */

/* Maps all of binary at start (file offset 0) in a fake process. */
static void map_whole(struct symbolizer *s, int pid, uint64_t start, const char *binary)
{
	struct stat st;
	assert_int_equal(stat(binary, &st), 0);
	uint64_t len = ((uint64_t)st.st_size + 0xfffff) & ~0xfffffULL;
	assert_int_equal(symbolizer_mmap(s, pid, start, len, 0, binary, NULL, 0, true), 0);
}

static void test_symbols_pie(void **state)
{
	(void)state;
	const char *bin = deep_binary();
	uint64_t addr, size;
	assert_true(nm_symbol(bin, "recurse", &addr, &size));
	struct symbolizer *s = new_symbolizer();
	const int pid = 4194001;
	const uint64_t base = 0x555555554000ULL;
	map_whole(s, pid, base, bin);
	struct sym_location loc;
	assert_int_equal(symbolizer_lookup(s, pid, base + addr + 4, false, &loc), 0);
	assert_int_equal(loc.rel_addr, addr + 4);
	assert_string_equal(loc.module, bin);
	assert_non_null(loc.build_id);
	assert_int_equal(loc.nframes, 1);
	assert_string_equal(loc.frames[0].function, "recurse");
	assert_non_null(loc.frames[0].file);
	assert_true(ends_with(loc.frames[0].file, "deep.c"));
	assert_true(loc.frames[0].line > 0);

	/* Cached: the same strings come back. */
	struct symbolizer_stats st;
	symbolizer_get_stats(s, &st);
	unsigned long hits = st.cache_hits;
	struct sym_location again;
	assert_int_equal(symbolizer_lookup(s, pid, base + addr + 4, false, &again), 0);
	assert_ptr_equal(again.frames, loc.frames);
	symbolizer_get_stats(s, &st);
	assert_int_equal(st.cache_hits, hits + 1);

	/* main's known line. */
	uint64_t maddr, msize;
	assert_true(nm_symbol(bin, "main", &maddr, &msize));
	assert_int_equal(symbolizer_lookup(s, pid, base + maddr, false, &loc), 0);
	assert_string_equal(loc.frames[loc.nframes - 1].function, "main");
	symbolizer_free(s);
}

/* Every sized function symbol (nm) names the middle of its own body; an
 * address in .plt, after the sizeless _init's section, names no function
 * (a sorted symbol table must stop a sizeless symbol at its section). */
static void test_symbols_every_function(void **state)
{
	(void)state;
	const char *bin = deep_binary();
	struct symbolizer *s = new_symbolizer();
	const int pid = 4194003;
	const uint64_t base = 0x555555554000ULL;
	map_whole(s, pid, base, bin);
	char cmd[8192], line[1024];
	snprintf(cmd, sizeof(cmd), "nm -S --defined-only '%s'", bin);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	int checked = 0;
	while (fgets(line, sizeof(line), p)) {
		uint64_t a, sz;
		char type, sym[900];
		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %c %899s", &a, &sz, &type, sym) != 4 ||
		    (type != 'T' && type != 't') || sz < 2)
			continue;
		struct sym_location loc;
		assert_int_equal(symbolizer_lookup(s, pid, base + a + sz / 2, false, &loc), 0);
		assert_true(loc.nframes >= 1);
		if (!loc.frames[loc.nframes - 1].function || strcmp(loc.frames[loc.nframes - 1].function, sym))
			fail_msg("%s at +%" PRIx64 ": got '%s'", sym, sz / 2, loc.frames[loc.nframes - 1].function);
		checked++;
	}
	pclose(p);
	assert_true(checked >= 3);
	snprintf(cmd, sizeof(cmd), "readelf -SW '%s'", bin);
	p = popen(cmd, "r");
	assert_non_null(p);
	uint64_t plt = 0;
	while (fgets(line, sizeof(line), p)) {
		char *at = strstr(line, " .plt ");
		if (at && sscanf(at, " .plt %*s %" SCNx64, &plt) == 1)
			break;
	}
	pclose(p);
	if (plt) {
		struct sym_location loc;
		assert_int_equal(symbolizer_lookup(s, pid, base + plt + 2, false, &loc), 0);
		const char *f = loc.nframes ? loc.frames[loc.nframes - 1].function : NULL;
		if (f && !strcmp(f, "_init"))
			fail_msg(".plt+2 named _init");
	}
	symbolizer_free(s);
}

static void test_symbols_exec_and_cxx(void **state)
{
	(void)state;
	char src[128], bin[128], cmd[1024];
	/* A non-PIE (ET_EXEC) C program: addresses are absolute. */
	snprintf(src, sizeof(src), "%s/plain.c", tmpdir);
	snprintf(bin, sizeof(bin), "%s/plain", tmpdir);
	FILE *f = fopen(src, "w");
	assert_non_null(f);
	fputs("volatile int v;\n"
	      "__attribute__((noinline)) void spin_plain(int n) { while (n--) v++; }\n"
	      "int main(void) { spin_plain(3); return 0; }\n",
	      f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cc -O2 -g -no-pie -fno-pie -o '%s' '%s'", bin, src);
	assert_int_equal(run(cmd), 0);
	uint64_t addr, size;
	assert_true(nm_symbol(bin, "spin_plain", &addr, &size));
	struct symbolizer *s = new_symbolizer();
	const int pid = 4194002;
	map_whole(s, pid, addr & ~0xfffffULL, bin);
	struct sym_location loc;
	assert_int_equal(symbolizer_lookup(s, pid, addr + 1, false, &loc), 0);
	assert_int_equal(loc.rel_addr, addr + 1);
	assert_string_equal(loc.frames[loc.nframes - 1].function, "spin_plain");
	assert_int_equal(loc.frames[loc.nframes - 1].line, 2);

	if (run("command -v g++ >/dev/null 2>&1") != 0) {
		symbolizer_free(s);
		print_message("# g++ not found: C++ symbolization not tested\n");
		return;
	}
	snprintf(src, sizeof(src), "%s/widget.cc", tmpdir);
	snprintf(bin, sizeof(bin), "%s/widget", tmpdir);
	f = fopen(src, "w");
	assert_non_null(f);
	fputs("namespace ns { struct Widget { int n; int spin(int k) const; }; }\n"
	      "volatile int v;\n"
	      "__attribute__((noinline)) int ns::Widget::spin(int k) const { return v + n + k; }\n"
	      "int main() { ns::Widget w{1}; return w.spin(2); }\n",
	      f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "g++ -O2 -g -o '%s' '%s'", bin, src);
	assert_int_equal(run(cmd), 0);
	assert_true(nm_symbol(bin, "_ZNK2ns6Widget4spinEi", &addr, &size));
	const uint64_t base = 0x7f0000000000ULL;
	map_whole(s, pid + 1, base, bin);
	assert_int_equal(symbolizer_lookup(s, pid + 1, base + addr, false, &loc), 0);
	assert_string_equal(loc.frames[loc.nframes - 1].function, "ns::Widget::spin(int) const");
	assert_int_equal(loc.frames[loc.nframes - 1].line, 3);
	symbolizer_free(s);

	/* no_demangle keeps the mangled name. */
	struct symbolizer_options o = {.no_demangle = true};
	int err;
	s = symbolizer_new(&o, &err);
	assert_non_null(s);
	map_whole(s, pid + 1, base, bin);
	assert_int_equal(symbolizer_lookup(s, pid + 1, base + addr, false, &loc), 0);
	assert_string_equal(loc.frames[loc.nframes - 1].function, "_ZNK2ns6Widget4spinEi");
	symbolizer_free(s);
}

/* ---- JIT maps, kernel, vdso ---- */

static void test_jit_kernel_vdso(void **state)
{
	(void)state;
	struct symbolizer *s = new_symbolizer();
	const int pid = 4194003;
	char path[64];
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", pid);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("7f0000001000 100 jitted_one\n7f0000001100 80 _ZN3foo3barEi\nbogus line\n", f);
	fclose(f);
	assert_int_equal(symbolizer_mmap(s, pid, 0x7f0000000000ULL, 0x10000, 0, "//anon", NULL, 0,
					 true),
			 0);
	struct sym_location loc;
	assert_int_equal(symbolizer_lookup(s, pid, 0x7f0000001010ULL, false, &loc), 0);
	assert_string_equal(loc.module, "[jit]");
	assert_string_equal(loc.frames[0].function, "jitted_one");
	assert_int_equal(symbolizer_lookup(s, pid, 0x7f0000001100ULL, true, &loc), 0);
	assert_string_equal(loc.frames[0].function, "jitted_one"); /* call site is addr - 1 */
	assert_int_equal(symbolizer_lookup(s, pid, 0x7f0000001120ULL, false, &loc), 0);
	assert_string_equal(loc.frames[0].function, "foo::bar(int)");
	assert_int_equal(symbolizer_lookup(s, pid, 0x7f0000005000ULL, false, &loc), 0);
	assert_null(loc.frames[0].function);
	unlink(path);

	/* Kernel addresses: named when /proc/kallsyms shows addresses. */
	assert_int_equal(symbolizer_lookup(s, pid, 0xffffffff81000010ULL, false, &loc), 0);
	assert_true(loc.kernel);
	assert_string_equal(loc.module, "[kernel.kallsyms]");
	assert_int_equal(loc.nframes, 1);
	if (!loc.frames[0].function)
		print_message("# kernel symbols hidden (kptr_restrict): [kernel.kallsyms] only\n");

	/* Our own vdso, through /proc/self/maps. */
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
	if (eh) {
		assert_int_equal(symbolizer_load_proc(s, getpid()), 0);
		/* clock_gettime's address, from the vdso's .dynsym */
		const char *img = (const char *)eh;
		const Elf64_Shdr *sh = (const Elf64_Shdr *)(img + eh->e_shoff);
		uint64_t fn = 0;
		for (unsigned i = 0; i < eh->e_shnum; i++) {
			if (sh[i].sh_type != SHT_DYNSYM)
				continue;
			const Elf64_Sym *sym = (const Elf64_Sym *)(img + sh[i].sh_offset);
			const char *str = img + sh[sh[i].sh_link].sh_offset;
			for (size_t k = 0; k < sh[i].sh_size / sizeof(*sym); k++)
				if (strcmp(str + sym[k].st_name, "__vdso_clock_gettime") == 0)
					fn = sym[k].st_value;
		}
		assert_int_not_equal(fn, 0);
		assert_int_equal(symbolizer_lookup(s, getpid(), (uint64_t)(uintptr_t)eh + fn + 1,
						   false, &loc),
				 0);
		assert_string_equal(loc.module, "[vdso]");
		assert_true(loc.nframes >= 1);
		assert_non_null(loc.frames[loc.nframes - 1].function);
		assert_string_equal(loc.frames[loc.nframes - 1].function, "__vdso_clock_gettime");
	}
	symbolizer_free(s);
}

/* ---- unwinding a stopped child ---- */

struct stopped {
	pid_t pid;
	uint64_t regs[SYMBOLIZER_NREGS];
	unsigned char *stack;
	size_t stack_len;
};

/* Starts deep with the given depth under ptrace and waits for its
 * SIGSTOP; false (child reaped) when ptrace is not permitted. */
static bool start_stopped(const char *bin, int depth, struct stopped *st)
{
	char arg[16];
	snprintf(arg, sizeof(arg), "%d", depth);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
			_exit(77);
		execl(bin, bin, arg, (char *)NULL);
		_exit(127);
	}
	int status;
	for (;;) {
		if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))
			return false;
		if (WSTOPSIG(status) == SIGSTOP)
			break;
		ptrace(PTRACE_CONT, pid, NULL, NULL); /* the exec's SIGTRAP */
	}
	struct user_regs_struct r;
	if (ptrace(PTRACE_GETREGS, pid, NULL, &r) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return false;
	}
	/* perf's order: AX BX CX DX SI DI BP SP IP FLAGS CS SS R8..R15 */
	uint64_t v[SYMBOLIZER_NREGS] = {r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp,
					 r.rsp, r.rip, r.eflags, r.cs, r.ss, r.r8, r.r9,
					 r.r10, r.r11, r.r12, r.r13, r.r14, r.r15};
	memcpy(st->regs, v, sizeof(v));
	st->pid = pid;
	st->stack = malloc(65536);
	char mem[64];
	snprintf(mem, sizeof(mem), "/proc/%d/mem", pid);
	int fd = open(mem, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = pread(fd, st->stack, 65536, (off_t)r.rsp);
	close(fd);
	assert_true(n > 0);
	st->stack_len = (size_t)n;
	return true;
}

static void stop_child(struct stopped *st)
{
	int status;
	kill(st->pid, SIGKILL);
	waitpid(st->pid, &status, 0);
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void test_unwind_deep(void **state)
{
	(void)state;
	const char *bin = deep_binary();
	struct stopped st;
	if (!start_stopped(bin, 50, &st)) {
		skip(); /* ptrace not permitted here */
		return;
	}
	struct symbolizer *s = new_symbolizer();
	assert_int_equal(symbolizer_load_proc(s, st.pid), 0);
	uint64_t ips[256];
	size_t n = 0;
	bool truncated = true;
	assert_int_equal(symbolizer_unwind(s, st.pid, st.regs, st.stack, st.stack_len, ips, 256, &n,
					   &truncated),
			 0);
	stop_child(&st); /* symbolization must not need the live process */
	assert_false(truncated);
	assert_true(n >= 53);
	assert_int_equal(ips[0], st.regs[8]);

	uint64_t raddr, rsize;
	assert_true(nm_symbol(bin, "recurse", &raddr, &rsize));
	int line_stop = mark_line("stop"), line_inline = mark_line("inline-call");
	int line_recurse = mark_line("recurse"), line_main = mark_line("main");
	size_t nrecurse = 0, i_inline = 0;
	bool saw_main = false, saw_start = false;
	for (size_t i = 0; i < n; i++) {
		struct sym_location loc;
		assert_int_equal(symbolizer_lookup(s, st.pid, ips[i], i > 0, &loc), 0);
		assert_true(loc.nframes >= 1);
		const struct sym_frame *outer = &loc.frames[loc.nframes - 1];
		const char *fn = outer->function ? outer->function : "?";
		if (strcmp(fn, "recurse") == 0) {
			assert_true(loc.rel_addr > raddr && loc.rel_addr <= raddr + rsize);
			if (loc.nframes == 2) { /* the inlined stop_here */
				assert_string_equal(loc.frames[0].function, "stop_here");
				assert_int_equal(loc.frames[0].line, line_stop);
				assert_int_equal(outer->line, line_inline);
				i_inline = i;
			} else {
				assert_int_equal(loc.nframes, 1);
				assert_int_equal(outer->line, line_recurse);
			}
			assert_true(ends_with(outer->file, "deep.c"));
			nrecurse++;
		} else if (strcmp(fn, "main") == 0) {
			assert_int_equal(nrecurse, 51);
			assert_int_equal(outer->line, line_main);
			saw_main = true;
		} else if (strcmp(fn, "_start") == 0) {
			saw_start = true;
		}
	}
	assert_int_not_equal(i_inline, 0);
	assert_int_equal(nrecurse, 51);
	assert_true(saw_main);
	assert_true(saw_start);

	/* A stack copy cut short: the walk stops, marked truncated. (A copy
	 * ending on a page boundary reads as the top of the stack.) */
	size_t cut = ((st.regs[7] + 512) & 4095) ? 512 : 520;
	assert_int_equal(symbolizer_unwind(s, st.pid, st.regs, st.stack, cut, ips, 256, &n,
					   &truncated),
			 0);
	assert_true(truncated);
	assert_true(n >= 1 && n < 53);
	/* max bounds the output. */
	assert_int_equal(symbolizer_unwind(s, st.pid, st.regs, st.stack, st.stack_len, ips, 10, &n,
					   &truncated),
			 0);
	assert_int_equal(n, 10);
	assert_true(truncated);
	free(st.stack);
	symbolizer_free(s);
}

/* Reports (does not assert) the cost of unwinding a ~20-frame stack. */
static void test_unwind_cost(void **state)
{
	(void)state;
	struct stopped st;
	if (!start_stopped(deep_binary(), 13, &st)) {
		skip();
		return;
	}
	struct symbolizer *s = new_symbolizer();
	assert_int_equal(symbolizer_load_proc(s, st.pid), 0);
	uint64_t ips[128];
	size_t n = 0;
	bool truncated;
	assert_int_equal(symbolizer_unwind(s, st.pid, st.regs, st.stack, st.stack_len, ips, 128, &n,
					   &truncated),
			 0);
	/* The best of 5 batches: the machine may be busy. */
	const int rounds = 500;
	double per = 1e9;
	for (int b = 0; b < 5; b++) {
		double t0 = now_us();
		for (int i = 0; i < rounds; i++)
			symbolizer_unwind(s, st.pid, st.regs, st.stack, st.stack_len, ips, 128, &n,
					  &truncated);
		double t = (now_us() - t0) / rounds;
		per = t < per ? t : per;
	}
	print_message("# unwind: %zu frames%s, %.1f us per sample (%.2f us per frame)\n", n,
		      truncated ? " (truncated)" : "", per, per / (double)n);
	assert_false(truncated);
	stop_child(&st);
	free(st.stack);
	symbolizer_free(s);
}

/* ---- unwinding real, frame-pointer-less programs sampled by perf ---- */

struct sampling {
	struct symbolizer *s;
	const char *exe; /* the program whose samples are counted */
	unsigned long samples, reached, frames;
	double unwind_us;
	bool verbose;
	int exe_pids[64]; /* processes that mapped exe */
	int nexe_pids;
};

static bool runs_exe(const struct sampling *sm, int pid)
{
	for (int i = 0; i < sm->nexe_pids; i++)
		if (sm->exe_pids[i] == pid)
			return true;
	return false;
}

static void on_sample(struct sampling *sm, const unsigned char *p, const unsigned char *end)
{
	uint32_t pid;
	memcpy(&pid, p + 8, 4); /* after ip */
	p += 16;
	uint64_t abi;
	memcpy(&abi, p, 8);
	p += 8;
	if (abi != PERF_SAMPLE_REGS_ABI_64)
		return;
	uint64_t regs[SYMBOLIZER_NREGS];
	memcpy(regs, p, sizeof(regs));
	p += sizeof(regs);
	uint64_t size;
	memcpy(&size, p, 8);
	p += 8;
	if (p + size + 8 > end)
		return;
	const unsigned char *stack = p;
	uint64_t dyn;
	memcpy(&dyn, p + size, 8);
	uint64_t ips[512];
	size_t n;
	bool truncated;
	if (!runs_exe(sm, (int)pid))
		return; /* the gcc driver, as, shells */
	double t0 = now_us();
	assert_int_equal(symbolizer_unwind(sm->s, (int)pid, regs, stack, dyn < size ? dyn : size, ips,
					   512, &n, &truncated),
			 0);
	sm->unwind_us += now_us() - t0;
	sm->samples++;
	sm->frames += n;
	/* Reached the end: CFI's outermost frame (_start, clone3) in the
	 * program, its dynamic loader or libc, and not cut short. */
	struct sym_location loc;
	bool ok = false;
	if (!truncated && symbolizer_lookup(sm->s, (int)pid, ips[n - 1], n > 1, &loc) == 0 &&
	    loc.module)
		ok = strcmp(loc.module, sm->exe) == 0 || strstr(loc.module, "/libc.so") ||
		     strstr(loc.module, "/ld-linux");
	if (ok)
		sm->reached++;
	if (sm->verbose && (!ok || sm->samples % 200 == 0)) {
		fprintf(stderr, "# %s sample (%zu frames%s):\n", ok ? "ok" : "CUT", n,
			truncated ? ", truncated" : "");
		for (size_t i = 0; i < n; i++) {
			int rc = symbolizer_lookup(sm->s, (int)pid, ips[i], i > 0, &loc);
			fprintf(stderr, "#   %#" PRIx64 " %s %s\n", ips[i],
				rc == 0 && loc.nframes && loc.frames[loc.nframes - 1].function
					? loc.frames[loc.nframes - 1].function
					: "?",
				rc == 0 && loc.module ? loc.module : "-");
		}
	}
}

static void on_record(struct sampling *sm, const unsigned char *rec, size_t len)
{
	struct perf_event_header h;
	memcpy(&h, rec, sizeof(h));
	const unsigned char *p = rec + sizeof(h), *end = rec + len;
	uint32_t pid, tid;
	switch (h.type) {
	case PERF_RECORD_MMAP2: {
		uint64_t addr, mlen, pgoff;
		uint32_t prot;
		memcpy(&pid, p, 4);
		memcpy(&addr, p + 8, 8);
		memcpy(&mlen, p + 16, 8);
		memcpy(&pgoff, p + 24, 8);
		memcpy(&prot, p + 56, 4);
		const char *name = (const char *)(p + 64);
		if (memchr(name, 0, (size_t)(end - (p + 64))) && strcmp(name, sm->exe) == 0 &&
		    !runs_exe(sm, (int)pid) && sm->nexe_pids < 64)
			sm->exe_pids[sm->nexe_pids++] = (int)pid;
		if (memchr(name, 0, (size_t)(end - (p + 64))))
			symbolizer_mmap(sm->s, (int)pid, addr, mlen, pgoff, name, NULL, 0,
					(prot & PROT_EXEC) != 0);
		break;
	}
	case PERF_RECORD_COMM:
		memcpy(&pid, p, 4);
		if (h.misc & PERF_RECORD_MISC_COMM_EXEC)
			symbolizer_exec(sm->s, (int)pid);
		break;
	case PERF_RECORD_FORK: {
		uint32_t ppid;
		memcpy(&pid, p, 4);
		memcpy(&ppid, p + 4, 4);
		memcpy(&tid, p + 12, 4);
		(void)tid;
		symbolizer_fork(sm->s, (int)ppid, (int)pid);
		break;
	}
	case PERF_RECORD_SAMPLE:
		on_sample(sm, p, end);
		break;
	default:
		break;
	}
}

static void drain(struct sampling *sm, struct perf_event_mmap_page *meta, unsigned char *data,
		  size_t size, unsigned char *rec)
{
	uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = meta->data_tail;
	while (tail < head) {
		struct perf_event_header h;
		for (size_t i = 0; i < sizeof(h); i++)
			((unsigned char *)&h)[i] = data[(tail + i) % size];
		if (h.size < sizeof(h))
			break;
		for (size_t i = 0; i < h.size; i++)
			rec[i] = data[(tail + i) % size];
		on_record(sm, rec, h.size);
		tail += h.size;
	}
	__atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
}

/* Runs argv under perf_event_open sampling (user regs and stack, with
 * inherit, like kiln record) and unwinds every sample. Returns false when
 * perf_event_open is not permitted. */
static bool sample_run(const char *const argv[], const char *exe, struct sampling *sm)
{
	int go[2];
	assert_int_equal(pipe(go), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(126);
		/* One CPU: its ring then holds every record in order. */
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
		sched_setaffinity(0, sizeof(one), &one);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(go[0]);
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_TASK_CLOCK;
	a.sample_period = 250000; /* ns of CPU time: 4 kHz */
	a.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_REGS_USER |
			PERF_SAMPLE_STACK_USER;
	a.sample_regs_user = SYMBOLIZER_REGS_MASK;
	a.sample_stack_user = 65528; /* the most perf allows */
	a.disabled = 1;
	a.enable_on_exec = 1;
	a.inherit = 1;
	a.mmap = 1;
	a.mmap2 = 1;
	a.comm = 1;
	a.comm_exec = 1;
	a.task = 1;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	a.watermark = 1;
	a.wakeup_watermark = 64 * 1024;
	/* inherit needs per-CPU events (the kernel refuses to mmap inherited
	 * per-task ones); all CPUs write into the first event's ring. */
	int fds[1024], nfds = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	for (long cpu = 0; cpu < ncpu && nfds < 1024; cpu++) {
		int fd = (int)syscall(SYS_perf_event_open, &a, pid, (int)cpu, -1,
				      PERF_FLAG_FD_CLOEXEC);
		if (fd >= 0)
			fds[nfds++] = fd;
	}
	if (nfds == 0) {
		int status;
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		close(go[1]);
		return false;
	}
	/* One ring per CPU, the largest perf_event_mlock_kb allows. */
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = 512;
	void *rings[1024];
	for (int i = 0; i < nfds; i++) {
		rings[i] = MAP_FAILED;
		while (rings[i] == MAP_FAILED && pages >= 8) {
			rings[i] = mmap(NULL, (pages + 1) * page, PROT_READ | PROT_WRITE, MAP_SHARED,
					fds[i], 0);
			if (rings[i] == MAP_FAILED)
				pages /= 2;
		}
		assert_true(rings[i] != MAP_FAILED);
	}
	unsigned char *rec = malloc(65536 + 4096);
	assert_int_equal(write(go[1], "g", 1), 1);
	close(go[1]);
	int status = 0;
	struct pollfd pfd[1024];
	for (int i = 0; i < nfds; i++)
		pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	for (bool done = false; !done;) {
		poll(pfd, (nfds_t)nfds, 10);
		done = waitpid(pid, &status, WNOHANG) == pid;
		for (int i = 0; i < nfds; i++)
			drain(sm, rings[i], (unsigned char *)rings[i] + page, pages * page, rec);
	}
	free(rec);
	for (int i = 0; i < nfds; i++) {
		munmap(rings[i], (pages + 1) * page);
		close(fds[i]);
	}
	(void)exe;
	return true;
}

static void check_program(const char *const argv[], const char *exe)
{
	int err;
	struct sampling sm = {.s = symbolizer_new(NULL, &err), .exe = exe,
			      .verbose = getenv("KILN_TEST_VERBOSE") != NULL};
	assert_non_null(sm.s);
	if (!sample_run(argv, exe, &sm)) {
		symbolizer_free(sm.s);
		print_message("# perf_event_open not permitted: %s not sampled\n", argv[0]);
		return;
	}
	double pct = sm.samples ? 100.0 * (double)sm.reached / (double)sm.samples : 0;
	print_message("# %s: %lu samples, %.1f%% reach the outermost frame, %.1f frames, "
		      "%.1f us per unwind\n",
		      exe, sm.samples, pct, sm.samples ? (double)sm.frames / (double)sm.samples : 0,
		      sm.samples ? sm.unwind_us / (double)sm.samples : 0);
	symbolizer_free(sm.s);
	if (sm.samples >= 20)
		assert_true(pct >= 95.0);
}

static void test_unwind_real_programs(void **state)
{
	(void)state;
	char data[128], csrc[128], obj[128], cmd[512];
	/* xz on 2 MB of a binary. */
	snprintf(data, sizeof(data), "%s/data", tmpdir);
	snprintf(cmd, sizeof(cmd), "head -c 2000000 /usr/bin/gcc-12 /usr/lib/x86_64-linux-gnu/libc.so.6 "
				   "/usr/bin/perl > '%s' 2>/dev/null", data);
	run(cmd);
	if (access("/usr/bin/xz", X_OK) == 0) {
		const char *const xz[] = {"/usr/bin/xz", "-6", "-T1", "-c", "-k", data, NULL};
		check_program(xz, "/usr/bin/xz");
	}
	char *py = realpath("/usr/bin/python3", NULL);
	if (py) {
		const char *const argv[] = {"/usr/bin/python3", "-c",
				      "def f(n): return n if n < 2 else f(n - 1) + f(n - 2)\n"
				      "print(f(30))",
				      NULL};
		check_program(argv, py);
		free(py);
	}
	/* gcc's cc1 (a child of the gcc driver) on a generated C file. */
	char *cc1 = NULL;
	FILE *pp = popen("gcc -print-prog-name=cc1", "r");
	char line[512];
	if (pp && fgets(line, sizeof(line), pp)) {
		line[strcspn(line, "\n")] = '\0';
		cc1 = realpath(line, NULL);
	}
	if (pp)
		pclose(pp);
	if (cc1) {
		snprintf(csrc, sizeof(csrc), "%s/gen.c", tmpdir);
		snprintf(obj, sizeof(obj), "%s/gen.o", tmpdir);
		FILE *f = fopen(csrc, "w");
		assert_non_null(f);
		for (int i = 0; i < 300; i++)
			fprintf(f,
				"int f%d(int *a, int n) { int s = 0; for (int i = 0; i < n; i++) "
				"{ switch (a[i] %% 7) { case 0: s += a[i] * %d; break; case 1: s ^= i; "
				"break; case 2: s -= a[i] >> 2; break; default: s += i * %d; } } "
				"return s; }\n",
				i, i + 3, i * 7 + 1);
		fclose(f);
		const char *const argv[] = {"/usr/bin/gcc", "-O2", "-c", "-o", obj, csrc, NULL};
		check_program(argv, cc1);
		free(cc1);
	}
}

/* ---- separate debug info, found on this machine only ---- */

/* Every frame (function file:line) of addr in bin, symbolized with debug
 * root root (NULL: the default) and never debuginfod; *inflated: how many
 * compressed debug files were inflated. */
static const char *frames_of(const char *bin, const char *root, uint64_t addr, char *out, size_t cap,
			     unsigned long *inflated)
{
	struct symbolizer_options o = {.debug_dir = root, .no_debuginfod = true};
	struct symbolizer *s = symbolizer_new(&o, NULL);
	assert_non_null(s);
	map_whole(s, 4194011, 0x555555554000ULL, bin);
	struct sym_location loc;
	size_t n = 0;
	out[0] = '\0';
	if (symbolizer_lookup(s, 4194011, 0x555555554000ULL + addr, false, &loc) == 0)
		for (size_t i = 0; i < loc.nframes && n < cap; i++)
			n += (size_t)snprintf(out + n, cap - n, "%s %s:%d; ", loc.frames[i].function ? loc.frames[i].function : "?",
					      loc.frames[i].file ? loc.frames[i].file : "?", loc.frames[i].line);
	struct symbolizer_stats st;
	symbolizer_get_stats(s, &st);
	*inflated = st.debug_inflated;
	symbolizer_free(s);
	return out;
}

/* The file of recurse's frame in bin, symbolized with debug root root (NULL:
 * the default) and never debuginfod; "" when there is none. */
static const char *file_of_recurse(const char *bin, const char *root, uint64_t addr, char *out, size_t cap)
{
	struct symbolizer_options o = {.debug_dir = root, .no_debuginfod = true};
	int err = 0;
	struct symbolizer *s = symbolizer_new(&o, &err);
	assert_non_null(s);
	const int pid = 4194009;
	const uint64_t base = 0x555555554000ULL;
	map_whole(s, pid, base, bin);
	struct sym_location loc;
	out[0] = '\0';
	if (symbolizer_lookup(s, pid, base + addr + 4, false, &loc) == 0 && loc.nframes > 0 && loc.frames[0].file)
		snprintf(out, cap, "%s", loc.frames[0].file);
	symbolizer_free(s);
	return out;
}

static bool maps_hold(const char *what)
{
	FILE *f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	char line[1024];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, what) != NULL;
	fclose(f);
	return found;
}

/* Runs the shell command what in dir; it must succeed. */
static void run_in(const char *dir, const char *what)
{
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "cd '%s' && %s", dir, what);
	assert_int_equal(run(cmd), 0);
}

/* Whether recurse (its address from dir/symbols) in dir/name gets a file
 * and line, deep.c's. */
static bool has_line(const char *dir, const char *name, const char *symbols, const char *root)
{
	char bin[512], file[1024];
	uint64_t addr, size;
	snprintf(bin, sizeof(bin), "%s/%s", dir, symbols);
	assert_true(nm_symbol(bin, "recurse", &addr, &size));
	snprintf(bin, sizeof(bin), "%s/%s", dir, name);
	return ends_with(file_of_recurse(bin, root, addr, file, sizeof(file)), "deep.c");
}

static void test_separate_debuginfo(void **state)
{
	(void)state;
	char cmd[8192], dir[256], root[300];
	snprintf(dir, sizeof(dir), "%s/split", tmpdir);
	snprintf(root, sizeof(root), "%s/root", dir);
	char *src = realpath(deep_src, NULL); /* the commands run in dir */
	assert_non_null(src);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p '%s/.debug' '%s' && cd '%s' && cc -O2 -g -Wl,--build-id -o full '%s' && "
		 "cc -O2 -g -Wl,--build-id=none -o nfull '%s'",
		 dir, root, dir, src, src);
	free(src);
	assert_int_equal(run(cmd), 0);
	/* with a build id: debug info beside the file, in its .debug/, by build
	 * id under a debug root; another program's under the same name is
	 * refused */
	run_in(dir, "objcopy --only-keep-debug full prog.dbg && objcopy --strip-debug --add-gnu-debuglink=prog.dbg full prog");
	assert_true(has_line(dir, "prog", "prog", NULL));
	run_in(dir, "mv prog.dbg .debug/prog.dbg");
	assert_true(has_line(dir, "prog", "prog", NULL));
	run_in(dir, "printf 'int main() { return 0; }\\n' > other.c && cc -g -o other other.c && "
		    "objcopy --only-keep-debug other prog.dbg && cp prog.dbg .debug/prog.dbg");
	assert_false(has_line(dir, "prog", "prog", NULL));
	run_in(dir, "id=$(readelf -n full | awk '/Build ID/ { print $3 }') && d=$(echo $id | cut -c1-2) && "
		    "mkdir -p root/.build-id/$d && objcopy --only-keep-debug full root/.build-id/$d/$(echo $id | cut -c3-).debug");
	assert_true(has_line(dir, "prog", "prog", root));
	/* zlib-compressed sections (as Debian's -dbg packages have) are
	 * inflated into a memfd: the same frames, inlined ones included, for
	 * every function */
	run_in(dir, "objcopy --only-keep-debug full plain.dbg && objcopy --compress-debug-sections=zlib plain.dbg zprog.dbg && "
		    "readelf -SW zprog.dbg | grep -q 'debug_info .* C ' && "
		    "objcopy --strip-debug --add-gnu-debuglink=plain.dbg full pprog && "
		    "objcopy --strip-debug --add-gnu-debuglink=zprog.dbg full zprog");
	{
		char full[300], pprog[300], zprog[300], a[4096], b[4096];
		snprintf(full, sizeof(full), "%s/full", dir);
		snprintf(pprog, sizeof(pprog), "%s/pprog", dir);
		snprintf(zprog, sizeof(zprog), "%s/zprog", dir);
		snprintf(cmd, sizeof(cmd), "nm '%s' | awk '$2 == \"t\" || $2 == \"T\" { print $1 }'", full);
		FILE *p = popen(cmd, "r");
		assert_non_null(p);
		unsigned long long at;
		int compared = 0, with_lines = 0;
		while (fscanf(p, "%llx", &at) == 1) {
			unsigned long inflated;
			frames_of(pprog, NULL, at + 1, a, sizeof(a), &inflated);
			assert_int_equal(inflated, 0);
			assert_string_equal(frames_of(zprog, NULL, at + 1, b, sizeof(b), &inflated), a);
			compared++;
			if (strstr(a, "deep.c:")) {
				with_lines++;
				assert_int_equal(inflated, 1);
			}
		}
		pclose(p);
		assert_true(compared >= 5);
		assert_int_equal(with_lines, 2); /* main and recurse; the rest is the C runtime's */
	}
	/* without a build id the link's CRC decides */
	run_in(dir, "objcopy --only-keep-debug nfull nprog.dbg && objcopy --strip-debug --add-gnu-debuglink=nprog.dbg nfull nprog");
	assert_true(has_line(dir, "nprog", "nprog", NULL));
	run_in(dir, "echo >> nprog.dbg");
	assert_false(has_line(dir, "nprog", "nprog", NULL));
	/* no symbol table nor debug info anywhere, a debuginfod server named:
	 * nothing is found, nothing is asked (t1200 checks that the agent
	 * loads no debuginfod client) */
	run_in(dir, "strip --strip-all -o bare full");
	setenv("DEBUGINFOD_URLS", "http://127.0.0.1:9", 1);
	assert_false(has_line(dir, "bare", "full", NULL));
	unsetenv("DEBUGINFOD_URLS");
	assert_false(maps_hold("libdebuginfod"));
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kiln-sym.XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	const char *root = getenv("KILN_SRC");
	snprintf(deep_src, sizeof(deep_src), "%s/tests/symbolize/deep.c", root ? root : ".");
	if (access(deep_src, R_OK) != 0) {
		fprintf(stderr, "test-symbolize: %s not found (run from the source tree)\n", deep_src);
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mappings),
		cmocka_unit_test(test_demangle),
		cmocka_unit_test(test_symbols_pie),
		cmocka_unit_test(test_symbols_every_function),
		cmocka_unit_test(test_symbols_exec_and_cxx),
		cmocka_unit_test(test_separate_debuginfo),
		cmocka_unit_test(test_jit_kernel_vdso),
		cmocka_unit_test(test_unwind_deep),
		cmocka_unit_test(test_unwind_cost),
		cmocka_unit_test(test_unwind_real_programs),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	run(cmd);
	return rc;
}
