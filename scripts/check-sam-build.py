"""`make build-sam`'s last step: every function of template.yaml was built into
.aws-sam/build as a bootstrap that Lambda's provided.al2023 arm64 runtime can run.

Checks, per function: the bootstrap exists and is executable, is a 64-bit ELF for
aarch64, and needs no glibc newer than Amazon Linux 2023's 2.34 (cargo-lambda
links against an older glibc with zig; a plain cross build might not).
"""

import re
import struct
import sys
from pathlib import Path

AL2023_GLIBC = (2, 34)
EM_AARCH64 = 183


def functions(template: Path) -> list[str]:
    """Logical IDs of the template's AWS::Serverless::Function resources."""
    names, current = [], None
    for line in template.read_text().splitlines():
        resource = re.match(r"^  ([A-Za-z0-9]+):\s*$", line)
        if resource:
            current = resource.group(1)
        elif current and re.match(r"^    Type: AWS::Serverless::Function\s*$", line):
            names.append(current)
    return names


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


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    names = functions(root / "template.yaml")
    if not names:
        print("check-sam-build: template.yaml declares no AWS::Serverless::Function", file=sys.stderr)
        return 1
    failed = False
    for name in names:
        bootstrap = root / ".aws-sam/build" / name / "bootstrap"
        found = problems(bootstrap)
        if found:
            failed = True
            print(f"check-sam-build: {name}: {'; '.join(found)}", file=sys.stderr)
        else:
            size = bootstrap.stat().st_size / 2**20
            print(f"check-sam-build: {name}: aarch64 bootstrap, {size:.2f} MiB, glibc <= 2.34")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
