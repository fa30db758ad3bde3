#!/usr/bin/env bash
# t1030: kiln heap's leak verdicts against valgrind memcheck's on programs
# no one here wrote (Debian's sort, mawk, sed, grep, gzip, xz, git, perl,
# python3, and protoc-c, C++, from scripts/install-deps) and on the bundled
# tests/heap/leak-*.c, run under both with the same environment.
#
# Definitely and indirectly lost must agree exactly, bytes and blocks.
# Possibly lost and still reachable agree as follows, and the test asserts
# exactly this:
#  - both free the C runtime's memory at exit (memcheck always; kiln when
#    the exiting thread is the last one), so for a single-threaded program
#    kiln's possibly lost equals memcheck's in blocks, and kiln's still
#    reachable plus suppressed equals memcheck's still reachable in blocks
#    (kiln's default rules may suppress what freeres left, such as
#    libstdc++'s static data; memcheck shows those as reachable);
#  - in bytes too: a program that copies its environment (perl) holds a
#    copy of LD_PRELOAD, which names valgrind's two preload libraries
#    instead of kiln's one, so kiln's run gets an LD_PRELOAD of its own made
#    of colons (empty entries, which the loader skips) that kiln keeps after
#    its library: the strings are then as long in both runs. Perl still
#    sizes some of its buffers from where and how long its environment
#    strings are (one more colon moves its possibly lost bytes by tens of
#    bytes, either way), so its bytes are compared within 1%, its blocks
#    exactly;
#  - a thread still running at exit (leak-thread-stack): kiln does not run
#    freeres (other threads could still use that memory) and its default
#    rules suppress the thread's DTV, which memcheck reports as possibly
#    lost: kiln's possibly lost plus suppressed holds memcheck's possibly
#    lost (in blocks; the DTV is larger under kiln, whose tracker has TLS
#    of its own), and still reachable agrees exactly.
. "$(dirname "$0")/lib.sh"

command -v valgrind >/dev/null 2>&1 || skip_all "valgrind is not installed"
HT=${HEAP_TESTS:-$ROOT/build/heap-tests}
[ -x "$HT/leak-direct" ] || skip_all "heap test programs not built"
[ -f "$(dirname "$KILN")/libkiln-heap.so" ] || skip_all "libkiln-heap.so not built next to $KILN"

printf 'pear\napple\nfig\nbanana\napple\n' >"$TMP/in.txt"
PY=/usr/bin/python3
AWK=$(command -v mawk || command -v awk)
# name|bytes (exact, or 1%)|threads running at exit|command (no argument holds a blank)
progs=(
	"sort|exact|0|sort $TMP/in.txt"
	"mawk|exact|0|$AWK {n+=length(\$0)}END{print(n)} $TMP/in.txt"
	"sed|exact|0|sed s/a/b/ $TMP/in.txt"
	"grep|exact|0|grep -c a $TMP/in.txt"
	"gzip|exact|0|gzip -c $TMP/in.txt"
	"xz|exact|0|xz -c $TMP/in.txt"
	"git|exact|0|git --version"
	"perl|1%|0|perl -e print(join(q(,),sort(map({\$_*2}(1..50)))))"
	"python3|exact|0|$PY -c print(sorted({3:1,1:2}))"
	"protoc-c|exact|0|protoc-c --version"
	"leak-direct|exact|0|$HT/leak-direct"
	"leak-indirect|exact|0|$HT/leak-indirect"
	"leak-cycle|exact|0|$HT/leak-cycle"
	"leak-interior|exact|0|$HT/leak-interior"
	"leak-tls|exact|0|$HT/leak-tls"
	"leak-mmap|exact|0|$HT/leak-mmap"
	"leak-thread-stack|exact|1|$HT/leak-thread-stack"
)
runnable=()
for p in "${progs[@]}"; do
	IFS='|' read -r name exact threads cmd <<<"$p"
	command -v "${cmd%% *}" >/dev/null 2>&1 && runnable+=("$p")
