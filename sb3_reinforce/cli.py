"""The ``sb3-reinforce`` console script: ``sb3-reinforce train|enjoy|record_video|compare|bench [flags]``."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "train": ("sb3_reinforce.zoo", "train"),
    "enjoy": ("sb3_reinforce.zoo", "enjoy"),
    "record_video": ("sb3_reinforce.zoo", "record_video"),
    "compare": ("sb3_reinforce.compare", "main"),
    "bench": ("sb3_reinforce.bench", "main"),
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: sb3-reinforce {{{','.join(COMMANDS)}}} [flags]  (each command takes --help)", file=sys.stderr)
        raise SystemExit(2)
    module, function = COMMANDS[argv[0]]
    getattr(importlib.import_module(module), function)(argv[1:])


if __name__ == "__main__":
    main()
