"""What every algorithm of the package shares: episode storage, returns and weights, policies, the update step."""