done
plan $(( ${#runnable[@]} * 2 ))

# The same environment for both: valgrind's wrapper adds variables to the
# client's (LD_LIBRARY_PATH, GLIBCXX_FORCE_NEW, ...), kiln adds its own;
# each run gets the other's too. Only LD_PRELOAD's value differs.
BASE=(PATH=/usr/bin:/bin PYTHONMALLOC=malloc LC_ALL=C)
mapfile -t VGENV < <(cd "$TMP" && env -i "${BASE[@]}" valgrind -q env 2>/dev/null |
	grep -Ev '^(LD_PRELOAD|PATH|PYTHONMALLOC|LC_ALL)=')
vg_preload=$(cd "$TMP" && env -i "${BASE[@]}" valgrind -q env 2>/dev/null | sed -n 's/^LD_PRELOAD=//p')
kiln_preload=$(cd "$TMP" && env -i "${BASE[@]}" "$KILN" heap -q -o "$TMP/env.trace" -- env 2>/dev/null |
	sed -n 's/^LD_PRELOAD=//p')
pad=""
for ((i = ${#kiln_preload} + 1; i < ${#vg_preload}; i++)); do pad+=":"; done
[ -n "$pad" ] && VGENV+=("LD_PRELOAD=$pad")

# kiln's LEAK SUMMARY as "D I P R S", each bytes/blocks
kiln_sum() {
	awk '/^LEAK SUMMARY/ { on = 1; next }
		on && /definitely lost:/ { d = $3 "/" $6 } on && /indirectly lost:/ { i = $3 "/" $6 }
		on && /possibly lost:/ { p = $3 "/" $6 } on && /still reachable:/ { r = $3 "/" $6 }
		on && /suppressed:/ { s = $2 "/" $5 }
		on && /not freed at exit:/ { d = "none" }
		END { gsub(",", "", d); gsub(",", "", i); gsub(",", "", p); gsub(",", "", r); gsub(",", "", s)
		      print d, i, p, r, s }' "$1"
}
# memcheck's, the same way; "All heap blocks were freed" is all zeros
vg_sum() {
	awk '/All heap blocks were freed/ { z = 1 }
		/definitely lost:/ { d = $4 "/" $7 } /indirectly lost:/ { i = $4 "/" $7 }
		/possibly lost:/ { p = $4 "/" $7 } /still reachable:/ { r = $4 "/" $7 }
		/ suppressed:/ && !/ERROR SUMMARY/ { s = $3 "/" $6 }
		END { if (z) { d = i = p = r = s = "0/0" }
		      gsub(",", "", d); gsub(",", "", i); gsub(",", "", p); gsub(",", "", r); gsub(",", "", s)
		      print d, i, p, r, s }' "$1"
}
bytes() { echo "${1%/*}"; }
blocks() { echo "${1#*/}"; }

table="program           kiln D / I / P / R / suppressed          memcheck D / I / P / R / suppressed"
for p in "${runnable[@]}"; do
	IFS='|' read -r name exact threads cmd <<<"$p"
	read -r -a argv <<<"$cmd"
	( cd "$TMP" && env -i "${BASE[@]}" "${VGENV[@]}" "$KILN" heap --top 0 -o "$TMP/$name.trace" -- "${argv[@]}" \
		>/dev/null 2>"$TMP/$name.kiln" )
	( cd "$TMP" && env -i "${BASE[@]}" KILN_HEAP_TRACE="$TMP/$name.trace" KILN_HEAP_LEAKCHECK=1 \
		valgrind --leak-check=full --show-leak-kinds=all "${argv[@]}" >/dev/null 2>"$TMP/$name.vg" )
	read -r kd ki kp kr ks <<<"$(kiln_sum "$TMP/$name.kiln")"
	read -r vd vi vp vr vs <<<"$(vg_sum "$TMP/$name.vg")"
	table+=$(printf '\n%-17s %-38s %s' "$name" "$kd $ki $kp $kr $ks" "$vd $vi $vp $vr $vs")
	if [ -n "$kd" ] && [ "$kd $ki" = "$vd $vi" ]; then ok "$name: definitely and indirectly lost agree: $kd, $ki"
	else not_ok "$name: definitely/indirectly lost: kiln '$kd $ki', memcheck '$vd $vi'"
		diag "$(grep -A6 'LEAK SUMMARY' "$TMP/$name.kiln" "$TMP/$name.vg")"; continue; fi
	why=""
	if [ "$threads" = 1 ]; then
		# no freeres in kiln; the DTV suppressed there, possibly lost in memcheck
		[ "$kr" = "$vr" ] || why="still reachable differs"
		[ $(( $(blocks "$kp") + $(blocks "$ks") )) -ge "$(blocks "$vp")" ] || why="$why; P+S blocks < memcheck's P"
		[ "$(blocks "$kp")" -le "$(blocks "$vp")" ] || why="$why; more possibly lost blocks than memcheck"
		rel="R equal, P+S >= memcheck's P"
	else
		[ "$(blocks "$kp")" = "$(blocks "$vp")" ] || why="possibly lost blocks differ"
		[ $(( $(blocks "$kr") + $(blocks "$ks") )) = "$(blocks "$vr")" ] || why="$why; R+S blocks differ from memcheck's R"
		if [ "$exact" = exact ]; then
			[ "$(bytes "$kp")" = "$(bytes "$vp")" ] || why="$why; possibly lost bytes differ"
			[ $(( $(bytes "$kr") + $(bytes "$ks") )) = "$(bytes "$vr")" ] || why="$why; R+S bytes differ from memcheck's R"
			rel="P equal, R+S = memcheck's R"
		else
			near "$(bytes "$kp")" "$(bytes "$vp")" $(( $(bytes "$vp") / 100 )) || why="$why; P bytes differ by over 1%"
			near $(( $(bytes "$kr") + $(bytes "$ks") )) "$(bytes "$vr")" $(( $(bytes "$vr") / 100 )) ||
				why="$why; R+S bytes differ from memcheck's R by over 1%"
			rel="P blocks equal, R+S blocks = memcheck's R, bytes within 1%"
		fi
	fi
	if [ -z "$why" ]; then ok "$name: $rel ($kp $kr $ks vs $vp $vr)"
	else not_ok "$name: ${why#; } (kiln P R S: $kp $kr $ks; memcheck P R: $vp $vr)"
		diag "$(grep -A6 'LEAK SUMMARY' "$TMP/$name.kiln" "$TMP/$name.vg")"; fi
done
diag "$table"
[ -n "${KILN_T1030_TABLE:-}" ] && printf '%s\n' "$table" >"$KILN_T1030_TABLE"
done_testing
