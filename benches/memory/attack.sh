#!/usr/bin/env bash
# Peak resident memory of `mtasts` on the hostile inputs of issue 15
# (items 4 and 5), measured with GNU time. Run by hand, not in CI:
#
#   benches/memory/attack.sh [MTASTS_BINARY ...]
#
# Each binary given (default: target/release/mtasts) runs every input; the
# table shows exit code, peak RSS and wall time per (binary, input). To
# compare with an older commit, build it in a worktree and pass both
# binaries (see benches/README.md for the commands used).
set -euo pipefail
cd "$(dirname "$0")/../.."
bins=("$@")
[ ${#bins[@]} -eq 0 ] && bins=(target/release/mtasts)
work=${MEMORY_ATTACK_DIR:-$(mktemp -d)}
mkdir -p "$work"
python3 benches/memory/inputs.py "$work"

run() { # label, binary, args...
  local label=$1 bin=$2; shift 2
  local code rss secs
  /usr/bin/time -o "$work/time" -f "%x %M %e" "$bin" "$@" >/dev/null 2>"$work/stderr" || true
  read -r code rss secs < <(tail -n 1 "$work/time")
  printf '| %-34s | %-22s | %4s | %8.1f | %7s |\n' "$label" "$bin" "$code" "$(echo "$rss / 1024" | bc -l)" "$secs"
}

printf '| %-34s | %-22s | %4s | %8s | %7s |\n' input binary exit "peak MiB" seconds
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..36})" "$(printf -- '-%.0s' {1..24})" "------" "----------" "---------"
for b in "${bins[@]}"; do
  run "parse: 8M short strings (gzip)" "$b" report parse "$work/strings.json.gz"
  run "parse: 466k failure details (gzip)" "$b" report parse "$work/details.json.gz"
  run "parse: 60 MB of header lines" "$b" report parse --max-size 67108864 "$work/headers.eml"
  run "parse: 60 MB Content-Type params" "$b" report parse --max-size 67108864 "$work/params.eml"
  run "summarize: 4 x 289k distinct MX" "$b" report summarize "$work/hosts"
  run "summarize --json: 4 x 289k MX" "$b" report summarize --json "$work/hosts"
done
if [ -z "${MEMORY_ATTACK_DIR:-}" ]; then rm -rf "$work"; fi
