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
LDLIBS   := -lprotobuf-c -ldw -lelf -liberty -ldeflate -lz -lpthread -lm

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

all: $(KILN) workloads $(HEAP_LIB) heap-tests

$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: src/format/%.proto
	@mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) --proto_path=src/format $<

# render/flame's embedded assets (see FLAME_ASSETS above).
$(GEN)/flame-assets.c: $(FLAME_ASSETS) scripts/embed
	@mkdir -p $(GEN)
	scripts/embed $@ flame_js src/render/flame.js flame_css src/render/flame.css

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

# The heap tracker, an LD_PRELOAD library (src/heap/, not in the core
# library: it may use only src/base headers that never call malloc). Built
# -fPIC with hidden visibility; only the interposed functions are exported.
# Always built without sanitizers, even under SANITIZE: a sanitizer runtime
# cannot sit behind an LD_PRELOAD allocator in an unsanitized host.
$(OUT)/obj/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) -D_GNU_SOURCE -Isrc -O2 -g -fPIC -fvisibility=hidden -ftls-model=initial-exec \
	  $(WARN) -MMD -MP -c -o $@ $<
$(HEAP_LIB): $(HEAP_OBJS)
	$(CC) -shared -Wl,-z,now -Wl,-z,defs -o $@ $^ -ldl -lpthread -ldeflate -lunwind -lm

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
	$(MAKE) CC=clang OUT=build/clang build/clang/kiln

test-e2e: all
	KILN=$(abspath $(KILN)) WORKLOADS=$(abspath $(OUT)/workloads) HEAP_LIB=$(abspath $(HEAP_LIB)) \
	  HEAP_TESTS=$(abspath $(OUT)/heap-tests) prove -j2 tests/e2e/t*.sh

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
	  $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(KILN) $(DESTDIR)$(PREFIX)/bin/kiln
	for l in $(wildcard $(OUT)/libkiln*.so); do install -m 755 $$l $(DESTDIR)$(PREFIX)/lib/; done
	install -m 644 README.md ARCHITECTURE.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/kiln/
	install -m 644 docs/kiln.1 $(DESTDIR)$(PREFIX)/share/man/man1/kiln.1

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
