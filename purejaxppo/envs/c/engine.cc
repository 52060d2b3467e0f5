// The C engine's native part: XLA FFI handlers that step batches of C MuJoCo simulations.
//
// A simulation's whole state is its mjSTATE_INTEGRATION row (warm start included), which the
// JAX program carries as raw bits (uint32 pairs: JAX runs with x64 off); an mjData is scratch.
// One FFI call handles a whole batch of envs (all leading axes of its operands flattened) on
// MuJoCo's batch thread pool (mjBatch, mujoco/mjbatch.h): it loads each row into a thread's
// mjData, runs the call's work, and writes the new row and the requested mjData fields out.
// Results depend on the rows only, never on the thread count or on which thread ran a row.
//
// Built by hatch_build.py (no link against libmujoco: its symbols are resolved at load time
// from the library that the mujoco package loaded, which purejaxppo.envs.c.native makes global).

#include <mujoco/mjbatch.h>
#include <mujoco/mjxmacro.h>
#include <mujoco/mujoco.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

// An mjtNum array field of mjData, sized for one model.
struct Field {
  std::string name;
  mjtNum* (*get)(mjData* d);
  int size;  // elements per simulation
};

// The mjtNum array fields of mjData for model m, by name.
std::unordered_map<std::string, Field> DataFields(const mjModel* m) {
  std::unordered_map<std::string, Field> t;
#define X(type, name, nr, nc)                                                         \
  if constexpr (std::is_same_v<type, mjtNum>) {                                        \
    t[#name] = Field{#name, [](mjData* d) -> mjtNum* { return (mjtNum*)d->name; },   \
                     static_cast<int>(m->nr * (nc))};                                  \
  }
#define XNV X
  MJDATA_POINTERS
#undef XNV
#undef X
  return t;
}

// One task's physics: a model, its frame skip, and the fields its task reads.
struct Engine {
  mjModel* model = nullptr;
  int frame_skip = 1;
  bool rne = false;  // mj_rnePostConstraint after stepping (cfrc_ext), as Gymnasium does
  int nthread = 1;
  int nstate = 0;
  int ctrl_offset = 0;  // of ctrl in a state row
  int qpos_offset = 0;
  int qvel_offset = 0;
  std::vector<mjtNum> reset_row;  // the state mj_resetData gives
  std::vector<Field> fields;      // written out after every call, in this order

  // batches by size, each used by one call at a time
  struct Sized {
    mjBatch* batch = nullptr;
    std::mutex mu;
  };
  std::mutex mu;
  std::unordered_map<int64_t, std::unique_ptr<Sized>> sized;

  Sized* Get(int64_t n, std::string* error) {
    std::lock_guard<std::mutex> lock(mu);
    auto& s = sized[n];
    if (!s) {
      mjBatchConfig config;
      mjb_defaultConfig(&config);
      config.nthread = nthread;
      config.persistent = 0;
      char err[512] = "";
      mjBatch* b = mjb_makeBatch(model, static_cast<int>(n), &config, err, sizeof(err));
      if (!b) {
        *error = std::string("could not make a batch of ") + std::to_string(n) + " envs: " + err;
        sized.erase(n);
        return nullptr;
      }
      s = std::make_unique<Sized>();
      s->batch = b;
    }
    return s.get();
  }
};

std::mutex g_mu;
std::unordered_map<int64_t, std::unique_ptr<Engine>> g_engines;

Engine* Find(int64_t key) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_engines.find(key);
  return it == g_engines.end() ? nullptr : it->second.get();
}

// What a call does to each simulation, and where its results go.
struct Call {
  const Engine* engine;
  bool step;                 // mj_step x frame_skip (else: mj_forward, a reset)
  mjtNum* state_out;         // (n, nstate)
  std::vector<void*> outs;   // per field: (n, size)
  bool f64;                  // outs are double (else float)
};

void RunOne(const mjModel* m, mjData* d, int sim, void* arg) {
  const Call* c = static_cast<const Call*>(arg);
  const Engine* e = c->engine;
  if (c->step) {
    for (int k = 0; k < e->frame_skip; ++k) mj_step(m, d);
    if (e->rne) mj_rnePostConstraint(m, d);
  } else {
    // a reset: mj_resetData zeroes what mj_forward leaves alone, mj_rnePostConstraint's outputs
    if (e->rne) {
      mju_zero(d->cacc, 6 * m->nbody);
      mju_zero(d->cfrc_int, 6 * m->nbody);
      mju_zero(d->cfrc_ext, 6 * m->nbody);
    }
    mj_forward(m, d);
  }
  mj_getState(m, d, c->state_out + static_cast<size_t>(sim) * e->nstate, mjSTATE_INTEGRATION);
  for (size_t f = 0; f < e->fields.size(); ++f) {
    const Field& field = e->fields[f];
    const mjtNum* src = field.get(d);
    size_t at = static_cast<size_t>(sim) * field.size;
    if (c->f64) {
      std::memcpy(static_cast<double*>(c->outs[f]) + at, src, sizeof(mjtNum) * field.size);
    } else {
      float* dst = static_cast<float*>(c->outs[f]) + at;
      for (int i = 0; i < field.size; ++i) dst[i] = static_cast<float>(src[i]);
    }
  }
}

