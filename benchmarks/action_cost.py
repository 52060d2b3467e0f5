"""What the actions cost: env and trainer steps/s under different action spreads, in one run.

MJX's physics does not cost the same under every policy (contacts, solver iterations), so a
trainer's steps/s depends on its policy's actions, and a raw env timed with other actions is
not its ceiling. Timed here, all at the same batch (best of ``--repeats``, alternating):

- ``rollout N(0, s)``: the trainer's rollout loop (``collect_rollout``, through the training
  wrappers) with actions drawn from N(0, s), for each ``s`` of ``--action-stds``;
- ``trainer log_std_init x``: the whole trainer, its policy starting at std ``exp(x)``, for each
  ``x`` of ``--log-std-inits`` (-1 is our default; -0.365 is Brax's initial spread).

    uv run python benchmarks/action_cost.py                       # HalfCheetah-v5, 16 envs
    uv run python benchmarks/action_cost.py --env Hopper-v5 --updates 4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax

import purejaxppo as pjp
from purejaxppo.envs.wrappers import wrap_for_training
from purejaxppo.rollout import EpisodeTracker, collect_rollout

sys.path.insert(0, str(Path(__file__).parent))
import common


def rollout_fn(env: pjp.envs.Env, cfg: pjp.PPOConfig, std: float, updates: int):
    """``updates`` rollouts of the trainer's shape with N(0, std) actions, jitted."""
    batched = wrap_for_training(env, cfg.episode_length)

    def act(key: jax.Array, obs: jax.Array) -> jax.Array:
        return std * jax.random.normal(key, (obs.shape[0], env.action_size))

    def run(key: jax.Array) -> jax.Array:
        state = batched.reset(jax.random.split(key, cfg.num_envs))

        def one(carry, k):
            state, tracker = carry
            state, tracker, traj, _ = collect_rollout(
                batched, act, state, tracker, k, cfg.num_steps
            )
            return (state, tracker), traj.reward.sum()

        init = (state, EpisodeTracker.create(cfg.num_envs))
        return jax.lax.scan(one, init, jax.random.split(key, updates))[1].sum()

    return jax.jit(run)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default="HalfCheetah-v5")
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--minibatch-size", type=int, default=128)
    p.add_argument("--updates", type=int, default=8, help="updates timed per program")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--action-stds", nargs="*", type=float, default=[1.0, 0.37])
    p.add_argument("--log-std-inits", nargs="*", type=float, default=[-1.0, -0.365, 0.0])
    a = p.parse_args()
    pjp.enable_compilation_cache()
    env = pjp.envs.make(a.env, physics="mjx")  # what MJX's physics costs
    base = pjp.PPOConfig(num_envs=a.num_envs, eval_every=0, minibatch_size=a.minibatch_size)
    cfg = base.replace(total_timesteps=a.updates * base.batch_size).validate()
    key = jax.random.PRNGKey(0)
    programs = {}
    for std in a.action_stds:
        programs[f"rollout N(0, {std:g})"] = common.compiled(
            rollout_fn(env, cfg, std, a.updates), key
        )[0]
    for x in a.log_std_inits:
        train = pjp.make_train(cfg.replace(log_std_init=x), env)
        programs[f"trainer log_std_init {x:g}"] = common.compiled(jax.jit(train), key)[0]
    times: dict[str, list[float]] = {name: [] for name in programs}
    for _ in range(a.repeats):
        for name, program in programs.items():
            times[name].append(common.run_seconds(program, key))
    steps = a.updates * cfg.batch_size
    print(
        f"{a.env}, {a.num_envs} envs, batch {cfg.batch_size}, {a.updates} updates, on "
        f"{jax.devices()[0].device_kind}; best of {a.repeats}"
    )
    for name, t in times.items():
        print(f"  {name:28s} {steps / min(t):8,.0f} steps/s")


if __name__ == "__main__":
    main()
