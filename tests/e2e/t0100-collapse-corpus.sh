#!/usr/bin/env bash
# t0100: kiln collapse against the conformance corpus: every perf script
# input with every option, byte for byte against inferno-collapse-perf
# (default mode) and stackcollapse-perf.pl (--compat perl), plus inferno's
# own expected results.
. "$(dirname "$0")/lib.sh"

[ -d "$CORPUS/perf-script" ] || skip_all "conformance corpus not found at $CORPUS"

cases=()
for f in "$CORPUS"/perf-script/*.txt; do
	n=$(basename "$f" .txt)
	for opt in none pid tid kernel jit all addrs; do
		for mode in inferno perl; do
			[ -f "$CORPUS/expected-$mode/$n.$opt.folded" ] && cases+=("$n $opt $mode")
		done
	done
done
own=("$CORPUS"/inferno-collapse-perf/*-collapsed*.txt)
plan $(( ${#cases[@]} + ${#own[@]} ))

for c in "${cases[@]}"; do
	set -- $c
	n=$1 opt=$2 mode=$3
	args=(-q)
	[ "$opt" != none ] && args+=("--$opt")
	[ "$mode" = perl ] && args+=(--compat perl)
	"$KILN" collapse "${args[@]}" "$CORPUS/perf-script/$n.txt" >"$TMP/out" 2>"$TMP/err"
	same_file "$mode $n --$opt" "$CORPUS/expected-$mode/$n.$opt.folded" "$TMP/out"
done

for e in "${own[@]}"; do
	b=$(basename "$e" .txt)
	n=${b%%-collapsed*}
	o=${b#*-collapsed}
	o=${o#-}
	args=(-q)
	[ -n "$o" ] && args+=("--$o")
	"$KILN" collapse "${args[@]}" "$CORPUS/perf-script/$n.txt" >"$TMP/out" 2>/dev/null
	same_file "inferno's own result $b" "$e" "$TMP/out"
done
done_testing
