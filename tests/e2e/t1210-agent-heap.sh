#!/bin/sh
# t1210-agent-heap: the agent's sampled heap (src/heap in agent mode) without
# its server: tests/agent programs with a known heap under libkiln.so, with
# KILN_AGENT_HEAP_DUMP (the pprof and the tables at exit). Counters exact
# with KILN_AGENT_HEAP_COUNTS=exact, within 8% when estimated (the default;
# period 64 KiB: thousands of samples); per-site estimates (hundreds of
# samples a site) within 15%.
. "$(dirname "$0")/lib.sh"
OUTDIR=$(dirname "$KILN")
AGENT_LIB=${LIBKILN:-$OUTDIR/libkiln.so}
AGENT_TESTS=${AGENT_TESTS_DIR:-$OUTDIR/agent-tests}
[ -f "$AGENT_LIB" ] || skip_all "no $AGENT_LIB (build libkiln.so first)"
[ -x "$AGENT_TESTS/heapsample-test" ] || skip_all "no $AGENT_TESTS/heapsample-test (make agent-heap-tests)"
plan 31

MIB=1048576
# run NAME ARG [ENV...]: the test program under the agent, dump in $TMP/NAME
run() {
	name=$1 arg=$2
	shift 2
	env "$@" LD_PRELOAD="$AGENT_LIB" KILN_AGENT_HEAP_DUMP="$TMP/$name.pb.gz" \
		"$AGENT_TESTS/heapsample-test" "$arg" >"$TMP/$name.out" 2>"$TMP/$name.err"
}
# total NAME KEY: a line of the totals dump
total() { awk -v k="$2" '$1 == k { print $2 }' "$TMP/$1.pb.gz.totals"; }
bucket() { awk -v k="$2" '$1 == "bucket" && $2 == k { print $3 }' "$TMP/$1.pb.gz.totals"; }
# within A B PERCENT: A is within PERCENT % of B
within() { awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= b * p / 100) }'; }

run work 1 KILN_AGENT_HEAP_RATE=65536 KILN_AGENT_HEAP_COUNTS=exact
rc=$?
run base 0 KILN_AGENT_HEAP_RATE=65536 KILN_AGENT_HEAP_COUNTS=exact
if [ $rc = 0 ] && [ $? = 0 ] && [ ! -s "$TMP/work.out" ] && [ ! -s "$TMP/work.err" ]; then
	ok "the program runs under libkiln.so, output and exit status untouched"
else
	not_ok "the program under libkiln.so"; diag "$(cat "$TMP/work.err" "$TMP/base.err" | head -20)"
fi
if [ -s "$TMP/work.pb.gz" ] && [ -s "$TMP/work.pb.gz.totals" ]; then ok "KILN_AGENT_HEAP_DUMP writes the profile and the totals at exit"
else not_ok "dump files"; diag "$(ls -la "$TMP")"; fi

# exact counters: the workload run minus the baseline run is the workload
d=$(( $(total work alloc_count) - $(total base alloc_count) ))
if [ "$d" = 80387 ]; then ok "alloc_count is exact ($d allocations)"; else not_ok "alloc_count: $d, want 80387"; diag "$(cat "$TMP/work.pb.gz.totals")"; fi
d=$(( $(total work free_count) - $(total base free_count) ))
if [ "$d" = 64003 ]; then ok "free_count is exact ($d frees)"; else not_ok "free_count: $d, want 64003"; fi
d=$(( $(total work alloc_bytes) - $(total base alloc_bytes) ))
want=$(( (200 + 50 + 64) * MIB + 3 * 20 * MIB ))
if [ "$d" = "$want" ]; then ok "alloc_bytes is exact"; else not_ok "alloc_bytes: $d, want $want"; fi
d=$(( $(bucket work 4096) - $(bucket base 4096) ))
if [ "$d" = 80384 ] && [ "$(bucket work 67108864)" = 3 ] && [ "$(bucket base 67108864)" = 0 ]; then
	ok "the size histogram: 80384 blocks in (1 KiB, 4 KiB], 3 in (16 MiB, 64 MiB]"
else
	not_ok "size histogram"; diag "$(cat "$TMP/work.pb.gz.totals")"
fi
if [ "$(total work sample_period)" = 65536 ]; then ok "KILN_AGENT_HEAP_RATE sets the period"; else not_ok "sample_period $(total work sample_period)"; fi

# estimated counters (the default): each sample of s bytes stands for
# 1 / (1 - e^(-s/65536)) allocations, its free for as many frees
run est 1 KILN_AGENT_HEAP_RATE=65536
run estbase 0 KILN_AGENT_HEAP_RATE=65536
if [ "$(total est counts)" = estimated ] && [ "$(total work counts)" = exact ] && [ ! -s "$TMP/est.err" ]; then
	ok "the counts are estimated by default, exact with KILN_AGENT_HEAP_COUNTS=exact"
