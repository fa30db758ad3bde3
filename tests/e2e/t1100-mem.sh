#!/usr/bin/env bash
# t1100: kiln mem on the mem-grow workload (20 x 4 MiB, held, then half
# freed): the sampled peak RSS is near 80 MiB over the baseline, growth is
# positive, a verdict is printed, the CSV has one row per sample, the SVG
# is well formed, --breakdown names libc and [heap]; and the error paths:
# a PID that does not exist, a full disk. Tolerances are wide: CI is a
# loaded 2-core machine.
. "$(dirname "$0")/lib.sh"

W=$WORKLOADS/mem-grow
[ -x "$W" ] || skip_all "workload $W not built"
[ -r /proc/self/smaps ] || skip_all "no /proc/PID/smaps here"
plan 11

"$KILN" mem --interval 100ms --breakdown --csv "$TMP/m.csv" --svg "$TMP/m.svg" --json "$TMP/m.json" \
	-- "$W" >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" = 0 ]; then ok "kiln mem -- mem-grow exits 0"; else not_ok "kiln mem exit $rc"; diag "$(cat "$TMP/err")"; fi

# peak RSS from the summary, in MiB: 80 MiB allocated plus a small baseline
peak=$(awk '/^  peak RSS/ { v = $3; u = $4; if (u == "GiB") v *= 1024; if (u == "KiB") v /= 1024; print v }' "$TMP/out")
if [ -n "$peak" ] && awk -v p="$peak" 'BEGIN { exit !(p >= 78 && p <= 95) }'; then ok "peak RSS $peak MiB ~ 80 MiB + baseline"
else not_ok "peak RSS '$peak' MiB, want 78..95"; diag "$(tail -20 "$TMP/out")"; fi

g=$(awk '/^  growth/ { print $2 }' "$TMP/out")
if awk -v g="$g" 'BEGIN { exit !(g + 0 > 0) }'; then ok "positive growth rate ($g MB/hour)"; else not_ok "growth '$g'"; fi

if grep -Eq '^verdict \(heuristic\): (likely leak|grew, then released|stable|shrinking|too short)' "$TMP/out"; then ok "a verdict line, marked heuristic"
else not_ok "verdict line"; diag "$(tail -12 "$TMP/out")"; fi
if grep -Eq 'current is [0-9]+% of peak' "$TMP/out"; then ok "current against peak"; else not_ok "current against peak"; fi

want='time_s,rss,rss_anon,rss_file,rss_shmem,pss,vss,data,stack,text,libs,swap,heap,minflt,majflt,threads,cgroup_usage,cgroup_limit,psi_some_avg10,psi_full_avg10,mem_available'
rows=$(($(wc -l <"$TMP/m.csv") - 1))
nsamp=$(sed -n 's/.*, \([0-9]*\) samples every.*/\1/p' "$TMP/out")
if [ "$(head -1 "$TMP/m.csv")" = "$want" ] && [ "$rows" = "$nsamp" ] && [ "$rows" -ge 5 ]; then ok "CSV: the columns, $rows rows for $nsamp samples"
else not_ok "CSV: $rows rows, $nsamp samples"; diag "$(head -2 "$TMP/m.csv")"; fi

if python3 -c 'import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); assert d.documentElement.tagName == "svg"; assert len(d.getElementsByTagName("path")) >= 3; assert d.getElementsByTagName("circle")' "$TMP/m.svg" 2>"$TMP/svg.err" ||
   { ! command -v python3 >/dev/null && grep -q '</svg>' "$TMP/m.svg"; }; then ok "SVG is well formed, with lines and the peak"
else not_ok "SVG"; diag "$(cat "$TMP/svg.err")"; fi

if grep -Eq ' lib +.*/libc\.so' "$TMP/out" && grep -Eq ' heap +\[heap\]' "$TMP/out"; then ok "--breakdown lists libc and [heap]"
else not_ok "--breakdown"; diag "$(sed -n '/memory by component/,$p' "$TMP/out")"; fi

# a pid that does not exist: beyond pid_max
exit_code "-p of a nonexistent pid exits 1" 1 "$KILN" mem -p 2147483646
if grep -q 'no process with PID' "$TMP/exit.out"; then ok "... with a clear message"; else not_ok "message"; diag "$(cat "$TMP/exit.out")"; fi

exit_code "--csv /dev/full exits 1" 1 "$KILN" mem -q --interval 100ms -o /dev/full -- "$W" 2 1 50 0 0
done_testing