// Reads element i of a float32 or float64 buffer as mjtNum.
inline mjtNum Read(const ffi::AnyBuffer& b, size_t i) {
  return b.element_type() == ffi::DataType::F64 ? b.typed_data<double>()[i]
                                                : b.typed_data<float>()[i];
}

bool IsFloat(const ffi::AnyBuffer& b) {
  return b.element_type() == ffi::DataType::F32 || b.element_type() == ffi::DataType::F64;
}

// Checks the field outputs and collects their data pointers.
ffi::Error Outputs(const Engine* e, int64_t n, ffi::RemainingRets& rets, Call* call) {
  if (rets.size() != e->fields.size()) {
    return ffi::Error::InvalidArgument("wrong number of field outputs");
  }
  for (size_t f = 0; f < e->fields.size(); ++f) {
    auto r = rets.get<ffi::AnyBuffer>(f);
    if (r.has_error()) return r.error();
    ffi::AnyBuffer out = **r;
    bool f64 = out.element_type() == ffi::DataType::F64;
    if (!IsFloat(out) || (f > 0 && f64 != call->f64)) {
      return ffi::Error::InvalidArgument("field outputs must all be float32 or all float64");
    }
    call->f64 = f64;
    if (static_cast<int64_t>(out.element_count()) != n * e->fields[f].size) {
      return ffi::Error::InvalidArgument("output " + e->fields[f].name + " has the wrong size");
    }
    call->outs.push_back(out.untyped_data());
  }
  return ffi::Error::Success();
}

// Runs call on the n rows already in the batch's state; reports MuJoCo's errors.
ffi::Error Run(Engine::Sized* s, int64_t n, Call* call) {
  int nfail = mjb_apply(s->batch, nullptr, 0, RunOne, call, 1);
  if (nfail == 0) return ffi::Error::Success();
  const int* status = mjb_status(s->batch);
  for (int64_t i = 0; i < n; ++i) {
    if (status[i]) {
      std::ostringstream msg;
      msg << "C MuJoCo raised an error in " << nfail << " of " << n << " envs (env " << i
          << ": " << mjb_error(s->batch, static_cast<int>(i)) << ")";
      return ffi::Error::Internal(msg.str());
    }
  }
  return ffi::Error::Internal("C MuJoCo raised an error");
}

// Runs a call of n envs: fill(rows) first writes their input rows into the batch's state.
template <typename Fill>
ffi::Error Dispatch(Engine* e, int64_t n, bool step, mjtNum* state_out,
                    ffi::RemainingRets& fields, Fill fill) {
  Call call{e, step, state_out, {}, false};
  if (ffi::Error err = Outputs(e, n, fields, &call); err.failure()) return err;
  std::string error;
  Engine::Sized* s = e->Get(n, &error);
  if (!s) return ffi::Error::Internal(error);
  std::lock_guard<std::mutex> lock(s->mu);
  fill(mjb_state(s->batch));
  return Run(s, n, &call);
}

ffi::Error StepImpl(int64_t engine, ffi::Buffer<ffi::U32> state, ffi::AnyBuffer ctrl,
                    ffi::Result<ffi::Buffer<ffi::U32>> state_out, ffi::RemainingRets fields) {
  Engine* e = Find(engine);
  if (!e) return ffi::Error::InvalidArgument("unknown C engine (not registered here)");
  int64_t n = static_cast<int64_t>(state.element_count()) / (2 * e->nstate);
  int nu = e->model->nu;
  if (n < 1 || static_cast<int64_t>(state.element_count()) != 2 * e->nstate * n ||
      static_cast<int64_t>(state_out->element_count()) != 2 * e->nstate * n ||
      !IsFloat(ctrl) || static_cast<int64_t>(ctrl.element_count()) != n * nu) {
    return ffi::Error::InvalidArgument("C engine step: operands of inconsistent sizes");
  }
  auto* out = reinterpret_cast<mjtNum*>(state_out->typed_data());
  return Dispatch(e, n, true, out, fields, [&](mjtNum* rows) {
    std::memcpy(rows, state.typed_data(), sizeof(mjtNum) * e->nstate * n);
    for (int64_t i = 0; i < n; ++i) {
      mjtNum* c = rows + i * e->nstate + e->ctrl_offset;
      for (int j = 0; j < nu; ++j) c[j] = Read(ctrl, i * nu + j);
    }
  });
}

