"""The DeepMind Control Suite's benchmark tasks, on dm_control's models, exact on C MuJoCo.

Ids as Gymnasium's dm_control wrappers name them (``dm_control/cheetah-run-v0``). Each task's
reference, dm_control's own environment flattened, is registered with Gymnasium under
``purejaxppo-dmc/<domain>-<task>-v0`` for the cross-check.
"""

import gymnasium

from purejaxppo.envs.dmc.classic import (
    AcrobotSwingup,
    BallInCupCatch,
    CartpoleBalance,
    CartpoleBalanceSparse,
    CartpoleSwingup,
    CartpoleSwingupSparse,
    PendulumSwingup,
    PointMassEasy,
    ReacherEasy,
    ReacherHard,
)
from purejaxppo.envs.dmc.finger import FingerSpin, FingerTurnEasy, FingerTurnHard
from purejaxppo.envs.dmc.humanoid import HumanoidRun, HumanoidStand, HumanoidWalk
from purejaxppo.envs.dmc.locomotion import (
    CheetahRun,
    HopperHop,
    HopperStand,
    WalkerRun,
    WalkerStand,
    WalkerWalk,
)
from purejaxppo.envs.dmc.quadruped import QuadrupedRun, QuadrupedWalk
from purejaxppo.envs.dmc.swimmers import FishSwim, Swimmer6
from purejaxppo.envs.dmc.task import DmcTask, reference_id, suite_id

_CLASSES: tuple[type[DmcTask], ...] = (
    AcrobotSwingup, BallInCupCatch, CartpoleBalance, CartpoleBalanceSparse, CartpoleSwingup,
    CartpoleSwingupSparse, CheetahRun, FingerSpin, FingerTurnEasy, FingerTurnHard, FishSwim,
    HopperStand, HopperHop, HumanoidStand, HumanoidWalk, HumanoidRun, PendulumSwingup,
    PointMassEasy, QuadrupedWalk, QuadrupedRun, ReacherEasy, ReacherHard, Swimmer6, WalkerStand,
    WalkerWalk, WalkerRun,
)  # fmt: skip

DMC_TASKS: dict[str, type[DmcTask]] = {suite_id(c.domain, c.dm_task): c for c in _CLASSES}
"""The suite's 26 benchmark tasks by id."""

for _cls in _CLASSES:
    _twin = reference_id(_cls.domain, _cls.dm_task)
    if _twin not in gymnasium.registry:
        gymnasium.register(
            _twin,
            entry_point="purejaxppo.envs.dmc.reference:ReferenceEnv",
            kwargs={"domain": _cls.domain, "task": _cls.dm_task},
        )

__all__ = ["DMC_TASKS", "DmcTask", *(c.__name__ for c in _CLASSES)]
