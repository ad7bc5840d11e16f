"""``python -m sb3_reinforce.compare``: REINFORCE against A2C and PPO (see :mod:`sb3_reinforce.experiments.compare`)."""

from sb3_reinforce.extras import require_extra


def main() -> None:
    require_extra("compare", "python -m sb3_reinforce.compare")
    from sb3_reinforce.experiments.compare import main as compare

    compare()


if __name__ == "__main__":
    main()
