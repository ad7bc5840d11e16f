"""The ``sb3-reinforce`` console script: ``sb3-reinforce train|enjoy|record_video|compare|bench [flags]``."""

from __future__ import annotations

import importlib
import sys

from sb3_reinforce.extras import require_extra

# command -> (extra it needs, module, function, what it does)
COMMANDS = {
    "train": ("zoo", "sb3_reinforce.zoo", "train", "rl-zoo's train script with REINFORCE registered"),
    "enjoy": ("zoo", "sb3_reinforce.zoo", "enjoy", "rl-zoo's enjoy script: run a trained agent"),
    "record_video": ("zoo", "sb3_reinforce.zoo", "record_video", "rl-zoo's record_video script"),
    "push_to_hub": ("zoo", "sb3_reinforce.zoo", "push_to_hub", "rl-zoo's push_to_hub: publish a trained agent"),
    "load_from_hub": ("zoo", "sb3_reinforce.zoo", "load_from_hub", "rl-zoo's load_from_hub: download a trained agent"),
    "compare": ("compare", "sb3_reinforce.experiments.compare", "main", "REINFORCE vs A2C/PPO over envs and seeds"),
    "bench": ("zoo", "sb3_reinforce.experiments.bench", "main", "throughput benchmark against A2C/PPO"),
}


def usage() -> str:
    lines = ["usage: sb3-reinforce COMMAND [flags]   (each command takes --help; sb3-reinforce --version)", "", "commands:"]
    lines += [f"  {name:<13} {help_text}" for name, (_, _, _, help_text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print(usage())
        return
    if argv and argv[0] in ("-V", "--version"):
        from sb3_reinforce import __version__

        print(f"sb3-reinforce {__version__}")
        return
    if not argv or argv[0] not in COMMANDS:
        print(usage(), file=sys.stderr)
        if argv:
            print(f"\nsb3-reinforce: unknown command {argv[0]!r}", file=sys.stderr)
        raise SystemExit(2)
    extra, module, function, _ = COMMANDS[argv[0]]
    require_extra(extra, f"sb3-reinforce {argv[0]}")
    getattr(importlib.import_module(module), function)(argv[1:])


if __name__ == "__main__":
    main()
