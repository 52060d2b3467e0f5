"""Stable-Baselines3 PPO on Gymnasium's C MuJoCo task: steps/s (and the final training return).

Runs in its own environment (``benchmarks/peers/setup.sh sb3`` makes it: PyTorch on the CPU,
stable-baselines3, gymnasium[mujoco]); ``benchmarks/throughput.py --peers`` calls it and reads
the one JSON line it prints last. Hyperparameters are purejaxppo's defaults:
2048 steps per update, minibatches of 64, 10 epochs, lr 3e-4, gamma 0.99, GAE lambda 0.95,
clip 0.2, entropy 0.01, value coefficient 0.5, gradient norm 0.5, 64x64 tanh networks,
observations and rewards normalised (VecNormalize).

    benchmarks/.peers/sb3/bin/python benchmarks/peers/sb3_ppo.py --env HalfCheetah-v5 --steps 20480
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import gymnasium as gym
import numpy as np
import stable_baselines3 as sb3
import torch
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default="HalfCheetah-v5")
    p.add_argument("--steps", type=int, default=2048 * 10)
    p.add_argument("--num-envs", type=int, default=1, help="SB3 DummyVecEnv size (seed: 1)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    env = VecNormalize(make_vec_env(a.env, n_envs=a.num_envs, seed=0), gamma=0.99)
    model = sb3.PPO(
        "MlpPolicy",
        env,
        n_steps=2048 // a.num_envs,
        batch_size=64,
        n_epochs=10,
        learning_rate=3e-4,
        gamma=0.99,
        gae_lambda=0.95,
        clip_range=0.2,
        ent_coef=0.01,
        vf_coef=0.5,
        max_grad_norm=0.5,
        policy_kwargs={"net_arch": [64, 64], "activation_fn": torch.nn.Tanh},
        device="cpu",
        seed=0,
        verbose=0,
    )
    model.learn(2048)  # first update outside the timing (allocations, lazy imports)
    t0 = time.perf_counter()
    model.learn(a.steps, reset_num_timesteps=False)
    seconds = time.perf_counter() - t0
    returns = [ep["r"] for ep in model.ep_info_buffer]
    print(
        json.dumps(
            {
                "trainer": "stable-baselines3",
                "env": a.env,
                "env_steps": a.steps,
                "seconds": seconds,
                "steps_per_s": a.steps / seconds,
                "recent_training_return": float(np.mean(returns)) if returns else None,
                "versions": {
                    "stable-baselines3": sb3.__version__,
                    "torch": torch.__version__,
                    "gymnasium": gym.__version__,
                    "python": platform.python_version(),
                },
                "torch_threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
