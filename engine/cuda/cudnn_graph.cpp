#include "engine/cuda/cudnn_graph.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "engine/cuda/common.cuh"
#include "engine/kernels.h"
#include "engine/math_mode.h"
#include "engine/tensor.h"

namespace dismax::cuda {

namespace {

// cuDNN 9.19 marks the handle attributes of the operation graph and the execution plan deprecated (device
// property descriptors name the target GPU in the newer, deviceless flow), but they are still accepted and
// NVIDIA's frontend still sets them in the ordinary flow. This is the only place that names them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
constexpr cudnnBackendAttributeName_t kOperationGraphHandle = CUDNN_ATTR_OPERATIONGRAPH_HANDLE;
constexpr cudnnBackendAttributeName_t kExecutionPlanHandle = CUDNN_ATTR_EXECUTION_PLAN_HANDLE;
#pragma GCC diagnostic pop

constexpr size_t kMaxTimedPlans = 8;
// Autotuning: the first time in the process, the device is kept busy for kWarmupMs (its clocks ramp up from
// idle, and then stay up while plans are chosen back to back in the first steps); each candidate runs once
// untimed, then kTimedRuns times, each execution timed alone; the median decides.
constexpr int kTimedRuns = 5;
constexpr float kWarmupMs = 25.f;
constexpr int kMaxWarmupRuns = 50;

// clang-format off
const char* attribute_type_name(cudnnBackendAttributeType_t type) {
#define DISMAX_NAME(x) \
  case CUDNN_TYPE_##x: return "CUDNN_TYPE_" #x;
  switch (type) {
    DISMAX_NAME(HANDLE)
    DISMAX_NAME(DATA_TYPE)
    DISMAX_NAME(BOOLEAN)
    DISMAX_NAME(INT64)
    DISMAX_NAME(FLOAT)
    DISMAX_NAME(DOUBLE)
    DISMAX_NAME(VOID_PTR)
    DISMAX_NAME(CONVOLUTION_MODE)
    DISMAX_NAME(HEUR_MODE)
    DISMAX_NAME(NUMERICAL_NOTE)
    DISMAX_NAME(BACKEND_DESCRIPTOR)
    DISMAX_NAME(BEHAVIOR_NOTE)
    DISMAX_NAME(INT32)
    default: return "CUDNN_TYPE_<other>";
  }
#undef DISMAX_NAME
}
// clang-format on

// clang-format off
const char* numerical_note_name(cudnnBackendNumericalNote_t note) {
#define DISMAX_NAME(x) \
  case CUDNN_NUMERICAL_NOTE_##x: return #x;
  switch (note) {
    DISMAX_NAME(TENSOR_CORE)
    DISMAX_NAME(DOWN_CONVERT_INPUTS)
    DISMAX_NAME(REDUCED_PRECISION_REDUCTION)
    DISMAX_NAME(FFT)
    DISMAX_NAME(NONDETERMINISTIC)
    DISMAX_NAME(WINOGRAD)
    DISMAX_NAME(WINOGRAD_TILE_4x4)
    DISMAX_NAME(WINOGRAD_TILE_6x6)
    DISMAX_NAME(WINOGRAD_TILE_13x13)
    DISMAX_NAME(STRICT_NAN_PROP)
    default: return "NOTE_<other>";
  }
#undef DISMAX_NAME
}
// clang-format on

const char* heur_mode_name(cudnnBackendHeurMode_t mode) {
  return mode == CUDNN_HEUR_MODE_A          ? "CUDNN_HEUR_MODE_A"
         : mode == CUDNN_HEUR_MODE_FALLBACK ? "CUDNN_HEUR_MODE_FALLBACK"
                                            : "CUDNN_HEUR_MODE_<other>";
}

bool env_flag(const char* name, bool fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strcmp(v, "0") != 0;
}

bool autotune_enabled() {
  static const bool on = env_flag("DISMAX_CUDNN_BENCHMARK", true);
  return on;
}

bool verbose() {
  static const bool on = env_flag("DISMAX_CUDNN_VERBOSE", false);
  return on;
}

// Plans needing more workspace than DISMAX_CUDNN_WORKSPACE_MB (default 1024) are never chosen.
int64_t workspace_cap_bytes() {
  static const int64_t cap = [] {
    const char* v = std::getenv("DISMAX_CUDNN_WORKSPACE_MB");
    if (v == nullptr || *v == '\0') return int64_t{1024} << 20;
    char* end = nullptr;
    const long long mb = std::strtoll(v, &end, 10);
    DISMAX_CHECK(end != v && *end == '\0' && mb >= 0 && mb <= (int64_t{1} << 30),
                 "DISMAX_CUDNN_WORKSPACE_MB='", v, "': expected a whole number of MiB");
    return static_cast<int64_t>(mb) << 20;
  }();
  return cap;
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

// cuDNN appends to the thread's last-error text until it is read; reading it here keeps the text of the next
// failure about that failure alone.
void clear_last_error() {
  char discard[4096];
  cudnnGetLastErrorString(discard, sizeof(discard));
}

// The status and the start of the last-error text on one line, for the reasons of rejected engine configs.
std::string short_status_text(cudnnStatus_t status) {
  std::string text = cudnn_status_text(status);
  if (text.size() > 400) text = text.substr(0, 400) + " ...";
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

// The cuDNN state: handles, plan cache, and the executions (an execution plan is not guaranteed to be safe to
// run from two threads at once), all behind one mutex.
std::mutex& state_mutex() {
  static std::mutex mutex;
  return mutex;
}

// Handles are never destroyed: at process exit the CUDA context may already be gone.
cudnnHandle_t handle_locked(int device) {
  static std::vector<cudnnHandle_t> handles;
  if (static_cast<int>(handles.size()) <= device) handles.resize(device + 1, nullptr);
  if (handles[device] == nullptr) {
    const size_t runtime = cudnnGetVersion();
    DISMAX_CHECK(runtime / 10000 == CUDNN_MAJOR, "cuDNN: dismax was built against cuDNN ", CUDNN_MAJOR, ".",
                 CUDNN_MINOR, " but the loaded library reports version ", runtime);
    cudnnHandle_t handle = nullptr;
    DISMAX_CUDNN_CHECK(cudnnCreate(&handle), "creating the cuDNN handle of cuda:", device);
    DISMAX_CUDNN_CHECK(cudnnSetStream(handle, stream(device)), "binding the cuDNN handle of cuda:", device,
                       " to the dismax stream");
    handles[device] = handle;
  }
  return handles[device];
}

struct PlanKeyHash {
  size_t operator()(const PlanKey& k) const {
    uint64_t h = 1469598103934665603ull;
    auto mix = [&h](uint64_t v) { h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); };
    mix(static_cast<uint64_t>(k.operation));
    mix(static_cast<uint64_t>(k.device));
    mix(static_cast<uint64_t>(k.dtype));
    mix(k.tf32 ? 1 : 0);
    mix(k.denied);
    for (int64_t v : k.params) mix(static_cast<uint64_t>(v));
    return static_cast<size_t>(h);
  }
};

struct CachedPlan {
  std::vector<Descriptor> keep_alive;  // the graph, its operation and tensors, the engine config
  Descriptor plan;                     // undefined when no engine can run the graph (optional graphs only)
  int64_t workspace_bytes = 0;
  std::string what;     // the op and its shapes
  std::string summary;  // engine, notes, workspace (and time when autotuned), for messages
};

// Never destroyed: at process exit cuDNN's own libraries may be torn down before this file's statics, and
// destroying an execution plan then crashes (PyTorch keeps its cuDNN caches alive for the same reason).
std::unordered_map<PlanKey, std::unique_ptr<CachedPlan>, PlanKeyHash>& plan_cache() {
  static auto* cache = new std::unordered_map<PlanKey, std::unique_ptr<CachedPlan>, PlanKeyHash>();
  return *cache;
}

// The plans of the most recent executions, newest last, for messages (tests name the engine that ran).
constexpr size_t kRecentPlans = 8;
std::vector<const CachedPlan*>& recent_plans() {
  static auto* recent = new std::vector<const CachedPlan*>();
  return *recent;
}
void note_execution(const CachedPlan* plan) {
  auto& recent = recent_plans();
  if (!recent.empty() && recent.back() == plan) return;
  if (recent.size() == kRecentPlans) recent.erase(recent.begin());
  recent.push_back(plan);
}

Tensor allocate_workspace(int64_t bytes, int device) {
  if (bytes <= 0) return Tensor();
  return Tensor::empty({bytes}, TensorOptions(DType::UInt8).device(Device::cuda(device)));
}

// A workspace for one candidate of the autotuning, straight from cudaMalloc and freed with it, so that the
// losers' workspaces do not stay in the caching allocator (they can be a GiB each).
class ScratchWorkspace {
 public:
  ScratchWorkspace() = default;
  ~ScratchWorkspace() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  ScratchWorkspace(const ScratchWorkspace&) = delete;
  ScratchWorkspace& operator=(const ScratchWorkspace&) = delete;

  // False, with the reason, when the device has not that much memory even after the caches are emptied.
  bool allocate(int64_t bytes, std::string& why) {
    if (bytes <= 0) return true;
    cudaError_t status = cudaMalloc(&ptr_, static_cast<size_t>(bytes));
    if (status == cudaErrorMemoryAllocation) {
      forget_error(status);
      backend_for(Device::cuda(current_device())).allocator->empty_cache();
      status = cudaMalloc(&ptr_, static_cast<size_t>(bytes));
    }
    if (status != cudaSuccess) {
      forget_error(status);
      ptr_ = nullptr;
      why = cudaGetErrorString(status);
      return false;
    }
    return true;
  }
  void* get() const { return ptr_; }

 private:
  static int current_device() {
    int d = 0;
    DISMAX_CUDA_CHECK(cudaGetDevice(&d));
    return d;
  }
  void* ptr_ = nullptr;
};

// The variant pack of one execution: the graph's tensors by uid and the workspace.
Descriptor variant_pack(const VariantPack& pack, void* workspace) {
  const auto n = static_cast<int64_t>(pack.uids.size());
  Descriptor variant(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  variant.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, n, pack.uids.data());
  variant.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, n, pack.pointers.data());
  variant.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
  variant.finalize();
  return variant;
}

class Event {
 public:
  Event() { DISMAX_CUDA_CHECK(cudaEventCreate(&event_)); }
  ~Event() { cudaEventDestroy(event_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

struct Candidate {
  Descriptor config;
  Descriptor plan;
  int64_t workspace = 0;
  std::string label;
};

// The engine configs proposed by one heuristic mode, best first (empty, with the reason, when the mode
// fails).
std::vector<Descriptor> heuristic_configs(const Descriptor& graph, cudnnBackendHeurMode_t mode,
                                          std::vector<std::string>& rejected) {
  Descriptor heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  heur.set_descriptor(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph);
  heur.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
  const cudnnStatus_t status = heur.try_finalize();
  if (status != CUDNN_STATUS_SUCCESS) {
    rejected.push_back(std::string(heur_mode_name(mode)) +
                       ": cudnnBackendFinalize(ENGINEHEUR) failed: " + short_status_text(status));
    return {};
  }
  const int64_t count = heur.get(CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, nullptr);
  std::vector<Descriptor> configs;
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int64_t i = 0; i < count; ++i) {
    configs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    raw.push_back(configs.back().get());
  }
  if (count > 0) {
    const int64_t got =
        heur.get(CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count, raw.data());
    configs.erase(configs.begin() + std::clamp<int64_t>(got, 0, count), configs.end());
  }
  if (configs.empty()) rejected.push_back(std::string(heur_mode_name(mode)) + ": no engine config proposed");
  return configs;
}

struct EngineInfo {
  std::string label;  // "engine 12 [TENSOR_CORE, WINOGRAD]"
  bool down_converts = false, tensor_core = false, runtime_compiled = false;
  unsigned families = 0;  // ConvAlgorithmFamily flags from the numerical notes
};

EngineInfo engine_info(const Descriptor& config) {
  Descriptor engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  cudnnBackendDescriptor_t raw = engine.get();
  config.get(CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &raw);
  EngineInfo info;
  info.label = "engine " + std::to_string(engine.get_int64(CUDNN_ATTR_ENGINE_GLOBAL_INDEX));

  cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  const int64_t n_notes =
      std::min<int64_t>(engine.get(CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                   CUDNN_NUMERICAL_NOTE_TYPE_COUNT, notes),
                        CUDNN_NUMERICAL_NOTE_TYPE_COUNT);
  cudnnBackendBehaviorNote_t behaviors[CUDNN_BEHAVIOR_NOTE_TYPE_COUNT];
  const int64_t n_behaviors =
      std::min<int64_t>(engine.get(CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                                   CUDNN_BEHAVIOR_NOTE_TYPE_COUNT, behaviors),
                        CUDNN_BEHAVIOR_NOTE_TYPE_COUNT);

  std::vector<std::string> names;
  for (int64_t i = 0; i < n_notes; ++i) {
    info.down_converts |= notes[i] == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS;
    info.tensor_core |= notes[i] == CUDNN_NUMERICAL_NOTE_TENSOR_CORE;
    switch (notes[i]) {
      case CUDNN_NUMERICAL_NOTE_WINOGRAD:
      case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_4x4:
      case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_6x6:
      case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_13x13: info.families |= kConvWinograd; break;
      case CUDNN_NUMERICAL_NOTE_FFT: info.families |= kConvFft; break;
      case CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC: info.families |= kConvNondeterministic; break;
      default: break;
    }
    names.emplace_back(numerical_note_name(notes[i]));
  }
  for (int64_t i = 0; i < n_behaviors; ++i) {
    if (behaviors[i] == CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION) {
      info.runtime_compiled = true;
      names.emplace_back("RUNTIME_COMPILATION");
    }
  }
  if (!names.empty()) info.label += " [" + join(names, ", ") + "]";
  return info;
}

// Finalizes an execution plan for `config`; false (with the reason) when cuDNN refuses it.
bool build_candidate(cudnnHandle_t handle, Descriptor& config, const std::string& label, Candidate& out,
                     std::vector<std::string>& rejected) {
  Descriptor plan(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
  plan.set(kExecutionPlanHandle, CUDNN_TYPE_HANDLE, 1, &handle);
  plan.set_descriptor(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, config);
  const cudnnStatus_t status = plan.try_finalize();
  if (status != CUDNN_STATUS_SUCCESS) {
    rejected.push_back(label + ": cudnnBackendFinalize(EXECUTION_PLAN) failed: " + short_status_text(status));
    return false;
  }
  out.workspace = plan.get_int64(CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE);
  out.plan = std::move(plan);
  out.config = std::move(config);
  out.label = label;
  return true;
}

std::string workspace_text(int64_t bytes) { return "workspace " + std::to_string(bytes) + " B"; }

const char* family_text(unsigned families) {
  return (families & kConvWinograd) ? "Winograd" : (families & kConvFft) ? "FFT" : "non-deterministic";
}

// Runs a candidate once to see that it executes; then, when `timed`, times kTimedRuns executions one by
// one and returns their median in *ms. False (with the reason) when cuDNN refuses to execute it.
bool try_candidate(cudnnHandle_t handle, const Candidate& c, const VariantPack& pack, bool timed,
                   float warmup_ms, float* ms, std::string& why) {
  ScratchWorkspace workspace;
  if (!workspace.allocate(c.workspace, why)) {
    why = workspace_text(c.workspace) + " not allocatable: " + why;
    return false;
  }
  const Descriptor variant = variant_pack(pack, workspace.get());
  clear_last_error();
  cudnnStatus_t status = cudnnBackendExecute(handle, c.plan.get(), variant.get());
  if (status == CUDNN_STATUS_SUCCESS && timed) {
    std::vector<Event> events(2 * kTimedRuns + 2);
    const cudaStream_t s = stream();
    // Keeps the device busy until its clocks have ramped up (only the first candidate asks for it).
    if (warmup_ms > 0.f) {
      DISMAX_CUDA_CHECK(cudaEventRecord(events[0].get(), s));
      for (int r = 0; r < kMaxWarmupRuns && status == CUDNN_STATUS_SUCCESS; ++r) {
        status = cudnnBackendExecute(handle, c.plan.get(), variant.get());
        DISMAX_CUDA_CHECK(cudaEventRecord(events[1].get(), s));
        DISMAX_CUDA_CHECK(cudaEventSynchronize(events[1].get()));
        float so_far = 0.f;
        DISMAX_CUDA_CHECK(cudaEventElapsedTime(&so_far, events[0].get(), events[1].get()));
        if (so_far >= warmup_ms) break;
      }
    }
    for (int r = 0; r < kTimedRuns && status == CUDNN_STATUS_SUCCESS; ++r) {
      DISMAX_CUDA_CHECK(cudaEventRecord(events[2 + 2 * r].get(), s));
      status = cudnnBackendExecute(handle, c.plan.get(), variant.get());
      DISMAX_CUDA_CHECK(cudaEventRecord(events[3 + 2 * r].get(), s));
    }
    if (status == CUDNN_STATUS_SUCCESS) {
      DISMAX_CUDA_CHECK(cudaEventSynchronize(events.back().get()));
      std::vector<float> times(kTimedRuns);
      for (int r = 0; r < kTimedRuns; ++r)
        DISMAX_CUDA_CHECK(cudaEventElapsedTime(&times[r], events[2 + 2 * r].get(), events[3 + 2 * r].get()));
      std::nth_element(times.begin(), times.begin() + kTimedRuns / 2, times.end());
      *ms = times[kTimedRuns / 2];
    }
  }
  if (status != CUDNN_STATUS_SUCCESS) {
    why = "cudnnBackendExecute failed while choosing a plan: " + short_status_text(status);
    return false;
  }
  return true;
}

// Chooses the plan of a graph (see execute_cached). With `optional`, a graph no engine can run gets a
// CachedPlan without a plan instead of an error.
std::unique_ptr<CachedPlan> select_plan(cudnnHandle_t handle, const PlanKey& key, const OperationBuilder& build,
                                        const VariantPack& pack, const std::string& what, bool optional) {
  clear_last_error();
  auto cached = std::make_unique<CachedPlan>();
  cached->what = what;
  Descriptor operation = build(cached->keep_alive);
  Descriptor graph(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  graph.set(kOperationGraphHandle, CUDNN_TYPE_HANDLE, 1, &handle);
  const cudnnBackendDescriptor_t ops[] = {operation.get()};
  graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, ops);
  graph.finalize();
  cached->keep_alive.push_back(std::move(operation));

  const bool timed = autotune_enabled();
  const size_t wanted = timed ? kMaxTimedPlans : 1;
  const int64_t cap = workspace_cap_bytes();
  std::vector<Candidate> ready;
  std::vector<std::pair<Descriptor, std::string>> runtime_compiled;  // finalized (compiled) only as a last resort
  std::vector<std::string> rejected;

  auto admit = [&](Candidate&& candidate) {
    if (candidate.workspace > cap) {
      rejected.push_back(candidate.label + ": " + workspace_text(candidate.workspace) +
                         " over the cap (DISMAX_CUDNN_WORKSPACE_MB=" + std::to_string(cap >> 20) + ")");
      return;
    }
    ready.push_back(std::move(candidate));
  };
  for (const cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    if (!ready.empty()) break;
    std::vector<Descriptor> configs = heuristic_configs(graph, mode, rejected);
    for (Descriptor& config : configs) {
      if (ready.size() >= wanted) break;
      const EngineInfo info = engine_info(config);
      if (info.down_converts) {
        rejected.push_back(info.label + ": down-converts its inputs");
        continue;
      }
      if (key.dtype == DType::Float32 && !key.tf32 && info.tensor_core) {
        rejected.push_back(info.label + ": TF32 tensor cores while allow_tf32 is off");
        continue;
      }
      if (const unsigned denied = info.families & key.denied) {
        rejected.push_back(info.label + ": " + family_text(denied) + " engines are denied (set_denied_conv_algorithms)");
        continue;
      }
      if (info.runtime_compiled) {
        runtime_compiled.emplace_back(std::move(config), info.label);
        continue;
      }
      Candidate candidate;
      if (build_candidate(handle, config, info.label, candidate, rejected)) admit(std::move(candidate));
    }
  }
  for (auto& [config, label] : runtime_compiled) {
    if (!ready.empty()) break;
    Candidate candidate;
    if (build_candidate(handle, config, label, candidate, rejected)) admit(std::move(candidate));
  }
  if (ready.empty() && optional) {
    cached->summary = "no cuDNN engine (" + join(rejected, "; ") + ")";
    cached->keep_alive.push_back(std::move(graph));
    if (verbose()) std::fprintf(stderr, "dismax cuDNN plan %s: %s\n", what.c_str(), cached->summary.c_str());
    return cached;
  }
  DISMAX_CHECK(!ready.empty(), "cuDNN: no engine can run ", what, " (", rejected.size(),
               " engine configs rejected: ", join(rejected, "; "), ")");

  // The first plan that gets its workspace and executes, or with autotuning the fastest of them.
  size_t best = ready.size(), timed_count = 0;
  float best_ms = std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < ready.size(); ++i) {
    const Candidate& c = ready[i];
    float ms = 0.f;
    std::string why;
    static bool warmed_up = false;  // guarded by the state mutex, as every selection is
    if (!try_candidate(handle, c, pack, timed, warmed_up ? 0.f : kWarmupMs, &ms, why)) {
      rejected.push_back(c.label + ": " + why);
      continue;
    }
    if (!timed) {
      best = i;
      break;
    }
    warmed_up = true;
    ++timed_count;
    if (verbose())
      std::fprintf(stderr, "dismax cuDNN autotune %s: %s, %s: median %.4f ms\n", what.c_str(), c.label.c_str(),
                   workspace_text(c.workspace).c_str(), static_cast<double>(ms));
    if (ms < best_ms) {
      best = i;
      best_ms = ms;
    }
  }
  DISMAX_CHECK(best < ready.size(), "cuDNN: none of the ", ready.size(), " usable plans for ", what,
               " could run (", join(rejected, "; "), ")");

  Candidate& chosen = ready[best];
  cached->workspace_bytes = chosen.workspace;
  cached->summary = chosen.label + ", " + workspace_text(chosen.workspace);
  if (timed) {
    char buffer[80];
    std::snprintf(buffer, sizeof(buffer), ", median %.4f ms (fastest of %zu)", static_cast<double>(best_ms),
                  timed_count);
    cached->summary += buffer;
  }
  cached->plan = std::move(chosen.plan);
  cached->keep_alive.push_back(std::move(chosen.config));
  cached->keep_alive.push_back(std::move(graph));
  if (verbose())
    std::fprintf(stderr, "dismax cuDNN plan %s: %s; %zu config(s) rejected%s%s\n", what.c_str(),
                 cached->summary.c_str(), rejected.size(), rejected.empty() ? "" : ": ",
                 join(rejected, "; ").c_str());
  return cached;
}

void run_plan(cudnnHandle_t handle, const CachedPlan& plan, const VariantPack& pack, int device) {
  const Tensor workspace = allocate_workspace(plan.workspace_bytes, device);
  const Descriptor variant = variant_pack(pack, workspace.defined() ? workspace.raw_data() : nullptr);
  const cudnnStatus_t status = cudnnBackendExecute(handle, plan.plan.get(), variant.get());
  if (status != CUDNN_STATUS_SUCCESS)
    DISMAX_FAIL("cudnnBackendExecute failed: ", cudnn_status_text(status), " (plan: ", plan.summary, ")");
}

}  // namespace

std::string cudnn_status_text(cudnnStatus_t status) {
  char last[4096] = {0};
  cudnnGetLastErrorString(last, sizeof(last));
  std::string text =
      std::string(cudnnGetErrorString(status)) + " (" + std::to_string(static_cast<int>(status)) + ")";
  if (last[0] != '\0') text += ": " + std::string(last);
  return text;
}

void cudnn_fail(cudnnStatus_t status, const char* call, const char* file, int line,
                const std::string& context) {
  std::string message = std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                        cudnn_status_text(status);
  if (!context.empty()) message += " [" + context + "]";
  throw Error(message);
}

// clang-format off
const char* cudnn_descriptor_type_name(cudnnBackendDescriptorType_t type) {
#define DISMAX_NAME(x) \
  case CUDNN_BACKEND_##x: return "CUDNN_BACKEND_" #x;
  switch (type) {
    DISMAX_NAME(CONVOLUTION_DESCRIPTOR)
    DISMAX_NAME(ENGINE_DESCRIPTOR)
    DISMAX_NAME(ENGINECFG_DESCRIPTOR)
    DISMAX_NAME(ENGINEHEUR_DESCRIPTOR)
    DISMAX_NAME(EXECUTION_PLAN_DESCRIPTOR)
    DISMAX_NAME(OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR)
    DISMAX_NAME(OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR)
    DISMAX_NAME(OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR)
    DISMAX_NAME(OPERATIONGRAPH_DESCRIPTOR)
    DISMAX_NAME(VARIANT_PACK_DESCRIPTOR)
    DISMAX_NAME(TENSOR_DESCRIPTOR)
    default: return "CUDNN_BACKEND_<other>_DESCRIPTOR";
  }
#undef DISMAX_NAME
}
// clang-format on

// clang-format off
const char* cudnn_attribute_name(cudnnBackendAttributeName_t name) {
#define DISMAX_NAME(x) \
  case CUDNN_ATTR_##x: return "CUDNN_ATTR_" #x;
  switch (name) {
    DISMAX_NAME(CONVOLUTION_COMP_TYPE)
    DISMAX_NAME(CONVOLUTION_CONV_MODE)
    DISMAX_NAME(CONVOLUTION_DILATIONS)
    DISMAX_NAME(CONVOLUTION_FILTER_STRIDES)
    DISMAX_NAME(CONVOLUTION_POST_PADDINGS)
    DISMAX_NAME(CONVOLUTION_PRE_PADDINGS)
    DISMAX_NAME(CONVOLUTION_SPATIAL_DIMS)
    DISMAX_NAME(ENGINEHEUR_MODE)
    DISMAX_NAME(ENGINEHEUR_OPERATION_GRAPH)
    DISMAX_NAME(ENGINEHEUR_RESULTS)
    DISMAX_NAME(ENGINECFG_ENGINE)
    DISMAX_NAME(EXECUTION_PLAN_ENGINE_CONFIG)
    DISMAX_NAME(EXECUTION_PLAN_WORKSPACE_SIZE)
    DISMAX_NAME(OPERATION_CONVOLUTION_FORWARD_ALPHA)
    DISMAX_NAME(OPERATION_CONVOLUTION_FORWARD_BETA)
    DISMAX_NAME(OPERATION_CONVOLUTION_FORWARD_CONV_DESC)
    DISMAX_NAME(OPERATION_CONVOLUTION_FORWARD_W)
    DISMAX_NAME(OPERATION_CONVOLUTION_FORWARD_X)
    DISMAX_NAME(OPERATION_CONVOLUTION_FORWARD_Y)
    DISMAX_NAME(OPERATION_CONVOLUTION_BWD_DATA_ALPHA)
    DISMAX_NAME(OPERATION_CONVOLUTION_BWD_DATA_BETA)
    DISMAX_NAME(OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC)
    DISMAX_NAME(OPERATION_CONVOLUTION_BWD_DATA_W)
    DISMAX_NAME(OPERATION_CONVOLUTION_BWD_DATA_DX)
    DISMAX_NAME(OPERATION_CONVOLUTION_BWD_DATA_DY)
    DISMAX_NAME(OPERATION_CONVOLUTION_BWD_FILTER_ALPHA)
    DISMAX_NAME(OPERATION_CONVOLUTION_BWD_FILTER_BETA)
    DISMAX_NAME(OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC)
    DISMAX_NAME(OPERATION_CONVOLUTION_BWD_FILTER_DW)
    DISMAX_NAME(OPERATION_CONVOLUTION_BWD_FILTER_X)
    DISMAX_NAME(OPERATION_CONVOLUTION_BWD_FILTER_DY)
    DISMAX_NAME(OPERATIONGRAPH_OPS)
    DISMAX_NAME(OPERATIONGRAPH_ENGINE_GLOBAL_COUNT)
    DISMAX_NAME(TENSOR_BYTE_ALIGNMENT)
    DISMAX_NAME(TENSOR_DATA_TYPE)
    DISMAX_NAME(TENSOR_DIMENSIONS)
    DISMAX_NAME(TENSOR_STRIDES)
    DISMAX_NAME(TENSOR_UNIQUE_ID)
    DISMAX_NAME(VARIANT_PACK_UNIQUE_IDS)
    DISMAX_NAME(VARIANT_PACK_DATA_POINTERS)
    DISMAX_NAME(VARIANT_PACK_WORKSPACE)
    DISMAX_NAME(ENGINE_OPERATION_GRAPH)
    DISMAX_NAME(ENGINE_GLOBAL_INDEX)
    DISMAX_NAME(ENGINE_NUMERICAL_NOTE)
    DISMAX_NAME(ENGINE_BEHAVIOR_NOTE)
    case kOperationGraphHandle: return "CUDNN_ATTR_OPERATIONGRAPH_HANDLE";
    case kExecutionPlanHandle: return "CUDNN_ATTR_EXECUTION_PLAN_HANDLE";
    default: return "CUDNN_ATTR_<other>";
  }
#undef DISMAX_NAME
}
// clang-format on

Descriptor::Descriptor(cudnnBackendDescriptorType_t type) : type_(type) {
  DISMAX_CUDNN_CHECK(cudnnBackendCreateDescriptor(type, &desc_), cudnn_descriptor_type_name(type));
}

Descriptor::~Descriptor() {
  if (desc_ != nullptr) cudnnBackendDestroyDescriptor(desc_);
}

Descriptor::Descriptor(Descriptor&& other) noexcept : desc_(other.desc_), type_(other.type_) {
  other.desc_ = nullptr;
}

Descriptor& Descriptor::operator=(Descriptor&& other) noexcept {
  if (this != &other) {
    if (desc_ != nullptr) cudnnBackendDestroyDescriptor(desc_);
    desc_ = other.desc_;
    type_ = other.type_;
    other.desc_ = nullptr;
  }
  return *this;
}

void Descriptor::set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count,
                     const void* values) {
  const cudnnStatus_t status = cudnnBackendSetAttribute(desc_, name, type, count, values);
  if (status != CUDNN_STATUS_SUCCESS)
    DISMAX_FAIL("cudnnBackendSetAttribute(", cudnn_descriptor_type_name(type_), ", ",
                cudnn_attribute_name(name), " (", static_cast<int>(name), "), ", attribute_type_name(type),
                ", ", count, " element(s)) failed: ", cudnn_status_text(status));
}

void Descriptor::finalize() {
  const cudnnStatus_t status = cudnnBackendFinalize(desc_);
  if (status != CUDNN_STATUS_SUCCESS)
    DISMAX_FAIL("cudnnBackendFinalize(", cudnn_descriptor_type_name(type_),
                ") failed: ", cudnn_status_text(status));
}

cudnnStatus_t Descriptor::try_finalize() {
  clear_last_error();
  return cudnnBackendFinalize(desc_);
}

int64_t Descriptor::get(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t capacity,
                        void* out) const {
  int64_t count = 0;
  const cudnnStatus_t status = cudnnBackendGetAttribute(desc_, name, type, capacity, &count, out);
  if (status != CUDNN_STATUS_SUCCESS)
    DISMAX_FAIL("cudnnBackendGetAttribute(", cudnn_descriptor_type_name(type_), ", ",
                cudnn_attribute_name(name), " (", static_cast<int>(name), "), ", attribute_type_name(type),
                ", capacity ", capacity, ") failed: ", cudnn_status_text(status));
  return count;
}

int64_t Descriptor::get_int64(cudnnBackendAttributeName_t name) const {
  int64_t value = 0;
  get(name, CUDNN_TYPE_INT64, 1, &value);
  return value;
}

cudnnHandle_t cudnn_handle(int device) {
  std::lock_guard<std::mutex> lock(state_mutex());
  return handle_locked(device);
}

// clang-format off
cudnnDataType_t cudnn_data_type(DType dtype) {
  switch (dtype) {
    case DType::Float32: return CUDNN_DATA_FLOAT;
    case DType::Float64: return CUDNN_DATA_DOUBLE;
    case DType::Float16: return CUDNN_DATA_HALF;
    case DType::BFloat16: return CUDNN_DATA_BFLOAT16;
    case DType::Int64: return CUDNN_DATA_INT64;
    case DType::UInt8: return CUDNN_DATA_UINT8;
  }
  DISMAX_FAIL("cudnn_data_type: unknown dtype ", static_cast<int>(dtype));
}
// clang-format on

int64_t byte_alignment(const void* ptr) {
  const auto address = reinterpret_cast<uintptr_t>(ptr);
  int64_t alignment = 16;
  while (alignment > 1 && address % static_cast<uintptr_t>(alignment) != 0) alignment /= 2;
  return alignment;
}

bool execute_cached(const PlanKey& key, const OperationBuilder& build, const VariantPack& pack,
                    const Describer& what, bool optional) {
  DISMAX_CHECK(pack.uids.size() == pack.pointers.size(), "cuDNN ", what(), ": ", pack.uids.size(),
               " uids but ", pack.pointers.size(), " pointers");
  std::lock_guard<std::mutex> lock(state_mutex());
  try {
    const cudnnHandle_t handle = handle_locked(key.device);
    auto& cache = plan_cache();
    auto it = cache.find(key);
    if (it == cache.end()) it = cache.emplace(key, select_plan(handle, key, build, pack, what(), optional)).first;
    const CachedPlan& plan = *it->second;
    if (plan.plan.get() == nullptr) return false;
    note_execution(&plan);
    run_plan(handle, plan, pack, key.device);
    return true;
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " [while running " + what() + "]");
  }
}

std::string recent_plan_report() {
  std::lock_guard<std::mutex> lock(state_mutex());
  std::string out;
  for (const CachedPlan* plan : recent_plans()) out += "cuDNN " + plan->what + ": " + plan->summary + "\n";
  return out;
}

}  // namespace dismax::cuda
