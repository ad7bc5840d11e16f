"""Side-by-side comparison of REINFORCE with A2C and PPO (see ``python -m sb3_reinforce.compare --help``)."""
