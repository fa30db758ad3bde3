#!/bin/bash
# t1320-report-html: kiln html writes a results folder's index.html: every
# section present, names escaped, nothing fetched from outside, a missing
# file a note and not a failure, bad folders clear errors; then the page in
# headless Chromium (tests/e2e/browser/report.js): it renders, the embedded
# flamegraph zooms on a click, the verdict table shows, and a screenshot is
# saved ($KILN_ARTIFACTS/report.png when set).
# Invariant: the folder is made by real kiln record/heap/mem runs
# (results-lib.sh); the browser half skips only when chromium, node or
# playwright-core is missing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/results-lib.sh"

D=$TMP/run
if ! make_results "$D" "$WORKLOADS/shares" 1; then
	echo "1..1"; echo "not ok 1 - could not build a results folder with kiln record, heap and mem"; exit 1
fi
P=$D/index.html

"$KILN" html "$D" >"$TMP/out" 2>&1
if [ $? = 0 ] && [ -s "$P" ]; then ok "kiln html writes index.html"; else not_ok "kiln html writes index.html"; diag "$(cat "$TMP/out")"; fi
grep -q "wrote $D/index.html" "$TMP/out" && ok "says what it wrote" || not_ok "says what it wrote"
case $(head -c 15 "$P") in "<!DOCTYPE html>") ok "an HTML5 document" ;; *) not_ok "an HTML5 document" ;; esac
tail -c 8 "$P" | grep -q '</html>' && ok "the document is complete" || not_ok "the document is complete"

for id in summary cpu top-functions heap top-sites leak-summary memory files; do
	grep -q "id=\"$id\"" "$P" && ok "has #$id" || not_ok "has #$id"
done
! grep -q 'id="checks"' "$P" && ok "no budget section before kiln check ran" || not_ok "no budget section before kiln check ran"
! grep -q 'id="offcpu"' "$P" && ok "no off-CPU section without an off-CPU profile" || not_ok "no off-CPU section without an off-CPU profile"

# the figures on the page are the runs' own
top=$(awk '/^ *flat +flat%/ { getline; print $6; exit }' "$D/report.txt")
grep -q "<td class=\"name\">$top</td>" "$P" && ok "the top function ($top) is in the table" || not_ok "the top function ($top) is in the table"
grep -q 'definitely lost: 112 bytes in 3 blocks' "$P" && ok "leak summary in memcheck's words (112 bytes in 3 blocks)" ||
	not_ok "leak summary in memcheck's words"
grep -q '<div class="label">Definitely lost</div><div class="value">112 B</div>' "$P" && ok "definitely-lost card" ||
	not_ok "definitely-lost card"
n_img=$(grep -o '<img [^>]*src="data:image/svg+xml;base64,' "$P" | wc -l)
[ "$n_img" = 2 ] && ok "heap and memory charts embedded as data: URIs" || not_ok "heap and memory charts embedded ($n_img)"
grep -q '<iframe class="flame"[^>]*src="data:image/svg+xml;base64,' "$P" && ok "flamegraph embedded in an iframe" ||
	not_ok "flamegraph embedded in an iframe"
# the flamegraph inside is the folder's flame.svg, byte for byte but for
# its root's size, which follows the page's width (through its viewBox)
sed -n 's/.*<iframe class="flame"[^>]*src="data:image\/svg+xml;base64,\([^"]*\)".*/\1/p' "$P" | base64 -d >"$TMP/embedded.svg"
sed '/^<svg /s/ width="[0-9.]*" height="[0-9.]*"/ width="100%" height="100%"/' "$D/flame.svg" >"$TMP/fluid.svg"
! cmp -s "$D/flame.svg" "$TMP/fluid.svg" && ok "flame.svg's root has a size to free" || not_ok "flame.svg's root has a size to free"
same_file "the embedded flamegraph is flame.svg" "$TMP/fluid.svg" "$TMP/embedded.svg"
# nothing refers outside the page: no src/href with a scheme but data:
ext=$(grep -oE '(src|href)="[a-z]+:' "$P" | grep -v '="data:' | sort -u)
[ -z "$ext" ] && ok "no external references" || { not_ok "no external references"; diag "$ext"; }
! grep -qiE '<(script|link)[^>]*(src|href)=' "$P" && ok "no linked scripts or style sheets" || not_ok "no linked scripts or style sheets"
grep -q '<a href="cpu.pb.gz">' "$P" && grep -q '<a href="leaks.txt">' "$P" && grep -q '<a href="target.log">' "$P" &&
	ok "relative links to the raw files" || not_ok "relative links to the raw files"
