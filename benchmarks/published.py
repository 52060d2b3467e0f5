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

# task: (CleanRL at 1M, CleanRL's PPO and RPO at 8M, SLM-Lab on Playground's port at 100M)
_DMC = {
    "acrobot-swingup": (27.8, None, None),
    "ball_in_cup-catch": (900.8, None, 942),
    "cartpole-balance": (855.5, None, None),
    "cartpole-balance_sparse": (999.9, None, None),
    "cartpole-swingup": (640.9, (590, 613), 729),
    "cartpole-swingup_sparse": (51.3, None, None),
    "cheetah-run": (432.6, (472, 566), 883),
    "finger-spin": (590.5, (630, 849), 713),
    "finger-turn_easy": (180.4, None, None),
    "finger-turn_hard": (61.4, None, None),
    "fish-swim": (87.9, None, None),
    "hopper-stand": (2.7, None, None),
    "hopper-hop": (0.5, (6.5, 62.6), 22),
    "humanoid-stand": (6.6, None, None),
    "humanoid-walk": (1.7, (8.9, 77), 47),
    "humanoid-run": (1.1, None, None),
    "pendulum-swingup": (242.8, None, 637),
    "point_mass-easy": (274.0, None, None),
    "quadruped-walk": (239.0, None, None),
    "quadruped-run": (180.4, (172, 368), None),
    "reacher-easy": (626.3, None, None),
    "reacher-hard": (443.8, (638, 577), 947),
    "swimmer-swimmer6": (158.2, None, None),
    "walker-stand": (564.5, None, 948),
    "walker-walk": (392.5, (306, 787), 945),
    "walker-run": (125.9, (128, 392), 760),
}


def _dmc(at_1m: float, at_8m: tuple[float, float] | None, port: float | None) -> list:
    rows = [("CleanRL", 1_000_000, at_1m)]
    if at_8m is not None:
        rows += [("CleanRL", 8_000_000, at_8m[0]), ("CleanRL RPO", 8_000_000, at_8m[1])]
    if port is not None:
        rows.append(("SLM-Lab on Playground's port", 100_000_000, port))
    return rows


PUBLISHED |= {f"dm_control/{task}-v0": _dmc(*figures) for task, figures in _DMC.items()}
