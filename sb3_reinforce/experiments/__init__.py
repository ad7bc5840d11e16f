"""The lab: REINFORCE against A2C and PPO over seeds (:mod:`.compare`) and the throughput benchmark (:mod:`.bench`)."""
