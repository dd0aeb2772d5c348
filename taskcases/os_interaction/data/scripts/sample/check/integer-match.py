"""Passes (exit 0) when the answer (argv[1]) and the gold output (argv[2]) are the same integer."""

import sys


def main(argv: list[str]) -> int:
    try:
        return 0 if int(argv[1].strip()) == int(argv[2].strip()) else 1
    except (IndexError, ValueError):
        return 1


sys.exit(main(sys.argv))
