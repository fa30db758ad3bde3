#!/usr/bin/env bash
# t1220: the agent's CPU profile backend (src/agent/cpuself.c) through
# tests/agent/cpuself-test, without the HTTP server: profile contents (kiln
# report, go tool pprof), -EBUSY, cancel, the deadline, no growth over 20
# profiles, the warm symbolizer, fork, a short fd limit, an unprivileged
# user. The backend must print nothing.
. "$(dirname "$0")/lib.sh"

AT=${AGENT_TESTS_DIR:-$(dirname "$KILN")/agent-tests}
T=$AT/cpuself-test
[ -x "$T" ] || skip_all "$T not built (make agent-cpu-tests)"
"$T" once >"$TMP/probe.out" 2>&1
grep -q '^rc=0$' "$TMP/probe.out" || skip_all "perf_event_open is refused here: $(head -1 "$TMP/probe.out")"
plan 21

val() { sed -n "s/^$1=//p" "$2" | head -1; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }

"$T" profile "$TMP/p.pb.gz" 2 99 >"$TMP/p.out" 2>"$TMP/p.err"
rc=$(val rc "$TMP/p.out") bytes=$(val bytes "$TMP/p.out") wall=$(val wall "$TMP/p.out")
if [ "$rc" = 0 ] && [ "${bytes:-0}" -gt 100 ] && [ -s "$TMP/p.pb.gz" ]; then ok "a 2 s profile: $bytes bytes of gzipped pprof"
else not_ok "2 s profile (rc $rc, $bytes bytes)"; diag "$(cat "$TMP/p.out" "$TMP/p.err")"; fi
if [ ! -s "$TMP/p.err" ]; then ok "nothing printed on stderr"; else not_ok "stderr is not empty"; diag "$(head -5 "$TMP/p.err")"; fi
if le "$wall" 2.0 && ge "$wall" 1.5; then ok "seconds=2 answered within 2 s (${wall} s)"
else not_ok "seconds=2 took $wall s"; fi
if [ "$(val errno_kept "$TMP/p.out")" = 1 ]; then ok "the caller's errno is kept"; else not_ok "errno changed"; fi
busy=$(val busy_rc "$TMP/p.out") busy_ms=$(val busy_ms "$TMP/p.out")
if [ "$busy" = -16 ] && le "$busy_ms" 50; then ok "a concurrent second call gets -EBUSY at once (${busy_ms} ms)"
else not_ok "concurrent call: rc $busy after $busy_ms ms, want -16 (EBUSY)"; fi

"$KILN" report "$TMP/p.pb.gz" >"$TMP/report.txt" 2>&1
hot=$(awk '$NF == "cpuself_hot_spin" { sub(/%/, "", $2); print $2; exit }' "$TMP/report.txt")
if ge "${hot:-0}" 70; then ok "kiln report: cpuself_hot_spin has $hot% (>= 70%)"
else not_ok "kiln report: cpuself_hot_spin has ${hot:-0}%"; diag "$(head -16 "$TMP/report.txt")"; fi
"$KILN" collapse "$TMP/p.pb.gz" >"$TMP/p.folded" 2>/dev/null
s=$(folded_share spin_thread "$TMP/p.folded")
if ge "$s" 70; then ok "CFI unwinding without frame pointers: $s% of the time reaches spin_thread"
else not_ok "only $s% reaches spin_thread"; diag "$(sort -t' ' -k2 -nr "$TMP/p.folded" | head -3 | cut -c1-300)"; fi

