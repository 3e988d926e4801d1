#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the browser test, once.
# A test tool's own browser download does not work here (no internet beyond the
# package registries); Debian's packages do.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing chromium and chromium-driver from Debian's packages (once)" >&2
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >&2
