#!/bin/bash
# t0300-flame: kiln flame end to end: each option's effect on the SVG, the
# inferno corpus inputs, bad/binary/empty input, -o on a full disk, and
# byte-for-byte determinism.
# Invariant: checks read the SVG's structure (titles, data-* attributes,
# rect geometry), never whole expected files.
. "$(dirname "$0")/lib.sh"

plan 46

printf 'main;a;x 3\nmain;b 1\nmain;a;y 2\nmain 4\n' >"$TMP/in.folded"
flame() { "$KILN" flame "$@"; }
# frame FILE NAME: the first frame line (one per <g>) titled "NAME (".
frame() { grep -F "<title>$2 (" "$1" | head -1; }
attr() { sed -n "s/.* $1=\"\([^\"]*\)\".*/\1/p" | head -1; }

flame "$TMP/in.folded" >"$TMP/base.svg" 2>"$TMP/base.err"
check "renders a simple input" test -s "$TMP/base.svg"
if command -v xmllint >/dev/null; then
	check "output is well-formed XML" xmllint --noout "$TMP/base.svg"
else
	skip "xmllint not installed"
fi
check "merged frame a has 5 samples, 50%" grep -qF '<title>a (5 samples, 50.00%)</title>' "$TMP/base.svg"
check "root frame 'all' has 10 samples" grep -qF '<title>all (10 samples, 100%)</title>' "$TMP/base.svg"
check "hover/zoom/search UI present" sh -c "grep -q 'id=\"details\"' '$TMP/base.svg' && grep -q '>Reset Zoom<' '$TMP/base.svg' && grep -q 'id=\"search\"' '$TMP/base.svg' && grep -q 'id=\"ignorecase\"' '$TMP/base.svg' && grep -q 'id=\"matched\"' '$TMP/base.svg'"
check "interactive script embedded" grep -q 'function search(' "$TMP/base.svg"
check "default title" grep -q '>Flame Graph</text>' "$TMP/base.svg"
ax=$(frame "$TMP/base.svg" a | attr data-x); bx=$(frame "$TMP/base.svg" b | attr data-x)
if [ "$ax" = 0 ] && [ "$bx" = 5 ]; then ok "children sorted by name (a before b)"; else not_ok "children sorted by name (a=$ax b=$bx)"; fi

