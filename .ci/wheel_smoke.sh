#!/usr/bin/env bash
# Wheel smoke check: build the wheel from the checkout's files, install it into clean venvs
# and run it from outside the checkout, as a user would.
#   1. pip install "WHEEL[ui,report]": wot --version, simulate -> analyze -> report, Qt imports,
#      demo --headless for a few seconds (no recording: nothing lands in the user's data folder)
#   2. pip install WHEEL (no extras, a headless worker): no Qt; the analysis and cohort modules
#      import no Qt and no matplotlib; without matplotlib wot analyze runs and wot report names
#      the extra it needs (wfdb, a core dependency, still pulls matplotlib in: it is removed
#      here to stand for an install without it)
# Exits non-zero on the first failure; removes its temporary folder either way.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
BUILD_PY=.venv/bin/python
[ -x "$BUILD_PY" ] || BUILD_PY=$PY
start=$SECONDS
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wot-wheel-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

say() { echo "wheel-smoke: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

# build from a copy of what git tracks or would track (no .venv, no stale build/ folder)
mkdir "$tmp/src" "$tmp/dist" "$tmp/run"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf - | tar -xf - -C "$tmp/src"
say "building the wheel"
"$BUILD_PY" -m pip wheel --quiet --no-deps -w "$tmp/dist" "$tmp/src"
wheels=("$tmp"/dist/wot_biofeedback-*.whl)
[ "${#wheels[@]}" -eq 1 ] && [ -f "${wheels[0]}" ] || fail "expected one wheel in $tmp/dist"
wheel=${wheels[0]}
say "built $(basename "$wheel")"

# everything below runs outside the checkout, with the user's folders pointed into $tmp
cd "$tmp/run"
# (HOME stays: pip's cache lives there)
export WOT_RECORD_DIR="$tmp/sessions" WOT_PROFILE_DIR="$tmp/profiles" QT_QPA_PLATFORM=offscreen

simulate_and_analyze() {  # VENV
  local bin=$1/bin
  "$bin/wot" simulate --duration 150 --out session.csv
  "$bin/wot" analyze session.csv --out analysis
  for f in features.csv summary.json; do
    [ -s "analysis/$f" ] || fail "wot analyze wrote no analysis/$f ($1)"
  done
}

say "1/2 install with [ui,report]"
"$PY" -m venv "$tmp/full"
"$tmp/full/bin/python" -m pip install --quiet "$wheel[ui,report]"
version=$("$tmp/full/bin/wot" --version)
say "wot --version: $version"
case "$version" in *0.0.0+unknown* | "") fail "wot --version: no installed version" ;; esac
"$tmp/full/bin/python" - "$tmp/full" <<'EOF'
import sys

import wot_biofeedback
import wot_biofeedback.offline
import wot_biofeedback.sources.files
import wot_biofeedback.ui  # Qt and pyqtgraph load (offscreen)
import wot_drivers
import wot_simulators

for mod in (wot_biofeedback, wot_simulators, wot_drivers):
    assert mod.__file__.startswith(sys.argv[1]), f"{mod.__name__} from {mod.__file__}"
assert "full-session" in wot_simulators.list_scenarios(), wot_simulators.list_scenarios()
EOF
simulate_and_analyze "$tmp/full"
"$tmp/full/bin/wot" report analysis --out report
[ -s report/report.html ] || fail "wot report wrote no report/report.html"
timeout 120 "$tmp/full/bin/wot" demo --headless --no-record --duration 50 --speed 10 > demo.txt \
  || fail "wot demo --headless (exit $?)"
grep -q "zone=" demo.txt || fail "wot demo --headless showed no zone: $(tail -n 3 demo.txt)"
[ ! -e "$tmp/sessions" ] || fail "wot demo --no-record recorded into $tmp/sessions"

say "2/2 install without extras (headless worker)"
rm -rf analysis report session.csv
"$PY" -m venv "$tmp/bare"
"$tmp/bare/bin/python" -m pip install --quiet "$wheel"
"$tmp/bare/bin/python" - <<'EOF'
import importlib.util
import sys

import wot_biofeedback.cohort
import wot_biofeedback.offline  # noqa: F401

qt = [m for m in ("PySide6", "shiboken6", "pyqtgraph") if importlib.util.find_spec(m)]
assert not qt, f"installed without extras, yet present: {qt}"
loaded = [m for m in ("PySide6", "pyqtgraph", "matplotlib") if m in sys.modules]
assert not loaded, f"importing the analysis modules imported {loaded}"
EOF
"$tmp/bare/bin/python" -m pip uninstall --quiet --yes matplotlib
simulate_and_analyze "$tmp/bare"
if "$tmp/bare/bin/wot" report analysis --out report 2> report.err; then
  fail "wot report without matplotlib succeeded"
fi
grep -q 'wot-biofeedback\[report\]' report.err || fail "wot report did not name the extra: $(cat report.err)"

say "ok in $((SECONDS - start)) s"
