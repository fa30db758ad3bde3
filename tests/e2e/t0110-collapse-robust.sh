#!/usr/bin/env bash
# t0110: kiln collapse on bad and unusual input: clear errors for what is
# not perf script text, warnings with line numbers for odd lines, correct
# output for CRLF, NULs, long lines, stdin and several files, and write
# errors reported instead of truncated files.
. "$(dirname "$0")/lib.sh"
plan 21

ev() { printf '%s 123 1.0: 1 cpu-clock:\n\t1 %s (/bin/x)\n\t2 main (/bin/x)\n\n' "$1" "$2"; }

ev prog leaf >"$TMP/a.txt"
ev prog other >"$TMP/b.txt"

"$KILN" collapse "$TMP/a.txt" >"$TMP/out"
printf 'prog;main;leaf 1\n' >"$TMP/want"
same_file "simple file" "$TMP/want" "$TMP/out"

"$KILN" collapse <"$TMP/a.txt" >"$TMP/out"
same_file "standard input" "$TMP/want" "$TMP/out"

"$KILN" collapse "$TMP/a.txt" "$TMP/b.txt" "$TMP/a.txt" >"$TMP/out"
printf 'prog;main;leaf 2\nprog;main;other 1\n' >"$TMP/want2"
same_file "several files are summed" "$TMP/want2" "$TMP/out"

"$KILN" collapse -o "$TMP/o.folded" "$TMP/a.txt"
same_file "-o FILE" "$TMP/want" "$TMP/o.folded"

exit_code "write error (full disk) exits 1" 1 "$KILN" collapse -o /dev/full "$TMP/a.txt"
if [ -e /dev/full ]; then
	"$KILN" collapse "$TMP/a.txt" >/dev/full 2>"$TMP/err"
	if [ $? = 1 ] && grep -q 'write error' "$TMP/err"; then ok "full stdout is an error"; else not_ok "full stdout is an error"; fi
else
	skip "no /dev/full"
fi

exit_code "missing file exits 1" 1 "$KILN" collapse "$TMP/nope.txt"
exit_code "unknown option exits 2" 2 "$KILN" collapse --bogus "$TMP/a.txt"
exit_code "bad --compat exits 2" 2 "$KILN" collapse --compat java "$TMP/a.txt"

head -c 100000 /dev/urandom >"$TMP/rand.bin"
"$KILN" collapse "$TMP/rand.bin" >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ $rc = 1 ] && grep -qi 'binary' "$TMP/err" && [ ! -s "$TMP/out" ]; then ok "binary input: clear error"; else not_ok "binary input: clear error (rc $rc)"; diag "$(cat "$TMP/err")"; fi

printf 'hello world\nthis is prose, not a profile\n' >"$TMP/prose.txt"
"$KILN" collapse "$TMP/prose.txt" >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ $rc = 1 ] && grep -q 'not perf script' "$TMP/err"; then ok "text that is not perf script: clear error"; else not_ok "prose input (rc $rc)"; fi

: >"$TMP/empty.txt"
"$KILN" collapse "$TMP/empty.txt" >"$TMP/out" 2>"$TMP/err"
if [ $? = 0 ] && [ ! -s "$TMP/out" ]; then ok "empty file: empty output"; else not_ok "empty file"; fi

ev prog leaf | sed 's/$/\r/' >"$TMP/crlf.txt"
"$KILN" collapse "$TMP/crlf.txt" >"$TMP/out"
same_file "CRLF line ends" "$TMP/want" "$TMP/out"

{ ev prog leaf; printf 'garbage line here\n\n'; ev prog leaf; } >"$TMP/garbage.txt"
"$KILN" collapse "$TMP/garbage.txt" >"$TMP/out" 2>"$TMP/err"
printf 'prog;main;leaf 2\n' >"$TMP/want3"
same_file "garbage line skipped" "$TMP/want3" "$TMP/out"
if grep -q ':5: weird event line' "$TMP/err"; then ok "warning names the line number"; else not_ok "warning names the line number"; diag "$(cat "$TMP/err")"; fi
"$KILN" collapse -q "$TMP/garbage.txt" >/dev/null 2>"$TMP/err"
if [ ! -s "$TMP/err" ]; then ok "-q silences warnings"; else not_ok "-q silences warnings"; fi

long=$(head -c 300000 /dev/zero | tr '\0' 'x')
{ printf 'prog 1 1.0: 1 cpu-clock:\n\t1 %s (/bin/x)\n\n' "$long"; } >"$TMP/long.txt"
"$KILN" collapse "$TMP/long.txt" >"$TMP/out" 2>&1
if [ "$(wc -c <"$TMP/out")" -gt 300000 ]; then ok "300 kB line"; else not_ok "300 kB line"; fi

{ ev prog leaf; printf 'prog 1 1.0: 1 cpu-clock:\n\t1 f\0g (/bin/x)\n\n'; } >"$TMP/nul.txt"
"$KILN" collapse "$TMP/nul.txt" >"$TMP/out" 2>&1
if [ $? = 0 ] && grep -qa 'prog;main;leaf 1' "$TMP/out"; then ok "NUL byte inside a line"; else not_ok "NUL byte inside a line"; fi

# A large input goes through the multi-threaded path: same output as one thread.
for i in $(seq 1 3000); do ev "p$((i % 5))" "f$((i % 17))"; done >"$TMP/many.txt"
for i in 1 2 3 4 5 6; do cat "$TMP/many.txt"; done >"$TMP/big.txt"
"$KILN" collapse -n 1 "$TMP/big.txt" >"$TMP/one"
"$KILN" collapse -n 4 "$TMP/big.txt" >"$TMP/four"
same_file "threads give the same output" "$TMP/one" "$TMP/four"

gzip -c "$TMP/big.txt" | head -c 5000 >"$TMP/trunc.gz"
exit_code "truncated gzip exits 1" 1 "$KILN" collapse "$TMP/trunc.gz"

"$KILN" collapse "$TMP/a.txt" >/dev/null 2>"$TMP/err"
if [ ! -s "$TMP/err" ]; then ok "no progress output when stderr is not a terminal"; else not_ok "quiet stderr"; fi
done_testing
