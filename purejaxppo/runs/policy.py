"""A saved policy outside JAX: ``load_policy`` and the environment a run was trained on."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from purejaxppo import normalize
from purejaxppo.config import PPOConfig
from purejaxppo.envs import engines, make, registry
from purejaxppo.envs.base import Env, EnvError
from purejaxppo.envs.task import MujocoTask
from purejaxppo.envs.v5 import V5_TASKS
from purejaxppo.runs import checkpoint
from purejaxppo.runs.run_dir import RunDirError, RunSpec, read_spec
from purejaxppo.train import Policy, make_network, make_policy_fn

OUR_KWARGS = (*engines.KEYWORDS, "backend")
"""Constructor keywords of purejaxppo's own (the engine), which Gymnasium's tasks do not take."""


class LoadedPolicy:
    """A saved policy as a NumPy callable: ``obs [obs] or [B, obs] -> action [act] or [B, act]``.

    Deterministic (the Gaussian's mean), normalised with the run's observation statistics, and
    clipped to the action space, as the environments do. Usable in any Gymnasium loop.
    """

    def __init__(self, spec: RunSpec, env: Env, policy: Policy, seed: int):
        """Use :func:`load_policy`."""
        self.spec, self.env_id, self.seed = spec, spec.env, seed
        self.gymnasium_id = gymnasium_id(env)
        """The task's Gymnasium twin, or None."""
        self.episode_length = env.episode_length
        """The task's own time limit in steps."""
        self.policy = policy
        self.low, self.high = np.asarray(env.action_low), np.asarray(env.action_high)
        fn = make_policy_fn(spec.config, env)
        self._fn = jax.jit(lambda p, o: fn(p, o))

    @classmethod
    def of(
        cls, env_id: str, config: PPOConfig, policy: Policy, env_kwargs: dict | None = None
    ) -> LoadedPolicy:
        """From a policy in memory, e.g. one seed of ``train``'s result.

        ``LoadedPolicy.of("Hopper-v5", cfg, jax.tree.map(lambda x: x[0], result.policy))``
        """
        kwargs = dict(env_kwargs or {})
        spec = RunSpec(env_id, kwargs, config, 1, 0, "memory", 1, 1)
        return cls(spec, make(env_id, **kwargs), policy, 0)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """The action (float32, like Gymnasium's action spaces) for ``obs`` (any float dtype)."""
        a = np.asarray(self._fn(self.policy, jnp.asarray(obs, jnp.float32)))
        return np.clip(a, self.low, self.high).astype(np.float32)


def env_of(spec: RunSpec, physics: str | None = None) -> Env:
    """The run's environment, rebuilt from its spec (on another engine if ``physics`` is given).

    Raises:
        EnvError: a task of the user's that this process cannot find again (the message says
            what is missing).
    """
    kwargs = dict(spec.env_kwargs)
    if physics is not None and physics != kwargs.get("physics"):  # the run's engine settings go
        kwargs = {k: v for k, v in kwargs.items() if k not in engines.KEYWORDS}
        kwargs["physics"] = physics
    elif "physics" not in kwargs and spec.env in V5_TASKS:  # a run from before the C engine
        kwargs["physics"] = (
            "mjx" if {"solver_iterations", "ls_iterations"} & set(kwargs) else "auto"
        )
    try:
        return registry.build(spec.env, kwargs, spec.env_origin)
    except registry.UnknownEnvError:
        if spec.env_origin is not None or registry.is_path(spec.env):
            raise
        raise EnvError(
            f"{spec.env} was registered from Python (purejaxppo.envs.register) in the process "
            "that trained this run, from code this process cannot import: register it again "
            "before loading the run, or train with --env module:Class or --env file.py:Class, "
            "which the run records"
        ) from None


def engine_name(env: Env) -> str:
    """What steps ``env`` inside the program, for reports ("C MuJoCo", "MJX", ... or "JAX")."""
    return engines.display_name(str(getattr(env.unwrapped, "physics", "")))


def abstract_policies(spec: RunSpec, env: Env) -> Policy:
    """Shapes and dtypes of the saved policies, ``[num_seeds, ...]``, without computing them."""
    network = make_network(spec.config, env)

    def one(key):
        obs = jnp.zeros((1, env.observation_size), jnp.float32)
        params = network.init(key, obs, spec.config.log_std_init)
        return Policy(params, normalize.init_stats((env.observation_size,)))

    keys = jax.random.split(jax.random.PRNGKey(0), spec.num_seeds)
    return jax.eval_shape(jax.vmap(one), keys)


def load_policies(run_dir: Path, physics: str | None = None) -> tuple[RunSpec, Env, Policy, int]:
    """(spec, env, policies of all seeds ``[num_seeds, ...]``, next_update) of a run.

    Args:
        run_dir: the run.
        physics: the engine to rebuild the env on (default: the run's own).
    """
    spec = read_spec(run_dir)
    env = env_of(spec, physics)
    policies, step = checkpoint.restore_policy(run_dir, abstract_policies(spec, env))
    return spec, env, policies, step


def load_policy(run_dir: str | Path, seed: int = 0) -> LoadedPolicy:
    """The newest saved policy of one seed of a run, as a NumPy callable obs -> action.

    >>> policy = load_policy("runs/HalfCheetah-v5__ppo__0__20261121-120000")
    >>> env = gymnasium.make("HalfCheetah-v5"); obs, _ = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, _ = env.step(policy(obs))
    """
    spec, env, policies, _ = load_policies(Path(run_dir))
    if not 0 <= seed < spec.num_seeds:
        raise RunDirError(f"seed {seed} is not in this run: it has seeds 0..{spec.num_seeds - 1}")
    return LoadedPolicy(spec, env, jax.tree.map(lambda x: x[seed], policies), seed)


def gymnasium_kwargs(spec: RunSpec) -> dict:
    """The run's env keywords that the Gymnasium twin takes (ours, the engine's, left out)."""
    return {k: v for k, v in spec.env_kwargs.items() if k not in OUR_KWARGS}


def gymnasium_id(env: Env) -> str | None:
    """The Gymnasium twin a task's own class names (``gymnasium_id``), or None.

    Not inherited: a subclass of a task (``class MyAnt(Ant)``, with another reward, say) is not
    its base's twin unless it says so. Brax and probe environments have none.
    """
    task = env.unwrapped
    return type(task).__dict__.get("gymnasium_id") if isinstance(task, MujocoTask) else None
