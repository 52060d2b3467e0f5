"""A trained policy outside JAX: ``load_policy``, Gymnasium episodes, and the cross-check verdict.

The cross-check runs the saved deterministic policy (with its observation normaliser) for N
episodes in Gymnasium's own v5 task, stepped by C MuJoCo, and compares the mean return with the
evaluation inside purejaxppo's program (on the run's engine, C MuJoCo or MJX): both with 95%
confidence intervals (Student's t), and a verdict. They *agree* when the confidence interval
of the difference (Welch) contains 0, or when the difference is within 5% of the larger mean's
magnitude (a difference too small to matter, which many episodes can still make statistically
detectable). With k seeds the interval of each is at level
1 - 0.05 / k (Bonferroni): the chance that a run whose engines agree is reported as disagreeing
stays at 5% however many seeds it has (at 95% per seed, 3 seeds would raise it to 14%).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from purejaxppo import checkpoint, normalize
from purejaxppo.config import PPOConfig
from purejaxppo.envs import make
from purejaxppo.envs.base import Env
from purejaxppo.envs.v5 import V5_TASKS
from purejaxppo.run_dir import RunDirError, RunSpec, read_spec
from purejaxppo.train import Policy, make_network, make_policy_fn

RELATIVE_MARGIN = 0.05
FAMILY_ALPHA = 0.05
_OUR_KWARGS = ("physics", "threads", "solver_iterations", "ls_iterations", "backend")


class LoadedPolicy:
    """A saved policy as a NumPy callable: ``obs [obs] or [B, obs] -> action [act] or [B, act]``.

    Deterministic (the Gaussian's mean), normalised with the run's observation statistics, and
    clipped to the action space, as the environments do. Usable in any Gymnasium loop.
    """

    def __init__(self, spec: RunSpec, env: Env, policy: Policy, seed: int):
        """Use :func:`load_policy`."""
        self.spec, self.env_id, self.seed = spec, spec.env, seed
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
    """The run's environment, rebuilt from its spec (on another engine if ``physics`` is given)."""
    kwargs = dict(spec.env_kwargs)
    if physics is not None:
        kwargs["physics"] = physics
    elif "physics" not in kwargs and spec.env in V5_TASKS:  # a run from before the C engine
        kwargs["physics"] = (
            "mjx" if {"solver_iterations", "ls_iterations"} & set(kwargs) else "auto"
        )
    return make(spec.env, **kwargs)


def engine_name(env: Env) -> str:
    """What steps ``env`` inside the program, for reports: "C MuJoCo", "MJX" or "JAX"."""
    physics = getattr(env.unwrapped, "physics", None)
    return {"c": "C MuJoCo", "mjx": "MJX"}.get(physics, "JAX")


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


def gymnasium_id(spec: RunSpec) -> str | None:
    """The Gymnasium twin of the run's env id, or None (Brax and probe envs have none)."""
    return spec.env if spec.env in V5_TASKS else None


def gymnasium_returns(policy: LoadedPolicy, episodes: int, first_seed: int = 0) -> np.ndarray:
    """Returns ``[episodes]`` of the policy in Gymnasium's own task (C MuJoCo)."""
    spec = policy.spec
    kwargs = {k: v for k, v in spec.env_kwargs.items() if k not in _OUR_KWARGS}
    if spec.config.episode_length is not None:
        kwargs["max_episode_steps"] = spec.config.episode_length
    env = gym.make(spec.env, **kwargs)
    out = []
    for i in range(episodes):
        obs, _ = env.reset(seed=first_seed + i)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            total += float(reward)
            done = terminated or truncated
        out.append(total)
    env.close()
    return np.array(out)


@dataclass(frozen=True)
class Estimate:
    """A mean return with its 95% confidence interval."""

    mean: float
    std: float
    n: int

    @property
    def half_width(self) -> float:
        """Half the 95% interval (Student's t; NaN with one episode)."""
        if self.n < 2 or not math.isfinite(self.std):
            return math.nan
        return float(stats.t.ppf(0.975, self.n - 1) * self.std / math.sqrt(self.n))

    @classmethod
    def of(cls, returns: np.ndarray) -> Estimate:
        """From per-episode returns."""
        r = np.asarray(returns, np.float64)
        return cls(float(r.mean()), float(r.std(ddof=1)) if r.size > 1 else math.nan, int(r.size))

    def __str__(self) -> str:
        return f"{self.mean:.1f} ± {self.half_width:.1f} (95% CI, {self.n} episodes)"


def verdict(ours: Estimate, gym_: Estimate, level: float = 0.95) -> tuple[bool, str]:
    """Whether the two means agree, and why (see the module docstring).

    Args:
        ours: the estimate of the evaluation in purejaxppo's program.
        gym_: Gymnasium's estimate.
        level: confidence level of the difference's interval.
    """
    diff = ours.mean - gym_.mean
    se = math.sqrt(ours.std**2 / ours.n + gym_.std**2 / gym_.n) if ours.n > 1 < gym_.n else math.nan
    if math.isfinite(se) and se > 0:
        dof = se**4 / (
            (ours.std**2 / ours.n) ** 2 / (ours.n - 1) + (gym_.std**2 / gym_.n) ** 2 / (gym_.n - 1)
        )
        half = float(stats.t.ppf(0.5 + level / 2, dof) * se)
    else:
        half = 0.0
    scale = max(abs(ours.mean), abs(gym_.mean))
    pct = f"{level:.1%}".replace(".0%", "%")
    if abs(diff) <= half:
        return True, f"agree: the difference {diff:+.1f} is within its {pct} interval (±{half:.1f})"
    if abs(diff) <= RELATIVE_MARGIN * scale:
        return True, (
            f"agree: the difference {diff:+.1f} is {abs(diff) / scale:.1%} of the return "
            f"(within {RELATIVE_MARGIN:.0%}), though outside its {pct} interval (±{half:.1f})"
        )
    return False, (
        f"DISAGREE: the difference {diff:+.1f} is outside its {pct} interval (±{half:.1f}) and "
        f"{abs(diff) / max(scale, 1e-9):.1%} of the return"
    )


def cross_check(
    run_dir: Path,
    estimates: list[Estimate],
    episodes: int,
    loaded: tuple[RunSpec, Env, Policy, int] | None = None,
) -> dict:
    """Gymnasium episodes for every seed, beside the program's estimates; the JSON it writes.

    Args:
        run_dir: the run (its newest checkpoint is used).
        estimates: one estimate per seed of the same checkpoint's policies, from the
            evaluation in purejaxppo's program.
        episodes: Gymnasium episodes per seed.
        loaded: what :func:`load_policies` gave for ``run_dir``, if the caller has it already.

    Returns:
        The report, also written to ``<run_dir>/crosscheck.json``.
    """
    spec, env, policies, step = loaded or load_policies(run_dir)
    report: dict = {"env": spec.env, "engine": engine_name(env), "next_update": step, "seeds": []}
    gid = gymnasium_id(spec)
    if gid is None:
        report["verdict"] = None
        report["message"] = f"{spec.env} has no Gymnasium twin: no cross-check in C MuJoCo"
    else:
        all_agree = True
        level = 1 - FAMILY_ALPHA / len(estimates)  # Bonferroni over the seeds
        report["level"] = level
        for s, est in enumerate(estimates):
            pol = LoadedPolicy(spec, env, jax.tree.map(lambda x, s=s: x[s], policies), s)
            g = Estimate.of(gymnasium_returns(pol, episodes))
            agree, why = verdict(est, g, level)
            all_agree &= agree
            report["seeds"].append(
                {"seed": s, "ours": asdict(est), "gymnasium": asdict(g), "agree": agree, "why": why}
            )
        report["verdict"] = "agree" if all_agree else "disagree"
    (Path(run_dir) / "crosscheck.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def program_returns(spec: RunSpec, env: Env, policies: Policy, episodes: int, seed: int = 0):
    """Returns ``[seeds, episodes]`` of each seed's deterministic policy on ``env``, one program."""
    from purejaxppo.envs.wrappers import wrap_for_eval
    from purejaxppo.evaluate import evaluate

    eval_env = wrap_for_eval(env, spec.config.episode_length)
    policy_fn = make_policy_fn(spec.config, env)

    def one(policy: Policy, key: jax.Array) -> jax.Array:
        return evaluate(eval_env, lambda o: policy_fn(policy, o), key, episodes)[0]

    keys = jax.random.split(jax.random.PRNGKey(seed), spec.num_seeds)
    return np.asarray(jax.jit(jax.vmap(one))(policies, keys), np.float64)