else
	not_ok "counts mode: $(total est counts), $(total work counts)"; diag "$(cat "$TMP/est.err")"
fi
da=$(( $(total est alloc_count) - $(total estbase alloc_count) ))
df=$(( $(total est free_count) - $(total estbase free_count) ))
if within "$da" 80387 8 && within "$df" 64003 8; then ok "estimated: $da allocations (80387), $df frees (64003), within 8%"
else not_ok "estimated counts: $da allocations, $df frees; want 80387, 64003 within 8%"; diag "$(cat "$TMP/est.pb.gz.totals")"; fi
db=$(( $(total est alloc_bytes) - $(total estbase alloc_bytes) ))
d4=$(( $(bucket est 4096) - $(bucket estbase 4096) ))
if within "$db" $(( (200 + 50 + 64) * MIB + 3 * 20 * MIB )) 8 && within "$d4" 80384 8 && [ "$(bucket est 67108864)" = 3 ]; then
	ok "estimated: bytes and the histogram within 8%; 20 MiB blocks (always sampled) exact"
else
	not_ok "estimated bytes $db, bucket 4096: $d4"; diag "$(cat "$TMP/est.pb.gz.totals")"
fi
run estbad 1 KILN_AGENT_HEAP_RATE=65536 KILN_AGENT_HEAP_COUNTS=sometimes
if grep -q "KILN_AGENT_HEAP_COUNTS is exact or estimate, not 'sometimes'" "$TMP/estbad.err" &&
	[ "$(grep -c . "$TMP/estbad.err")" = 1 ] && [ "$(total estbad counts)" = estimated ]; then
	ok "a bad KILN_AGENT_HEAP_COUNTS: one warning, and the default"
else
	not_ok "bad KILN_AGENT_HEAP_COUNTS"; diag "$(cat "$TMP/estbad.err")"
fi

# the tables of the agent (what /metrics and the JSON endpoints show)
comp() { awk -F'\t' -v c="$1" -v f="$2" '$1 == c { print $f }' "$TMP/work.pb.gz.components"; }
if within "$(comp alpha 4)" $((200 * MIB)) 15 && within "$(comp beta 4)" $((50 * MIB)) 15 &&
	within "$(comp gamma 4)" $((64 * MIB)) 15; then
	ok "components: allocated bytes per tag within 15%"
else
	not_ok "components (allocated)"; diag "$(cat "$TMP/work.pb.gz.components")"
fi
if within "$(comp gamma 2)" $((64 * MIB)) 15 && [ "$(comp alpha 2)" = 0 ] && [ "$(comp beta 2)" = 0 ]; then
	ok "components: in-use bytes by tag (nested tags: the innermost)"
else
	not_ok "components (in use)"; diag "$(cat "$TMP/work.pb.gz.components")"
fi
if head -1 "$TMP/work.pb.gz.sites" | grep -q '^site_a[^	]* (heapsample-test.c:[0-9]*)	alpha	'; then
	ok "sites: the top site is site_a, symbolized in process with file:line"
else
	not_ok "sites"; diag "$(cat "$TMP/work.pb.gz.sites")"
fi
if grep -q '^site_d[^	]*	-	0	0	62914560	3$' "$TMP/work.pb.gz.sites"; then
	ok "sites: 20 MiB blocks are exact (a sample stands for itself) and untagged"
else
	not_ok "site_d"; diag "$(cat "$TMP/work.pb.gz.sites")"
fi

GO=$(command -v go || true)
if [ -z "$GO" ]; then
	for i in 1 2 3 4 5 6 7; do skip "go tool pprof: golang-go is not installed"; done
