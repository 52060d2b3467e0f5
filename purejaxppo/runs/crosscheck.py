"""The cross-check: a trained policy's episodes in the task's reference, and the verdict.

The cross-check runs the saved deterministic policy (with its observation normaliser) for N
episodes in the task's reference, stepped by C MuJoCo (Gymnasium's own v5 task; dm_control's
own environment for the DeepMind Control Suite; a task's named ``gymnasium_id``), and compares
the mean return with the evaluation inside purejaxppo's program (on the run's engine, C MuJoCo
or MJX): both with 95%
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
from numpy.typing import ArrayLike
from scipy import stats

from purejaxppo.config import PPOConfig
from purejaxppo.envs import make
from purejaxppo.envs.base import Env
from purejaxppo.envs.task import quiet_model_compiler
from purejaxppo.runs.policy import (
    LoadedPolicy,
    engine_name,
    gymnasium_id,
    gymnasium_kwargs,
    load_policies,
)
from purejaxppo.runs.run_dir import RunSpec
from purejaxppo.train import Policy, TrainResult, make_policy_fn

RELATIVE_MARGIN = 0.05
FAMILY_ALPHA = 0.05


def gymnasium_returns(policy: LoadedPolicy, episodes: int, first_seed: int = 0) -> np.ndarray:
    """Returns ``[episodes]`` of the policy in the task's Gymnasium twin (C MuJoCo).

    Raises:
        ValueError: the task has no Gymnasium twin.
    """
    spec = policy.spec
    twin = policy.gymnasium_id
    if twin is None:
        raise ValueError(f"{spec.env} has no Gymnasium twin (gymnasium_id) to run the policy in")
    kwargs = gymnasium_kwargs(spec)
    # the program's time limit, whether or not the twin was registered with one
    kwargs["max_episode_steps"] = spec.config.episode_length or policy.episode_length
    with quiet_model_compiler():
        env = gym.make(twin, **kwargs)
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


def final_estimates(eval_return: ArrayLike, eval_std: ArrayLike, n: int) -> list[Estimate] | None:
    """Each seed's estimate from its last evaluation in the program (None: there is none).

    None when the last update did not evaluate (NaN) or evaluated a single episode.

    Args:
        eval_return: ``[seeds, updates]`` mean evaluation returns.
        eval_std: ``[seeds, updates]`` their standard deviations.
        n: episodes per evaluation.
    """
    mean, std = np.asarray(eval_return)[:, -1], np.asarray(eval_std)[:, -1]
    if not np.isfinite(mean).all() or n < 2:
        return None
    return [Estimate(float(m), float(s), n) for m, s in zip(mean, std, strict=True)]


def compare(
    spec: RunSpec, env: Env, policies: Policy, estimates: list[Estimate], episodes: int
) -> dict:
    """Gymnasium episodes of every seed's policy beside the program's estimate: the report.

    Args:
        spec: what the policies are (env id and keywords, config).
        env: the env they were evaluated on in the program.
        policies: every seed's policy, ``[seeds, ...]``.
        estimates: one estimate per seed from the evaluation in purejaxppo's program.
        episodes: Gymnasium episodes per seed.

    Returns:
        ``{"env", "engine", "seeds": [{"seed", "ours", "gymnasium", "agree", "why"}], "level",
        "verdict"}``; ``verdict`` is None (with a ``message``) for an env with no Gymnasium twin.
    """
    report: dict = {"env": spec.env, "engine": engine_name(env), "seeds": []}
    twin = gymnasium_id(env)
    if twin is None:
        report["verdict"] = None
        report["message"] = (
            f"{spec.env} names no Gymnasium twin (a task's gymnasium_id): the trained policy was "
            "not run in a reference implementation"
        )
        return report
    report["gymnasium"] = twin
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
    return report


def cross_check_run(
    run_dir: Path,
    estimates: list[Estimate],
    episodes: int,
    loaded: tuple[RunSpec, Env, Policy, int] | None = None,
) -> dict:
    """:func:`compare` for a run's newest checkpoint; writes ``<run_dir>/crosscheck.json``.

    Args:
        run_dir: the run.
        estimates: one estimate per seed of the checkpoint's policies, from the program.
        episodes: Gymnasium episodes per seed.
        loaded: what :func:`load_policies` gave for ``run_dir``, if the caller has it already.
    """
    spec, env, policies, step = loaded or load_policies(run_dir)
    report = {"next_update": step, **compare(spec, env, policies, estimates, episodes)}
    (Path(run_dir) / "crosscheck.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def cross_check(
    env_id: str,
    config: PPOConfig,
    result: TrainResult,
    episodes: int = 10,
    env_kwargs: dict | None = None,
) -> dict:
    """The cross-check of a training result in memory: every seed's final policy in Gymnasium.

    >>> result = jax.jit(jax.vmap(pjp.make_train(cfg, env)))(keys)
    >>> report = pjp.cross_check("Hopper-v5", cfg, result)   # report["verdict"]: "agree"?

    Args:
        env_id: the env's id.
        config: the config it trained with.
        result: what the trainer returned, for one seed or vmapped over seeds.
        episodes: Gymnasium episodes per seed.
        env_kwargs: the env's constructor keywords, if any.

    Returns:
        The report of :func:`compare`. The program's side is the result's last evaluation, or
        ``episodes`` new episodes in the program when the last update did not evaluate.
    """
    kwargs = dict(env_kwargs or {})
    policies, metrics = result.policy, result.metrics
    if np.ndim(metrics.eval_return) == 1:  # one seed: give it the seed axis
        policies, metrics = jax.tree.map(lambda x: jnp.asarray(x)[None], (policies, metrics))
    seeds = int(np.shape(metrics.eval_return)[0])
    spec = RunSpec(env_id, kwargs, config, seeds, 0, "memory", 1, 1)
    env = make(env_id, **kwargs)
    estimates = final_estimates(metrics.eval_return, metrics.eval_return_std, config.eval_episodes)
    if estimates is None:
        estimates = [Estimate.of(r) for r in program_returns(spec, env, policies, episodes)]
    return compare(spec, env, policies, estimates, episodes)


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
