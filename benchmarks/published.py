"""Published PPO figures beside the returns tables: ``{env id: [(source, budget, return)]}``.

Their metrics differ, so a comparison says which it is against. Gymnasium's v5 tasks: RL Zoo (v3):
one agent's deterministic episodes; CleanRL (v4): training episodes, 3 seeds (1M), 10 seeds (8M);
Tianshou (v3; v2 for the pendulums and Reacher): best average return during training, 10 seeds;
SLM-Lab (v5): moving average of training returns, 4 runs.
The DeepMind Control Suite: CleanRL's ``ppo_continuous_action`` through Gymnasium's dm_control
wrappers, training episodes, 3 seeds at 1M and 10 seeds at 8M (PPO, and RPO, its PPO with a
randomized action mean); SLM-Lab's PPO on MuJoCo Playground's MJX port of the suite (other
timesteps and solver settings: ``docs/environments.md``), 100M frames, 2048 envs.
"""

from __future__ import annotations

_ZOO, _CLEANRL, _TIANSHOU, _SLM = "RL Zoo (v3)", "CleanRL (v4)", "Tianshou (v3)", "SLM-Lab (v5)"
PUBLISHED = {
    "HalfCheetah-v5": [(_ZOO, 1_000_000, 5819), (_CLEANRL, 1_000_000, 1443),
                       (_TIANSHOU, 1_000_000, 5784), (_SLM, 10_000_000, 6241)],
    "Hopper-v5": [(_TIANSHOU, 1_000_000, 2609), (_ZOO, 1_000_000, 2410),
                  (_CLEANRL, 1_000_000, 2383), (_CLEANRL, 8_000_000, 2741)],
    "Walker2d-v5": [(_TIANSHOU, 1_000_000, 3589), (_ZOO, 1_000_000, 3479),
                    (_CLEANRL, 1_000_000, 2288), (_SLM, 10_000_000, 4379)],
    "Ant-v5": [(_TIANSHOU, 1_000_000, 3258), (_ZOO, 1_000_000, 1327), (_SLM, 10_000_000, 2138)],
    "Humanoid-v5": [(_TIANSHOU, 1_000_000, 787), (_CLEANRL, 1_000_000, 716),
                    (_SLM, 10_000_000, 2661)],
    "Swimmer-v5": [(_ZOO, 1_000_000, 282), (_SLM, 4_000_000, 282)],
    "InvertedPendulum-v5": [("Tianshou (v2)", 1_000_000, 1000), (_CLEANRL, 1_000_000, 963)],
    "InvertedDoublePendulum-v5": [("Tianshou (v2)", 1_000_000, 9231), (_SLM, 10_000_000, 8384)],
    "Reacher-v5": [("Tianshou (v2)", 1_000_000, -4.1), (_CLEANRL, 8_000_000, -4.65)],
    "Pusher-v5": [(_CLEANRL, 1_000_000, -40.4), (_CLEANRL, 8_000_000, -30.4)],
    "HumanoidStandup-v5": [(_SLM, 4_000_000, 150105), (_CLEANRL, 8_000_000, 109326)],
}  # fmt: skip

