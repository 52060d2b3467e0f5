"""Brax's own ``ppo.train`` on a purejaxppo v5 task (HalfCheetah-v5 by default): steps/s.

Runs on the project's own jax (``uv run python benchmarks/peers/brax_ppo.py``): Brax's trainer
calls ``jax.device_put_replicated``, which jax 0.10 removed, so :func:`_device_put_replicated`
stands in for it when it is missing (a leading axis of one copy per device, sharded over them,
as ``pmap`` expects). ``benchmarks/peers/setup.sh brax`` makes an environment with the jax Brax
was released against instead. The v5 task (on the engine ``--physics`` names) is wrapped as a
Brax ``Env``; Brax's own wrappers (time limit, auto-reset to a stored first state, vmap) go
around it, as in any Brax run.

Batch shape: 16 envs, 2048 transitions per update (unroll_length 128 x 16), 16 minibatches of
128 transitions, 10 epochs; 64x64 tanh networks; lr 3e-4, entropy 0.01, gamma 0.99, lambda 0.95,
clip 0.2. Timing: ``num_evals=4`` without evaluations, so ``progress_fn`` runs after each
third of the run; the last third (compiled by then) is the timed part.

    benchmarks/.peers/brax/bin/python benchmarks/peers/brax_ppo.py --env HalfCheetah-v5
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import time
from importlib import metadata

import jax
import jax.numpy as jnp
from brax.envs.base import Env as BraxEnv
from brax.envs.base import State as BraxState
from brax.training.agents.ppo import networks as ppo_networks
from brax.training.agents.ppo import train as ppo

import purejaxppo as pjp


def _device_put_replicated(x, devices):
    """``jax.device_put_replicated`` (removed in jax 0.10): one copy of ``x`` per device."""
    mesh = jax.sharding.Mesh(devices, ("devices",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("devices"))

    def put(a):
        return jax.device_put(jnp.stack([jnp.asarray(a)] * len(devices)), sharding)

    return jax.tree.map(put, x)


if not hasattr(jax, "device_put_replicated"):
    jax.device_put_replicated = _device_put_replicated


class AsBraxEnv(BraxEnv):
    """A purejaxppo env (one, unbatched) behind Brax's Env interface."""

    def __init__(self, env_id: str, physics: str = "auto"):
        self.env = pjp.envs.make(env_id, physics=physics)

    def reset(self, rng: jax.Array) -> BraxState:
        s = self.env.reset(rng)
        zero = jnp.zeros((), jnp.float32)
        return BraxState(pipeline_state=s, obs=s.obs, reward=zero, done=zero, metrics={}, info={})

    def step(self, state: BraxState, action: jax.Array) -> BraxState:
        s = self.env.step(state.pipeline_state, action)
        return state.replace(pipeline_state=s, obs=s.obs, reward=s.reward, done=s.terminated)

    @property
    def observation_size(self) -> int:
        return self.env.observation_size

    @property
    def action_size(self) -> int:
        return self.env.action_size

    @property
    def backend(self) -> str:
        return "mjx"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default="HalfCheetah-v5")
    p.add_argument("--steps", type=int, default=2048 * 30, help="env steps in all (three thirds)")
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=2048, help="transitions per update")
    p.add_argument("--minibatches", type=int, default=None, help="default: num_envs")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--physics", default="auto", choices=["auto", "c", "mjx"])
    a = p.parse_args()
    env = AsBraxEnv(a.env, a.physics)
    times = []
    network_factory = functools.partial(
        ppo_networks.make_ppo_networks,
        policy_hidden_layer_sizes=(64, 64),
        value_hidden_layer_sizes=(64, 64),
        activation=jax.nn.tanh,
    )
    ppo.train(
        environment=env,
        num_timesteps=a.steps,
        num_envs=a.num_envs,
        episode_length=1000,
        learning_rate=3e-4,
        entropy_cost=0.01,
        discounting=0.99,
        gae_lambda=0.95,
        clipping_epsilon=0.2,
        max_grad_norm=0.5,
        unroll_length=a.batch_size // a.num_envs,
        batch_size=a.num_envs // (a.minibatches or a.num_envs),
        num_minibatches=a.minibatches or a.num_envs,
        num_updates_per_batch=a.epochs,
        normalize_observations=True,
        network_factory=network_factory,
        num_evals=4,
        run_evals=False,  # timing the training alone (purejaxppo is timed without evaluation)
        num_eval_envs=a.num_envs,
        seed=0,
        progress_fn=lambda step, metrics: times.append((time.perf_counter(), step)),
    )
    (t1, s1), (t2, s2) = times[-2], times[-1]
    print(
        json.dumps(
            {
                "trainer": "brax ppo.train",
                "env": a.env,
                "physics": env.env.physics,
                "num_envs": a.num_envs,
                "env_steps": s2 - s1,
                "seconds": t2 - t1,
                "steps_per_s": (s2 - s1) / (t2 - t1),
                "progress": [s for _, s in times],
                "versions": {
                    k: metadata.version(k) for k in ("brax", "jax", "jaxlib", "mujoco-mjx")
                }
                | {"python": platform.python_version()},
            }
        )
    )


if __name__ == "__main__":
    main()