# options
flame --title 'My <Title>' --subtitle 'sub & more' "$TMP/in.folded" >"$TMP/t.svg"
check "--title escaped" grep -qF '>My &lt;Title&gt;</text>' "$TMP/t.svg"
check "--subtitle shown" grep -qF 'id="subtitle"' "$TMP/t.svg"
flame --width 600 "$TMP/in.folded" >"$TMP/w.svg"
w=$(head -5 "$TMP/w.svg" | grep -o '<svg [^>]*' | attr width)
aw=$(frame "$TMP/w.svg" all | grep -o '<rect [^>]*' | attr width)
if [ "$w" = 600 ] && [ "$aw" = 580.0 ]; then ok "--width 600: image and root width"; else not_ok "--width (svg $w, root $aw)"; fi
flame --height 30 "$TMP/in.folded" >"$TMP/h.svg"
hh=$(frame "$TMP/h.svg" a | grep -o '<rect [^>]*' | attr height)
if [ "$hh" = 29.0 ]; then ok "--height 30: frames 29 px plus 1 px pad"; else not_ok "--height (got $hh)"; fi
printf 'big 9990\nsmall 10\n' >"$TMP/mw.folded"
flame --minwidth 2 "$TMP/mw.folded" >"$TMP/mw1.svg"
flame "$TMP/mw.folded" >"$TMP/mw0.svg"
if ! frame "$TMP/mw1.svg" small | grep -q . && frame "$TMP/mw0.svg" small | grep -q .; then ok "--minwidth pixels prunes a 1.2 px frame"; else not_ok "--minwidth pixels"; fi
flame --minwidth 0.2% "$TMP/mw.folded" >"$TMP/mw2.svg"
if ! frame "$TMP/mw2.svg" small | grep -q .; then ok "--minwidth 0.2% prunes a 0.1% frame"; else not_ok "--minwidth percent"; fi
flame --colors blue "$TMP/in.folded" >"$TMP/c.svg"
fills=$(grep -o 'fill="rgb([0-9]*,[0-9]*,[0-9]*)"' "$TMP/c.svg" | sed 's/[^0-9,]//g' | awk -F, '$3 < 205 || $1 != $2 {bad++} END {print bad+0}')
check "--colors blue: all frames blue" test "$fills" = 0
check "--colors blue: grey background" grep -q '#f8f8f8' "$TMP/c.svg"
exit_code "--colors bogus is a usage error" 2 "$KILN" flame --colors bogus "$TMP/in.folded"
flame --hash "$TMP/in.folded" >"$TMP/hash.svg"
if ! cmp -s "$TMP/hash.svg" "$TMP/base.svg"; then ok "--hash changes colours"; else not_ok "--hash changes colours"; fi
flame --reverse "$TMP/in.folded" >"$TMP/r.svg"
check "--reverse: leaf x at depth 1" sh -c "grep -F '<title>x (' '$TMP/r.svg' | grep -q 'data-d=\"1\"'"
flame --inverted "$TMP/in.folded" >"$TMP/i.svg"
y1=$(frame "$TMP/i.svg" main | grep -o '<rect [^>]*' | attr y); y2=$(frame "$TMP/i.svg" a | grep -o '<rect [^>]*' | attr y)
if awk "BEGIN{exit !($y1 < $y2)}"; then ok "--inverted: callees below callers"; else not_ok "--inverted ($y1 vs $y2)"; fi
check "--inverted: Icicle Graph title" grep -q '>Icicle Graph</text>' "$TMP/i.svg"
printf 'a;b 1\nc 1\na;b 1\n' >"$TMP/fc.folded"
flame --flamechart "$TMP/fc.folded" >"$TMP/fc.svg"
n=$(grep -c '<title>a (' "$TMP/fc.svg")
check "--flamechart keeps input order (two a frames)" test "$n" = 2
flame --countname bytes --nametype 'Func:' "$TMP/in.folded" >"$TMP/cn.svg"
check "--countname in titles" grep -qF '<title>a (5 bytes, 50.00%)</title>' "$TMP/cn.svg"
check "--nametype in the script" grep -q 'nametype: "Func:"' "$TMP/cn.svg"
flame --notes 'build 42' "$TMP/in.folded" >"$TMP/n.svg"
check "--notes in a comment" grep -q '<!-- NOTES: build 42 -->' "$TMP/n.svg"
flame --factor 2 "$TMP/in.folded" >"$TMP/f.svg"
check "--factor scales counts, not shares" grep -qF '<title>a (10 samples, 50.00%)</title>' "$TMP/f.svg"
flame --fonttype monospace --fontsize 20 "$TMP/in.folded" >"$TMP/font.svg"
check "--fonttype/--fontsize in the style" grep -q 'font-family:monospace; font-size:20px' "$TMP/font.svg"
printf 'm;up 1 9\nm;down 9 1\n' >"$TMP/diff.folded"
flame "$TMP/diff.folded" >"$TMP/d.svg"
flame --negate "$TMP/diff.folded" >"$TMP/dn.svg"
up=$(frame "$TMP/d.svg" up | grep -o 'fill="[^"]*"'); upn=$(frame "$TMP/dn.svg" up | grep -o 'fill="[^"]*"')
if [ "$up" = 'fill="rgb(255,0,0)"' ] && [ "$upn" = 'fill="rgb(0,0,255)"' ]; then ok "differential: grew is red, --negate blue"; else not_ok "differential colours ($up / $upn)"; fi
check "differential: width from the second count" grep -qF '<title>up (9 samples, 90.00%; +80.00%)' "$TMP/d.svg"

# several inputs merge, stdin works
flame "$TMP/in.folded" "$TMP/in.folded" >"$TMP/two.svg"
check "two inputs merge" grep -qF '<title>all (20 samples, 100%)</title>' "$TMP/two.svg"
flame <"$TMP/in.folded" >"$TMP/stdin.svg"
same_file "stdin gives the same SVG" "$TMP/base.svg" "$TMP/stdin.svg"
flame -o "$TMP/out.svg" "$TMP/in.folded"
same_file "-o FILE gives the same SVG" "$TMP/base.svg" "$TMP/out.svg"

