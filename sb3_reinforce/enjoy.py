"""``python -m sb3_reinforce.enjoy``: rl-zoo's enjoy script with REINFORCE registered (same flags)."""

from sb3_reinforce.zoo import enjoy

if __name__ == "__main__":
    enjoy()
