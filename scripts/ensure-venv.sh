#!/usr/bin/env bash
# Installs the local AWS peer (moto) into the git-ignored .venv, once.
# Safe to call from many test processes at once: the first takes a lock, the rest wait for it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
stamp="$venv/.installed-moto-5.2.5"
[ -f "$stamp" ] && exit 0
mkdir -p "$root/.venv-lock"
exec 9>"$root/.venv-lock/lock"
flock 9
[ -f "$stamp" ] && exit 0
echo "installing moto[server]==5.2.5 into $venv (about 30 s, once)" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==5.2.5" boto3 >&2
touch "$stamp"
