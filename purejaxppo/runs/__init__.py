"""A training run on disk: its directory, checkpoints, the chunked driver, saved policies, the
cross-check with Gymnasium, and sweeps."""
