"""The plane-capsule contact-frame fix against C MuJoCo, on a tilted capsule resting on a plane."""

import re

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from mujoco import mjx

from purejaxppo.envs.mjx.fixes import c_plane_capsule_frames
from tests.helpers import while_loops

pytestmark = pytest.mark.parity

XML = """
<mujoco>
  <worldbody>
    <geom type="plane" size="5 5 0.1"/>
    <body pos="0 0 0.5"><freejoint/><geom type="capsule" size="0.1 0.3"/></body>
  </worldbody>
</mujoco>
"""


def tilted_state(model, degrees, azimuth):
    """A capsule tilted `degrees` from vertical, its lower end sunk 1 mm into the plane."""
    data = mujoco.MjData(model)
    tilt, az = np.radians(degrees), np.radians(azimuth)
    axis = np.array([np.cos(az), np.sin(az), 0.0])
    quat = np.concatenate([[np.cos(tilt / 2)], np.sin(tilt / 2) * axis])
    data.qpos[3:7] = quat
    data.qpos[2] = 0.3 * np.cos(tilt) + 0.1 - 1e-3
    return data


@pytest.mark.parametrize("degrees", [5.0, 20.0, 45.0, 80.0])
def test_contact_frames_match_c(degrees):
    model = mujoco.MjModel.from_xml_string(XML)
    data = tilted_state(model, degrees, azimuth=30.0)
    mujoco.mj_forward(model, data)
    assert data.ncon >= 1
    c_frames = {round(float(c.pos[2]), 6): c.frame.reshape(3, 3) for c in data.contact[: data.ncon]}

    mx = mjx.put_model(model)
    mdata = mjx.make_data(mx).replace(qpos=data.qpos)

    def forward(d):
        with c_plane_capsule_frames():
            return mjx.forward(mx, d)

    out = jax.jit(forward)(mdata)
    active = np.asarray(out._impl.contact.dist) < 0
    frames = np.asarray(out._impl.contact.frame)[active]
    assert len(frames) == len(c_frames)
    np.testing.assert_allclose(frames[0], next(iter(c_frames.values())), atol=1e-6)

    if degrees < 30:  # MJX's own function substitutes a fixed tangent here: the test can fail
        stock = jax.jit(lambda d: mjx.forward(mx, d))(mdata)
        stock_frame = np.asarray(stock._impl.contact.frame)[active][0]
        assert np.abs(stock_frame - frames[0]).max() > 0.1


def test_patch_is_scoped():
    from mujoco.mjx._src import collision_driver
    from mujoco.mjx._src.types import GeomType

    key = (GeomType.PLANE, GeomType.CAPSULE)
    before = collision_driver._COLLISION_FUNC[key]
    with c_plane_capsule_frames():
        assert collision_driver._COLLISION_FUNC[key] is not before
    assert collision_driver._COLLISION_FUNC[key] is before


def test_tree_level_barriers_change_no_value():
    """Pusher's 10-deep arm: kinematics with one barrier per tree level equals MJX's own."""
    from mujoco.mjx._src import scan

    import purejaxppo as pjp
    from purejaxppo.envs.mjx.speed import tree_level_barriers

    model = pjp.envs.make("Pusher-v5", physics="mjx").engine.model
    data = mjx.make_data(model)
    rng = np.random.default_rng(0)
    data = data.replace(qpos=data.qpos + rng.uniform(-1.0, 1.0, data.qpos.shape).astype("f4"))
    stock_nvmap = scan._nvmap
    stock = jax.jit(mjx.kinematics)(model, data)
    with tree_level_barriers():
        # a new function, so that jit traces it anew (with the barriers) rather than reuse
        fixed = jax.jit(lambda m, d: mjx.kinematics(m, d))(model, data)
        hlo = jax.jit(lambda m, d: mjx.kinematics(m, d)).lower(model, data).as_text()
    assert "optimization_barrier" in hlo
    assert scan._nvmap is stock_nvmap  # put back afterwards
    for name in ("xpos", "xquat", "xanchor", "geom_xpos", "site_xpos"):
        np.testing.assert_allclose(getattr(fixed, name), getattr(stock, name), atol=1e-6)