_CLEANRL_DMC, _RPO_DMC = "CleanRL", "CleanRL RPO"
_PLAYGROUND = "SLM-Lab on Playground's port"
PUBLISHED |= {
    "dm_control/acrobot-swingup-v0": [(_CLEANRL_DMC, 1_000_000, 27.8)],
    "dm_control/ball_in_cup-catch-v0": [
        (_CLEANRL_DMC, 1_000_000, 900.8),
        (_PLAYGROUND, 100_000_000, 942),
    ],
    "dm_control/cartpole-balance-v0": [(_CLEANRL_DMC, 1_000_000, 855.5)],
    "dm_control/cartpole-balance_sparse-v0": [(_CLEANRL_DMC, 1_000_000, 999.9)],
    "dm_control/cartpole-swingup-v0": [
        (_CLEANRL_DMC, 1_000_000, 640.9),
        (_CLEANRL_DMC, 8_000_000, 590),
        (_RPO_DMC, 8_000_000, 613),
        (_PLAYGROUND, 100_000_000, 729),
    ],
    "dm_control/cartpole-swingup_sparse-v0": [(_CLEANRL_DMC, 1_000_000, 51.3)],
    "dm_control/cheetah-run-v0": [
        (_CLEANRL_DMC, 1_000_000, 432.6),
        (_CLEANRL_DMC, 8_000_000, 472),
        (_RPO_DMC, 8_000_000, 566),
        (_PLAYGROUND, 100_000_000, 883),
    ],
    "dm_control/finger-spin-v0": [
        (_CLEANRL_DMC, 1_000_000, 590.5),
        (_CLEANRL_DMC, 8_000_000, 630),
        (_RPO_DMC, 8_000_000, 849),
        (_PLAYGROUND, 100_000_000, 713),
    ],
    "dm_control/finger-turn_easy-v0": [(_CLEANRL_DMC, 1_000_000, 180.4)],
    "dm_control/finger-turn_hard-v0": [(_CLEANRL_DMC, 1_000_000, 61.4)],
    "dm_control/fish-swim-v0": [(_CLEANRL_DMC, 1_000_000, 87.9)],
    "dm_control/hopper-stand-v0": [(_CLEANRL_DMC, 1_000_000, 2.7)],
    "dm_control/hopper-hop-v0": [
        (_CLEANRL_DMC, 1_000_000, 0.5),
        (_CLEANRL_DMC, 8_000_000, 6.5),
        (_RPO_DMC, 8_000_000, 62.6),
        (_PLAYGROUND, 100_000_000, 22),
    ],
    "dm_control/humanoid-stand-v0": [(_CLEANRL_DMC, 1_000_000, 6.6)],
    "dm_control/humanoid-walk-v0": [
        (_CLEANRL_DMC, 1_000_000, 1.7),
        (_CLEANRL_DMC, 8_000_000, 8.9),
        (_RPO_DMC, 8_000_000, 77),
        (_PLAYGROUND, 100_000_000, 47),
    ],
    "dm_control/humanoid-run-v0": [(_CLEANRL_DMC, 1_000_000, 1.1)],
    "dm_control/pendulum-swingup-v0": [
        (_CLEANRL_DMC, 1_000_000, 242.8),
        (_PLAYGROUND, 100_000_000, 637),
    ],
    "dm_control/point_mass-easy-v0": [(_CLEANRL_DMC, 1_000_000, 274.0)],
    "dm_control/quadruped-walk-v0": [(_CLEANRL_DMC, 1_000_000, 239.0)],
    "dm_control/quadruped-run-v0": [
        (_CLEANRL_DMC, 1_000_000, 180.4),
        (_CLEANRL_DMC, 8_000_000, 172),
        (_RPO_DMC, 8_000_000, 368),
    ],
    "dm_control/reacher-easy-v0": [(_CLEANRL_DMC, 1_000_000, 626.3)],
    "dm_control/reacher-hard-v0": [
        (_CLEANRL_DMC, 1_000_000, 443.8),
        (_CLEANRL_DMC, 8_000_000, 638),
        (_RPO_DMC, 8_000_000, 577),
        (_PLAYGROUND, 100_000_000, 947),
    ],
    "dm_control/swimmer-swimmer6-v0": [(_CLEANRL_DMC, 1_000_000, 158.2)],
    "dm_control/walker-stand-v0": [
        (_CLEANRL_DMC, 1_000_000, 564.5),
        (_PLAYGROUND, 100_000_000, 948),
    ],
    "dm_control/walker-walk-v0": [
        (_CLEANRL_DMC, 1_000_000, 392.5),
        (_CLEANRL_DMC, 8_000_000, 306),
        (_RPO_DMC, 8_000_000, 787),
        (_PLAYGROUND, 100_000_000, 945),
    ],
    "dm_control/walker-run-v0": [
        (_CLEANRL_DMC, 1_000_000, 125.9),
        (_CLEANRL_DMC, 8_000_000, 128),
        (_RPO_DMC, 8_000_000, 392),
        (_PLAYGROUND, 100_000_000, 760),
    ],
}
