"""Run by test_cli.py in a subprocess with 2 forced host devices: seeds sharded across them."""

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import purejaxppo as pjp
from purejaxppo.envs import probes

assert len(jax.devices()) == 2, jax.devices()
cfg = pjp.PPOConfig(total_timesteps=512, num_envs=8, batch_size=256, n_epochs=2, eval_every=0)
train = jax.vmap(pjp.make_train(cfg, probes.ObservationReward()))
keys = jax.random.split(jax.random.PRNGKey(0), 4)
mesh = Mesh(np.array(jax.devices()), ("seeds",))
sharded = jax.jit(train, in_shardings=NamedSharding(mesh, P("seeds")))(keys)
print(sharded.metrics.actor_loss.sharding)
plain = jax.jit(train)(keys)
np.testing.assert_allclose(
    sharded.metrics.actor_loss, plain.metrics.actor_loss, rtol=1e-5, atol=1e-6
)
print("ok", sharded.metrics.actor_loss.shape)
