#!/usr/bin/env bash
# t1040: leak suppressions on the tests/heap/leak-*.c programs: a rule in
# memcheck's format and one in kiln's hide exactly the leak group they
# match (its bytes and blocks move to "suppressed"), match-leak-kinds picks
# one kind of a stack; --error-exitcode then sees no leak; --json counts the
# suppressed blocks and names the rules used; --gen-suppressions writes
# blocks that kiln (and valgrind, when installed) read back; kiln's default
# rules hide the DTV of a thread running at exit; a malformed or missing
# file is an error with its line, before the command runs.
. "$(dirname "$0")/lib.sh"

HT=${HEAP_TESTS:-$ROOT/build/heap-tests}
SUPP=$ROOT/tests/data/supp
[ -x "$HT/leak-direct" ] || skip_all "heap test programs not built"
[ -f "$(dirname "$KILN")/libkiln-heap.so" ] || skip_all "libkiln-heap.so not built next to $KILN"
plan 21

# summary FILE: "D:bytes/blocks I:... P:... R:... S:..." from a LEAK SUMMARY
summary() {
	awk '/^LEAK SUMMARY/ { on = 1; next }
		on && /definitely lost:/ { d = $3 "/" $6 } on && /indirectly lost:/ { i = $3 "/" $6 }
		on && /possibly lost:/ { p = $3 "/" $6 } on && /still reachable:/ { r = $3 "/" $6 }
		on && /suppressed:/ { s = $2 "/" $5 }
		END { printf "D:%s I:%s P:%s R:%s S:%s", d, i, p, r, s }' "$1"
}
# is DESCRIPTION FILE WANT: the file's summary is WANT
is() {
	local got; got=$(summary "$2")
	if [ "$got" = "$3" ]; then ok "$1: $3"; else not_ok "$1: got '$got', want '$3'"; diag "$(head -c 3000 "$2")"; fi
}

# the trace of each program, written once and reported again below
"$KILN" heap --top 0 -o "$TMP/direct.trace" -- "$HT/leak-direct" >"$TMP/direct.out" 2>"$TMP/direct.err"
is "leak-direct, no suppression file" "$TMP/direct.err" "D:112/3 I:0/0 P:0/0 R:100/1 S:0/0"

"$KILN" heap --top 0 --suppressions "$SUPP/leak-direct.supp" -o "$TMP/d2.trace" -- "$HT/leak-direct" \
	>"$TMP/d2.out" 2>"$TMP/d2.err"
is "memcheck format: the definitely lost group is suppressed" "$TMP/d2.err" "D:0/0 I:0/0 P:0/0 R:100/1 S:112/3"
"$KILN" heap report --top 0 --suppressions "$SUPP/leak-direct.rules" "$TMP/direct.trace" 2>"$TMP/d3.err"
is "kiln format (a glob, every kind): the same group" "$TMP/d3.err" "D:0/0 I:0/0 P:0/0 R:100/1 S:112/3"
"$KILN" heap report --top 0 --suppressions "$SUPP/leak-tls.supp" --suppressions "$SUPP/leak-direct.supp" \
	"$TMP/direct.trace" 2>"$TMP/d4.err"
is "two files: the rule that matches is used" "$TMP/d4.err" "D:0/0 I:0/0 P:0/0 R:100/1 S:112/3"

"$KILN" heap --top 0 -o "$TMP/tls.trace" --suppressions "$SUPP/leak-tls.supp" -- "$HT/leak-tls" \
	>/dev/null 2>"$TMP/tls.err"
is "match-leak-kinds: definite: only that kind of the stack" "$TMP/tls.err" "D:0/0 I:0/0 P:0/0 R:40/1 S:24/1"

# --error-exitcode counts what is not suppressed
exit_code "--error-exitcode=7 with a definite leak" 7 \
	"$KILN" heap -q --error-exitcode=7 -o "$TMP/e1.trace" -- "$HT/leak-direct"
exit_code "--error-exitcode=7 when only suppressed leaks remain: the command's status" 0 \
	"$KILN" heap -q --error-exitcode=7 --suppressions "$SUPP/leak-direct.supp" -o "$TMP/e2.trace" -- "$HT/leak-direct"
exit_code "kiln heap report --error-exitcode, suppressed" 0 \
	"$KILN" heap report -q --error-exitcode=7 --suppressions "$SUPP/leak-direct.rules" "$TMP/direct.trace"
if [ "$(cat "$TMP/d2.out")" = done ] && ! grep -q "are definitely lost" "$TMP/d2.err"; then
	ok "the command's output is untouched; a suppressed group is not printed"
else not_ok "output or printed records"; diag "$(cat "$TMP/d2.out" "$TMP/d2.err")"; fi

# --json: the suppressed counts and the rule used
"$KILN" heap report --top 0 --json "$TMP/s.json" --suppressions "$SUPP/leak-direct.supp" "$TMP/direct.trace" 2>/dev/null
check "--json: suppressed [112, 3], definitely lost [0, 0], the rule's name, file, line and counts" \
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))["leaks"]
assert j["suppressed"] == [112, 3], j
assert j["definitely_lost"] == [0, 0], j
assert j["still_reachable"] == [100, 1], j
u = [x for x in j["used_suppressions"] if x["name"] == "leak-direct-lose"]
assert len(u) == 1 and u[0]["bytes"] == 112 and u[0]["blocks"] == 3 and u[0]["line"] == 4, j
assert u[0]["file"].endswith("leak-direct.supp"), u
' "$TMP/s.json"

