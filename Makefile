# The two commands of the README, plus helpers. Each installs what it needs:
# moto (the local AWS peer) goes into the git-ignored .venv; the SAM CLI
# (with cfn-lint), pytest and, for build-sam, cargo-lambda into .venv-lint.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
export SAM_CLI_TELEMETRY := 0

.PHONY: test demo venv lint-venv browser toolchain build lint build-sam clean

## make test: the template's lint, format check, clippy with -D warnings, then every test.
test: venv toolchain browser lint
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

# Debian's Chromium and ChromeDriver, for the approval page's browser test.
browser:
	bash scripts/ensure-chromium.sh

lint-venv:
	bash scripts/ensure-lint-venv.sh

## make lint: template.yaml's safe defaults, offline (cfn-lint, sam validate,
## cfn-lint and pytest on the CloudFormation SAM makes of it). No cargo.
lint: lint-venv
	bash scripts/lint-template.sh

## make build-sam: `sam build` of every function with cargo-lambda (arm64,
## release) into .aws-sam/build, in the one shared target directory. Slow: minutes.
build-sam:
	bash scripts/ensure-lint-venv.sh --cargo-lambda
	PATH="$(CURDIR)/.venv-lint/bin:$$PATH" CARGO_TARGET_DIR="$(CURDIR)/target" \
		.venv-lint/bin/sam build --template template.yaml

# rustup's default profile has these; a minimal one does not.
toolchain:
	@cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@cargo clippy --version >/dev/null 2>&1 || rustup component add clippy

build:
	cargo build --workspace --bins

clean:
	rm -rf .venv .venv-lint .venv-lock .aws-sam tests/artifacts
