# kiln: one non-recursive GNU Makefile. All output goes under build/.
#   make                      build/kiln
#   make SANITIZE=address,undefined   sanitized build under build/san/
#   make CC=clang OUT=build/clang     a second compiler, its own tree
#   make test | bench | fuzz | demo | install PREFIX=... | lint | check-layering

CC      ?= cc
PREFIX  ?= /usr/local
SANITIZE ?=
OPT     ?= -O2
WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wvla -Wstrict-prototypes \
           -Wwrite-strings -Wmissing-prototypes
CFLAGS  ?= $(OPT) -g
ifeq ($(SANITIZE),)
OUT     ?= build
else
OUT     ?= build/san
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif
GEN      := $(OUT)/gen
CPPFLAGS += -D_GNU_SOURCE -Isrc -Iinclude -I$(GEN)
LDLIBS   := -ljansson -lprotobuf-c -ldw -lelf -liberty -ldeflate -lz -lpthread -lm

# Library code, in dependency order: base <- model <- format, render <- cli.
LIB_DIRS := base model format render symbolize collect analyze
LIB_SRCS := $(sort $(foreach d,$(LIB_DIRS),$(wildcard src/$(d)/*.c)))
CLI_SRCS := $(sort $(wildcard src/cli/*.c))
PROTOS   := $(wildcard src/format/*.proto)
GEN_SRCS := $(patsubst src/format/%.proto,$(GEN)/%.pb-c.c,$(PROTOS))
GEN_HDRS := $(GEN_SRCS:.c=.h)
# render/flame: the flame graph's JavaScript and CSS, compiled into the core
# library as C strings by scripts/embed (rule below, next to protoc-c's).
FLAME_ASSETS := src/render/flame.js src/render/flame.css
GEN_SRCS += $(GEN)/flame-assets.c
# render/htmlpage: the style sheet of the HTML pages (index.html, diff.html),
# compiled in the same way.
REPORT_ASSETS := src/render/report.css
GEN_SRCS += $(GEN)/report-assets.c
# analyze/suppress: kiln heap's default leak suppressions, compiled in the
# same way (and installed as share/kiln/default.supp for reading).
DEFAULT_SUPP := src/analyze/default.supp
GEN_SRCS += $(GEN)/default-supp.c

LIB_OBJS := $(LIB_SRCS:%.c=$(OUT)/obj/%.o) $(GEN_SRCS:$(GEN)/%.c=$(OUT)/obj/gen/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(OUT)/obj/%.o)
CORE_LIB := $(OUT)/libkiln-core.a
KILN     := $(OUT)/kiln

HEAP_SRCS := $(sort $(wildcard src/heap/*.c))
HEAP_OBJS := $(HEAP_SRCS:%.c=$(OUT)/obj/pic/%.o)
HEAP_LIB  := $(OUT)/libkiln-heap.so
HEAP_TEST_SRCS := $(sort $(wildcard tests/heap/*.c))
HEAP_TESTS := $(HEAP_TEST_SRCS:tests/heap/%.c=$(OUT)/heap-tests/%)

UNIT_SRCS := $(sort $(wildcard tests/unit/test-*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(OUT)/tests/%)
WORKLOAD_SRCS := $(sort $(wildcard tests/workloads/*.c))
WORKLOADS := $(WORKLOAD_SRCS:tests/workloads/%.c=$(OUT)/workloads/%)

.PHONY: all deps test unit test-unit test-san test-e2e test-clang bench fuzz demo \
        install clean lint check-layering workloads
.DEFAULT_GOAL := all

all: $(KILN) workloads $(HEAP_LIB) heap-tests agent examples

$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: src/format/%.proto
	@mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) --proto_path=src/format $<

# render/flame's embedded assets (see FLAME_ASSETS above).
$(GEN)/flame-assets.c: $(FLAME_ASSETS) scripts/embed
	@mkdir -p $(GEN)
	scripts/embed $@ flame_js src/render/flame.js flame_css src/render/flame.css

$(GEN)/report-assets.c: $(REPORT_ASSETS) scripts/embed
	@mkdir -p $(GEN)
	scripts/embed $@ report_css src/render/report.css

$(GEN)/default-supp.c: $(DEFAULT_SUPP) scripts/embed
	@mkdir -p $(GEN)
	scripts/embed $@ suppress_default $(DEFAULT_SUPP)

# Generated sources are kept between runs (not make's intermediates).
.SECONDARY: $(GEN_SRCS) $(GEN_HDRS)

$(OUT)/obj/gen/%.o: $(GEN)/%.c $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -std=c11 -w -c -o $@ $<

$(OUT)/obj/%.o: %.c $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c -o $@ $<

$(CORE_LIB): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(KILN): $(CLI_OBJS) $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(CORE_LIB) $(LDLIBS)

$(OUT)/tests/%: tests/unit/%.c $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -Wno-missing-prototypes -o $@ $< $(CORE_LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

# Bundled workloads with known profiles. shares and cpu-tree keep frame
# pointers (perf's fp call graphs are tested on them); record-work and its
# library are built -O2 without them, like distribution code.
WORKLOAD_LIB_SRCS := $(sort $(wildcard tests/workloads/lib*.c))
WORKLOAD_LIBS := $(WORKLOAD_LIB_SRCS:tests/workloads/%.c=$(OUT)/workloads/%.so)
WORKLOADS := $(filter-out $(WORKLOAD_LIB_SRCS:tests/workloads/%.c=$(OUT)/workloads/%),$(WORKLOADS))
WORKLOAD_FP := -fno-omit-frame-pointer
$(OUT)/workloads/record-work: WORKLOAD_FP := -fomit-frame-pointer
$(OUT)/workloads/record-work: WORKLOAD_LINK := -L$(OUT)/workloads -Wl,-rpath,'$$ORIGIN' -lkilnwork
$(OUT)/workloads/record-work: $(OUT)/workloads/libkilnwork.so

$(OUT)/workloads/lib%.so: tests/workloads/lib%.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -fomit-frame-pointer -fPIC -shared -std=gnu11 -Wall -o $@ $<

$(OUT)/workloads/%: tests/workloads/%.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g $(WORKLOAD_FP) -std=gnu11 -Wall -o $@ $< $(WORKLOAD_LINK) -lpthread -lm

workloads: $(WORKLOADS) $(WORKLOAD_LIBS)

# examples/ (examples/README.md): the demo service that `make demo` profiles
# with kiln run, and its load generator; -O2 without frame pointers, like
# distribution code (kiln unwinds them with DWARF CFI).
EXAMPLE_FLAGS := -O2 -g -fomit-frame-pointer -std=gnu11 -Wall -Wextra -Werror
$(OUT)/examples/demo-server: examples/demo-http.c examples/demo-http.h
$(OUT)/examples/%: examples/%.c
	@mkdir -p $(dir $@)
	$(CC) $(EXAMPLE_FLAGS) -o $@ $(filter %.c,$^) -lpthread
examples: $(OUT)/examples/demo-server $(OUT)/examples/loadgen
.PHONY: examples

# The heap tracker, an LD_PRELOAD library (src/heap/, not in the core
# library: it may use only src/base headers that never call malloc). Built
# -fPIC with hidden visibility; only the interposed functions are exported.
# Always built without sanitizers, even under SANITIZE: a sanitizer runtime
# cannot sit behind an LD_PRELOAD allocator in an unsanitized host.
$(OUT)/obj/pic/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(CC) -D_GNU_SOURCE -Isrc -Iinclude -I$(GEN) -O2 -g -fPIC -fvisibility=hidden -ftls-model=initial-exec \
	  $(WARN) -MMD -MP -c -o $@ $<
$(OUT)/obj/pic/gen/%.o: $(GEN)/%.c $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(CC) -D_GNU_SOURCE -Isrc -I$(GEN) -O2 -g -fPIC -fvisibility=hidden -std=c11 -w -c -o $@ $<
$(HEAP_LIB): $(HEAP_OBJS)
	$(CC) -shared -Wl,-z,now -Wl,-z,defs -o $@ $^ -ldl -lpthread -ldeflate -lunwind -lm

# The agent, libkiln.so (src/agent/, docs/agent.md): the heap tracker in
# sampled mode, the CPU sampler and an HTTP server, for LD_PRELOAD or -lkiln.
# Built like the heap tracker (PIC, hidden visibility, never sanitized); the
# library code it uses comes from a PIC archive of base, model, format,
# symbolize, collect, analyze and render, so only what it calls is linked.
# Exported: kiln_* (include/kiln/kiln.h) and the malloc family (src/heap);
# --exclude-libs hides what the archives (libiberty's too) bring in.
# AGENT_EXTRA: extra objects for local experiments, never set here.
AGENT_SRCS := $(sort $(wildcard src/agent/*.c))
AGENT_OBJS := $(AGENT_SRCS:%.c=$(OUT)/obj/pic/%.o)
AGENT_LIB  := $(OUT)/libkiln.so
AGENT_PIC_SRCS := $(sort $(foreach d,$(LIB_DIRS),$(wildcard src/$(d)/*.c)))
AGENT_PIC_OBJS := $(AGENT_PIC_SRCS:%.c=$(OUT)/obj/pic/%.o) $(GEN_SRCS:$(GEN)/%.c=$(OUT)/obj/pic/gen/%.o)
AGENT_PIC_LIB  := $(OUT)/libkiln-pic.a
AGENT_HEAP_OBJS ?= $(HEAP_OBJS)
AGENT_EXTRA ?=
AGENT_LDLIBS := -lprotobuf-c -ldw -lelf -liberty -ldeflate -lz -lunwind -ldl -lpthread -lm

$(AGENT_PIC_LIB): $(AGENT_PIC_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^
$(AGENT_LIB): $(AGENT_OBJS) $(AGENT_HEAP_OBJS) $(AGENT_PIC_LIB) $(AGENT_EXTRA)
	$(CC) -shared -Wl,-z,now -Wl,-z,defs -Wl,--exclude-libs,ALL -o $@ \
	  $(AGENT_OBJS) $(AGENT_HEAP_OBJS) $(AGENT_EXTRA) $(AGENT_PIC_LIB) $(AGENT_LDLIBS)

# The agent's test host, also linked against libkiln.so (-lkiln) to test
# the embedding path; both built with frame pointers.
$(OUT)/workloads/agent-host: WORKLOAD_LINK := -Iinclude -ldl
$(OUT)/workloads/agent-host-linked: tests/workloads/agent-host.c $(AGENT_LIB)
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -fno-omit-frame-pointer -std=gnu11 -Wall -Iinclude -DAGENT_HOST_LINKED -o $@ $< \
	  -L$(OUT) -Wl,-rpath,'$$ORIGIN/..' -lkiln -lpthread -lm
agent: $(AGENT_LIB) $(OUT)/workloads/agent-host $(OUT)/workloads/agent-host-linked
.PHONY: agent

# Programs the heap tracker's end-to-end test runs (tests/heap/), built -O2
# without frame pointers, as distributions build code.
$(OUT)/heap-tests/%: tests/heap/%.c tests/heap/leak-common.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -fomit-frame-pointer -std=gnu11 -Wall -o $@ $< -ldl -lpthread
heap-tests: $(HEAP_TESTS)
.PHONY: heap-tests

deps:
	@scripts/install-deps

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "# $$t"; $$t; done

test-unit: unit

test-san:
	$(MAKE) SANITIZE=address,undefined unit

test-clang:
	$(MAKE) CC=clang OUT=build/clang build/clang/kiln build/clang/libkiln.so

# The browser tests' screenshots stay in $(OUT)/artifacts (KILN_ARTIFACTS).
test-e2e: all
	KILN=$(abspath $(KILN)) WORKLOADS=$(abspath $(OUT)/workloads) HEAP_LIB=$(abspath $(HEAP_LIB)) \
	  HEAP_TESTS=$(abspath $(OUT)/heap-tests) LIBKILN=$(abspath $(AGENT_LIB)) \
	  KILN_ARTIFACTS=$${KILN_ARTIFACTS:-$(abspath $(OUT))/artifacts} prove -j2 tests/e2e/t*.sh

# The README's test command: set-up, both compilers, unit tests plain and
# sanitized, then the end-to-end suite.
test: deps
	$(MAKE) all
	$(MAKE) test-clang
	$(MAKE) unit
	$(MAKE) test-san
	$(MAKE) check-layering
	$(MAKE) test-e2e

bench: all
	bench/run
	bench/record
	bench/heap
	bench/agent
	bench/agent-heap

FUZZ_SECONDS ?= 20
fuzz:
	fuzz/run $(FUZZ_SECONDS)

demo: deps
	$(MAKE) all
	scripts/demo

check-layering:
	@scripts/check-layering

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr -Isrc -I$(GEN) --suppress=missingIncludeSystem src

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/share/doc/kiln \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/kiln $(DESTDIR)$(PREFIX)/include/kiln
	install -m 644 include/kiln/kiln.h $(DESTDIR)$(PREFIX)/include/kiln/kiln.h
	install -m 755 $(KILN) $(DESTDIR)$(PREFIX)/bin/kiln
	for l in $(wildcard $(OUT)/libkiln*.so); do install -m 755 $$l $(DESTDIR)$(PREFIX)/lib/; done
	install -m 644 README.md ARCHITECTURE.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/kiln/
	install -m 644 docs/kiln.1 $(DESTDIR)$(PREFIX)/share/man/man1/kiln.1
	install -m 644 $(DEFAULT_SUPP) $(DESTDIR)$(PREFIX)/share/kiln/default.supp

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

# agent cpu tests: tests/agent/cpuself-test drives the agent's CPU profile
# backend (src/agent/cpuself.c, compiled straight into it with the core
# library: no HTTP server needed); its hot function is built -O2 without
# frame pointers. tests/e2e/t1220-agent-cpu.sh runs it (AGENT_TESTS_DIR).
AGENT_CPU_TEST := $(OUT)/agent-tests/cpuself-test
AGENT_TESTS += $(AGENT_CPU_TEST)
$(AGENT_CPU_TEST): tests/agent/cpuself-test.c src/agent/cpuself.c src/agent/agent.h $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -fomit-frame-pointer -o $@ tests/agent/cpuself-test.c \
	  src/agent/cpuself.c $(CORE_LIB) $(LDFLAGS) $(LDLIBS)
agent-cpu-tests: $(AGENT_CPU_TEST)
.PHONY: agent-cpu-tests

# agent heap tests: the programs under tests/agent/ that
# tests/e2e/t1210-agent-heap.sh runs under libkiln.so (preloaded, and
# heapsample-linked linked with -lkiln), built -O2 without frame pointers.
# clang: with .debug_aranges, without which the symbolizer finds no lines.
AGENT_HEAP_TEST_G := -g $(if $(findstring clang,$(CC)),-gdwarf-aranges)
AGENT_HEAP_TESTS := $(OUT)/agent-tests/heapsample-test $(OUT)/agent-tests/heapsample-fork
$(AGENT_HEAP_TESTS): $(OUT)/agent-tests/%: tests/agent/%.c include/kiln/kiln.h
	@mkdir -p $(dir $@)
	$(CC) -O2 $(AGENT_HEAP_TEST_G) -fomit-frame-pointer -std=gnu11 -Wall -Wextra -Werror -Iinclude -o $@ $< -lpthread
$(OUT)/agent-tests/heapsample-linked: tests/agent/heapsample-test.c include/kiln/kiln.h $(AGENT_LIB)
	@mkdir -p $(dir $@)
	$(CC) -O2 $(AGENT_HEAP_TEST_G) -fomit-frame-pointer -std=gnu11 -Wall -Wextra -Werror -Iinclude -o $@ $< \
	  -L$(OUT) -Wl,-rpath,'$$ORIGIN/..' -lkiln -lpthread
AGENT_HEAP_TESTS += $(OUT)/agent-tests/heapsample-linked
AGENT_TESTS += $(AGENT_HEAP_TESTS)
agent-heap-tests: $(AGENT_HEAP_TESTS)
all: agent-heap-tests
.PHONY: agent-heap-tests

# every agent test program (AGENT_TESTS is complete only here, at the end)
all: $(AGENT_TESTS)