else
	export HOME=${HOME:-$TMP} GOCACHE=$TMP/gocache GOFLAGS=-mod=mod
	gp() { go tool pprof "$@" "$TMP/work.pb.gz" 2>"$TMP/goerr"; }
	gp -top -unit=B -sample_index=alloc_space >"$TMP/alloc.txt"
	flat() { awk -v f="$1" '$NF ~ "^"f"($|[.])" { sub(/B$/, "", $1); print $1; exit }' "$TMP/$2.txt"; }
	if within "$(flat site_a alloc)" $((200 * MIB)) 15 && within "$(flat site_b alloc)" $((50 * MIB)) 15; then
		ok "go tool pprof -sample_index=alloc_space: site_a ~200 MiB, site_b ~50 MiB (within 15%)"
	else
		not_ok "alloc_space by site"; diag "$(head -20 "$TMP/alloc.txt" "$TMP/goerr")"
	fi
	if [ "$(flat site_d alloc)" = 62914560 ]; then ok "alloc_space of site_d is exact"
	else not_ok "site_d alloc_space"; diag "$(head -20 "$TMP/alloc.txt")"; fi
	gp -top -unit=B -sample_index=inuse_space >"$TMP/inuse.txt"
	if within "$(flat site_c inuse)" $((64 * MIB)) 15 &&
		awk '$NF ~ /^site_[abd]/ && $1 != "0" { bad = 1 } END { exit bad }' "$TMP/inuse.txt"; then
		ok "go tool pprof -sample_index=inuse_space: only site_c, ~64 MiB live (within 15%)"
	else
		not_ok "inuse_space"; diag "$(head -20 "$TMP/inuse.txt")"
	fi
	gp -top -sample_index=alloc_objects >"$TMP/objs.txt"
	o=$(awk '$NF ~ /^site_a/ { print $1; exit }' "$TMP/objs.txt")
	if within "$o" 51200 15; then ok "alloc_objects of site_a ~51200 (within 15%)"
	else not_ok "alloc_objects: $o"; diag "$(head -20 "$TMP/objs.txt")"; fi
	gp -tags -unit=B -sample_index=alloc_space >"$TMP/tags.txt"
	tag() { awk -v t="$1" '$NF == t { sub(/B$/, "", $1); print $1 }' "$TMP/tags.txt"; }
	if within "$(tag alpha)" $((200 * MIB)) 15 && within "$(tag beta)" $((50 * MIB)) 15 &&
		within "$(tag gamma)" $((64 * MIB)) 15; then
		ok "the component label splits alloc_space per tag (within 15%)"
	else
		not_ok "component label"; diag "$(cat "$TMP/tags.txt")"
	fi
	gp -raw >"$TMP/raw.txt"
	if grep -q '^PeriodType: space bytes' "$TMP/raw.txt" && grep -q '^Period: 65536' "$TMP/raw.txt" &&
		grep -q '^alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes$' "$TMP/raw.txt"; then
		ok "Go's heap sample types, in Go's order, and period"
	else
		not_ok "sample types"; diag "$(head -12 "$TMP/raw.txt")"
	fi
	if ! grep -q 'libkiln' "$TMP/raw.txt" && ! grep -qE ' (malloc|kh_[a-z_]+|ev_alloc|stacks_capture) ' "$TMP/raw.txt" &&
		grep -q ' main .*heapsample-test.c' "$TMP/raw.txt"; then
		ok "no frame of libkiln.so; the host's frames have file:line"
	else
		not_ok "frames"; diag "$(grep -A40 '^Locations' "$TMP/raw.txt" | head -40)"
	fi
fi

# rate 0: counters only
run zero 1 KILN_AGENT_HEAP_RATE=0
d=$(( $(total zero alloc_count) - $(total base alloc_count) ))
if [ "$d" = 80387 ] && [ "$(total zero sample_period)" = 0 ] && [ "$(total zero counts)" = exact ] &&
	[ ! -s "$TMP/zero.pb.gz.sites" ]; then
	ok "KILN_AGENT_HEAP_RATE=0: exact counters, no samples"
else
	not_ok "rate 0: count delta $d"; diag "$(cat "$TMP/zero.pb.gz.totals" "$TMP/zero.pb.gz.sites")"
fi
run default 1
if [ "$(total default sample_period)" = 524288 ] && grep -q '^site_a' "$TMP/default.pb.gz.sites"; then
	ok "the default period is 512 KiB"
else
	not_ok "default period"; diag "$(cat "$TMP/default.pb.gz.totals")"
fi
# the tracker's own settings do not apply to the agent
run heapenv 1 KILN_HEAP_SAMPLE=0 KILN_HEAP_OFF=1 KILN_HEAP_TRACE="$TMP/x.trace"
if [ "$(total heapenv sample_period)" = 524288 ] && [ ! -e "$TMP/x.trace" ]; then
	ok "libkiln-heap.so's variables leave the agent alone; no trace file"
else
	not_ok "KILN_HEAP_* in agent mode"; diag "$(ls "$TMP")"
fi

