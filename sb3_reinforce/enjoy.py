"""``python -m sb3_reinforce.enjoy``: rl-zoo's enjoy script with REINFORCE registered (same flags)."""

from sb3_reinforce.extras import require_extra


def main() -> None:
    require_extra("zoo", "python -m sb3_reinforce.enjoy")
    from sb3_reinforce.zoo import enjoy

    enjoy()


if __name__ == "__main__":
    main()
