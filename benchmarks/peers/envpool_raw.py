"""EnvPool's raw stepping of a MuJoCo v5 task inside a jitted JAX scan, through its XLA interface.

Runs in its own environment (``benchmarks/peers/setup.sh envpool``); ``benchmarks/engines.py raw``
calls it and reads the one JSON line it prints last. Uniform random actions in the action space,
EnvPool's synchronous mode (batch = all envs), its thread pool of ``--threads`` threads.

    benchmarks/.peers/envpool/bin/python benchmarks/peers/envpool_raw.py --env Ant-v5 --num-envs 16
"""

from __future__ import annotations

import argparse
import json
import time

import envpool
import jax
import numpy as np

jax.config.update("jax_enable_x64", True)  # EnvPool's MuJoCo tasks take float64 actions


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default="HalfCheetah-v5")
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--steps", type=int, default=1000, help="batched steps per timing")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args()
    n = a.num_envs
    env = envpool.make(
        a.env, env_type="gymnasium", num_envs=n, batch_size=n, num_threads=a.threads, seed=0
    )
    handle, recv, send, _ = env.xla()  # its fused step crashes with jax 0.10: send, then recv
    env.async_reset()
    handle, _ = jax.jit(recv)(handle)  # the reset's states
    lo, hi = env.action_space.low, env.action_space.high
    env_ids = np.arange(n, dtype=np.int32)

    @jax.jit
    def run(handle, key):
        def body(handle, k):
            action = jax.random.uniform(k, (n, len(lo)), np.float64, minval=lo, maxval=hi)
            handle, (_, reward, *_) = recv(send(handle, action, env_ids))
            return handle, reward.sum()

        handle, rewards = jax.lax.scan(body, handle, jax.random.split(key, a.steps))
        return handle, rewards.sum()

    handle, _ = jax.block_until_ready(run(handle, jax.random.PRNGKey(0)))  # compile
    times = []
    for r in range(a.repeats):
        t0 = time.perf_counter()
        handle, _ = jax.block_until_ready(run(handle, jax.random.PRNGKey(r + 1)))
        times.append(time.perf_counter() - t0)
    print(
        json.dumps(
            {
                "peer": "envpool",
                "version": envpool.__version__,
                "env": a.env,
                "num_envs": n,
                "threads": a.threads,
                "steps_per_s": n * a.steps / min(times),
                "jax": jax.__version__,
                "numpy": np.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
