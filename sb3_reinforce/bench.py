"""``python -m sb3_reinforce.bench``: the throughput benchmark (see :mod:`sb3_reinforce.experiments.bench`)."""

from sb3_reinforce.extras import require_extra


def main() -> None:
    require_extra("zoo", "python -m sb3_reinforce.bench")
    from sb3_reinforce.experiments.bench import main as bench

    bench()


if __name__ == "__main__":
    main()
