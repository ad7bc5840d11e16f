"""``python -m sb3_reinforce.train``: rl-zoo's train script with REINFORCE registered (same flags)."""

from sb3_reinforce.zoo import train

if __name__ == "__main__":
    train()
