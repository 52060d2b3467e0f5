"""A training run on disk: directory, checkpoints, driver, saved policies, cross-check, sweeps."""
