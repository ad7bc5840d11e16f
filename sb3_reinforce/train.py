"""``python -m sb3_reinforce.train``: rl-zoo's train script with REINFORCE registered (same flags)."""

from sb3_reinforce.extras import require_extra


def main() -> None:
    require_extra("zoo", "python -m sb3_reinforce.train")
    from sb3_reinforce.zoo import train

    train()


if __name__ == "__main__":
    main()
