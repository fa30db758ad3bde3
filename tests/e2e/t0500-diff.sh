#!/bin/sh
# t0500-diff: kiln diff against inferno-diff-folded's expected outputs, its
# error handling, --top tables and --svg colours.
# Invariant: every check compares exact bytes or exact exit codes. The
# corpus files list lines in Rust hash-map order (the same data comes out in
# a different order in default.txt and fractionals.txt), so corpus checks
# compare the lines' bytes after sorting, and separately require kiln's own
# output to be sorted when its inputs are (kiln merges the inputs in their
# order instead of sorting, so sorted inputs give sorted output).
. "$(dirname "$0")/lib.sh"

D=$CORPUS/inferno-diff-folded
[ -x "$KILN" ] || { echo "Bail out! no kiln binary at $KILN"; exit 1; }
plan 50

# ---- the inferno corpus: expected NAME <- options and inputs -------------
corpus_case() { # NAME EXPECTED ARGS...
	local name=$1 exp=$2; shift 2
	if [ ! -d "$D" ]; then
		skip "$name: corpus $D absent"; skip "$name sorted"; return
	fi
	(cd "$D" && "$KILN" diff "$@") >"$TMP/$name.out" 2>"$TMP/$name.err"
	LC_ALL=C sort "$D/results/$exp" >"$TMP/$name.want"
	LC_ALL=C sort "$TMP/$name.out" >"$TMP/$name.got"
	same_file "$name: same lines as results/$exp" "$TMP/$name.want" "$TMP/$name.got"
	# the same inputs sorted first: the output must come out sorted
	mkdir -p "$TMP/sorted"
	for f in "$D"/*.txt; do LC_ALL=C sort "$f" >"$TMP/sorted/$(basename "$f")"; done
	(cd "$TMP/sorted" && "$KILN" diff "$@") >"$TMP/$name.sout" 2>/dev/null
	same_file "$name: sorted inputs give sorted output" "$TMP/$name.got" "$TMP/$name.sout"
}
corpus_case default default.txt before.txt after.txt
corpus_case normalize normalize.txt --normalize before.txt after.txt
corpus_case normalize-short normalize.txt -n before.txt after.txt
corpus_case strip-hex strip_hex.txt --strip-hex before.txt after.txt
corpus_case strip-hex-short strip_hex.txt -s before.txt after.txt
corpus_case fractionals fractionals.txt before_fractionals.txt after.txt

if [ -d "$D" ]; then
	if grep -q 'before_fractionals.txt: truncated 5 fractional counts to integers (first: line 2)' \
		"$TMP/fractionals.err"; then ok "fractional counts: one warning with the first line"
	else not_ok "fractional counts: one warning with the first line"; diag "$(cat "$TMP/fractionals.err")"; fi
	(cd "$D" && "$KILN" diff bad_before.txt after.txt) >"$TMP/bad.out" 2>"$TMP/bad.err"
	if [ $? = 0 ] && grep -q "^kiln: warning: bad_before.txt: skipped 1 line that is not folded stacks (first: line 3)$" "$TMP/bad.err"
	then ok "bad line: skipped, warning names the file and line"
	else not_ok "bad line: skipped, warning names the file and line"; diag "$(cat "$TMP/bad.err")"; fi
	# the bad line contributes nothing; everything else is as in default.txt
	sed 's/^\(dd;\[unknown\];read;system_call_\[k\];__fdget_pos_\[k\]\) 11 15$/\1 0 15/' \
		"$TMP/default.got" >"$TMP/bad.want"
	LC_ALL=C sort "$TMP/bad.out" >"$TMP/bad.got"
	same_file "bad line: other stacks as in default" "$TMP/bad.want" "$TMP/bad.got"
	(cd "$D" && "$KILN" diff -q bad_before.txt after.txt) >/dev/null 2>"$TMP/quiet.err"
	if [ ! -s "$TMP/quiet.err" ]; then ok "-q silences warnings"; else not_ok "-q silences warnings"; fi
	"$KILN" diff -o "$TMP/o.txt" "$D/before.txt" "$D/after.txt"
	same_file "-o FILE holds what stdout gets" "$TMP/default.out" "$TMP/o.txt"
	"$KILN" diff - "$D/after.txt" <"$D/before.txt" >"$TMP/stdin.out"
	same_file "'-' reads standard input" "$TMP/default.out" "$TMP/stdin.out"
	"$KILN" diff "$D/before.txt" "$D/after.txt" >"$TMP/again.out"
	same_file "two runs give the same bytes" "$TMP/default.out" "$TMP/again.out"
else
	for i in 1 2 3 4 5 6 7; do skip "corpus $D absent"; done
fi

# ---- our own inputs --------------------------------------------------------
printf 'main;cool 20\nmain;hot 50\nmain;x;warm 20\nmain;y;warm 10\n' >"$TMP/a.folded"
printf 'main;cool 20\nmain;hot 60\nmain;warm 60\nnew 60\n' >"$TMP/b.folded"

"$KILN" diff "$TMP/a.folded" "$TMP/b.folded" >"$TMP/ab.out"
printf '%s\n' 'main;cool 20 20' 'main;hot 50 60' 'main;warm 0 60' \
	'main;x;warm 20 0' 'main;y;warm 10 0' 'new 0 60' >"$TMP/ab.want"
same_file "union of stacks, sorted, zero for a missing side" "$TMP/ab.want" "$TMP/ab.out"

"$KILN" diff -n "$TMP/a.folded" "$TMP/b.folded" >"$TMP/abn.out"
printf '%s\n' 'main;cool 40 20' 'main;hot 100 60' 'main;warm 0 60' \
	'main;x;warm 40 0' 'main;y;warm 20 0' 'new 0 60' >"$TMP/abn.want"
same_file "--normalize scales the first input to the second's total" "$TMP/abn.want" "$TMP/abn.out"

# a line with two numbers is the stack "STACK N" with the last as its count,
# as in both reference tools; a tab also separates the count
printf 'f 3 12\ng\t4\n' >"$TMP/two.folded"
printf 'g 1\n' >"$TMP/one.folded"
"$KILN" diff "$TMP/two.folded" "$TMP/one.folded" >"$TMP/two.out"
printf 'f 3 12 0\ng 4 1\n' >"$TMP/two.want"
same_file "the last number is the count" "$TMP/two.want" "$TMP/two.out"

# ---- --top ---------------------------------------------------------------
"$KILN" diff --top 3 "$TMP/a.folded" "$TMP/b.folded" >"$TMP/top.out"
cat >"$TMP/top.want" <<'EOF'
  BEFORE%    AFTER%     DELTA  FUNCTION
     0.00     30.00    +30.00  new
    50.00     30.00    -20.00  hot
    20.00     10.00    -10.00  cool
EOF
same_file "--top 3: biggest self-share changes first" "$TMP/top.want" "$TMP/top.out"

"$KILN" diff --top 0 "$TMP/a.folded" "$TMP/b.folded" >"$TMP/top0.out"
if [ "$(tail -n 1 "$TMP/top0.out")" = "    30.00     30.00     +0.00  warm" ] && [ "$(wc -l <"$TMP/top0.out")" = 5 ]
then ok "--top 0 lists every function"; else not_ok "--top 0 lists every function"; diag "$(cat "$TMP/top0.out")"; fi

printf 'a;zeta 1\nbeta 1\nalpha 2\n' >"$TMP/t1.folded"
printf 'zeta 2\nalpha 1\nx;beta 1\n' >"$TMP/t2.folded"
"$KILN" diff --top 5 "$TMP/t1.folded" "$TMP/t2.folded" >"$TMP/ties.out"
cat >"$TMP/ties.want" <<'EOF'
  BEFORE%    AFTER%     DELTA  FUNCTION
    50.00     25.00    -25.00  alpha
    25.00     50.00    +25.00  zeta
    25.00     25.00     +0.00  beta
EOF
same_file "--top: equal changes are ordered by name" "$TMP/ties.want" "$TMP/ties.out"

printf 'a 9999\nb 1\n' >"$TMP/m1.folded"
printf 'a 10000\nb 1\n' >"$TMP/m2.folded"
"$KILN" diff --top 0 "$TMP/m1.folded" "$TMP/m2.folded" >"$TMP/tiny.out"
printf '%s\n' '  BEFORE%    AFTER%     DELTA  FUNCTION' '    99.99     99.99     +0.00  a' \
	'     0.01      0.01     +0.00  b' >"$TMP/tiny.want"
same_file "--top: a tiny shrink shows as +0.00, not -0.00" "$TMP/tiny.want" "$TMP/tiny.out"

"$KILN" diff --top 1 --json "$TMP/a.folded" "$TMP/b.folded" >"$TMP/top.json"
cat >"$TMP/topj.want" <<'EOF'
{"total_before":100,"total_after":200,"functions":[
  {"function":"new","self_before":0,"self_after":60,"pct_before":0.000000,"pct_after":30.000000,"delta":30.000000}
]}
EOF
same_file "--top --json" "$TMP/topj.want" "$TMP/top.json"

# ---- --svg -----------------------------------------------------------------
printf 'main;grow 10\nmain;shrink 30\nmain;same 10\n' >"$TMP/s1.folded"
printf 'main;grow 30\nmain;shrink 10\nmain;same 10\n' >"$TMP/s2.folded"
if "$KILN" diff --svg --title 'grow vs shrink' -o "$TMP/d.svg" "$TMP/s1.folded" "$TMP/s2.folded" 2>"$TMP/svg.err"; then
	ok "--svg succeeds"
	# the <g> of a frame holds its <title> and then its <rect>
	frame_fill() { # NAME: the fill of the first frame called NAME
		tr '\n' ' ' <"$TMP/d.svg" | sed 's/<g/\n<g/g' | grep "<title>$1 (" | head -n 1 |
			sed -n 's/.*fill="\([^"]*\)".*/\1/p'
	}
	g=$(frame_fill grow) s=$(frame_fill shrink) u=$(frame_fill same)
	case $g in rgb\(255,*) ok "grown frame is red ($g)" ;; *) not_ok "grown frame is red ($g)" ;; esac
	case $s in rgb\(*,255\)) ok "shrunk frame is blue ($s)" ;; *) not_ok "shrunk frame is blue ($s)" ;; esac
	case $u in "rgb(255,255,255)") ok "unchanged frame is white ($u)" ;; *) not_ok "unchanged frame is white ($u)" ;; esac
	if grep -q 'grow vs shrink' "$TMP/d.svg"; then ok "--title is passed through"; else not_ok "--title is passed through"; fi
	if head -c 200 "$TMP/d.svg" | grep -q '<svg\|<?xml'; then ok "an SVG document"; else not_ok "an SVG document"; fi