GO=$(command -v go || true)
if [ -n "$GO" ]; then
	mkdir -p "$TMP/home" "$TMP/pprof"
	export HOME=$TMP/home GOCACHE=$TMP/gocache PPROF_TMPDIR=$TMP/pprof
	timeout 120 "$GO" tool pprof -top "$TMP/p.pb.gz" >"$TMP/top.txt" 2>&1
	gh=$(awk '$NF == "cpuself_hot_spin" { sub(/%/, "", $2); print $2; exit }' "$TMP/top.txt")
	if ge "${gh:-0}" 70; then ok "go tool pprof -top: cpuself_hot_spin flat $gh%"
	else not_ok "go tool pprof -top: cpuself_hot_spin ${gh:-0}%"; diag "$(head -12 "$TMP/top.txt")"; fi
	timeout 120 "$GO" tool pprof -raw "$TMP/p.pb.gz" >"$TMP/raw.txt" 2>&1
	if grep -q '^PeriodType: cpu nanoseconds' "$TMP/raw.txt" && grep -q '^Period: 10101010$' "$TMP/raw.txt" &&
		grep -q '^samples/count cpu/nanoseconds' "$TMP/raw.txt" && grep -q '^Duration: ' "$TMP/raw.txt"; then
		ok "Go's layout: samples/count, cpu/nanoseconds, period 1e9/99 ns, a duration"
	else not_ok "sample types and period"; diag "$(head -8 "$TMP/raw.txt")"; fi
	timeout 120 "$GO" tool pprof -traces "$TMP/p.pb.gz" >"$TMP/traces.txt" 2>&1
	if grep -Eq 'thread_name: +spin-1' "$TMP/traces.txt" && grep -Eq 'thread_name: +spin-2' "$TMP/traces.txt" &&
		! grep -Eq '^ *pid:' "$TMP/traces.txt"; then ok "thread_name labels of both spinning threads, no pid label"
	else not_ok "labels"; diag "$(grep -E 'thread|pid' "$TMP/traces.txt" | sort | uniq -c | head)"; fi
	if grep -q '^Mappings' "$TMP/raw.txt" && ! grep -q 'kernel.kallsyms' "$TMP/raw.txt"; then ok "no kernel frames (as in Go's profiles)"
	else not_ok "kernel frames in the profile"; fi
else
	for i in 1 2 3 4; do skip "go tool pprof checks: golang-go is not installed"; done
fi

"$T" cancel "$TMP/c.pb.gz" 0.5 >"$TMP/c.out" 2>&1
rc=$(val rc "$TMP/c.out") wall=$(val wall "$TMP/c.out")
if [ "$rc" = 0 ] && le "$wall" 1.2; then ok "cancel ends a 10 s profile after 0.5 s (${wall} s)"
else not_ok "cancel: rc $rc after $wall s"; diag "$(cat "$TMP/c.out")"; fi
"$KILN" collapse "$TMP/c.pb.gz" >"$TMP/c.folded" 2>/dev/null
s=$(folded_share cpuself_hot_spin "$TMP/c.folded")
if ge "$s" 50; then ok "the cancelled profile holds what was sampled ($s% in cpuself_hot_spin)"
else not_ok "cancelled profile: $s% in cpuself_hot_spin"; fi

"$T" repeat 20 0.5 >"$TMP/r.out" 2>&1
f=$(val failed "$TMP/r.out") r1=$(val rss_first_kb "$TMP/r.out") rn=$(val rss_last_kb "$TMP/r.out")
if [ "$f" = 0 ]; then ok "20 profiles in a row"; else not_ok "20 profiles: $f failed"; fi
grow=$(( ${rn:-0} - ${r1:-0} ))
if [ -n "$r1" ] && [ "$grow" -lt 4096 ]; then ok "anonymous RSS after 20 profiles: $r1 -> $rn KiB (+$grow KiB < 4 MiB)"
else not_ok "anonymous RSS grew from $r1 to $rn KiB"; diag "$(val rss_trace_kb "$TMP/r.out")"; fi
if [ "$(val fds_before "$TMP/r.out")" = "$(val fds_after "$TMP/r.out")" ] &&
	[ "$(val threads_before "$TMP/r.out")" = "$(val threads_after "$TMP/r.out")" ]; then
	ok "no fd or thread left behind ($(val fds_after "$TMP/r.out") fds, $(val threads_after "$TMP/r.out") threads)"
