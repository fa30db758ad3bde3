#!/usr/bin/env bash
# t0600: kiln report: exact rows for a known 60/30/10 folded profile, a Go
# CPU profile, sort orders, the call tree, JSON that parses, --threads on
# input without labels, and errors (missing file, bad option, full disk,
# binary garbage) with their exit codes.
. "$(dirname "$0")/lib.sh"
plan 17

cat >"$TMP/in.folded" <<'EOF2'
prog;main;work_a 600
prog;main;work_b 300
prog;main;work_c 100
EOF2

cat >"$TMP/want.txt" <<EOF2
File:     $TMP/in.folded (folded stacks)
Type:     samples (count)
Total:    1000 samples in 3 stacks

Showing all 5 functions, sorted by self

flat    flat%     sum%   cum     cum%  function
 600   60.00%   60.00%   600   60.00%  work_a
 300   30.00%   90.00%   300   30.00%  work_b
 100   10.00%  100.00%   100   10.00%  work_c
   0    0.00%  100.00%  1000  100.00%  main
   0    0.00%  100.00%  1000  100.00%  prog
EOF2
"$KILN" report "$TMP/in.folded" >"$TMP/out.txt" 2>"$TMP/err"
same_file "report on a 60/30/10 folded profile" "$TMP/want.txt" "$TMP/out.txt"

"$KILN" report --sort total --limit 2 "$TMP/in.folded" >"$TMP/total.txt" 2>&1
if grep -q 'Showing the top 2 of 5 functions, sorted by total' "$TMP/total.txt" &&
   [ "$(tail -2 "$TMP/total.txt" | awk '{print $NF}' | tr '\n' ' ')" = "main prog " ]; then
	ok "--sort total --limit 2"
else not_ok "--sort total --limit 2"; diag "$(cat "$TMP/total.txt")"; fi

"$KILN" report --sort name --limit 0 "$TMP/in.folded" >"$TMP/name.txt" 2>&1
if [ "$(tail -5 "$TMP/name.txt" | awk '{print $NF}' | tr '\n' ' ')" = "main prog work_a work_b work_c " ]; then
	ok "--sort name"
else not_ok "--sort name"; diag "$(cat "$TMP/name.txt")"; fi

cat >"$TMP/want-tree.txt" <<'EOF2'
 total%    self%  total  self  function
100.00%    0.00%   1000     0  prog
100.00%    0.00%   1000     0    main
 60.00%   60.00%    600   600      work_a
 30.00%   30.00%    300   300      work_b
EOF2
"$KILN" report --tree --min-percent 20 "$TMP/in.folded" >"$TMP/tree.txt" 2>&1
sed -n '/total%/,$p' "$TMP/tree.txt" >"$TMP/tree-body.txt"
same_file "--tree prunes below --min-percent" "$TMP/want-tree.txt" "$TMP/tree-body.txt"

# Recursion: a function twice on one stack counts once towards its total.
printf 'main;rec;rec;rec 5\nmain;rec 5\nmain;other 10\n' >"$TMP/rec.folded"
"$KILN" report "$TMP/rec.folded" >"$TMP/rec.txt" 2>&1
if grep -Eq '^ +10 +50\.00% +[0-9.]+% +10 +50\.00%  rec$' "$TMP/rec.txt"; then ok "recursion counts once"
else not_ok "recursion counts once"; diag "$(cat "$TMP/rec.txt")"; fi

# Standard input and perf script text.
"$KILN" report <"$TMP/in.folded" >"$TMP/stdin.txt" 2>&1
if grep -q '^File:     standard input (folded stacks)' "$TMP/stdin.txt" && grep -q 'work_a$' "$TMP/stdin.txt"; then
	ok "reads standard input"
else not_ok "reads standard input"; diag "$(cat "$TMP/stdin.txt")"; fi
"$KILN" report -q "$ROOT/tests/data/demo.perf-script.txt" >"$TMP/perf.txt" 2>&1
if grep -q '(perf script text)' "$TMP/perf.txt" && grep -q 'flat%' "$TMP/perf.txt"; then ok "reads perf script text"
else not_ok "reads perf script text"; diag "$(head -20 "$TMP/perf.txt")"; fi

# A profile written by Go's runtime/pprof.
"$KILN" report "$ROOT/tests/data/go/cpu.pb.gz" >"$TMP/go.txt" 2>"$TMP/err"
if grep -q '^Type:     cpu (nanoseconds)$' "$TMP/go.txt" && grep -Eq '[0-9.]+(ms|s) .*  main\.spin$' "$TMP/go.txt"; then
	ok "Go CPU profile: cpu in ms, main.spin listed"