ffi::Error ResetImpl(int64_t engine, ffi::AnyBuffer qpos, ffi::AnyBuffer qvel,
                     ffi::Result<ffi::Buffer<ffi::U32>> state_out, ffi::RemainingRets fields) {
  Engine* e = Find(engine);
  if (!e) return ffi::Error::InvalidArgument("unknown C engine (not registered here)");
  int nq = e->model->nq, nv = e->model->nv;
  int64_t n = static_cast<int64_t>(qpos.element_count()) / nq;
  if (n < 1 || !IsFloat(qpos) || !IsFloat(qvel) ||
      static_cast<int64_t>(qpos.element_count()) != n * nq ||
      static_cast<int64_t>(qvel.element_count()) != n * nv ||
      static_cast<int64_t>(state_out->element_count()) != 2 * e->nstate * n) {
    return ffi::Error::InvalidArgument("C engine reset: operands of inconsistent sizes");
  }
  auto* out = reinterpret_cast<mjtNum*>(state_out->typed_data());
  return Dispatch(e, n, false, out, fields, [&](mjtNum* rows) {
    for (int64_t i = 0; i < n; ++i) {
      mjtNum* row = rows + i * e->nstate;
      std::memcpy(row, e->reset_row.data(), sizeof(mjtNum) * e->nstate);
      for (int j = 0; j < nq; ++j) row[e->qpos_offset + j] = Read(qpos, i * nq + j);
      for (int j = 0; j < nv; ++j) row[e->qvel_offset + j] = Read(qvel, i * nv + j);
    }
  });
}

int Offset(const mjModel* m, int component) {
  // components are stored in the order of their bits
  return mj_stateSize(m, mjSTATE_INTEGRATION & (component - 1));
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(PjpCStep, StepImpl,
                              ffi::Ffi::Bind()
                                  .Attr<int64_t>("engine")
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .RemainingRets());

XLA_FFI_DEFINE_HANDLER_SYMBOL(PjpCReset, ResetImpl,
                              ffi::Ffi::Bind()
                                  .Attr<int64_t>("engine")
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .RemainingRets());

extern "C" {

// The MuJoCo version this library was compiled against (mjVERSION_HEADER).
int pjp_mujoco_version() { return mjVERSION_HEADER; }

// Registers an engine under key (a hash of everything below, chosen by the caller); a key
// already registered is kept. fields: comma-separated mjData field names; sizes receives each
// field's elements per simulation. Returns 0, or -1 with a message in error.
int pjp_register(int64_t key, const mjModel* m, int frame_skip, int rne, int nthread,
                 const char* fields, int* sizes, char* error, int error_sz) {
  auto fail = [&](const std::string& msg) {
    std::snprintf(error, error_sz, "%s", msg.c_str());
    return -1;
  };
  if (frame_skip < 1) return fail("frame_skip must be positive");
  if (nthread < 1) return fail("the thread count must be at least 1");
  auto e = std::make_unique<Engine>();
  e->model = mj_copyModel(nullptr, m);
  e->frame_skip = frame_skip;
  e->rne = rne != 0;
  e->nthread = nthread;
  e->nstate = mj_stateSize(e->model, mjSTATE_INTEGRATION);
  e->ctrl_offset = Offset(e->model, mjSTATE_CTRL);
  e->qpos_offset = Offset(e->model, mjSTATE_QPOS);
  e->qvel_offset = Offset(e->model, mjSTATE_QVEL);
  auto table = DataFields(e->model);
  std::stringstream names(fields);
  std::string name;
  while (std::getline(names, name, ',')) {
    if (name.empty()) continue;
    auto it = table.find(name);
    if (it == table.end()) {
      mj_deleteModel(e->model);
      return fail("not an mjtNum field of mjData: " + name);
    }
    sizes[e->fields.size()] = it->second.size;
    e->fields.push_back(it->second);
  }
  mjData* d = mj_makeData(e->model);
  mj_resetData(e->model, d);
  e->reset_row.resize(e->nstate);
  mj_getState(e->model, d, e->reset_row.data(), mjSTATE_INTEGRATION);
  mj_deleteData(d);
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_engines.count(key)) {
    g_engines[key] = std::move(e);
  } else {
    mj_deleteModel(e->model);
  }
  return 0;
}

}  // extern "C"
