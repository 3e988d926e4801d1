#!/usr/bin/env bash
# Installs the template tools into the git-ignored .venv-lint, once: the SAM CLI
# (it bundles cfn-lint and aws-sam-translator) and pytest, for `make lint`.
# With --cargo-lambda, also cargo-lambda (it brings ziglang), for `make build-sam`
# only, so `make lint` never waits for it.
# Kept apart from .venv (moto) so neither install can break the other's pins.
# Safe to call from many processes at once: the first takes a lock, the rest wait for it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-lint"

lint_packages=("aws-sam-cli==1.170.0" "pytest==8.4.2")
lint_stamp="$venv/.installed-aws-sam-cli-1.170.0-pytest-8.4.2"
build_packages=("cargo-lambda==1.9.2")
build_stamp="$venv/.installed-cargo-lambda-1.9.2"

want=("$lint_stamp")
[ "${1:-}" = "--cargo-lambda" ] && want+=("$build_stamp")

installed() {
  local stamp
  for stamp in "${want[@]}"; do [ -f "$stamp" ] || return 1; done
}

installed && exit 0
mkdir -p "$root/.venv-lock"
exec 9>"$root/.venv-lock/lint.lock"
flock 9
installed && exit 0

[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
pip_install() { "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2; }
if [ ! -f "$lint_stamp" ]; then
  echo "installing ${lint_packages[*]} into $venv (about a minute, once)" >&2
  pip_install "${lint_packages[@]}"
  touch "$lint_stamp"
fi
if [[ " ${want[*]} " == *" $build_stamp "* && ! -f "$build_stamp" ]]; then
  echo "installing ${build_packages[*]} into $venv (about 10 s, once)" >&2
  pip_install "${build_packages[@]}"
  touch "$build_stamp"
fi