# fork: a child goes on sampling only with KILN_AGENT_CHILDREN=1
if [ -x "$AGENT_TESTS/heapsample-fork" ]; then
	mkdir -p "$TMP/f0" "$TMP/f1"
	timeout 120 env LD_PRELOAD="$AGENT_LIB" KILN_AGENT_HEAP_RATE=65536 KILN_AGENT_HEAP_DUMP="$TMP/f0/%p.pb.gz" \
		"$AGENT_TESTS/heapsample-fork" >"$TMP/f0.out" 2>&1
	rc0=$?
	timeout 120 env LD_PRELOAD="$AGENT_LIB" KILN_AGENT_CHILDREN=1 KILN_AGENT_HEAP_RATE=65536 \
		KILN_AGENT_HEAP_DUMP="$TMP/f1/%p.pb.gz" "$AGENT_TESTS/heapsample-fork" >"$TMP/f1.out" 2>&1
	rc1=$?
	if [ $rc0 = 0 ] && [ $rc1 = 0 ]; then ok "20 forks while another thread allocates: no hang, children run"
	else not_ok "fork (exit $rc0, $rc1)"; diag "$(cat "$TMP/f0.out" "$TMP/f1.out" | head)"; fi
	n0=$(ls "$TMP"/f0/*.pb.gz 2>/dev/null | wc -l)
	if [ "$n0" = 1 ] && grep -q '^site_parent' "$TMP"/f0/*.sites && ! grep -q site_child "$TMP"/f0/*.sites; then
		ok "children are not sampled by default"
	else
		not_ok "children off by default ($n0 dumps)"; diag "$(cat "$TMP"/f0/*.sites | head)"
	fi
	n1=$(ls "$TMP"/f1/*.pb.gz 2>/dev/null | wc -l)
	if [ "$n1" = 2 ] && grep -l '^site_child' "$TMP"/f1/*.sites | xargs grep -q '^site_parent'; then
		ok "KILN_AGENT_CHILDREN=1: the child samples, and keeps what it inherited"
	else
		not_ok "children with KILN_AGENT_CHILDREN=1 ($n1 dumps)"; diag "$(head "$TMP"/f1/*.sites)"
	fi
else
	for i in 1 2 3; do skip "no heapsample-fork"; done
fi

# linked rather than preloaded: agent mode all the same
if [ -x "$AGENT_TESTS/heapsample-linked" ]; then
	env LD_LIBRARY_PATH="$(dirname "$AGENT_LIB")" KILN_AGENT_HEAP_RATE=65536 KILN_AGENT_HEAP_DUMP="$TMP/linked.pb.gz" \
		"$AGENT_TESTS/heapsample-linked" 1 >"$TMP/linked.out" 2>&1
	d=$(( $(total linked alloc_count) - $(total estbase alloc_count) ))
	if grep -q '^site_a[^	]*	alpha	' "$TMP/linked.pb.gz.sites" && within "$d" 80387 8; then
		ok "linked with -lkiln: the same sampled heap"
	else
		not_ok "linked"; diag "$(cat "$TMP/linked.out" "$TMP/linked.pb.gz.sites" 2>&1 | head)"
	fi
else
	skip "no heapsample-linked"
fi

# realloc: each call that moves a block counts a free and an allocation;
# realloc(NULL, n) an allocation, realloc(p, 0) a free (site_e)
run realloc 2 KILN_AGENT_HEAP_RATE=65536 KILN_AGENT_HEAP_COUNTS=exact
run base1 0 KILN_AGENT_HEAP_RATE=65536 KILN_AGENT_HEAP_COUNTS=exact
da=$(( $(total realloc alloc_count) - $(total base1 alloc_count) ))
df=$(( $(total realloc free_count) - $(total base1 free_count) ))
db=$(( $(total realloc alloc_bytes) - $(total base1 alloc_bytes) ))
if [ "$da/$df/$db" = 16/16/33553508 ]; then ok "realloc: 16 allocations of 33553508 bytes and 16 frees, exactly"
else not_ok "realloc counts: $da allocations, $df frees, $db bytes; want 16, 16, 33553508"; diag "$(cat "$TMP/realloc.pb.gz.totals")"; fi

# the hooks' edge cases (free(NULL), realloc to 0, huge and overflowing
# requests, errno after each): results as without the agent, with every
# call sampled (rate 1) and with the default rate
EDGE=${HEAP_TESTS:-$OUTDIR/heap-tests}/heap-edge
if [ -x "$EDGE" ]; then
	"$EDGE" >"$TMP/edge0" 2>&1; rc0=$?
	env LD_PRELOAD="$AGENT_LIB" KILN_AGENT_HEAP_RATE=1 "$EDGE" >"$TMP/edge1" 2>&1; rc1=$?
	env LD_PRELOAD="$AGENT_LIB" "$EDGE" >"$TMP/edge2" 2>&1; rc2=$?
	if [ -s "$TMP/edge0" ] && [ "$rc0$rc1$rc2" = 000 ] && cmp -s "$TMP/edge0" "$TMP/edge1" && cmp -s "$TMP/edge0" "$TMP/edge2"; then
		ok "heap-edge: results and errno as without the agent, sampled or not"
	else
		not_ok "heap-edge under the agent: exit $rc0/$rc1/$rc2"; diag "$(diff "$TMP/edge0" "$TMP/edge1"; diff "$TMP/edge0" "$TMP/edge2")"
	fi
else
	skip "no $EDGE"
fi
done_testing
