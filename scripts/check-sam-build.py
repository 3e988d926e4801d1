"""`make build-sam`'s last step: every function of template.yaml was built into
.aws-sam/build as a bootstrap that Lambda's provided.al2023 arm64 runtime can run.

First, per function: the bootstrap exists and is executable, is a 64-bit ELF for
aarch64, and needs no glibc newer than Amazon Linux 2023's 2.34 (cargo-lambda
links against an older glibc with zig; a plain cross build might not).

Then, if all of them pass, it runs them: `run-bootstraps` (the tests crate's
runner, path given with --runner) starts each one under qemu-user against the
Lambda Runtime API emulator and moto. Each must reach its first
/invocation/next, and sqs-callback must complete one real callback.
"""

import argparse
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

AL2023_GLIBC = (2, 34)
EM_AARCH64 = 183
# Debian's qemu-user and libc6-arm64-cross (scripts/ensure-qemu-arm64.sh).
QEMU = "qemu-aarch64"
ARM64_SYSROOT = Path("/usr/aarch64-linux-gnu")
ARM64_LOADER = ARM64_SYSROOT / "lib/ld-linux-aarch64.so.1"


def functions(template: Path) -> list[tuple[str, str | None]]:
    """(logical ID, BuildProperties Binary or None) of the template's functions."""
    found, current = [], None
    for line in template.read_text().splitlines():
        resource = re.match(r"^  ([A-Za-z0-9]+):\s*$", line)
        if resource:
            current = resource.group(1)
        elif current and re.match(r"^    Type: AWS::Serverless::Function\s*$", line):
            found.append((current, None))
        elif found and found[-1] == (current, None):
            binary = re.match(r"^        Binary: ([A-Za-z0-9_-]+)\s*$", line)
            if binary:
                found[-1] = (current, binary.group(1))
    return found


def problems(bootstrap: Path) -> list[str]:
    if not bootstrap.is_file():
        return ["no bootstrap"]
    found = []
    if not bootstrap.stat().st_mode & 0o111:
        found.append("not executable")
    data = bootstrap.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return found + ["not a 64-bit ELF file"]
    (machine,) = struct.unpack_from("<H", data, 18)
    if machine != EM_AARCH64:
        found.append(f"built for ELF machine {machine}, not aarch64 ({EM_AARCH64})")
    versions = {
        tuple(int(part) for part in match.split(b"."))
        for match in re.findall(rb"GLIBC_(\d+\.\d+(?:\.\d+)?)\x00", data)
    }
    if not versions:
        found.append("links no glibc symbol version: not the dynamically linked bootstrap expected")
    elif max(versions) > AL2023_GLIBC:
        newest = ".".join(map(str, max(versions)))
        found.append(f"needs glibc {newest}; provided.al2023 has 2.34")
    return found


def run_all(runner: Path, bootstraps: list[tuple[str, Path]]) -> int:
    """Runs every bootstrap under qemu-user with `run-bootstraps`; its exit code."""
    if shutil.which(QEMU) is None or not ARM64_LOADER.exists():
        print(
            f"check-sam-build: cannot run arm64 bootstraps: {QEMU} or {ARM64_LOADER} is missing;"
            " run scripts/ensure-qemu-arm64.sh",
            file=sys.stderr,
        )
        return 1
    if not runner.is_file():
        print(
            f"check-sam-build: {runner} is not built:"
            " cargo build -p sfn-callback-tests --bin run-bootstraps",
            file=sys.stderr,
        )
        return 1
    wrapper = f"{QEMU} -L {ARM64_SYSROOT}"
    command = [str(runner), "--wrapper", wrapper]
    command += [f"{binary}={bootstrap}" for binary, bootstrap in bootstraps]
    print(f"check-sam-build: running each bootstrap under `{wrapper}`")
    code = subprocess.run(command, stdin=subprocess.DEVNULL, check=False).returncode
    if code != 0:
        print(f"check-sam-build: the bootstraps did not all run (run-bootstraps exited {code})", file=sys.stderr)
    return code


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runner",
        type=Path,
        default=root / "target/debug/run-bootstraps",
        help="the built run-bootstraps binary (default: target/debug/run-bootstraps)",
    )
    args = parser.parse_args()
    names = functions(root / "template.yaml")
    if not names:
        print("check-sam-build: template.yaml declares no AWS::Serverless::Function", file=sys.stderr)
        return 1
    failed = False
    bootstraps = []
    for name, binary in names:
        bootstrap = root / ".aws-sam/build" / name / "bootstrap"
        bootstraps.append((binary, bootstrap))
        found = problems(bootstrap)
        if binary is None:
            found.append("no Metadata.BuildProperties.Binary: run-bootstraps cannot tell which function it is")
        if found:
            failed = True
            print(f"check-sam-build: {name}: {'; '.join(found)}", file=sys.stderr)
        else:
            size = bootstrap.stat().st_size / 2**20
            print(f"check-sam-build: {name}: aarch64 bootstrap, {size:.2f} MiB, glibc <= 2.34")
    if failed:
        return 1
    return run_all(args.runner, bootstraps)


if __name__ == "__main__":
    sys.exit(main())
