# The two commands of the README, plus helpers. Each installs what it needs:
# moto (the local AWS peer) goes into the git-ignored .venv; the SAM CLI
# (with cfn-lint), pytest and, for build-sam, cargo-lambda into .venv-lint.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
export SAM_CLI_TELEMETRY := 0

.PHONY: test demo soak fuzz bench venv localstack lint-venv browser toolchain build lint build-sam clean

## make test: the template's lint, format check, clippy with -D warnings, the
## library crates' docs with -D warnings (every public item documented), the
## crates.io packages of both library crates (packed, never published), then
## every test. The approval crate packs without a Cargo.lock (its users ignore
## one anyway): writing it would resolve the core from a registry, and
## `publish = false` keeps the core out of every registry, even the temporary
## one cargo packs a workspace with.
test: venv localstack toolchain browser lint
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib --workspace --exclude sfn-callback-tests --all-features
	cargo build --workspace --bins
	cargo package -p sfn-callback --allow-dirty --no-verify --offline
	cargo package -p sfn-callback-approval --allow-dirty --no-verify --offline --exclude-lockfile
	cargo test --workspace

## make demo: queue-driven callbacks end to end against a local Step Functions.
demo: venv
	cargo build --workspace --bins
	cargo run -q -p sfn-callback-tests --bin demo

## make soak: 1,000 executions through sqs-callback with ~20% of the Step Functions
## calls faulted (throttles, 5xx, stalls, resets, lost answers) and instances killed
## mid-batch; prints the tallies. `make test` runs it too (about 1.5 minutes).
soak: venv
	cargo build --workspace --bins
	cargo test -p sfn-callback-tests --test soak -- --nocapture

## make bench: cold start, batch latency, peak RSS, throughput and binary size of
## the release functions against a hello floor and a Python/boto3 baseline; prints
## one table and writes bench/results/<date>.md. Minutes (release and arm64
## builds first). Never part of make test; nothing in it fails on a number.
bench: venv
	bash scripts/bench.sh

## make fuzz: the property tests of every untrusted-input reader (callback and
## task messages, SNS envelopes, sealed links, the decision form) at 200,000 cases
## each (PROPTEST_CASES to change): the best part of an hour on 2 busy cores.
## `make test` runs them at proptest's default of 256 (a few seconds).
fuzz:
	bash scripts/fuzz.sh

venv:
	bash scripts/ensure-venv.sh

## make localstack: localstack-core in host mode (no Docker) into .venv-localstack,
## the local peer for activities (moto has no GetActivityTask). Python 3.13 from
## PATH or pyenv; about 1.5 minutes, once. The activity e2e tests start it.
localstack:
	bash scripts/ensure-localstack.sh

# Debian's Chromium and ChromeDriver, for the approval page's browser test.
browser:
	bash scripts/ensure-chromium.sh

lint-venv:
	bash scripts/ensure-lint-venv.sh

## make lint: `sfn-callback check` on statemachines/ and template.yaml (tasks
## that can hang; built with cargo), then template.yaml's safe defaults, offline
## (cfn-lint, sam validate, cfn-lint and pytest on the CloudFormation SAM makes of it).
lint: lint-venv
	bash scripts/lint-template.sh

## make build-sam: `sam build` of every function with cargo-lambda (arm64,
## release) into .aws-sam/build, in the one shared target directory, then checks
## each bootstrap (aarch64, glibc <= 2.34) and runs it under Debian's qemu-user
## against the tests' Runtime API emulator and moto: each must reach its first
## /invocation/next, and sqs-callback must complete one real callback.
## Slow: about 15 minutes with a cold arm64 target on 2 busy cores.
build-sam:
	bash scripts/ensure-lint-venv.sh --cargo-lambda
	bash scripts/ensure-qemu-arm64.sh
	CARGO_TARGET_DIR="$(CURDIR)/target" cargo build -q -p sfn-callback-tests --bin run-bootstraps
	PATH="$(CURDIR)/.venv-lint/bin:$$PATH" CARGO_TARGET_DIR="$(CURDIR)/target" \
		.venv-lint/bin/sam build --template template.yaml
	python3 scripts/check-sam-build.py --runner "$(CURDIR)/target/debug/run-bootstraps"

# rustup's default profile has these; a minimal one does not.
toolchain:
	@cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@cargo clippy --version >/dev/null 2>&1 || rustup component add clippy

build:
	cargo build --workspace --bins

clean:
	rm -rf .venv .venv-lint .venv-localstack .venv-lock .aws-sam tests/artifacts
