#!/usr/bin/env bash
# Installs localstack-core (host mode, no Docker) into the git-ignored
# .venv-localstack, once: the local peer for Step Functions activities, which
# moto does not implement. The versions are pinned in
# scripts/localstack-requirements.txt (see its header); changing that file
# reinstalls. Needs Python 3.13: `python3.13` on PATH, else pyenv's 3.13.
# Kept apart from .venv (moto) and .venv-lint so no install can break another's pins.
# Safe to call from many processes at once: the first takes a lock, the rest wait for it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-localstack"
requirements="$root/scripts/localstack-requirements.txt"
stamp="$venv/.installed-$(sha256sum "$requirements" | cut -c1-16)"
[ -f "$stamp" ] && exit 0
mkdir -p "$root/.venv-lock"
exec 9>"$root/.venv-lock/localstack.lock"
flock 9
[ -f "$stamp" ] && exit 0

# A pyenv shim named python3.13 exists even where that version is not selected,
# and then fails: so each candidate must actually run and be 3.13.
is_313() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; }
python=""
candidates=(python3.13)
pyenv_root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for candidate in "$pyenv_root"/versions/3.13*/bin/python3.13; do
  [ -x "$candidate" ] && candidates+=("$candidate")
done
for candidate in "${candidates[@]}"; do
  if is_313 "$candidate"; then
    python="$candidate"
    break
  fi
done
if [ -z "$python" ]; then
  echo "ensure-localstack: no Python 3.13 found (tried: ${candidates[*]})." >&2
  echo "localstack-core 4.14.0 needs 3.13: install it (e.g. \`pyenv install 3.13\`) or put python3.13 on PATH." >&2
  exit 1
fi

echo "installing localstack-core 4.14.0 into $venv with $python (about 1.5 minutes, once)" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
touch "$stamp"