# determinism
flame "$TMP/in.folded" >"$TMP/again.svg"
same_file "same input, same bytes" "$TMP/base.svg" "$TMP/again.svg"
sort -r "$TMP/in.folded" | flame >"$TMP/rev.svg"
same_file "input order does not matter" "$TMP/base.svg" "$TMP/rev.svg"

# bad input
printf 'a;b 1\nnot a stack\nc 2\n' >"$TMP/bad.folded"
flame "$TMP/bad.folded" >"$TMP/bad.svg" 2>"$TMP/bad.err"
rc=$?
if [ $rc = 0 ] && grep -q 'ignored 1 line.*line 2' "$TMP/bad.err"; then ok "bad lines skipped with a warning naming line 2"; else not_ok "bad lines (rc $rc)"; diag "$(cat "$TMP/bad.err")"; fi
flame -q "$TMP/bad.folded" >/dev/null 2>"$TMP/q.err"
check "-q silences the warning" test ! -s "$TMP/q.err"
: >"$TMP/empty"
flame "$TMP/empty" >"$TMP/empty.svg" 2>/dev/null
rc=$?
if [ $rc = 1 ] && grep -q 'ERROR: No valid input provided' "$TMP/empty.svg"; then ok "empty input: error SVG, exit 1"; else not_ok "empty input (rc $rc)"; fi
printf 'garbage\nmore garbage\n' | flame >"$TMP/garbage.svg" 2>"$TMP/garbage.err"
rc=$?
if [ $rc = 1 ] && grep -q 'not perf script text, folded stacks or a pprof profile' "$TMP/garbage.err"; then ok "garbage input: clear error, exit 1"; else not_ok "garbage input (rc $rc)"; fi
head -c 4096 /dev/urandom >"$TMP/binary"
printf 'x\0y 1\n' >>"$TMP/binary"
exit_code "binary input fails with exit 1" 1 "$KILN" flame "$TMP/binary"
exit_code "missing file fails with exit 1" 1 "$KILN" flame "$TMP/nope.folded"
exit_code "-o /dev/full fails with exit 1" 1 "$KILN" flame -o /dev/full "$TMP/in.folded"
check "/dev/full is still a device" test -c /dev/full
exit_code "unknown option is a usage error" 2 "$KILN" flame --bogus
check "--help lists every option" sh -c "'$KILN' flame --help | grep -q -- --minwidth && '$KILN' flame --help | grep -q -- --flamechart && '$KILN' flame --help | grep -q -- --negate"

# the inferno corpus renders
dir=$CORPUS/inferno-flamegraph
if [ -d "$dir" ]; then
	fails=0 n=0
	for f in "$dir"/*/*.txt; do
		case "$f" in */nameattr/*) continue ;; esac # --nameattr files, not stacks
		n=$((n + 1))
		"$KILN" flame -q "$f" >"$TMP/corpus.svg" 2>"$TMP/corpus.err"
		rc=$?
		case "$f" in
		*/empty/*) [ $rc = 1 ] || { fails=$((fails + 1)); diag "$f: rc $rc"; } ;;
		*) { [ $rc = 0 ] && grep -q '</svg>' "$TMP/corpus.svg"; } || { fails=$((fails + 1)); diag "$f: rc $rc"; } ;;
		esac
	done
	check "all $n corpus inputs render" test "$fails" = 0
	if "$KILN" flame -q "$dir"/multiple-inputs/*.txt >"$TMP/multi.svg" &&
		"$KILN" flame -q "$dir"/unsorted-input/*.txt >"$TMP/unsorted.svg"; then
		a=$(grep -o '<title>all ([^)]*)' "$TMP/multi.svg"); b=$(grep -o '<title>all ([^)]*)' "$TMP/unsorted.svg")
		if [ -n "$a" ] && [ "$a" = "$b" ]; then ok "corpus: two input files = their concatenation"; else not_ok "corpus multiple inputs ($a / $b)"; fi
	else
		not_ok "corpus multiple inputs render"
	fi
else
	skip "corpus not found at $dir"
	skip "corpus not found at $dir"
fi

done_testing
