#!/usr/bin/env bash
# stuntman benchmarks (see bench/README.md). `make bench` runs the comparison with its defaults.
#
#   bench/run.sh                 # comparison: stuntman vs nginx vs aiohttp reference, 3 rounds x 10 s (~8 min)
#   bench/run.sh --quick         # the same, 1 round x 3 s (~1 min): a smoke check, not a measurement
#   bench/run.sh --scale         # 1 vs 1,000 stubs (exact, template, regex): req/s and CPU us/req drop (~10 min)
#   bench/run.sh --rss           # 1,000 stubs, 1,000,000 requests: VmRSS/VmHWM before, at 500k, after (~2 min)
#   bench/run.sh --profile       # py-spy on the proxy and stub hot paths under wrk: top functions by self time
#   bench/run.sh --faults        # fault injection: 1,000 conns with a 50 ms latency fault; cost of an idle fault rule (~3 min)
#   bench/run.sh --all           # comparison, scale, rss, profile, faults
#   bench/run.sh [MODE] [--quick] -- HARNESS-ARGS...   # e.g. -- --rounds 5 --duration 20
#   bench/run.sh [MODE] --snapshot[=REV]   # measure a commit (default HEAD) installed from `git archive` into
#                                          # a scratch venv, not the editable work tree (stable while others edit)
#   BENCH_STUNTMAN=/path/bin/stuntman bench/run.sh ...  # measure another build
#
# Installs what it needs if missing: wrk and nginx-light (apt), the project venv (make .venv/.installed),
# the aiohttp+uvloop reference venv the shared harness expects (/opt/bench/venv311, pinned as in its
# baseline), and for --profile py-spy in a scratch venv (/tmp/pyspy). Results go to bench/results/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
HARNESS="${BENCH_HARNESS:-$(cd "$root/.." && pwd)/shared/bench}"  # ../shared beside the checkout
OPT="${BENCH_OPT:-/opt/bench}"
PYSPY_VENV="${PYSPY_VENV:-/tmp/pyspy}"

compare=0 scale=0 rss=0 profile=0 faults=0 quick=0 snapshot=""
passthru=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --compare) compare=1 ;;
    --scale) scale=1 ;;
    --rss) rss=1 ;;
    --profile) profile=1 ;;
    --faults) faults=1 ;;
    --all) compare=1 scale=1 rss=1 profile=1 faults=1 ;;
    --snapshot) snapshot=HEAD ;;
    --snapshot=*) snapshot="${1#--snapshot=}" ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    --) shift; passthru+=("$@"); break ;;
    *) passthru+=("$1") ;;
  esac
  shift
done
[ $((compare + scale + rss + profile + faults)) -gt 0 ] || compare=1

# ---- tools --------------------------------------------------------------------------------------
if ! command -v wrk >/dev/null || { ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; }; then
  echo "# installing wrk + nginx-light" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null
fi
command -v taskset >/dev/null || { echo "taskset missing (util-linux)" >&2; exit 1; }
[ -d "$HARNESS" ] || { echo "shared harness not found at $HARNESS (set BENCH_HARNESS)" >&2; exit 1; }
make -s -C "$root" .venv/.installed
STUNTMAN="${BENCH_STUNTMAN:-$root/.venv/bin/stuntman}"
PY="$root/.venv/bin/python"          # runs the bench scripts (stdlib only)
if [ -n "$snapshot" ]; then
  rev="$(git -C "$root" rev-parse --short "$snapshot")"
  snap="${TMPDIR:-/tmp}/stuntman-bench-snap/$rev"
  if [ ! -x "$snap/venv/bin/stuntman" ]; then
    echo "# installing stuntman $rev (git archive) into $snap/venv" >&2
    rm -rf "$snap" && mkdir -p "$snap/src"
    git -C "$root" archive "$rev" | tar -x -C "$snap/src"
    "$(command -v python3.11 || echo python3)" -m venv "$snap/venv"
    "$snap/venv/bin/pip" install -q "$snap/src"
  fi
  STUNTMAN="$snap/venv/bin/stuntman"
  export BENCH_STUNTMAN_REV="$(git -C "$root" log -1 --format='%h %ci' "$rev") (snapshot: git archive + non-editable install)"
fi
echo "# stuntman under test: $STUNTMAN${BENCH_STUNTMAN_REV:+ = $BENCH_STUNTMAN_REV}" >&2

# the stub workload serves a copy of the harness's fixture: keep it identical
if ! cmp -s "$HARNESS/fixtures/user.json" "$here/stubs/stub/__files/user.json"; then
  cp "$HARNESS/fixtures/user.json" "$here/stubs/stub/__files/user.json"
  echo "# refreshed bench/stubs/stub/__files/user.json from $HARNESS/fixtures/user.json" >&2
fi
mkdir -p "$here/results"

if [ "$compare" = 1 ] && [ ! -x "$OPT/venv311/bin/python" ]; then
  echo "# creating the aiohttp reference venv $OPT/venv311" >&2
  PY311="$(command -v python3.11 || echo python3)"
  "$PY311" -m venv "$OPT/venv311"
  "$OPT/venv311/bin/pip" install -q aiohttp==3.14.5 uvloop==0.23.0
fi
if [ "$profile" = 1 ] && [ ! -x "$PYSPY_VENV/bin/py-spy" ]; then
  echo "# installing py-spy into $PYSPY_VENV" >&2
  python3 -m venv "$PYSPY_VENV"
  "$PYSPY_VENV/bin/pip" install -q py-spy
fi

# ---- runs ---------------------------------------------------------------------------------------
rc=0
if [ "$compare" = 1 ]; then
  q=()
  [ "$quick" = 1 ] && q=(--rounds 1 --duration 3 --tag quick)
  "$PY" "$here/compare.py" --harness "$HARNESS" --stuntman "$STUNTMAN" "${q[@]}" "${passthru[@]}" || rc=$?
fi
if [ "$scale" = 1 ]; then
  q=()
  [ "$quick" = 1 ] && q=(--rounds 1 --duration 3)
  "$PY" "$here/scale.py" scale --stuntman "$STUNTMAN" "${q[@]}" || rc=$?
fi
if [ "$rss" = 1 ]; then
  q=()
  [ "$quick" = 1 ] && q=(--requests 100000)
  "$PY" "$here/scale.py" rss --stuntman "$STUNTMAN" "${q[@]}" || rc=$?
fi
if [ "$profile" = 1 ]; then
  q=()
  [ "$quick" = 1 ] && q=(--duration 5)
  "$PY" "$here/profile.py" --stuntman "$STUNTMAN" --py-spy "$PYSPY_VENV/bin/py-spy" "${q[@]}" || rc=$?
fi
if [ "$faults" = 1 ]; then
  q=()
  [ "$quick" = 1 ] && q=(--quick)
  # faults.py raises the open-file limit (65536, or the hard limit) for itself, wrk and stuntman
  "$PY" "$here/faults.py" --stuntman "$STUNTMAN" "${q[@]}" || rc=$?
fi
exit "$rc"