def test_solver_loop_forms_give_the_same_values_under_vmap():
    """Batched loops that stop after different numbers of steps: early exit, MJX's scan and the
    fixed-length form of a while loop all give the while loop's results."""
    from mujoco.mjx._src import solver

    from purejaxppo.envs.mjx import speed

    def cond(v):  # run while below the target: 0, 3, 7, and 40 (past the limit) steps
        return v[0] < v[1]

    def body(v):
        return (v[0] + 1.0, v[1], v[2] * 1.5 + v[0])

    init = (jnp.zeros(4), jnp.array([0.0, 3.0, 7.0, 40.0]), jnp.ones(4))
    for limit in (10, 50):
        forms = [speed.while_loop_with_limit, solver._while_loop_scan, speed.fixed_while_loop]
        outs = [jax.jit(jax.vmap(lambda v, f=f, n=limit: f(cond, body, v, n)))(init) for f in forms]
        for out in outs[1:]:
            for a, b in zip(outs[0], out, strict=True):
                np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(outs[0][0], np.minimum([0.0, 3.0, 7.0, 40.0], limit))
    plain = jax.jit(jax.vmap(lambda v: jax.lax.while_loop(cond, body, v)))(init)
    fixed = jax.jit(jax.vmap(lambda v: speed.fixed_while_loop(cond, body, v, 40)))(init)
    for a, b in zip(plain, fixed, strict=True):
        np.testing.assert_array_equal(a, b)
    before = solver._while_loop_scan, solver.solve
    with speed.solver_loops("fixed"):
        assert solver.solve is not before[1]
    with speed.solver_loops("early_exit"):
        assert solver._while_loop_scan is not before[0] and solver.solve is before[1]
    assert (solver._while_loop_scan, solver.solve) == before
    bad = pytest.raises(ValueError, match="choose one of auto, early_exit, fixed")
    with bad, speed.solver_loops("fast"):
        pass


def test_each_change_is_chosen_by_the_platform_lowered_for():
    """Hopper-v5's batched MJX step lowered for CUDA and for the CPU, on this CPU: the CPU
    program gets the CPU changes (LAPACK unbatched, the solver env by env, an early-exit line
    search); the CUDA program MJX's own solver and a line search of known trip count, and with
    solver_loops="fixed" no loop whose trip count depends on the data (early_exit's while loops
    are the CPU program's, checked above)."""
    import purejaxppo as pjp

    def lowered(platform: str, loops: str) -> str:
        env = pjp.envs.make("Hopper-v5", physics="mjx", solver_loops=loops)
        # Shapes only: resetting op by op, unjitted, would take longer than the lowering.
        state = jax.eval_shape(jax.vmap(env.reset), jax.random.split(jax.random.PRNGKey(0), 4))
        action = jax.ShapeDtypeStruct((4, env.action_size), jnp.float32)
        exported = jax.export.export(jax.jit(jax.vmap(env.step)), platforms=[platform])
        return exported(state, action).mlir_module()

    cpu, cuda = lowered("cpu", "auto"), lowered("cuda", "auto")
    assert "lapack_" in cpu and "lapack_" not in cuda and "cusolver" in cuda
    assert while_loops(cpu)[1] > while_loops(cuda)[1] >= 1  # CUDA: only the Newton loops
    cuda_fixed = lowered("cuda", "fixed")
    assert while_loops(cuda_fixed)[1] == 0 and while_loops(cuda_fixed)[0] > 0


RK4_XML = """
<mujoco>
  <option integrator="RK4" timestep="0.01" gravity="0 0 -9.81"/>
  <worldbody>
    <body pos="0 0 1"><freejoint/><geom type="box" size="0.3 0.1 0.05"/>
      <body pos="0.4 0 0"><joint type="ball"/><geom type="capsule" size="0.05 0.2"/></body>
    </body>
  </worldbody>
</mujoco>
"""


def test_rk4_of_free_and_ball_joints_matches_c():
    """A tumbling free body with a ball-jointed arm: 20 RK4 steps, MJX with the fix against C."""
    from purejaxppo.envs.mjx.rk4 import c_rk4

    model = mujoco.MjModel.from_xml_string(RK4_XML)
    data = mujoco.MjData(model)
    data.qvel[:] = [0.3, -0.2, 1.0, 6.0, -4.0, 9.0, 5.0, -7.0, 3.0]  # fast, off-axis spin
    start = (data.qpos.copy(), data.qvel.copy())
    for _ in range(20):
        mujoco.mj_step(model, data)

    with jax.enable_x64(True):
        mx = mjx.put_model(model)
        d0 = mjx.make_data(mx).replace(qpos=jnp.asarray(start[0]), qvel=jnp.asarray(start[1]))

        def run(d):
            return jax.lax.fori_loop(0, 20, lambda _, d: mjx.step(mx, d), d)

        with c_rk4():
            fixed = jax.jit(run)(d0)
        stock = jax.jit(lambda d: run(d))(d0)  # a new function: traced anew, without the fix
    for name in ("qpos", "qvel"):
        np.testing.assert_allclose(getattr(fixed, name), getattr(data, name), atol=1e-12)
    assert np.abs(np.asarray(stock.qpos) - data.qpos).max() > 1e-7  # MJX's textbook RK4


