#!/usr/bin/env bash
# Makes the peers' own Python environments under benchmarks/.peers/ (git-ignored):
#   sb3:  PyTorch (CPU) + stable-baselines3 + gymnasium[mujoco]
#   brax: jax < 0.10 (Brax's ppo.train needs it) + brax + mujoco-mjx + gymnasium[mujoco],
#         and purejaxppo itself without its dependencies (for its MJX v5 tasks)
#   envpool: EnvPool (its C++ MuJoCo v5 tasks and XLA interface) + jax on the CPU
# Usage: bash benchmarks/peers/setup.sh sb3|brax|envpool
set -euo pipefail
cd "$(dirname "$0")/../.."
what=${1:-sb3}
mkdir -p benchmarks/.peers
case "$what" in
  sb3)
    if [ ! -x benchmarks/.peers/sb3/bin/python ]; then
      python3 -m venv benchmarks/.peers/sb3
    fi
    # torch first and pinned, so that pip takes a CPU build where one is at hand
    benchmarks/.peers/sb3/bin/pip install --quiet "torch==2.13.0" || benchmarks/.peers/sb3/bin/pip install --quiet torch
    benchmarks/.peers/sb3/bin/pip install --quiet "stable-baselines3>=2.4" "gymnasium[mujoco]>=1.2"
    benchmarks/.peers/sb3/bin/python -c "import stable_baselines3, torch; print('sb3', stable_baselines3.__version__, 'torch', torch.__version__)"
    ;;
  brax)
    if [ ! -x benchmarks/.peers/brax/bin/python ]; then
      python3 -m venv benchmarks/.peers/brax
    fi
    benchmarks/.peers/brax/bin/pip install --quiet "jax<0.10" "brax>=0.12" "mujoco-mjx>=3.3" \
      "gymnasium[mujoco]>=1.2" tyro tqdm
    benchmarks/.peers/brax/bin/pip install --quiet --no-deps .
    benchmarks/.peers/brax/bin/python -c "import brax, jax; print('brax', brax.__version__, 'jax', jax.__version__)"
    ;;
  envpool)
    if [ ! -x benchmarks/.peers/envpool/bin/python ]; then
      python3 -m venv benchmarks/.peers/envpool
    fi
    benchmarks/.peers/envpool/bin/pip install --quiet "envpool==1.2.5" "jax[cpu]"
    benchmarks/.peers/envpool/bin/python -c "import envpool, jax; print('envpool', envpool.__version__, 'jax', jax.__version__)"
    ;;
  *)
    echo "unknown peer: $what (known: sb3, brax, envpool)" >&2
    exit 2
    ;;
esac
