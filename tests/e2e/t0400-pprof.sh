#!/usr/bin/env bash
# t0400: pprof in and out: kiln collapse writes a gzipped profile.proto that
# go tool pprof (a real peer) reads with the right functions and shares, and
# every command reads pprof back; malformed profiles get clear errors.
. "$(dirname "$0")/lib.sh"
plan 13

# A known profile: 60/30/10 over three leaves under main.
cat >"$TMP/in.folded" <<'EOF2'
prog;main;work_a 600
prog;main;work_b 300
prog;main;work_c 100
EOF2

"$KILN" collapse "$TMP/in.folded" -o "$TMP/p.pb.gz"
if [ -s "$TMP/p.pb.gz" ] && [ "$(head -c 2 "$TMP/p.pb.gz" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
	ok "collapse -o x.pb.gz writes gzipped pprof"
else
	not_ok "collapse -o x.pb.gz writes gzipped pprof"
fi

"$KILN" collapse "$TMP/p.pb.gz" >"$TMP/back.folded"
same_file "pprof round trip gives the same folded stacks" "$TMP/in.folded" "$TMP/back.folded"

"$KILN" collapse --format pprof "$TMP/in.folded" >"$TMP/stdout.pb.gz"
"$KILN" collapse "$TMP/stdout.pb.gz" >"$TMP/back2.folded"
same_file "--format pprof on standard output" "$TMP/in.folded" "$TMP/back2.folded"

"$KILN" flame "$TMP/p.pb.gz" >"$TMP/p.svg" 2>"$TMP/err"
if grep -q 'work_a' "$TMP/p.svg"; then ok "flame reads pprof"; else not_ok "flame reads pprof"; diag "$(cat "$TMP/err")"; fi

"$KILN" diff "$TMP/p.pb.gz" "$TMP/in.folded" >"$TMP/d.txt" 2>"$TMP/err"
if grep -q '^prog;main;work_a 600 600$' "$TMP/d.txt"; then ok "diff reads pprof"; else not_ok "diff reads pprof"; diag "$(cat "$TMP/d.txt" "$TMP/err")"; fi

head -c 40 "$TMP/p.pb.gz" >"$TMP/trunc.pb.gz"
exit_code "truncated pprof exits 1" 1 "$KILN" collapse "$TMP/trunc.pb.gz"
{ printf '\x1f\x8b'; head -c 500 /dev/urandom; } >"$TMP/junk.pb.gz"
exit_code "gzip magic then junk exits 1" 1 "$KILN" collapse "$TMP/junk.pb.gz"

# Profiles written by Go's runtime/pprof (tests/data/go/main.go).
"$KILN" collapse "$ROOT/tests/data/go/cpu.pb.gz" >"$TMP/go.folded" 2>"$TMP/err"
if grep -q '^runtime.main;main.main;main.spin [0-9]' "$TMP/go.folded"; then ok "reads a Go CPU profile"
else not_ok "reads a Go CPU profile"; diag "$(cat "$TMP/go.folded" "$TMP/err")"; fi
"$KILN" collapse -v "$ROOT/tests/data/go/heap.pb.gz" >"$TMP/goheap.folded" 2>"$TMP/err"
if grep -q 'inuse_space/bytes' "$TMP/err" && grep -q 'runtime/pprof.StartCPUProfile' "$TMP/goheap.folded"; then
	ok "reads a Go heap profile (default sample type inuse_space)"
else not_ok "reads a Go heap profile"; diag "$(cat "$TMP/goheap.folded" "$TMP/err")"; fi

gzip -dc "$ROOT/tests/data/go/cpu.pb.gz" >"$TMP/raw.pb"
"$KILN" collapse "$TMP/raw.pb" >"$TMP/raw.folded" 2>"$TMP/err"
same_file "reads an uncompressed profile.proto" "$TMP/go.folded" "$TMP/raw.folded"

GO=$(command -v go || true)
if [ -z "$GO" ]; then
	skip "go tool pprof -top: golang-go is not installed"
	skip "go tool pprof -traces: golang-go is not installed"
	skip "go tool pprof shares"
else
	export HOME=${HOME:-$TMP} GOCACHE=$TMP/gocache GOFLAGS=-mod=mod
	timeout 120 "$GO" tool pprof -top "$TMP/p.pb.gz" >"$TMP/top.txt" 2>"$TMP/goerr"
	if grep -q 'work_a' "$TMP/top.txt" && grep -q 'work_c' "$TMP/top.txt"; then ok "go tool pprof -top reads kiln's profile"
	else not_ok "go tool pprof -top"; diag "$(cat "$TMP/top.txt" "$TMP/goerr" | head -20)"; fi
	timeout 120 "$GO" tool pprof -traces "$TMP/p.pb.gz" >"$TMP/traces.txt" 2>/dev/null
	if awk '/work_a/{a=1} /main/{if(a)m=1} END{exit !(a&&m)}' "$TMP/traces.txt"; then ok "go tool pprof -traces shows work_a under main"
	else not_ok "go tool pprof -traces"; diag "$(head -20 "$TMP/traces.txt")"; fi
	# flat% column of work_a is 60%
	if awk '$NF=="work_a" { gsub("%","",$2); exit !($2 > 59.9 && $2 < 60.1) } END{}' "$TMP/top.txt" &&
	   grep -q 'work_a' "$TMP/top.txt"; then ok "go tool pprof: work_a is 60% flat"
	else not_ok "go tool pprof shares"; diag "$(cat "$TMP/top.txt")"; fi
fi
done_testing
