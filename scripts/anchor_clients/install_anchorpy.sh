#!/usr/bin/env bash
# Creates the venv anchorpy 0.21 runs in (.tools/anchorpy-venv unless
# $ANCHORPY_VENV), from the pins in tests/anchorpy/requirements.txt. Its own venv:
# anchorpy 0.21 pins solana-py 0.36 and solders 0.26, the project runs on
# solana 0.41 / solders 0.29. Idempotent: returns at once when the venv holds
# exactly these pins (a stamp with the requirements' hash).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${ANCHORPY_VENV:-$ROOT/.tools/anchorpy-venv}"
REQUIREMENTS="$ROOT/tests/anchorpy/requirements.txt"
PYTHON="${PYTHON_SYS:-python3}"
say() { printf '[anchorpy] %s\n' "$*"; }
die() { printf '[anchorpy] error: %s\n' "$*" >&2; exit 1; }

want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [[ -f "$VENV/.installed" && "$(cat "$VENV/.installed")" == "$want" ]] \
    && "$VENV/bin/python" -c "import anchorpy" 2>/dev/null; then
    exit 0
fi

command -v "$PYTHON" >/dev/null || die "$PYTHON not found (anchorpy 0.21 needs Python >= 3.9)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))' \
    || die "$("$PYTHON" --version) is too old: anchorpy 0.21 needs Python >= 3.9"
say "creating $VENV with anchorpy 0.21.0 (pins: tests/anchorpy/requirements.txt)"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV" || die "cannot create a venv with $PYTHON (python3-venv missing?)"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# Every package is pinned in the file, so nothing else is resolved.
timeout 600 "$VENV/bin/pip" install --quiet --no-deps -r "$REQUIREMENTS" </dev/null \
    || die "pip install failed (is PyPI reachable?)"
"$VENV/bin/pip" check >/dev/null || die "the pinned set is inconsistent: $("$VENV/bin/pip" check)"
"$VENV/bin/python" -c "import anchorpy" || die "anchorpy installed but does not import"
echo "$want" > "$VENV/.installed"
say "ready: $VENV"