size=$(wc -c <"$P")
fsize=$(( $(wc -c <"$D/flame.svg") + $(wc -c <"$D/heap.svg") + $(wc -c <"$D/mem.svg") ))
[ "$size" -gt "$fsize" ] && [ "$size" -lt $((fsize * 2 + 200000)) ] && ok "size sane ($size bytes)" ||
	not_ok "size sane ($size bytes for $fsize bytes of SVG)"

# kiln check's verdicts, with names that need escaping
add_checks "$D"
"$KILN" html -q "$D" >"$TMP/out" 2>&1 && [ ! -s "$TMP/out" ] && ok "-q: quiet" || not_ok "-q: quiet"
grep -q 'id="checks"' "$P" && grep -q 'id="verdicts"' "$P" && ok "budget section once kiln check ran" ||
	not_ok "budget section once kiln check ran"
grep -q '100.0% in spin&lt;int&gt; &amp; &lt;co&gt;' "$P" && ok "names are HTML-escaped" || not_ok "names are HTML-escaped"
! grep -q 'spin<int>' "$P" && ok "no raw < > in the page's text" || not_ok "no raw < > in the page's text"
grep -q '<span class="verdict fail">fail</span>' "$P" && grep -q '<span class="verdict pass">pass</span>' "$P" &&
	ok "verdicts coloured by class" || not_ok "verdicts coloured by class"

# a missing file is a note, not a failure
cp -r "$D" "$TMP/partial"
rm "$TMP/partial/heap.svg" "$TMP/partial/index.html"
check "a missing chart does not fail the page" "$KILN" html "$TMP/partial"
grep -q 'heap.svg is missing from this folder' "$TMP/partial/index.html" && ok "a note says heap.svg is missing" ||
	not_ok "a note says heap.svg is missing"
grep -q 'id="memory"' "$TMP/partial/index.html" && ok "the other sections are still there" || not_ok "the other sections are still there"
# a chart that is a FIFO (no writer) is a note, not a hang
rm "$TMP/partial/index.html"; mkfifo "$TMP/partial/heap.svg"
check "a FIFO in place of a chart does not hang the page" timeout 20 "$KILN" html "$TMP/partial"
grep -q 'heap.svg cannot be read' "$TMP/partial/index.html" && ok "a note says heap.svg cannot be read" ||
	not_ok "a note says heap.svg cannot be read"

# bad folders
mkdir "$TMP/empty"
exit_code "a folder without summary.json fails" 1 "$KILN" html "$TMP/empty"
grep -q "not a results folder (no summary.json)" "$TMP/exit.out" && ok "and says so" || { not_ok "and says so"; diag "$(cat "$TMP/exit.out")"; }
exit_code "a file is not a folder" 1 "$KILN" html "$D/summary.json"
mkdir "$TMP/bad"; echo '{"version": 1, "cpu": 3}' >"$TMP/bad/summary.json"
exit_code "a malformed summary.json fails" 1 "$KILN" html "$TMP/bad"
grep -q "cpu" "$TMP/exit.out" && ok "naming the bad key" || { not_ok "naming the bad key"; diag "$(cat "$TMP/exit.out")"; }
[ ! -e "$TMP/bad/index.html" ] && ok "and writes no page" || not_ok "and writes no page"
mkdir "$TMP/fifo"; mkfifo "$TMP/fifo/summary.json"
exit_code "a FIFO as summary.json fails, without hanging" 1 timeout 20 "$KILN" html "$TMP/fifo"
grep -q "summary.json" "$TMP/exit.out" && ok "naming summary.json" || { not_ok "naming summary.json"; diag "$(cat "$TMP/exit.out")"; }
exit_code "no folder is a usage error" 2 "$KILN" html
ls -a "$D" | grep -q '\.tmp$' && not_ok "no temporary left behind" || ok "no temporary left behind"

# the browser
shot=$TMP/report.png
expect='{"sections":["summary","checks","cpu","heap","memory","files"],"text":["'$top'","definitely lost: 112 bytes in 3 blocks","spin<int> & <co>"],"frame":"work_a","verdicts":{"pass":1,"fail":1,"skip":1}}'
browser_check "$P" "$shot" "$expect"
if [ -n "${KILN_ARTIFACTS:-}" ] && [ -f "$shot" ]; then
	mkdir -p "$KILN_ARTIFACTS" && cp "$shot" "$KILN_ARTIFACTS/report.png" && diag "screenshot: $KILN_ARTIFACTS/report.png"
fi
plan $_n
done_testing
