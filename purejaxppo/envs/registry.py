"""The registry: environment ids to factories, and tasks named by where they are defined.

An environment is named by

* a registered id: Gymnasium's for the v5 tasks (``HalfCheetah-v5``), ``brax/<name>`` for
  Brax's environments (constructor keyword ``backend`` picks the Brax backend),
  ``probe/<name>`` for the probe tasks, and any id given to :func:`register`;
* an id an installed package declares in the entry-point group ``purejaxppo.envs``
  (``my-robot = "my_package.tasks:MyRobot"`` in its pyproject.toml);
* an import path, ``my_package.module:MyTask`` (the working directory importable, as
  ``python -m`` does), or a file, ``path/to/my_task.py:MyTask``.

Constructor keywords are passed through, as ``gymnasium.make`` does, and checked against the
constructor's signature.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from purejaxppo.envs import engines, probes
from purejaxppo.envs.base import Env, EnvError
from purejaxppo.envs.dmc import DMC_TASKS
from purejaxppo.envs.task import MujocoTask
from purejaxppo.envs.v5 import V5_TASKS
from purejaxppo.envs.v5.task import V5Task

ENTRY_POINTS = "purejaxppo.envs"
"""The entry-point group whose entries (``id = "module:Class"``) name installed tasks."""

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


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINTS)}


def registered_ids(include_brax: bool = True) -> list[str]:
    """All ids that :func:`make` accepts (Brax's listed one by one when ``include_brax``)."""
    ids = sorted(set(_REGISTRY) | set(_entry_points()))
    if include_brax:
        from purejaxppo.envs.brax_adapter import brax_env_names

        ids += [f"brax/{name}" for name in brax_env_names()]
    return ids


def describe(env_id: str) -> str:
    """One line about a registered id."""
    if env_id.startswith("brax/"):
        return "Brax's own environment (not Gymnasium's v5 task); backend=mjx|generalized|..."
    if env_id in _DESCRIPTIONS:
        return _DESCRIPTIONS[env_id]
    entry = _entry_points().get(env_id)
    if entry is not None:
        return f"{entry.value} (installed by {entry.dist.name if entry.dist else 'a package'})"
    return ""


def is_path(env_id: str) -> bool:
    """Whether ``env_id`` names a task where it is defined (``module:Class``, ``file.py:Class``)."""
    return ":" in env_id and env_id not in _REGISTRY and not env_id.startswith("brax/")


def factory(env_id: str, origin: dict | None = None) -> Callable[..., Env]:
    """What :func:`make` calls for ``env_id`` (for a ``brax/`` id: the adapter class).

    Args:
        env_id: an id, an entry point's name, ``module:Class`` or ``path/to/file.py:Class``.
        origin: where a run recorded the task came from (:func:`origin`); when given, the task
            is loaded from there, whatever ``env_id`` means in this process.

    Raises:
        UnknownEnvError: the id is not registered; the message lists the close matches.
        EnvError: an import path or file that does not exist or holds no task.
    """
    if origin is not None:
        root = origin.get("path")
        if root and root not in sys.path:
            sys.path.insert(0, root)
        return load_task(origin["task"])
    if env_id.startswith("brax/"):
        from purejaxppo.envs.brax_adapter import BraxEnv, brax_env_names

        if env_id.removeprefix("brax/") not in brax_env_names():
            raise _unknown(env_id)
        return BraxEnv
    if env_id in _REGISTRY:
        return _REGISTRY[env_id]
    entry = _entry_points().get(env_id)
    if entry is not None:
        return _task_class(entry.load, f"{env_id} (entry point {entry.value})")
    if is_path(env_id):
        return load_task(env_id)
    raise _unknown(env_id)


def make(env_id: str, **kwargs) -> Env:
    """Builds an environment named by an id, an entry point, an import path or a file.

    Args:
        env_id: e.g. ``"HalfCheetah-v5"``, ``"brax/ant"``, ``"my_package.tasks:Reach"``,
            ``"tasks/reach.py:Reach"``.
        **kwargs: constructor keywords (Gymnasium's for v5 tasks; ``backend`` for Brax).

    Raises:
        UnknownEnvError: the id is not registered; the message lists the close matches.
        EnvError: an unknown keyword, a task that cannot be loaded or built.
    """
    return build(env_id, kwargs)


def build(env_id: str, kwargs: dict, origin: dict | None = None) -> Env:
    """:func:`make`, the task loaded from ``origin`` when one is given (see :func:`factory`)."""
    make_env = factory(env_id, origin)
    if env_id.startswith("brax/") and origin is None:
        return make_env(env_id.removeprefix("brax/"), **kwargs)
    if isinstance(make_env, type):
        _check_keywords(env_id, make_env, kwargs)
    try:
        return make_env(**kwargs)
    except TypeError as e:
        if "keyword argument" not in str(e):
            raise
        raise EnvError(
            f"{env_id}: {e}. Its constructor passes that keyword to MujocoTask itself: leave "
            "it out (or let the constructor take it)"
        ) from None


def load_task(spec: str) -> type[MujocoTask]:
    """The task class ``module:Class`` or ``path/to/file.py:Class`` names.

    A module is imported with the working directory on ``sys.path`` (as ``python -m`` does); a
    file is imported once per process, whatever it is called, with its directory on
    ``sys.path`` (as running it would), so it can import its neighbours.

    Raises:
        EnvError: no such module or file, no such class in it, or a class that is not a task.
    """
    where, _, name = spec.rpartition(":")
    if not where or not name:
        raise EnvError(f"{spec!r}: name a task as module:Class or path/to/file.py:Class")
    if _is_file(where):
        path = Path(where).expanduser().resolve()
        if not path.is_file():
            raise EnvError(f"{spec}: there is no file {path}")

        def load() -> object:
            return _import_file(path)
    else:

        def load() -> object:
            if "" not in sys.path and os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            try:
                module = importlib.import_module(where)
            except ModuleNotFoundError as e:
                if e.name is not None and (where == e.name or where.startswith(e.name + ".")):
                    raise EnvError(f"{spec}: there is no module {where} ({e})") from None
                raise
            return module

    return _task_class(lambda: _attribute(load(), name, spec), spec)


def _is_file(where: str) -> bool:
    return where.endswith(".py") or os.sep in where or "/" in where


def _attribute(module: object, qualname: str, spec: str) -> object:
    """``module.<qualname>`` (dotted for a nested class).

    Raises:
        EnvError: there is none; the message names the module's task classes, closest first.
    """
    value: object = module
    for part in qualname.split("."):
        value = getattr(value, part, None)
    if value is None:
        bases = (Env, MujocoTask, V5Task)
        tasks = [
            k
            for k, v in vars(module).items()
            if isinstance(v, type) and issubclass(v, Env) and v not in bases
        ]
        close = difflib.get_close_matches(qualname, tasks, n=max(1, len(tasks)), cutoff=0.0)
        hint = f" Its tasks: {', '.join(close)}" if tasks else " It defines no task class"
        raise EnvError(f"{spec}: no class {qualname} in it.{hint}")
    return value


def _task_class(load: Callable[[], object], what: str) -> type[MujocoTask]:
    cls = load()
    if not (isinstance(cls, type) and issubclass(cls, Env)):
        raise EnvError(f"{what}: {cls!r} is not a task (a subclass of purejaxppo.envs.MujocoTask)")
    return cls  # type: ignore[return-value]


def _import_file(path: Path) -> object:
    """The module of a Python file, imported once per process under a name made from its path."""
    digest = hashlib.blake2b(str(path).encode(), digest_size=6).hexdigest()
    stem = re.sub(r"\W", "_", path.stem)
    module_name = f"purejaxppo_task_{stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise EnvError(f"{path}: not a Python file")
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def origin(env_id: str) -> dict | None:
    """How a new process finds ``env_id``'s task again, for run.json; None when it always can.

    ``{"task": spec, "path": directory}``: a file's absolute path (``/abs/tasks/reach.py:Reach``,
    no directory), an import path with the directory its package was imported from (None when
    it is installed), and for an id registered from Python its class's import path where it has
    one.
    """
    builtin = env_id in V5_TASKS or env_id in DMC_TASKS
    if builtin or env_id.startswith(("brax/", "probe/")):
        return None
    if env_id in _entry_points():
        return None
    if is_path(env_id):
        where, _, name = env_id.rpartition(":")
        if _is_file(where):
            return {"task": f"{Path(where).expanduser().resolve()}:{name}", "path": None}
        module = sys.modules.get(where)
        return {"task": env_id, "path": _import_root(module, where) if module else None}
    made = _REGISTRY.get(env_id)
    name = getattr(made, "__qualname__", "<locals>")
    module = sys.modules.get(getattr(made, "__module__", None) or "__main__")
    if not isinstance(made, type) or module is None or "<locals>" in name:
        return None
    if module.__name__ == "__main__":
        return None
    if module.__name__.startswith("purejaxppo_task_"):  # a class of a task file
        return {"task": f"{module.__file__}:{name}", "path": None}
    return {"task": f"{module.__name__}:{name}", "path": _import_root(module, module.__name__)}


def _import_root(module: object, name: str) -> str | None:
    """The ``sys.path`` directory a module was imported from (None: an installed package)."""
    file = getattr(module, "__file__", None)
    if file is None:
        return None
    root = Path(file).resolve().parent
    for _ in range(name.count(".") + (Path(file).name == "__init__.py")):
        root = root.parent
    site = {Path(p).resolve() for p in sys.path if p and "site-packages" in p}
    return None if root in site else str(root)


def keywords(cls: type) -> list[str]:
    """The constructor keywords an env class takes, through ``**kwargs`` to its bases'.

    A MuJoCo task's constructor chain that reaches :class:`MujocoTask` takes the engine's
    keywords (:data:`purejaxppo.envs.engines.KEYWORDS`), not MujocoTask's own model settings.
    """
    names: list[str] = []
    for klass in cls.__mro__:
        if klass is MujocoTask:
            names += [k for k in engines.KEYWORDS if k not in names]
            break
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if klass is object:
            break
        params = inspect.signature(init).parameters.values()
        for p in params:
            named = p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
            if named and p.name not in names:
                names.append(p.name)
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
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
        f"unknown environment id {env_id!r}.{hint} (`purejaxppo envs` lists all {len(ids)} ids;"
        " a task of your own: --env module:Class or --env path/to/file.py:Class)"
    )


for _id, _cls in V5_TASKS.items():
    register(_id, _cls, f"Gymnasium {_id}: {(_cls.__doc__ or '').splitlines()[0]}")
for _id, _cls in DMC_TASKS.items():
    _what = (_cls.__doc__ or "").strip().splitlines()[0].rstrip(".")
    register(_id, _cls, f"DeepMind Control Suite: {_what}")
register("probe/constant", probes.ConstantReward, "probe: reward 1, one step; V = 1")
register("probe/observation", probes.ObservationReward, "probe: reward = obs = +-1; V(obs) = obs")
register("probe/action", probes.ActionReward, "probe: reward -(a-0.5)^2; mean action 0.5")
register(
    "probe/truncation", probes.TruncationProbe, "probe: reward 1, time limit only; V = 1/(1-g)"
)
