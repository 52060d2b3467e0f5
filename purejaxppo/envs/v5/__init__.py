"""Gymnasium's MuJoCo v5 tasks, reproduced exactly: ids, classes and what each is."""

from purejaxppo.envs.v5.ant import Ant
from purejaxppo.envs.v5.half_cheetah import HalfCheetah
from purejaxppo.envs.v5.humanoid import Humanoid, HumanoidStandup
from purejaxppo.envs.v5.manipulators import Pusher, Reacher
from purejaxppo.envs.v5.pendulums import InvertedDoublePendulum, InvertedPendulum
from purejaxppo.envs.v5.planar_walker import Hopper, Walker2d
from purejaxppo.envs.v5.swimmer import Swimmer

V5_TASKS = {
    "HalfCheetah-v5": HalfCheetah,
    "Hopper-v5": Hopper,
    "Walker2d-v5": Walker2d,
    "Ant-v5": Ant,
    "Humanoid-v5": Humanoid,
    "HumanoidStandup-v5": HumanoidStandup,
    "Swimmer-v5": Swimmer,
    "InvertedPendulum-v5": InvertedPendulum,
    "InvertedDoublePendulum-v5": InvertedDoublePendulum,
    "Reacher-v5": Reacher,
    "Pusher-v5": Pusher,
}

__all__ = [
    "V5_TASKS",
    "Ant",
    "HalfCheetah",
    "Hopper",
    "Humanoid",
    "HumanoidStandup",
    "InvertedDoublePendulum",
    "InvertedPendulum",
    "Pusher",
    "Reacher",
    "Swimmer",
    "Walker2d",
]
