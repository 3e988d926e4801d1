# The two commands of the README, plus helpers. Each installs what it needs:
# moto (the local AWS peer) goes into the git-ignored .venv.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
export SAM_CLI_TELEMETRY := 0

.PHONY: test demo venv toolchain build clean

## make test: format check, clippy with -D warnings, then every test.
test: venv toolchain
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo build --workspace --bins
	cargo test --workspace

## make demo: queue-driven callbacks end to end against a local Step Functions.
demo: venv
	cargo build --workspace --bins
	cargo run -q -p sfn-callback-tests --bin demo

venv:
	bash scripts/ensure-venv.sh

# rustup's default profile has these; a minimal one does not.
toolchain:
	@cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@cargo clippy --version >/dev/null 2>&1 || rustup component add clippy

build:
	cargo build --workspace --bins

clean:
	rm -rf .venv .venv-lock tests/artifacts