# malformed and missing files: the file, the line, what is wrong; exit 1;
# the command does not run
"$KILN" heap --suppressions "$SUPP/bad-kind.supp" -o "$TMP/b.trace" -- "$HT/leak-direct" >"$TMP/b.out" 2>"$TMP/b.err"
rc=$?
if [ $rc = 1 ] && grep -q "bad-kind.supp:9: bad suppression: match-leak-kinds: takes" "$TMP/b.err" && [ ! -s "$TMP/b.out" ]
then ok "a bad leak kind: file:9, exit 1, the command not run"
else not_ok "bad kind (exit $rc)"; diag "$(cat "$TMP/b.out" "$TMP/b.err")"; fi
"$KILN" heap report --suppressions "$SUPP/bad-open.supp" "$TMP/direct.trace" >/dev/null 2>"$TMP/b2.err"
rc=$?
if [ $rc = 1 ] && grep -q "bad-open.supp:1: bad suppression: suppression 'never-closed' not closed" "$TMP/b2.err"
then ok "an unclosed block: its opening line, exit 1"; else not_ok "unclosed (exit $rc)"; diag "$(cat "$TMP/b2.err")"; fi
printf 'fine\n{\n' >"$TMP/mixed.supp"
"$KILN" heap report --suppressions "$TMP/mixed.supp" "$TMP/direct.trace" >/dev/null 2>"$TMP/b3.err"
rc=$?
if [ $rc = 1 ] && grep -q "mixed.supp:2: bad suppression: '{' in a file of one rule a line" "$TMP/b3.err"
then ok "a memcheck block in a file of kiln's format: line 2, exit 1"; else not_ok "mixed (exit $rc)"; diag "$(cat "$TMP/b3.err")"; fi
head -c 3000 /dev/urandom >"$TMP/binary.supp"
printf 'x\0y' >>"$TMP/binary.supp"
"$KILN" heap report --suppressions "$TMP/binary.supp" "$TMP/direct.trace" >/dev/null 2>"$TMP/b4.err"
rc=$?
if [ $rc = 1 ] && grep -q "binary.supp:[0-9]*: bad suppression" "$TMP/b4.err" && ! grep -q Sanitizer "$TMP/b4.err"
then ok "a binary file: an error, no crash"; else not_ok "binary (exit $rc)"; diag "$(head -c 500 "$TMP/b4.err")"; fi
exit_code "a missing file: exit 1" 1 "$KILN" heap report --suppressions "$TMP/none.supp" "$TMP/direct.trace"
exit_code "--gen-suppressions=maybe: a usage error" 2 "$KILN" heap report --gen-suppressions=maybe "$TMP/direct.trace"

# --gen-suppressions: memcheck blocks after each record, read back by kiln
"$KILN" heap report -q --leak-check=full --gen-suppressions=all "$TMP/direct.trace" 2>"$TMP/g.err"
awk '/^{$/, /^}$/' "$TMP/g.err" >"$TMP/gen.supp"
n=$(grep -c '^   <insert_a_suppression_name_here>$' "$TMP/gen.supp")
if [ "$n" = 3 ] && grep -q '^   fun:\*alloc$' "$TMP/gen.supp" && grep -q '^   fun:lose$' "$TMP/gen.supp" &&
	grep -q '^   match-leak-kinds: definite$' "$TMP/gen.supp"; then ok "--gen-suppressions=all: a block per shown record"
else not_ok "generated blocks ($n)"; diag "$(cat "$TMP/g.err")"; fi
"$KILN" heap report --top 0 --suppressions "$TMP/gen.supp" "$TMP/direct.trace" 2>"$TMP/g2.err"
is "generated blocks, read back by kiln" "$TMP/g2.err" "D:0/0 I:0/0 P:0/0 R:100/1 S:112/3"
if command -v valgrind >/dev/null 2>&1; then
	valgrind --leak-check=full --suppressions="$TMP/gen.supp" "$HT/leak-direct" >/dev/null 2>"$TMP/vg.err"
	v=$(awk '/definitely lost:/ { d = $4 "/" $7 } /suppressed:/ && !/ERROR/ { s = $3 "/" $6 } END { print d " " s }' "$TMP/vg.err")
	if [ "$v" = "0/0 112/3" ]; then ok "generated blocks, read by valgrind: the same group suppressed"
	else not_ok "valgrind with the generated blocks: '$v'"; diag "$(grep -A6 'LEAK SUMMARY' "$TMP/vg.err")"; fi
else
	skip "valgrind is not installed"
fi

# kiln's default rules: the DTV of a thread running at exit (possibly lost
# in memcheck's words) is the C runtime's; --no-default-suppressions shows it
"$KILN" heap --top 0 -o "$TMP/th.trace" -- "$HT/leak-thread-stack" >/dev/null 2>"$TMP/th.err"
got=$(summary "$TMP/th.err")
case $got in
"D:0/0 I:0/0 P:0/0 R:72/1 S:"*/1) ok "default rules: the running thread's DTV is suppressed ($got)" ;;
*) not_ok "default rules: '$got'"; diag "$(cat "$TMP/th.err")" ;;
esac
"$KILN" heap report --top 0 --no-default-suppressions "$TMP/th.trace" 2>"$TMP/th2.err"
got=$(summary "$TMP/th2.err")
case $got in
"D:0/0 I:0/0 P:"*"/1 R:72/1 S:0/0") ok "--no-default-suppressions: the DTV is possibly lost ($got)" ;;
*) not_ok "--no-default-suppressions: '$got'"; diag "$(cat "$TMP/th2.err")" ;;
esac
done_testing