else not_ok "Go CPU profile"; diag "$(cat "$TMP/go.txt" "$TMP/err")"; fi
"$KILN" report --sample-type alloc_space "$ROOT/tests/data/go/heap.pb.gz" >"$TMP/heap.txt" 2>"$TMP/err"
if grep -q '^Type:     alloc_space (bytes)$' "$TMP/heap.txt" && grep -Eq 'i?B  ' "$TMP/heap.txt"; then
	ok "--sample-type alloc_space, bytes shown as B/KiB/MiB"
else not_ok "--sample-type alloc_space"; diag "$(cat "$TMP/heap.txt" "$TMP/err")"; fi
exit_code "unknown --sample-type exits 1" 1 "$KILN" report --sample-type nope "$ROOT/tests/data/go/cpu.pb.gz"

# JSON.
if command -v python3 >/dev/null; then
	"$KILN" report --json --tree "$ROOT/tests/data/go/cpu.pb.gz" >"$TMP/go.json" 2>"$TMP/err"
	if python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["sample_type"]=="cpu"; assert any(r["name"]=="main.spin" for r in d["rows"]); assert d["tree"]["children"]' <"$TMP/go.json" 2>"$TMP/pyerr"; then
		ok "--json --tree parses, with rows and tree"
	else not_ok "--json parses"; diag "$(head -c 1000 "$TMP/go.json")" "$(cat "$TMP/pyerr" "$TMP/err")"; fi
else
	skip "--json parses: python3 is not installed"
fi

# --threads on input without thread labels: one group, and a warning.
"$KILN" report --threads "$TMP/in.folded" >"$TMP/thr.txt" 2>"$TMP/thr.err"
if grep -q 'no thread labels' "$TMP/thr.err" && grep -q 'work_a$' "$TMP/thr.txt"; then ok "--threads without labels: one group, says so"
else not_ok "--threads without labels"; diag "$(cat "$TMP/thr.txt" "$TMP/thr.err")"; fi

# --threads on a pprof profile with thread labels, written by hand.
if command -v python3 >/dev/null; then
	python3 - "$TMP/thr.pb" <<'PY'
import sys
def varint(n):
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])
def field(num, payload):  # length-delimited
    return varint(num << 3 | 2) + varint(len(payload)) + payload
def vfield(num, v):
    return varint(num << 3) + varint(v)
strs = ["", "cpu", "nanoseconds", "main", "work", "thread", "alpha", "beta"]
msg = field(1, vfield(1, 1) + vfield(2, 2))
def sample(locs, value, thread):
    return field(2, field(1, b"".join(varint(l) for l in locs)) + field(2, varint(value))
                 + field(3, vfield(1, 5) + vfield(2, thread)))
msg += sample([2, 1], 700, 6) + sample([2, 1], 200, 7) + sample([1], 100, 7)
for fid, name in ((1, 3), (2, 4)):
    msg += field(4, vfield(1, fid) + field(4, vfield(1, fid)))
    msg += field(5, vfield(1, fid) + vfield(2, name))
for s in strs:
    msg += field(6, s.encode())
open(sys.argv[1], "wb").write(msg)
PY
	gzip -c "$TMP/thr.pb" >"$TMP/thr.pb.gz"
	"$KILN" report --threads "$TMP/thr.pb.gz" >"$TMP/thr2.txt" 2>&1
	if grep -q '^Thread: alpha (700ns, 70.00% of the total' "$TMP/thr2.txt" &&
	   grep -q '^Thread: beta (300ns, 30.00% of the total' "$TMP/thr2.txt" &&
	   grep -Eq '^ *200ns +66\.67% .*  work$' "$TMP/thr2.txt"; then
		ok "--threads splits a pprof profile by its thread label"
	else not_ok "--threads on labelled pprof"; diag "$(cat "$TMP/thr2.txt")"; fi
else
	skip "--threads on labelled pprof: python3 is not installed"
fi

# Errors.
exit_code "missing file exits 1" 1 "$KILN" report "$TMP/does-not-exist"
exit_code "bad option exits 2" 2 "$KILN" report --frobnicate "$TMP/in.folded"
exit_code "-o /dev/full exits 1" 1 "$KILN" report -o /dev/full "$TMP/in.folded"
head -c 4096 /dev/urandom >"$TMP/garbage.bin"
printf '\0\1\2\3' >>"$TMP/garbage.bin"
exit_code "binary garbage exits 1" 1 "$KILN" report "$TMP/garbage.bin"
done_testing
