"""``python -m codegen [--check] [--spec PATH]``: regenerate, or verify, the generated files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codegen import DEFAULT_SPEC, REPO_ROOT, SpecError, generate
from codegen._output import GENERATED_FOLDERS, folder_problems


def main(argv: list[str] | None = None) -> int:
    """Run the generator; with ``--check``, exit 1 and list the files that differ.

    Either way, a file in a generated folder that nobody generates is an error (exit 1): it is
    listed, never removed.
    """
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument(
        "--check",
        action="store_true",
        help="generate into a temporary folder and exit 1 if any generated file differs",
    )
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="the OpenAPI document")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="the repository root")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    try:
        files = generate(args.spec, root)
    except SpecError as exc:
        print(f"codegen: {exc}", file=sys.stderr)
        return 2
    stale, foreign = folder_problems(root, files)
    if foreign:
        folders = ", ".join(f"{folder}/" for folder in GENERATED_FOLDERS)
        print(
            f"codegen: generated folders ({folders}) hold generated files only; move these out:",
            file=sys.stderr,
        )
        for rel in foreign:
            print(f"  {rel} (not generated)", file=sys.stderr)
    if args.check:
        differing = [
            rel
            for rel, text in files.items()
            if not (root / rel).is_file() or (root / rel).read_text(encoding="utf-8") != text
        ]
        differing.extend(f"{rel} (stale: no longer generated)" for rel in stale)
        if differing:
            print("codegen: generated files are out of date (run `make codegen`):", file=sys.stderr)
            for rel in differing:
                print(f"  {rel}", file=sys.stderr)
        if differing or foreign:
            return 1
        print(f"codegen: {len(files)} generated files are up to date")
        return 0
    written = 0
    for rel, text in files.items():
        target = root / rel
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written += 1
    for rel in stale:
        (root / rel).unlink()
    print(f"codegen: {len(files)} files generated ({written} changed, {len(stale)} removed)")
    return 1 if foreign else 0


if __name__ == "__main__":
    raise SystemExit(main())
