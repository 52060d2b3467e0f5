// The C engine's native part: XLA FFI handlers that step batches of C MuJoCo simulations.
//
// A simulation's whole state is its mjSTATE_INTEGRATION row (warm start included), which the
// JAX program carries as raw bits (uint32 pairs: JAX runs with x64 off); an mjData is scratch.
// One FFI call handles a whole batch of envs (all leading axes of its operands flattened) on
// MuJoCo's batch thread pool (mjBatch, mujoco/mjbatch.h): it loads each row into a thread's
// mjData, runs the call's work, and writes the new row and the requested mjData fields out.
// Results depend on the rows only, never on the thread count or on which thread ran a row.
//
// Three calls: reset (mj_resetData, the given parts of the state, mj_forward), step (frame_skip
// x mj_step with the given controls, then the task's stage) and settle (zero-control steps).
//
// Built by hatch_build.py against the oldest supported jaxlib's FFI headers (the release wheel
// with zig's C++, libc++ linked in: scripts/build_wheel.sh), and not linked against libmujoco:
// its symbols are resolved at load time from the library that the mujoco package loaded, which
// purejaxppo.envs.c.native makes global.

#include <mujoco/mjbatch.h>
#include <mujoco/mjxmacro.h>
#include <mujoco/mujoco.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "xla/ffi/api/ffi.h"

#ifndef PJP_JAXLIB_VERSION  // set by hatch_build.py: the jaxlib whose FFI headers are used
#define PJP_JAXLIB_VERSION "0"
#endif

namespace ffi = xla::ffi;

