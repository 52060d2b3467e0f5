"""What several test modules share."""

import purejaxppo as pjp


def tiny_config(**overrides) -> pjp.PPOConfig:
    """A config whose program compiles in seconds: 8 envs x 32 steps, minibatches of 64."""
    base = dict(
        total_timesteps=256 * 64,
        num_envs=8,
        batch_size=256,
        minibatch_size=64,
        n_epochs=4,
        eval_every=8,
        eval_episodes=4,
        learning_rate=3e-3,
        normalize_obs=False,
        normalize_reward=False,
    )
    base.update(overrides)
    return pjp.PPOConfig(**base)
