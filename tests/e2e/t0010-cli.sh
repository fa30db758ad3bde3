#!/usr/bin/env bash
# t0010: the command table: help, per-command help, --version, exit codes
# for usage errors, and `make install` laying out binary, docs and man page.
. "$(dirname "$0")/lib.sh"
plan 10

"$KILN" help >"$TMP/help" 2>&1
if grep -q collapse "$TMP/help" && grep -q flame "$TMP/help" && grep -q diff "$TMP/help"; then ok "kiln help lists the commands"; else not_ok "kiln help"; fi
for c in collapse flame diff; do
	"$KILN" help "$c" >"$TMP/h1" 2>&1
	"$KILN" "$c" --help >"$TMP/h2" 2>&1
	if grep -q "usage: kiln $c" "$TMP/h1" && cmp -s "$TMP/h1" "$TMP/h2"; then ok "kiln help $c = kiln $c --help"; else not_ok "help for $c"; fi
done
"$KILN" --version >"$TMP/v" 2>&1
if grep -Eq '^kiln [0-9]+\.[0-9]+\.[0-9]+$' "$TMP/v"; then ok "--version"; else not_ok "--version"; fi
exit_code "no command is a usage error" 2 "$KILN"
exit_code "unknown command is a usage error" 2 "$KILN" frobnicate
exit_code "help for an unknown command is a usage error" 2 "$KILN" help frobnicate
exit_code "--version on a full stdout fails" 1 sh -c "'$KILN' --version >/dev/full"

if command -v make >/dev/null && [ -f "$ROOT/Makefile" ] && [ -x "$ROOT/build/kiln" ]; then
	make -s -C "$ROOT" install PREFIX="$TMP/prefix" >"$TMP/install.log" 2>&1
	if [ -x "$TMP/prefix/bin/kiln" ] && [ -f "$TMP/prefix/share/man/man1/kiln.1" ] &&
	   [ -f "$TMP/prefix/share/doc/kiln/collapse.md" ] && "$TMP/prefix/bin/kiln" --version >/dev/null; then
		ok "make install PREFIX=..."
	else
		not_ok "make install PREFIX=..."; diag "$(tail -5 "$TMP/install.log")"
	fi
else
	skip "make install: no built tree"
fi
done_testing