namespace {

// What runs after the substeps of an env step, before the task reads the data.
enum Stage { kNone = 0, kRnePost = 1, kStep1 = 2, kForward = 3 };

// An mjData quantity written out after every call: float (mjtNum) or integer (int32) elements.
struct Field {
  std::string name;
  bool is_int = false;
  int size = 0;  // elements per simulation
  // writes the field of d into dst: double, float or int32 elements
  std::function<void(const mjData* d, double* f64, float* f32, int32_t* i32)> write;
};

template <typename T>
Field ArrayField(const std::string& name, int size, bool is_int, T* (*get)(const mjData*)) {
  Field f{name, is_int, size, nullptr};
  f.write = [get, size](const mjData* d, double* f64, float* f32, int32_t* i32) {
    const T* src = get(d);
    for (int i = 0; i < size; ++i) {
      if (i32) {
        i32[i] = static_cast<int32_t>(src[i]);
      } else if (f64) {
        f64[i] = static_cast<double>(src[i]);
      } else {
        f32[i] = static_cast<float>(src[i]);
      }
    }
  };
  return f;
}

// One element of each contact, for the first `capacity` contacts; padding after ncon.
template <typename Get>
Field ContactField(const std::string& name, int width, bool is_int, int capacity, double pad,
                   Get get) {
  Field f{name, is_int, width * capacity, nullptr};
  f.write = [=](const mjData* d, double* f64, float* f32, int32_t* i32) {
    for (int c = 0; c < capacity; ++c) {
      for (int k = 0; k < width; ++k) {
        double v = c < d->ncon ? get(d->contact[c], k) : pad;
        int at = c * width + k;
        if (i32) {
          i32[at] = static_cast<int32_t>(v);
        } else if (f64) {
          f64[at] = v;
        } else {
          f32[at] = static_cast<float>(v);
        }
      }
    }
  };
  return f;
}

// The field `name` of mjData for model m; false if the engine offers none by that name.
bool FindField(const mjModel* m, const std::string& name, int contacts, Field* out) {
#define X(type, field, nr, nc)                                                            \
  if (name == #field) {                                                                   \
    if constexpr (std::is_same_v<type, mjtNum> || std::is_same_v<type, int> ||            \
                  std::is_same_v<type, mjtBool>) {                                        \
      *out = ArrayField<type>(#field, static_cast<int>(m->nr * (nc)),                      \
                              !std::is_same_v<type, mjtNum>,                              \
                              [](const mjData* d) -> type* { return d->field; });         \
      return true;                                                                        \
    }                                                                                     \
    return false;                                                                         \
  }
  MJDATA_POINTERS
#undef X
  auto scalar = [&](bool is_int, std::function<double(const mjData*)> get) {
    Field f{name, is_int, 1, nullptr};
    f.write = [get](const mjData* d, double* f64, float* f32, int32_t* i32) {
      double v = get(d);
      if (i32) {
        *i32 = static_cast<int32_t>(v);
      } else if (f64) {
        *f64 = v;
      } else {
        *f32 = static_cast<float>(v);
      }
    };
    *out = f;
    return true;
  };
  if (name == "ncon") return scalar(true, [](const mjData* d) { return d->ncon; });
  if (name == "ne") return scalar(true, [](const mjData* d) { return d->ne; });
  if (name == "nf") return scalar(true, [](const mjData* d) { return d->nf; });
  if (name == "nl") return scalar(true, [](const mjData* d) { return d->nl; });
  if (name == "nefc") return scalar(true, [](const mjData* d) { return d->nefc; });
  if (name == "time") return scalar(false, [](const mjData* d) { return d->time; });
  if (name == "energy") {
    *out = ArrayField<mjtNum>("energy", 2, false,
                              [](const mjData* d) -> mjtNum* { return (mjtNum*)d->energy; });
    return true;
  }
  const double inf = std::numeric_limits<double>::infinity();
  using C = const mjContact&;
  if (name == "contact.dist") {
    *out = ContactField(name, 1, false, contacts, inf, [](C c, int) { return c.dist; });
  } else if (name == "contact.pos") {
    *out = ContactField(name, 3, false, contacts, 0, [](C c, int k) { return c.pos[k]; });
  } else if (name == "contact.frame") {
    *out = ContactField(name, 9, false, contacts, 0, [](C c, int k) { return c.frame[k]; });
  } else if (name == "contact.includemargin") {
    *out = ContactField(name, 1, false, contacts, 0, [](C c, int) { return c.includemargin; });
  } else if (name == "contact.friction") {
    *out = ContactField(name, 5, false, contacts, 0, [](C c, int k) { return c.friction[k]; });
  } else if (name == "contact.dim") {
    *out = ContactField(name, 1, true, contacts, 0, [](C c, int) { return c.dim; });
  } else if (name == "contact.geom") {
    *out = ContactField(name, 2, true, contacts, -1, [](C c, int k) { return c.geom[k]; });
  } else {
    return false;
  }
  return true;
}

// One task's physics: a model, its frame skip, its stage, and the fields its task reads.
struct Engine {
  mjModel* model = nullptr;
  int frame_skip = 1;
  int stage = kNone;
  int nthread = 1;
  int nstate = 0;
  int ctrl_offset = 0;  // of ctrl in a state row
  std::vector<std::pair<int, int>> init_parts;  // (offset in a row, size) of a reset's inputs
  int ninit = 0;                                // their total size
  bool zero_rne = false;  // a reset zeroes mj_rnePostConstraint's outputs, as mj_resetData
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

enum Op { kReset = 0, kStep = 1, kSettle = 2 };

// What a call does to each simulation, and where its results go.
struct Call {
  const Engine* engine;
  Op op;
  int steps = 0;             // settle: zero-control steps
  bool from_default = false;  // settle: the first step completes one begun at the default pose
  mjtNum* state_out;         // (n, nstate)
  std::vector<void*> outs;   // per field: (n, size)
  bool f64 = false;          // float outs are double (else float)
};

void RunStage(const mjModel* m, mjData* d, int stage) {
  if (stage == kRnePost) {
    mj_rnePostConstraint(m, d);
  } else if (stage == kStep1) {
    mj_step1(m, d);
  } else if (stage == kForward) {
    mj_forward(m, d);
  }
}

void ZeroRne(const mjModel* m, mjData* d) {
  mju_zero(d->cacc, 6 * m->nbody);
  mju_zero(d->cfrc_int, 6 * m->nbody);
  mju_zero(d->cfrc_ext, 6 * m->nbody);
}

void RunOne(const mjModel* m, mjData* d, int sim, void* arg) {
  const Call* c = static_cast<const Call*>(arg);
  const Engine* e = c->engine;
  if (c->op == kStep) {
    for (int k = 0; k < e->frame_skip; ++k) mj_step(m, d);
    RunStage(m, d, e->stage);
  } else if (c->op == kReset) {
    if (e->zero_rne) ZeroRne(m, d);
    mj_forward(m, d);
  } else {  // settle: zero controls (already in the row), then the reset's forward pass
    mjtNum time = d->time;
    int first = 0;
    if (c->from_default && m->opt.integrator != mjINT_RK4 && c->steps > 0) {
      // dm_control's order after a reset: the row's state, with every derived quantity of the
      // model's default pose, completed by mj_step2
      std::vector<mjtNum> row(e->nstate);
      mj_getState(m, d, row.data(), mjSTATE_INTEGRATION);
      mj_resetData(m, d);
      mj_forward(m, d);
      mj_setState(m, d, row.data(), mjSTATE_INTEGRATION);
      mj_step2(m, d);
      first = 1;
    }
    for (int k = first; k < c->steps; ++k) mj_step(m, d);
    d->time = time;
    if (e->zero_rne) ZeroRne(m, d);
    mj_forward(m, d);
  }
  mj_getState(m, d, c->state_out + static_cast<size_t>(sim) * e->nstate, mjSTATE_INTEGRATION);
  for (size_t f = 0; f < e->fields.size(); ++f) {
    const Field& field = e->fields[f];
    size_t at = static_cast<size_t>(sim) * field.size;
    if (field.is_int) {
      field.write(d, nullptr, nullptr, static_cast<int32_t*>(c->outs[f]) + at);
    } else if (c->f64) {
      field.write(d, static_cast<double*>(c->outs[f]) + at, nullptr, nullptr);
    } else {
      field.write(d, nullptr, static_cast<float*>(c->outs[f]) + at, nullptr);
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
  bool seen_float = false;
  for (size_t f = 0; f < e->fields.size(); ++f) {
    auto r = rets.get<ffi::AnyBuffer>(f);
    if (r.has_error()) return r.error();
    ffi::AnyBuffer out = **r;
    const Field& field = e->fields[f];
    if (field.is_int) {
      if (out.element_type() != ffi::DataType::S32) {
        return ffi::Error::InvalidArgument("output " + field.name + " must be int32");
      }
    } else {
      bool f64 = out.element_type() == ffi::DataType::F64;
      if (!IsFloat(out) || (seen_float && f64 != call->f64)) {
        return ffi::Error::InvalidArgument("float outputs must all be float32 or all float64");
      }
      call->f64 = f64;
      seen_float = true;
    }
    if (static_cast<int64_t>(out.element_count()) != n * field.size) {
      return ffi::Error::InvalidArgument("output " + field.name + " has the wrong size");
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
ffi::Error Dispatch(Engine* e, int64_t n, Call* call, ffi::RemainingRets& fields, Fill fill) {
  if (ffi::Error err = Outputs(e, n, fields, call); err.failure()) return err;
  std::string error;
  Engine::Sized* s = e->Get(n, &error);
  if (!s) return ffi::Error::Internal(error);
  std::lock_guard<std::mutex> lock(s->mu);
  fill(mjb_state(s->batch));
  return Run(s, n, call);
}

// The number of envs in a carried state operand, or -1 if its size is not whole rows.
int64_t Rows(const Engine* e, const ffi::Buffer<ffi::U32>& state,
             ffi::Result<ffi::Buffer<ffi::U32>>& state_out) {
  int64_t n = static_cast<int64_t>(state.element_count()) / (2 * e->nstate);
  if (n < 1 || static_cast<int64_t>(state.element_count()) != 2 * e->nstate * n ||
      static_cast<int64_t>(state_out->element_count()) != 2 * e->nstate * n) {
    return -1;
  }
  return n;
}

ffi::Error StepImpl(int64_t engine, ffi::Buffer<ffi::U32> state, ffi::AnyBuffer ctrl,
                    ffi::Result<ffi::Buffer<ffi::U32>> state_out, ffi::RemainingRets fields) {
  Engine* e = Find(engine);
  if (!e) return ffi::Error::InvalidArgument("unknown C engine (not registered here)");
  int64_t n = Rows(e, state, state_out);
  int nu = e->model->nu;
  if (n < 1 || !IsFloat(ctrl) || static_cast<int64_t>(ctrl.element_count()) != n * nu) {
    return ffi::Error::InvalidArgument("C engine step: operands of inconsistent sizes");
  }
  Call call{e, kStep, 0, false, reinterpret_cast<mjtNum*>(state_out->typed_data()), {}, false};
  return Dispatch(e, n, &call, fields, [&](mjtNum* rows) {
    std::memcpy(rows, state.typed_data(), sizeof(mjtNum) * e->nstate * n);
    for (int64_t i = 0; i < n; ++i) {
      mjtNum* c = rows + i * e->nstate + e->ctrl_offset;
      for (int j = 0; j < nu; ++j) c[j] = Read(ctrl, i * nu + j);
    }
  });
}

ffi::Error SettleImpl(int64_t engine, int64_t steps, bool from_default,
                      ffi::Buffer<ffi::U32> state, ffi::Result<ffi::Buffer<ffi::U32>> state_out,
                      ffi::RemainingRets fields) {
  Engine* e = Find(engine);
  if (!e) return ffi::Error::InvalidArgument("unknown C engine (not registered here)");
  int64_t n = Rows(e, state, state_out);
  if (n < 1 || steps < 0) {
    return ffi::Error::InvalidArgument("C engine settle: operands of inconsistent sizes");
  }
  Call call{e, kSettle, static_cast<int>(steps), from_default,
            reinterpret_cast<mjtNum*>(state_out->typed_data()), {}, false};
  int nu = e->model->nu;
  return Dispatch(e, n, &call, fields, [&](mjtNum* rows) {
    std::memcpy(rows, state.typed_data(), sizeof(mjtNum) * e->nstate * n);
    for (int64_t i = 0; i < n; ++i) mju_zero(rows + i * e->nstate + e->ctrl_offset, nu);
  });
}

ffi::Error ResetImpl(int64_t engine, ffi::AnyBuffer init,
                     ffi::Result<ffi::Buffer<ffi::U32>> state_out, ffi::RemainingRets fields) {
  Engine* e = Find(engine);
  if (!e) return ffi::Error::InvalidArgument("unknown C engine (not registered here)");
  int64_t n = e->ninit ? static_cast<int64_t>(init.element_count()) / e->ninit : 0;
  if (n < 1 || !IsFloat(init) || static_cast<int64_t>(init.element_count()) != n * e->ninit ||
      static_cast<int64_t>(state_out->element_count()) != 2 * e->nstate * n) {
    return ffi::Error::InvalidArgument("C engine reset: operands of inconsistent sizes");
  }
  Call call{e, kReset, 0, false, reinterpret_cast<mjtNum*>(state_out->typed_data()), {}, false};
  return Dispatch(e, n, &call, fields, [&](mjtNum* rows) {
    for (int64_t i = 0; i < n; ++i) {
      mjtNum* row = rows + i * e->nstate;
      std::memcpy(row, e->reset_row.data(), sizeof(mjtNum) * e->nstate);
      size_t at = static_cast<size_t>(i) * e->ninit;
      for (const auto& [offset, size] : e->init_parts) {
        for (int j = 0; j < size; ++j) row[offset + j] = Read(init, at++);
      }
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

XLA_FFI_DEFINE_HANDLER_SYMBOL(PjpCSettle, SettleImpl,
                              ffi::Ffi::Bind()
                                  .Attr<int64_t>("engine")
                                  .Attr<int64_t>("steps")
                                  .Attr<bool>("from_default")
                                  .Arg<ffi::Buffer<ffi::U32>>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .RemainingRets());

XLA_FFI_DEFINE_HANDLER_SYMBOL(PjpCReset, ResetImpl,
                              ffi::Ffi::Bind()
                                  .Attr<int64_t>("engine")
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::Buffer<ffi::U32>>()
                                  .RemainingRets());

extern "C" {

// The MuJoCo version this library was compiled against (mjVERSION_HEADER).
int pjp_mujoco_version() { return mjVERSION_HEADER; }

// The XLA FFI API version of the headers it was compiled against (major * 1000 + minor), and
// the jaxlib they came from: every jaxlib from that one on runs its handlers.
int pjp_ffi_api_version() { return XLA_FFI_API_MAJOR * 1000 + XLA_FFI_API_MINOR; }
const char* pjp_jaxlib_version() { return PJP_JAXLIB_VERSION; }

// Registers an engine under key (a hash of everything below, chosen by the caller); a key
// already registered is kept. stage: what follows the substeps (enum Stage). fields:
// comma-separated mjData field names (contact.<name> for the first `contacts` contacts);
// sizes receives each field's elements per simulation and kinds 1 for an integer field, 0 for
// a float one. A reset's input is (qpos, qvel, act, mocap_pos, mocap_quat, qacc_warmstart,
// time) per env. Returns 0, or -1 with a message in error.
int pjp_register(int64_t key, const mjModel* m, int frame_skip, int stage, int nthread,
                 const char* fields, int contacts, int* sizes, int* kinds, char* error,
                 int error_sz) {
  auto fail = [&](const std::string& msg) {
    std::snprintf(error, error_sz, "%s", msg.c_str());
    return -1;
  };
  if (frame_skip < 1) return fail("frame_skip must be positive");
  if (nthread < 1) return fail("the thread count must be at least 1");
  if (stage < kNone || stage > kForward) return fail("unknown stage");
  if (contacts < 0) return fail("the contact capacity must not be negative");
  auto e = std::make_unique<Engine>();
  e->model = mj_copyModel(nullptr, m);
  e->frame_skip = frame_skip;
  e->stage = stage;
  e->nthread = nthread;
  e->nstate = mj_stateSize(e->model, mjSTATE_INTEGRATION);
  e->ctrl_offset = Offset(e->model, mjSTATE_CTRL);
  for (int component : {mjSTATE_QPOS, mjSTATE_QVEL, mjSTATE_ACT, mjSTATE_MOCAP_POS,
                        mjSTATE_MOCAP_QUAT, mjSTATE_WARMSTART, mjSTATE_TIME}) {
    int size = mj_stateSize(e->model, component);
    e->init_parts.emplace_back(Offset(e->model, component), size);
    e->ninit += size;
  }
  std::stringstream names(fields);
  std::string name;
  while (std::getline(names, name, ',')) {
    if (name.empty()) continue;
    Field field;
    if (!FindField(e->model, name, contacts, &field)) {
      mj_deleteModel(e->model);
      return fail("not a numeric field of mjData: " + name);
    }
    if (name == "cacc" || name == "cfrc_int" || name == "cfrc_ext") e->zero_rne = true;
    sizes[e->fields.size()] = field.size;
    kinds[e->fields.size()] = field.is_int ? 1 : 0;
    e->fields.push_back(field);
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
