"""``python -m sb3_reinforce.compare``: see :func:`sb3_reinforce.compare.main`."""

from sb3_reinforce.compare import main

if __name__ == "__main__":
    main()
