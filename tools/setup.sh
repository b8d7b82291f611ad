#!/usr/bin/env bash
# Set up a fresh machine for uedge development: system peers, a virtual env,
# the project with its dev extras (pytest, mpremote...), and MicroPython built from
# the pinned source (tools/mpbuild.py: 32-bit unix port + mpy-cross, linked into the venv).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

need=""
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || need="$need mosquitto"
command -v socat >/dev/null 2>&1 || need="$need socat"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
# the dashboard's browser tests drive Debian's chromium through its chromedriver
[ -x /usr/bin/chromium ] || need="$need chromium"
[ -x /usr/bin/chromedriver ] || need="$need chromium-driver"
if [ -n "$need" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: apt-get install$need"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
        # the package starts a system broker on 1883; tests start their own
        (systemctl disable --now mosquitto 2>/dev/null || service mosquitto stop 2>/dev/null) >/dev/null || true
    else
        echo "setup: missing system packages:$need (run: sudo apt-get install$need)" >&2
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
"$VENV/bin/pip" install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' || true
"$VENV/bin/python" -c "import uedge, uedge_host, uedge_connector" 
# .venv/bin/micropython = the 32-bit unix port, .venv/bin/mpy-cross = the same tree's
"$VENV/bin/python" tools/mpbuild.py link "$VENV/bin"
test -x "$VENV/bin/micropython" && test -x "$VENV/bin/mpy-cross"
echo "setup: ok ($("$VENV/bin/micropython" -c 'import sys; print(sys.implementation.name, sys.version)'))"
