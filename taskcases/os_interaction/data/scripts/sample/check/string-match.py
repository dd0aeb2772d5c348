"""Passes (exit 0) when the answer (argv[1]) equals the gold output (argv[2]), line endings normalised
and surrounding whitespace ignored."""

import sys


def normal(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        return 1
    return 0 if normal(argv[1]) == normal(argv[2]) else 1


sys.exit(main(sys.argv))