def test_sequential_solver_equals_the_vmapped_one():
    """Seeds x envs of tilted, sliding capsules: the solver env by env gives MJX's own forces."""
    from purejaxppo.envs.mjx.speed import sequential_solver_on_cpu

    model = mujoco.MjModel.from_xml_string(XML)
    mx = mjx.put_model(model)
    qpos, qvel = [], []
    for k in range(6):  # different tilts, depths and velocities: different solver iterations
        data = tilted_state(model, 10.0 * k + 5.0, azimuth=40.0 * k)
        data.qpos[2] -= 2e-3 * k
        qpos.append(data.qpos.copy())
        qvel.append(np.array([0.5 * k, -0.3, -0.2 * k, 1.0, -k, 0.5]))
    qpos = jnp.asarray(np.array(qpos).reshape(2, 3, 7), jnp.float32)
    qvel = jnp.asarray(np.array(qvel).reshape(2, 3, 6), jnp.float32)

    def qacc(q, v):
        return mjx.forward(mx, mjx.make_data(mx).replace(qpos=q, qvel=v)).qacc

    stock = jax.jit(jax.vmap(jax.vmap(qacc)))(qpos, qvel)
    with sequential_solver_on_cpu():
        f = jax.vmap(jax.vmap(lambda q, v: qacc(q, v)))  # a new function: traced anew
        seq = jax.jit(f)(qpos, qvel)
        seq_jaxpr = str(jax.make_jaxpr(f)(qpos, qvel))
    stock_jaxpr = str(jax.make_jaxpr(jax.vmap(jax.vmap(lambda q, v: qacc(q, v))))(qpos, qvel))
    assert seq_jaxpr.count("scan[") > stock_jaxpr.count("scan[")  # the env-by-env lax.map
    assert np.abs(np.asarray(stock)).max() > 1.0  # contacts push: the solver had work to do
    np.testing.assert_allclose(seq, stock, rtol=1e-5, atol=1e-4)


def _lapack_batch_dims(fn, *args) -> list[int]:
    """Batch dims of every LAPACK Cholesky or triangular solve in ``jax.jit(fn)``'s program."""
    text = jax.jit(fn).lower(*args).as_text()
    calls = [line for line in text.splitlines() if re.search(r"@lapack_\w*(potrf|trsm)", line)]
    return [int(re.search(r'num_batch_dims = "(\d+)"', line).group(1)) for line in calls]


def test_unbatched_cholesky_gives_lapack_values():
    from purejaxppo.envs.mjx import speed as mjx_speed

    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 3, 7, 7))
    a = jnp.asarray(a @ np.swapaxes(a, -1, -2) + 7 * np.eye(7), jnp.float32)
    b = jnp.asarray(rng.normal(size=(4, 3, 7)), jnp.float32)
    two = jax.vmap  # seeds x envs below: the rule must map again under the outer vmap
    for lower in (False, True):
        ours = two(two(lambda m, lo=lower: mjx_speed.cho_factor(m, lo)[0]))(a)
        ref = two(two(lambda m, lo=lower: jax.scipy.linalg.cho_factor(m, lo)[0]))(a)
        tri = np.tril if lower else np.triu
        np.testing.assert_allclose(tri(ours), tri(ref), rtol=1e-6, atol=1e-6)
        x = two(two(lambda c, v, lo=lower: mjx_speed.cho_solve((c, lo), v)))(ref, b)
        np.testing.assert_allclose(jnp.einsum("sbij,sbj->sbi", a, x), b, rtol=1e-4, atol=1e-4)
        c_only = two(lambda c, lo=lower: mjx_speed.cho_solve((c, lo), b[0, 0]))(ref[0])
        rhs = jnp.einsum("bij,bj->bi", a[0], c_only)  # [3, 7]: one b, three matrices
        np.testing.assert_allclose(rhs, jnp.broadcast_to(b[0, 0], rhs.shape), rtol=1e-4, atol=1e-4)


def test_no_lapack_call_is_batched_on_cpu():
    """A batched LAPACK Cholesky can deadlock jaxlib 0.10's CPU pool: with our changes none is."""
    from purejaxppo.envs.mjx.fixes import patched

    model = mujoco.MjModel.from_xml_string(XML)
    mx = mjx.put_model(model)
    data = tilted_state(model, 20.0, azimuth=30.0)
    qpos = jnp.tile(jnp.asarray(data.qpos, jnp.float32), (2, 3, 1))
    qvel = jnp.zeros((2, 3, model.nv), jnp.float32)

    def qacc(q, v):
        return mjx.forward(mx, mjx.make_data(mx).replace(qpos=q, qvel=v)).qacc

    assert max(_lapack_batch_dims(jax.vmap(jax.vmap(qacc)), qpos, qvel)) == 2  # MJX's: 2 x 3
    with patched():  # new functions below: traced anew, with our changes
        envs = _lapack_batch_dims(jax.vmap(lambda q, v: qacc(q, v)), qpos[0], qvel[0])
        seeds = _lapack_batch_dims(jax.vmap(jax.vmap(lambda q, v: qacc(q, v))), qpos, qvel)
    assert envs and max(envs) == 0
    assert seeds and max(seeds) == 0
