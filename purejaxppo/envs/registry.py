"""The registry: environment ids to factories.

Ids follow Gymnasium's (``HalfCheetah-v5``) for the v5 tasks; Brax's environments are
``brax/<name>`` (constructor keyword ``backend`` picks the Brax backend); the probe tasks are
``probe/<name>``. Constructor keywords are passed through, as ``gymnasium.make`` does.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable

from purejaxppo.envs import probes
from purejaxppo.envs.base import Env, EnvError
from purejaxppo.envs.v5 import V5_TASKS

_REGISTRY: dict[str, Callable[..., Env]] = {}
_DESCRIPTIONS: dict[str, str] = {}


class UnknownEnvError(KeyError):
    """An id that is not registered; the message names the close matches."""

    def __str__(self) -> str:
        return str(self.args[0])


def register(env_id: str, factory: Callable[..., Env], description: str = "") -> None:
    """Registers ``factory(**kwargs) -> Env`` under ``env_id``."""
    if env_id in _REGISTRY:
        raise ValueError(f"environment id {env_id!r} is already registered")
    _REGISTRY[env_id] = factory
    _DESCRIPTIONS[env_id] = description


def registered_ids(include_brax: bool = True) -> list[str]:
    """All ids that :func:`make` accepts (Brax's listed one by one when ``include_brax``)."""
    ids = sorted(_REGISTRY)
    if include_brax:
        from purejaxppo.envs.brax_adapter import brax_env_names

        ids += [f"brax/{name}" for name in brax_env_names()]
    return ids


def describe(env_id: str) -> str:
    """One line about a registered id."""
    if env_id.startswith("brax/"):
        return "Brax's own environment (not Gymnasium's v5 task); backend=mjx|generalized|..."
    return _DESCRIPTIONS.get(env_id, "")


def make(env_id: str, **kwargs) -> Env:
    """Builds a registered environment.

    Args:
        env_id: e.g. ``"HalfCheetah-v5"``, ``"brax/ant"``, ``"probe/constant"``.
        **kwargs: constructor keywords (Gymnasium's for v5 tasks; ``backend`` for Brax).

    Raises:
        UnknownEnvError: the id is not registered; the message lists the close matches.
    """
    if env_id.startswith("brax/"):
        from purejaxppo.envs.brax_adapter import BraxEnv, brax_env_names

        name = env_id.removeprefix("brax/")
        if name not in brax_env_names():
            raise _unknown(env_id)
        return BraxEnv(name, **kwargs)
    if env_id not in _REGISTRY:
        raise _unknown(env_id)
    factory = _REGISTRY[env_id]
    if isinstance(factory, type):
        _check_keywords(env_id, factory, kwargs)
    return factory(**kwargs)


def keywords(cls: type) -> list[str]:
    """The constructor keywords an env class takes, its base classes' included."""
    names: list[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for p in inspect.signature(init).parameters.values():
            named = p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
            if named and p.name not in names:
                names.append(p.name)
    return names


def _check_keywords(env_id: str, cls: type, kwargs: dict) -> None:
    """An :class:`EnvError` naming the close matches, for a keyword ``cls`` does not take."""
    known = keywords(cls)
    for name in kwargs:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise EnvError(
                f"{env_id} takes no keyword {name!r}.{hint} It takes: {', '.join(known)}"
            )


def _unknown(env_id: str) -> UnknownEnvError:
    ids = registered_ids()
    lowered = {i.lower(): i for i in ids}
    close = difflib.get_close_matches(env_id.lower(), list(lowered), n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(lowered[c] for c in close)}?" if close else ""
    return UnknownEnvError(
        f"unknown environment id {env_id!r}.{hint} (`purejaxppo envs` lists all {len(ids)} ids)"
    )


for _id, _cls in V5_TASKS.items():
    register(_id, _cls, f"Gymnasium {_id}: {(_cls.__doc__ or '').splitlines()[0]}")
register("probe/constant", probes.ConstantReward, "probe: reward 1, one step; V = 1")
register("probe/observation", probes.ObservationReward, "probe: reward = obs = +-1; V(obs) = obs")
register("probe/action", probes.ActionReward, "probe: reward -(a-0.5)^2; mean action 0.5")
register(
    "probe/truncation", probes.TruncationProbe, "probe: reward 1, time limit only; V = 1/(1-g)"
)