else
	not_ok "--svg succeeds"; diag "$(cat "$TMP/svg.err")"
	for i in 1 2 3 4 5; do skip "no SVG"; done
fi

# ---- errors ----------------------------------------------------------------
exit_code "missing input: exit 1" 1 "$KILN" diff "$TMP/nope.folded" "$TMP/b.folded"
if "$KILN" diff "$TMP/nope.folded" "$TMP/b.folded" 2>&1 | grep -q "^kiln: cannot open '$TMP/nope.folded': No such file or directory$"
then ok "missing input: the error names it"; else not_ok "missing input: the error names it"; fi
exit_code "one input: usage error" 2 "$KILN" diff "$TMP/a.folded"
exit_code "three inputs: usage error" 2 "$KILN" diff "$TMP/a.folded" "$TMP/a.folded" "$TMP/a.folded"
exit_code "unknown option: usage error" 2 "$KILN" diff --frobnicate "$TMP/a.folded" "$TMP/b.folded"
exit_code "--top needs a number" 2 "$KILN" diff --top many "$TMP/a.folded" "$TMP/b.folded"
exit_code "--json without --top" 2 "$KILN" diff --json "$TMP/a.folded" "$TMP/b.folded"
exit_code "--title without --svg" 2 "$KILN" diff --title x "$TMP/a.folded" "$TMP/b.folded"
exit_code "both inputs on stdin" 2 "$KILN" diff - - </dev/null
# /dev/full must be the character device (a tool that writes "-o PATH"
# through a temporary file and rename(2), run as root, replaces it)
if [ -c /dev/full ]; then
	exit_code "-o /dev/full: exit 1" 1 "$KILN" diff -o /dev/full "$TMP/a.folded" "$TMP/b.folded"
	if [ -c /dev/full ]; then ok "-o /dev/full leaves the device alone"; else not_ok "-o /dev/full leaves the device alone"; fi
	exit_code "stdout on /dev/full: exit 1" 1 sh -c '"$0" diff "$1" "$2" >/dev/full' "$KILN" "$TMP/a.folded" "$TMP/b.folded"
else
	for i in 1 2 3; do skip "/dev/full is not a character device here"; done
fi
printf 'a 1\nb\0 2\n' >"$TMP/bin.folded"
exit_code "binary input: exit 1" 1 "$KILN" diff "$TMP/bin.folded" "$TMP/b.folded"
echo 'old' >"$TMP/keep.txt"
"$KILN" diff -o "$TMP/keep.txt" "$TMP/nope.folded" "$TMP/b.folded" 2>/dev/null
if [ "$(cat "$TMP/keep.txt")" = old ]; then ok "a failed run leaves -o FILE as it was"; else not_ok "a failed run leaves -o FILE as it was"; fi
exit_code "help exits 0" 0 "$KILN" diff --help
if "$KILN" help diff | grep -q -- '--strip-hex'; then ok "kiln help diff shows the options"; else not_ok "kiln help diff shows the options"; fi
printf '' >"$TMP/empty.folded"
"$KILN" diff "$TMP/empty.folded" "$TMP/empty.folded" >"$TMP/empty.out"
if [ $? = 0 ] && [ ! -s "$TMP/empty.out" ]; then ok "empty inputs: empty output"; else not_ok "empty inputs: empty output"; fi

done_testing