else not_ok "fds or threads left behind"; diag "$(cat "$TMP/r.out")"; fi

# Kept warm between profiles (agent_cpu_trim, as the tick thread calls it):
# reused symbolizer, same results; released on request.
"$T" warm 8 0.5 "$TMP/w.pb.gz" >"$TMP/w.out" 2>&1
"$KILN" collapse "$TMP/w.pb.gz" >"$TMP/w.folded" 2>/dev/null
s=$(folded_share cpuself_hot_spin "$TMP/w.folded")
if [ "$(val failed "$TMP/w.out")" = 0 ] && [ "$(val trim_rc "$TMP/w.out")" = 0 ] && ge "$s" 70; then
	ok "8 profiles with a warm symbolizer; the last has $s% in cpuself_hot_spin"
	diag "profiler CPU: first $(val first_cpu_ms "$TMP/w.out") ms, then $(val rest_cpu_ms_avg "$TMP/w.out") ms per profile"
else not_ok "warm symbolizer ($s%)"; diag "$(cat "$TMP/w.out")"; fi
fb=$(val fds_before "$TMP/w.out") fw=$(val fds_warm "$TMP/w.out") fr=$(val fds_released "$TMP/w.out")
rw=$(val rss_warm_kb "$TMP/w.out") rr=$(val rss_released_kb "$TMP/w.out")
if [ "$(val release_rc "$TMP/w.out")" = 0 ] && [ "$fr" = "$fb" ] && [ "${rr:-0}" -le "${rw:-0}" ]; then
	ok "agent_cpu_trim(1) releases it: fds $fw -> $fr, RSS $rw -> $rr KiB"
else not_ok "release of the warm symbolizer"; diag "$(cat "$TMP/w.out")"; fi

# The host forks during a profile: the child holds no sampling fd (they
# would keep the parent sampled) and can profile itself (no stale -EBUSY).
"$T" fork >"$TMP/f.out" 2>&1
if [ "$(val child_perf_fds "$TMP/f.out")" = 0 ] && [ "$(val child_rc "$TMP/f.out")" = 0 ] &&
	[ "$(val parent_rc "$TMP/f.out")" = 0 ] && [ "$(val parent_perf_fds_after "$TMP/f.out")" = 0 ]; then
	ok "fork during a profile: the child has no perf fds and profiles itself"
else not_ok "fork during a profile"; diag "$(cat "$TMP/f.out")"; fi

# Events take one fd per (thread, CPU): a host short of fds is not starved.
(ulimit -n 24 && "$T" once) >"$TMP/fd.out" 2>&1
if [ "$(val rc "$TMP/fd.out")" = -24 ]; then ok "with RLIMIT_NOFILE 24 the profile is refused with -EMFILE"
else not_ok "low RLIMIT_NOFILE"; diag "$(cat "$TMP/fd.out")"; fi

# An unprivileged user: perf_event_open may be refused (perf_event_paranoid);
# then the call returns -EACCES or -EPERM (the server answers 503), quietly.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	cp "$T" "$TMP/cpuself-test" && chmod 755 "$TMP" "$TMP/cpuself-test"
	(cd / && setpriv --reuid=65534 --regid=65534 --clear-groups "$TMP/cpuself-test" once) >"$TMP/u.out" 2>"$TMP/u.err"
	rc=$(val rc "$TMP/u.out")
	if { [ "$rc" = 0 ] || [ "$rc" = -13 ] || [ "$rc" = -1 ]; } && [ ! -s "$TMP/u.err" ]; then
		ok "unprivileged (perf_event_paranoid $(cat /proc/sys/kernel/perf_event_paranoid)): rc $rc, nothing printed"
	else not_ok "unprivileged: rc '$rc'"; diag "$(cat "$TMP/u.out" "$TMP/u.err")"; fi
else
	skip "the unprivileged check needs root and setpriv"
fi
done_testing
