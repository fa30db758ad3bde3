#!/usr/bin/env bash
# t0900: every input a fuzzer once crashed kiln with (tests/data/fuzz-crashes)
# now gets a clean answer from every reading command, and from kiln heap's
# suppression parser: output or a clear error (exit 0 or 1), never a
# signal or a sanitizer report.
. "$(dirname "$0")/lib.sh"
set -- "$ROOT"/tests/data/fuzz-crashes/*
[ -e "$1" ] || skip_all "no fixtures"
plan $(( $# * 4 ))
for f in "$@"; do
	for cmd in collapse flame report; do
		"$KILN" "$cmd" "$f" >/dev/null 2>"$TMP/err"
		rc=$?
		if [ $rc -le 1 ] && ! grep -q 'Sanitizer' "$TMP/err"; then ok "$cmd $(basename "$f") (exit $rc)"
		else not_ok "$cmd $(basename "$f") (exit $rc)"; diag "$(head -5 "$TMP/err")"; fi
	done
	"$KILN" heap report --suppressions "$f" /dev/null >/dev/null 2>"$TMP/err"
	rc=$?
	if [ $rc -le 1 ] && ! grep -q 'Sanitizer' "$TMP/err"; then ok "heap --suppressions $(basename "$f") (exit $rc)"
	else not_ok "heap --suppressions $(basename "$f") (exit $rc)"; diag "$(head -5 "$TMP/err")"; fi
done
done_testing
