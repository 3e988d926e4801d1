#!/usr/bin/env bash
# Installs Debian's qemu-user and libc6-arm64-cross, once, so `make build-sam`
# can run its arm64 bootstraps here: `qemu-aarch64 -L /usr/aarch64-linux-gnu bootstrap`
# (the cross package brings the aarch64 loader and glibc the bootstraps link to).
set -euo pipefail
if command -v qemu-aarch64 >/dev/null && [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing qemu-user and libc6-arm64-cross from Debian's packages (once)" >&2
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends qemu-user libc6-arm64-cross >&2
