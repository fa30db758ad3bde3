#!/usr/bin/env bash
# t1020: the tracker's exit-time leak scan (memcheck's four kinds) on the
# tests/heap/leak-*.c programs, each with exactly known verdicts; the
# --leak-check=no switch. (memcheck's numbers on the same programs and on
# Debian's: t1030.)
. "$(dirname "$0")/lib.sh"

HT=${HEAP_TESTS:-$ROOT/build/heap-tests}
[ -x "$HT/leak-direct" ] || skip_all "heap test programs not built"
[ -f "$(dirname "$KILN")/libkiln-heap.so" ] || skip_all "libkiln-heap.so not built next to $KILN"
plan 10

run_heap() { "$KILN" heap --top 0 -o "$TMP/$1.trace" -- "$HT/$1" >"$TMP/$1.out" 2>"$TMP/$1.err"; }
# leaks NAME "D:d_bytes/d_blocks I:... P:... R:..."
leaks() {
	local name=$1 want=$2 got
	run_heap "$name"
	got=$(awk '/^LEAK SUMMARY/ { on = 1; next }
		on && /definitely lost:/ { d = $3 "/" $6 } on && /indirectly lost:/ { i = $3 "/" $6 }
		on && /possibly lost:/ { p = $3 "/" $6 } on && /still reachable:/ { r = $3 "/" $6 }
		END { printf "D:%s I:%s P:%s R:%s", d, i, p, r }' "$TMP/$name.err")
	if [ "$got" = "$want" ]; then ok "$name: $want"; else not_ok "$name: got '$got', want '$want'"; diag "$(grep -A5 'LEAK SUMMARY\|kiln-heap' "$TMP/$name.err")"; fi
}

leaks leak-direct "D:112/3 I:0/0 P:0/0 R:100/1"
leaks leak-indirect "D:24/1 I:96/4 P:0/0 R:0/0"
leaks leak-cycle "D:32/1 I:32/1 P:0/0 R:0/0"
leaks leak-interior "D:0/0 I:0/0 P:64/1 R:0/0"
leaks leak-tls "D:24/1 I:0/0 P:0/0 R:40/1"
leaks leak-mmap "D:0/0 I:0/0 P:0/0 R:56/1"
# threads: glibc's dtv of the other thread (calloc'd by pthread_create, its
# TCB points 16 bytes inside) is possibly lost, as memcheck reports it too,
# and kiln's default suppressions count it as suppressed (t1040); its size
# depends on glibc, so only the host's 72/88-byte block is checked here
tleaks() {
	local name=$1 want=$2
	run_heap "$name"
	local line; line=$(grep -E '^ +(definitely|indirectly) lost|still reachable' "$TMP/$name.err" | awk '{ printf "%s/%s ", $3, $6 }')
	if [ "$line" = "$want" ]; then ok "$name: definitely/indirectly lost, still reachable: $want"
	else not_ok "$name: '$line', want '$want'"; diag "$(grep -A5 'LEAK SUMMARY\|kiln-heap' "$TMP/$name.err")"; fi
}
tleaks leak-thread-stack "0/0 0/0 72/1 "
tleaks leak-thread-reg "0/0 0/0 88/1 "

if grep -q '^   definitely lost: 112 bytes in 3 blocks' "$TMP/leak-direct.err" && [ "$(cat "$TMP/leak-direct.out")" = done ]
then ok "leak-direct: the host's output is untouched"; else not_ok "leak-direct output"; fi

"$KILN" heap --leak-check=no -o "$TMP/no.trace" -- "$HT/leak-direct" >/dev/null 2>"$TMP/no.err"
if grep -q 'not freed at exit: 212 bytes in 4 blocks' "$TMP/no.err"; then ok "--leak-check=no: no scan, 'not freed at exit'"
else not_ok "--leak-check=no"; diag "$(grep -A3 'LEAK SUMMARY' "$TMP/no.err")"; fi

done_testing
