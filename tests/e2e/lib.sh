# lib.sh: the small TAP library every tests/e2e/tNNNN-*.sh sources.
# Invariant: each test file prints a plan and one "ok"/"not ok" line per
# check, so prove can count them; skips say why.
set -u
KILN=${KILN:-$(cd "$(dirname "$0")/../.." && pwd)/build/kiln}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CORPUS=${CORPUS:-$ROOT/../shared/corpus}
WORKLOADS=${WORKLOADS:-$ROOT/build/workloads}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-e2e.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
_n=0
_failed=0

plan() { echo "1..$1"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
ok() { _n=$((_n + 1)); echo "ok $_n - $*"; }
not_ok() { _n=$((_n + 1)); _failed=$((_failed + 1)); echo "not ok $_n - $*"; }
skip() { _n=$((_n + 1)); echo "ok $_n # SKIP $*"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
	local d=$1; shift
	if "$@" >"$TMP/check.out" 2>&1; then ok "$d"; else not_ok "$d"; diag "$(head -c 2000 "$TMP/check.out")"; fi
}

# same_file DESCRIPTION EXPECTED ACTUAL: ok when the files are byte-identical.
same_file() {
	if cmp -s "$2" "$3"; then ok "$1"; else not_ok "$1"; diag "$(diff "$2" "$3" | head -20)"; fi
}

# exit_code DESCRIPTION WANT COMMAND...: ok when the command exits with WANT.
exit_code() {
	local d=$1 want=$2; shift 2
	"$@" >"$TMP/exit.out" 2>&1
	local got=$?
	if [ "$got" = "$want" ]; then ok "$d"; else not_ok "$d (exit $got, want $want)"; diag "$(head -c 1000 "$TMP/exit.out")"; fi
}

done_testing() { [ "$_failed" = 0 ]; }

# folded_share NAME FOLDED: percent of the weight with NAME on the stack
# (inclusive, so inlined helpers and interrupts above it do not matter)
folded_share() {
	awk -v f="$1" '{ n = $NF; total += n; k = $0; sub(/ [0-9]+$/, "", k);
		m = split(k, fr, ";"); for (i = 1; i <= m; i++) if (fr[i] == f) { hit += n; break } }
		END { if (total) printf "%.1f", 100 * hit / total; else print 0 }' "$2"
}

# near A B TOLERANCE: true when |A - B| <= TOLERANCE
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }

# require_perf: skip the whole file unless perf exists and may record here
require_perf() {
	command -v perf >/dev/null 2>&1 || skip_all "perf is not installed"
	perf record -q -o "$TMP/probe.data" -e cpu-clock -- true >/dev/null 2>&1 ||
		skip_all "perf record is not permitted here (perf_event_paranoid)"
}
