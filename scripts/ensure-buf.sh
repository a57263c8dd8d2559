#!/usr/bin/env bash
# Prints the path of `buf` (the protobuf linter), installing it from npm into target/tools
# if needed. Set BUF to use another build.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${BUF:-}" ] && [ -x "${BUF}" ]; then
  echo "${BUF}"
  exit 0
fi
bin=target/tools/node_modules/.bin/buf
if [ ! -x "$bin" ]; then
  mkdir -p target/tools
  npm install --silent --no-audit --no-fund --prefix target/tools '@bufbuild/buf@1.75.0' >&2
fi
echo "$(pwd)/$bin"
