// Fake cuDNN: the backend (graph) API subset dismax uses, written from the cuDNN documentation of the backend
// descriptors (not from engine/cuda/cudnn_graph.cpp or conv2d.cpp).
// * cudnnBackendSetAttribute checks that the attribute belongs to the descriptor type, its attribute type and
//   element count, that referenced descriptors are live, finalized and of the documented type, and that the
//   descriptor is not finalized yet. A referenced descriptor's content is copied when it is set.
// * cudnnBackendFinalize checks required attributes and their consistency: dims/strides counts, positive
//   sizes, alignment a multiple of the element size, convolution shapes
//   (Y = floor((X + pre + post - dilation * (R - 1) - 1) / stride) + 1), distinct unique ids.
// * Heuristics (modes A / B / INSTANT / FALLBACK) return engine configs with numerical and behaviour notes
//   from a catalogue of six engines (see Engine below), so that callers must filter and fall back.
// * cudnnBackendExecute checks the variant pack (each tensor's unique id present once, pointers in device
//   memory covering the tensor's extent and aligned to its byte alignment, outputs not overlapping inputs,
//   the workspace present and large enough), scribbles over the workspace, and queues the convolution
//   (fake_cudnn_conv.cpp) on the stream. EMU_CUDNN_FP32_ACCUM=1 sums float32 data in float32.
// Misuse is reported (FAKE: ...); an unsupported configuration only sets the last error string, printed
// with EMU_VERBOSE=1.
#include <cudnn_graph.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fake_cudnn_conv.h"
#include "fake_device.h"

// The cuDNN headers mark part of the enums used below deprecated.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
struct cudnnContext {
  cudaStream_t stream = nullptr;
};

namespace fake_cudnn {
namespace {

thread_local std::string last_message;
std::set<cudnnHandle_t> handles;
long long executions = 0;

const char* status_name(cudnnStatus_t s) {
  switch (s) {
    case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
    case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_BAD_PARAM_NULL_POINTER: return "CUDNN_STATUS_BAD_PARAM_NULL_POINTER";
    case CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER: return "CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER";
    case CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED: return "CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED";
    case CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND: return "CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND";
    case CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT: return "CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT";
    case CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH: return "CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH";
    case CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES: return "CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES";
    case CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE: return "CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE";
    case CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE: return "CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    case CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN: return "CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN";
    case CUDNN_STATUS_NOT_SUPPORTED_SHAPE: return "CUDNN_STATUS_NOT_SUPPORTED_SHAPE";
    case CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE: return "CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE";
    case CUDNN_STATUS_NOT_SUPPORTED_LAYOUT: return "CUDNN_STATUS_NOT_SUPPORTED_LAYOUT";
    case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
    case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
    default: return "CUDNN_STATUS_(other)";
  }
}

// A misuse (the caller broke the API's rules): reported and counted. An unsupported configuration is
// only remembered for cudnnGetLastErrorString (callers are expected to try another engine).
cudnnStatus_t misuse(cudnnStatus_t s, const std::string& msg) {
  last_message = std::string(status_name(s)) + ": " + msg;
  fake::report("cuDNN misuse: " + last_message);
  return s;
}
cudnnStatus_t unsupported(cudnnStatus_t s, const std::string& msg) {
  last_message = std::string(status_name(s)) + ": " + msg;
  if (fake::env_flag("EMU_VERBOSE"))
    std::fprintf(stderr, "FAKE cuDNN (expected): %s\n", last_message.c_str());
  return s;
}

const char* type_name(int t) {
  switch (t) {
    case CUDNN_BACKEND_POINTWISE_DESCRIPTOR: return "POINTWISE";
    case CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR: return "CONVOLUTION";
    case CUDNN_BACKEND_ENGINE_DESCRIPTOR: return "ENGINE";
    case CUDNN_BACKEND_ENGINECFG_DESCRIPTOR: return "ENGINECFG";
    case CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR: return "ENGINEHEUR";
    case CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR: return "EXECUTION_PLAN";
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR: return "OPERATION_CONVOLUTION_FORWARD";
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR:
      return "OPERATION_CONVOLUTION_BACKWARD_FILTER";
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR:
      return "OPERATION_CONVOLUTION_BACKWARD_DATA";
    case CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR: return "OPERATIONGRAPH";
    case CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR: return "VARIANT_PACK";
    case CUDNN_BACKEND_TENSOR_DESCRIPTOR: return "TENSOR";
    default: return "OTHER";
  }
}

size_t element_size(cudnnBackendAttributeType_t t) {
  switch (t) {
    case CUDNN_TYPE_HANDLE: return sizeof(cudnnHandle_t);
    case CUDNN_TYPE_DATA_TYPE: return sizeof(cudnnDataType_t);
    case CUDNN_TYPE_BOOLEAN: return sizeof(bool);
    case CUDNN_TYPE_INT64: return 8;
    case CUDNN_TYPE_FLOAT: return 4;
    case CUDNN_TYPE_DOUBLE: return 8;
    case CUDNN_TYPE_VOID_PTR: return sizeof(void*);
    case CUDNN_TYPE_CONVOLUTION_MODE: return sizeof(cudnnConvolutionMode_t);
    case CUDNN_TYPE_HEUR_MODE: return sizeof(cudnnBackendHeurMode_t);
    case CUDNN_TYPE_NUMERICAL_NOTE: return sizeof(cudnnBackendNumericalNote_t);
    case CUDNN_TYPE_BEHAVIOR_NOTE: return sizeof(cudnnBackendBehaviorNote_t);
    case CUDNN_TYPE_BACKEND_DESCRIPTOR: return sizeof(cudnnBackendDescriptor_t);
    case CUDNN_TYPE_INT32: return 4;
    case CUDNN_TYPE_CHAR: return 1;
    default: return 0;
  }
}

// ---------------------------------------------------------------- descriptor content
struct GraphInfo {
  std::vector<OpInfo> ops;
  cudnnHandle_t handle = nullptr;
};
struct EngineInfo {
  GraphInfo graph;
  int64_t gidx = -1;
};

// ---------------------------------------------------------------- the engine catalogue
// Global engine indices, with the properties real engines announce through their notes.
enum Engine : int64_t {
  kPlain = 0,
  kTensorCore = 1,       // float32 only; reads its inputs as TF32
  kRuntimeCompiled = 2,  // the fastest
  kWinograd = 3,         // 3x3 stride-1 undilated filters only
  kDownConvert = 4,      // float32 only; reads its inputs as half
  kFft = 5,              // offered by the heuristics, but never finalizes into a plan
  kEngineCount = 6
};
struct EngineSpec {
  std::vector<cudnnBackendNumericalNote_t> numerical;
  std::vector<cudnnBackendBehaviorNote_t> behavior;
  int64_t workspace;
  double cost;  // virtual time per execution
  InputRounding rounding;
};
EngineSpec engine_spec(int64_t g) {
  switch (g) {
    case kPlain: return {{}, {}, 0, 3.0, InputRounding::None};
    case kTensorCore: return {{CUDNN_NUMERICAL_NOTE_TENSOR_CORE}, {}, 1 << 20, 1.0, InputRounding::TF32};
    case kRuntimeCompiled:
      return {{}, {CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION}, 0, 0.5, InputRounding::None};
    case kWinograd: return {{CUDNN_NUMERICAL_NOTE_WINOGRAD}, {}, 256 << 10, 1.5, InputRounding::None};
    case kDownConvert:
      return {{CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS}, {}, 64 << 10, 0.8, InputRounding::Half};
    default: return {{CUDNN_NUMERICAL_NOTE_FFT}, {}, 8 << 20, 0.7, InputRounding::None};
  }
}

bool packed_in_some_order(const TensorInfo& t) {
  std::vector<size_t> order(t.dims.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return t.strides[a] != t.strides[b] ? t.strides[a] < t.strides[b] : a > b;
  });
  int64_t expect = 1;
  for (size_t i : order) {
    if (t.dims[i] == 1) continue;  // a size-1 dim's stride does not matter
    if (t.strides[i] != expect) return false;
    expect *= t.dims[i];
  }
  return true;
}

// Whether engine g runs this graph (why not, otherwise).
cudnnStatus_t engine_supports(const GraphInfo& g, int64_t gidx, std::string* why) {
  if (gidx < 0 || gidx >= kEngineCount) {
    *why = "engine global index " + std::to_string(gidx) + " out of range";
    return CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND;
  }
  if (g.ops.size() != 1) {
    *why = "only single-operation graphs are emulated";
    return CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN;
  }
  const OpInfo& op = g.ops[0];
  if (op.conv.spatial != 2) {
    *why = "only 2-D convolutions are emulated";
    return CUDNN_STATUS_NOT_SUPPORTED_SHAPE;
  }
  const cudnnDataType_t dt = op.x.dtype;
  if (op.w.dtype != dt || op.y.dtype != dt ||
      !((dt == CUDNN_DATA_FLOAT && op.conv.comp == CUDNN_DATA_FLOAT) ||
        (dt == CUDNN_DATA_DOUBLE && op.conv.comp == CUDNN_DATA_DOUBLE))) {
    *why = "data/compute type combination not emulated (float/float and double/double only)";
    return CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE;
  }
  for (const TensorInfo* t : {&op.x, &op.w, &op.y})
    if (!packed_in_some_order(*t)) {
      *why = "tensor " + t->str() + " is not fully packed in any dimension order";
      return CUDNN_STATUS_NOT_SUPPORTED_LAYOUT;
    }
  if ((gidx == kTensorCore || gidx == kDownConvert) && dt != CUDNN_DATA_FLOAT) {
    *why = "tensor-core / down-converting engines are float32 only";
    return CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE;
  }
  if (gidx == kWinograd && (op.w.dims[2] != 3 || op.w.dims[3] != 3 || op.conv.stride[0] != 1 ||
                            op.conv.stride[1] != 1 || op.conv.dil[0] != 1 || op.conv.dil[1] != 1)) {
    *why = "the Winograd engine needs a 3x3 stride-1 undilated filter";
    return CUDNN_STATUS_NOT_SUPPORTED_SHAPE;
  }
  if (gidx == kFft) {
    *why = "the FFT engine does not support this problem";
    return CUDNN_STATUS_NOT_SUPPORTED_SHAPE;
  }
  return CUDNN_STATUS_SUCCESS;
}

// EMU_CUDNN_NO_DOUBLE=1: no engine supports float64 (as on cuDNN builds without double-precision kernels).
std::vector<int64_t> heuristic_order(const GraphInfo& g, cudnnBackendHeurMode_t mode) {
  const bool dbl = !g.ops.empty() && g.ops[0].x.dtype == CUDNN_DATA_DOUBLE;
  if (dbl && fake::env_flag("EMU_CUDNN_NO_DOUBLE")) return {};
  if (mode == CUDNN_HEUR_MODE_FALLBACK)
    return dbl ? std::vector<int64_t>{kPlain} : std::vector<int64_t>{kPlain, kWinograd};
  if (dbl) return {kWinograd, kFft, kPlain};
  return {kTensorCore, kDownConvert, kFft, kRuntimeCompiled, kWinograd, kPlain};
}

// ---------------------------------------------------------------- descriptors
struct Attr {
  cudnnBackendAttributeType_t type;
  int64_t count;
  std::vector<unsigned char> bytes;
  std::vector<std::shared_ptr<struct Desc>> descs;  // copies, for CUDNN_TYPE_BACKEND_DESCRIPTOR
  template <class T>
  T get(int64_t i = 0) const {
    T v;
    std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));
    return v;
  }
  std::vector<int64_t> ints() const {
    std::vector<int64_t> v(static_cast<size_t>(count));
    std::memcpy(v.data(), bytes.data(), v.size() * 8);
    return v;
  }
};

struct Desc {
  cudnnBackendDescriptorType_t type;
  bool finalized = false;
  std::map<int, Attr> attrs;
  // finalized content
  TensorInfo tensor;
  ConvInfo conv;
  OpInfo op;
  GraphInfo graph;
  EngineInfo engine;  // ENGINE, ENGINECFG (its engine), EXECUTION_PLAN (its config's engine)
  cudnnBackendHeurMode_t heur_mode = CUDNN_HEUR_MODE_A;
  cudnnHandle_t plan_handle = nullptr;
  int64_t workspace = 0;
  std::vector<int64_t> pack_uids;
  std::vector<void*> pack_ptrs;
  void* pack_workspace = nullptr;
  bool pack_workspace_set = false;
};
std::set<Desc*> live;

Desc* as_desc(cudnnBackendDescriptor_t d) {
  Desc* p = static_cast<Desc*>(d);
  return live.count(p) ? p : nullptr;
}

struct Spec {
  int desc_type;
  int name;
  std::vector<cudnnBackendAttributeType_t> types;
  int64_t min_count, max_count;
  int referenced_type;  // for CUDNN_TYPE_BACKEND_DESCRIPTOR: the descriptor type of the elements (-1: any)
  bool settable;        // false: only read back after finalization
};

// The attributes each descriptor type has, from the backend descriptor reference.
std::vector<Spec> make_specs() {
  std::vector<Spec> s;
  auto value = [&](int desc, int name, cudnnBackendAttributeType_t type) {
    s.push_back({desc, name, {type}, 1, 1, -1, true});
  };
  auto array = [&](int desc, int name, cudnnBackendAttributeType_t type, int64_t min_count,
                   int64_t max_count) {
    s.push_back({desc, name, {type}, min_count, max_count, -1, true});
  };
  auto descriptors = [&](int desc, int name, int referenced, int64_t min_count = 1, int64_t max_count = 1) {
    s.push_back({desc, name, {CUDNN_TYPE_BACKEND_DESCRIPTOR}, min_count, max_count, referenced, true});
  };
  auto read_only = [&](int desc, int name, cudnnBackendAttributeType_t type, int64_t max_count,
                       int referenced = -1) {
    s.push_back({desc, name, {type}, 0, max_count, referenced, false});
  };

  const int tensor = CUDNN_BACKEND_TENSOR_DESCRIPTOR;
  value(tensor, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64);
  value(tensor, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE);
  array(tensor, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 1, CUDNN_DIM_MAX);
  array(tensor, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 1, CUDNN_DIM_MAX);
  value(tensor, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64);
  value(tensor, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN);
  value(tensor, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN);

  const int conv = CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR;
  value(conv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE);
  value(conv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE);
  value(conv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64);
  array(conv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 1, CUDNN_DIM_MAX - 2);
  array(conv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 1, CUDNN_DIM_MAX - 2);
  array(conv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 1, CUDNN_DIM_MAX - 2);
  array(conv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 1, CUDNN_DIM_MAX - 2);

  // The three convolution operations: alpha, beta, the convolution and three tensors each.
  for (const auto& op : std::vector<std::vector<int>>{
           {CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR,
            CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA,
            CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
            CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y},
           {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR,
            CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA,
            CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
            CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY},
           {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR,
            CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,
            CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA,
            CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC,
            CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
            CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY}}) {
    for (int scalar : {op[1], op[2]})
      s.push_back({op[0], scalar, {CUDNN_TYPE_FLOAT, CUDNN_TYPE_DOUBLE}, 1, 1, -1, true});
    descriptors(op[0], op[3], conv);
    for (int t : {op[4], op[5], op[6]}) descriptors(op[0], t, tensor);
  }

  const int graph = CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR;
  descriptors(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, -1, 1, 1 << 20);
  value(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE);
  read_only(graph, CUDNN_ATTR_OPERATIONGRAPH_ENGINE_GLOBAL_COUNT, CUDNN_TYPE_INT64, 1);

  const int heur = CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR;
  value(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE);
  descriptors(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph);
  value(heur, CUDNN_ATTR_ENGINEHEUR_SM_COUNT_TARGET, CUDNN_TYPE_INT32);
  read_only(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1 << 20,
            CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);

  const int engine = CUDNN_BACKEND_ENGINE_DESCRIPTOR;
  descriptors(engine, CUDNN_ATTR_ENGINE_OPERATION_GRAPH, graph);
  value(engine, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64);
  value(engine, CUDNN_ATTR_ENGINE_SM_COUNT_TARGET, CUDNN_TYPE_INT32);
  read_only(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE, 64);
  read_only(engine, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE, 64);
  read_only(engine, CUDNN_ATTR_ENGINE_KNOB_INFO, CUDNN_TYPE_BACKEND_DESCRIPTOR, 64,
            CUDNN_BACKEND_KNOB_INFO_DESCRIPTOR);
  read_only(engine, CUDNN_ATTR_ENGINE_LAYOUT_INFO, CUDNN_TYPE_BACKEND_DESCRIPTOR, 64,
            CUDNN_BACKEND_LAYOUT_INFO_DESCRIPTOR);

  const int cfg = CUDNN_BACKEND_ENGINECFG_DESCRIPTOR;
  descriptors(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, engine);
  descriptors(cfg, CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR, 0, 1 << 10);
  read_only(cfg, CUDNN_ATTR_ENGINECFG_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1);

  const int plan = CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR;
  descriptors(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, cfg);
  value(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE);
  read_only(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1);
  read_only(plan, CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, 1 << 20);

  const int pack = CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR;
  array(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 0, 1 << 10);
  array(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 0, 1 << 10);
  value(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR);
  array(pack, CUDNN_ATTR_VARIANT_PACK_INTERMEDIATES, CUDNN_TYPE_VOID_PTR, 0, 1 << 10);
  return s;
}

const Spec* find_spec(int desc_type, int name) {
  static const std::vector<Spec> specs = make_specs();
  for (const Spec& s : specs)
    if (s.desc_type == desc_type && s.name == name) return &s;
  return nullptr;
}

std::string where(const Desc* d, int name) {
  return std::string(type_name(d->type)) + " attribute " + std::to_string(name);
}

// ---------------------------------------------------------------- finalize helpers
bool has(const Desc* d, int name) { return d->attrs.count(name) != 0; }
double scalar(const Attr& a) { return a.type == CUDNN_TYPE_FLOAT ? a.get<float>() : a.get<double>(); }

cudnnStatus_t require(const Desc* d, std::initializer_list<int> names) {
  for (int n : names)
    if (!has(d, n))
      return misuse(CUDNN_STATUS_BAD_PARAM, "finalize " + std::string(type_name(d->type)) +
                                                ": required attribute " + std::to_string(n) + " not set");
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t finalize_tensor(Desc* d) {
  if (cudnnStatus_t s =
          require(d, {CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_ATTR_TENSOR_DATA_TYPE,
                      CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_ATTR_TENSOR_UNIQUE_ID}))
    return s;
  TensorInfo& t = d->tensor;
  t.align = d->attrs[CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT].get<int64_t>();
  t.dtype = d->attrs[CUDNN_ATTR_TENSOR_DATA_TYPE].get<cudnnDataType_t>();
  t.dims = d->attrs[CUDNN_ATTR_TENSOR_DIMENSIONS].ints();
  t.strides = d->attrs[CUDNN_ATTR_TENSOR_STRIDES].ints();
  t.uid = d->attrs[CUDNN_ATTR_TENSOR_UNIQUE_ID].get<int64_t>();
  t.is_virtual = has(d, CUDNN_ATTR_TENSOR_IS_VIRTUAL) && d->attrs[CUDNN_ATTR_TENSOR_IS_VIRTUAL].get<bool>();
  if (t.dims.size() != t.strides.size())
    return misuse(CUDNN_STATUS_BAD_PARAM, "finalize TENSOR: " + std::to_string(t.dims.size()) +
                                              " dimensions but " + std::to_string(t.strides.size()) +
                                              " strides");
  for (size_t i = 0; i < t.dims.size(); ++i)
    if (t.dims[i] <= 0 || t.strides[i] <= 0)
      return misuse(CUDNN_STATUS_BAD_PARAM, "finalize TENSOR: non-positive dimension or stride: " + t.str());
  const size_t es = data_size(t.dtype);
  if (es == 0)
    return misuse(CUDNN_STATUS_BAD_PARAM, "finalize TENSOR: unknown data type " + std::to_string(t.dtype));
  if (t.align <= 0 || t.align % static_cast<int64_t>(es) != 0)
    return misuse(CUDNN_STATUS_BAD_PARAM, "finalize TENSOR: byte alignment " + std::to_string(t.align) +
                                              " is not a positive multiple of the element size");
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t finalize_conv(Desc* d) {
  if (cudnnStatus_t s =
          require(d, {CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_ATTR_CONVOLUTION_CONV_MODE,
                      CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_ATTR_CONVOLUTION_DILATIONS,
                      CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS,
                      CUDNN_ATTR_CONVOLUTION_POST_PADDINGS}))
    return s;
  ConvInfo& c = d->conv;
  c.comp = d->attrs[CUDNN_ATTR_CONVOLUTION_COMP_TYPE].get<cudnnDataType_t>();
  c.mode = d->attrs[CUDNN_ATTR_CONVOLUTION_CONV_MODE].get<cudnnConvolutionMode_t>();
  c.spatial = d->attrs[CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS].get<int64_t>();
  c.dil = d->attrs[CUDNN_ATTR_CONVOLUTION_DILATIONS].ints();
  c.stride = d->attrs[CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES].ints();
  c.pre = d->attrs[CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS].ints();
  c.post = d->attrs[CUDNN_ATTR_CONVOLUTION_POST_PADDINGS].ints();
  if (c.mode != CUDNN_CONVOLUTION && c.mode != CUDNN_CROSS_CORRELATION)
    return misuse(CUDNN_STATUS_BAD_PARAM, "finalize CONVOLUTION: bad mode");
  for (auto* v : {&c.dil, &c.stride, &c.pre, &c.post})
    if (static_cast<int64_t>(v->size()) != c.spatial)
      return misuse(
          CUDNN_STATUS_BAD_PARAM,
          "finalize CONVOLUTION: an array's length differs from SPATIAL_DIMS " + std::to_string(c.spatial));
  for (int64_t i = 0; i < c.spatial; ++i)
    if (c.dil[i] < 1 || c.stride[i] < 1 || c.pre[i] < 0 || c.post[i] < 0)
      return misuse(CUDNN_STATUS_BAD_PARAM, "finalize CONVOLUTION: dilation/stride < 1 or negative padding");
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t finalize_op(Desc* d) {
  int al, be, cd, tw, tx, ty;
  OpKind kind;
  if (d->type == CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR) {
    kind = OpKind::Fwd;
    al = CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA;
    be = CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA;
    cd = CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC;
    tw = CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W;
    tx = CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X;
    ty = CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y;
  } else if (d->type == CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR) {
    kind = OpKind::BwdData;
    al = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA;
    be = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA;
    cd = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC;
    tw = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W;
    tx = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX;
    ty = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY;
  } else {
    kind = OpKind::BwdFilter;
    al = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA;
    be = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA;
    cd = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC;
    tw = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW;
    tx = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X;
    ty = CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY;
  }
  if (cudnnStatus_t s = require(d, {al, be, cd, tw, tx, ty})) return s;
  OpInfo& op = d->op;
  op.kind = kind;
  op.alpha = scalar(d->attrs[al]);
  op.beta = scalar(d->attrs[be]);
  op.conv = d->attrs[cd].descs[0]->conv;
  op.w = d->attrs[tw].descs[0]->tensor;
  op.x = d->attrs[tx].descs[0]->tensor;
  op.y = d->attrs[ty].descs[0]->tensor;
  const std::string what = std::string("finalize ") + type_name(d->type) + ": ";
  const size_t nd = static_cast<size_t>(op.conv.spatial) + 2;
  if (op.x.dims.size() != nd || op.w.dims.size() != nd || op.y.dims.size() != nd)
    return misuse(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH, what + "tensor ranks differ from SPATIAL_DIMS + 2");
  if (op.x.dims[0] != op.y.dims[0] || op.w.dims[0] != op.y.dims[1] || op.x.dims[1] % op.w.dims[1] != 0 ||
      op.w.dims[0] % (op.x.dims[1] / op.w.dims[1]) != 0)
    return misuse(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH,
                  what + "N/C/K mismatch: x " + op.x.str() + ", w " + op.w.str() + ", y " + op.y.str());
  for (size_t i = 0; i < static_cast<size_t>(op.conv.spatial); ++i) {
    const int64_t in = op.x.dims[2 + i], f = op.w.dims[2 + i];
    const int64_t span = op.conv.dil[i] * (f - 1) + 1;
    const int64_t padded = in + op.conv.pre[i] + op.conv.post[i];
    const int64_t out = padded < span ? 0 : (padded - span) / op.conv.stride[i] + 1;
    if (out != op.y.dims[2 + i])
      return misuse(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH,
                    what + "output size " + std::to_string(op.y.dims[2 + i]) + " in spatial dim " +
                        std::to_string(i) + " should be " + std::to_string(out) + " (x " + op.x.str() +
                        ", w " + op.w.str() + ")");
  }
  if (op.x.uid == op.w.uid || op.x.uid == op.y.uid || op.w.uid == op.y.uid)
    return misuse(CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES,
                  what + "two tensors of the operation share a unique id");
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t finalize_graph(Desc* d) {
  if (cudnnStatus_t s = require(d, {CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_ATTR_OPERATIONGRAPH_HANDLE}))
    return s;
  d->graph.ops.clear();
  for (auto& sub : d->attrs[CUDNN_ATTR_OPERATIONGRAPH_OPS].descs) {
    if (sub->type != CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR &&
        sub->type != CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR &&
        sub->type != CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR)
      return misuse(CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE,
                    std::string("finalize OPERATIONGRAPH: OPS holds a ") + type_name(sub->type) +
                        " (not an emulated operation)");
    d->graph.ops.push_back(sub->op);
  }
  d->graph.handle = d->attrs[CUDNN_ATTR_OPERATIONGRAPH_HANDLE].get<cudnnHandle_t>();
  if (!handles.count(d->graph.handle))
    return misuse(CUDNN_STATUS_BAD_PARAM, "finalize OPERATIONGRAPH: unknown handle");
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t finalize_engine(Desc* d) {
  if (cudnnStatus_t s = require(d, {CUDNN_ATTR_ENGINE_OPERATION_GRAPH, CUDNN_ATTR_ENGINE_GLOBAL_INDEX}))
    return s;
  d->engine.graph = d->attrs[CUDNN_ATTR_ENGINE_OPERATION_GRAPH].descs[0]->graph;
  d->engine.gidx = d->attrs[CUDNN_ATTR_ENGINE_GLOBAL_INDEX].get<int64_t>();
  std::string why;
  const cudnnStatus_t s = engine_supports(d->engine.graph, d->engine.gidx, &why);
  if (s == CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND) return misuse(s, "finalize ENGINE: " + why);
  if (s != CUDNN_STATUS_SUCCESS)
    return unsupported(s, "finalize ENGINE " + std::to_string(d->engine.gidx) + ": " + why);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t finalize_cfg(Desc* d) {
  if (cudnnStatus_t s = require(d, {CUDNN_ATTR_ENGINECFG_ENGINE})) return s;
  d->engine = d->attrs[CUDNN_ATTR_ENGINECFG_ENGINE].descs[0]->engine;
  d->workspace = engine_spec(d->engine.gidx).workspace;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t finalize_heur(Desc* d) {
  if (cudnnStatus_t s = require(d, {CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH}))
    return s;
  d->heur_mode = d->attrs[CUDNN_ATTR_ENGINEHEUR_MODE].get<cudnnBackendHeurMode_t>();
  if (d->heur_mode != CUDNN_HEUR_MODE_INSTANT && d->heur_mode != CUDNN_HEUR_MODE_B &&
      d->heur_mode != CUDNN_HEUR_MODE_FALLBACK && d->heur_mode != CUDNN_HEUR_MODE_A)
    return misuse(CUDNN_STATUS_BAD_PARAM, "finalize ENGINEHEUR: bad mode");
  d->graph = d->attrs[CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH].descs[0]->graph;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t finalize_plan(Desc* d) {
  if (cudnnStatus_t s =
          require(d, {CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_ATTR_EXECUTION_PLAN_HANDLE}))
    return s;
  const Desc& cfg = *d->attrs[CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG].descs[0];
  d->engine = cfg.engine;
  d->workspace = cfg.workspace;
  d->plan_handle = d->attrs[CUDNN_ATTR_EXECUTION_PLAN_HANDLE].get<cudnnHandle_t>();
  if (!handles.count(d->plan_handle))
    return misuse(CUDNN_STATUS_BAD_PARAM, "finalize EXECUTION_PLAN: unknown handle");
  std::string why;
  const cudnnStatus_t s = engine_supports(d->engine.graph, d->engine.gidx, &why);
  if (s != CUDNN_STATUS_SUCCESS)
    return unsupported(s,
                       "finalize EXECUTION_PLAN with engine " + std::to_string(d->engine.gidx) + ": " + why);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t finalize_pack(Desc* d) {
  if (cudnnStatus_t s =
          require(d, {CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS}))
    return s;
  d->pack_uids = d->attrs[CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS].ints();
  const Attr& p = d->attrs[CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS];
  d->pack_ptrs.resize(static_cast<size_t>(p.count));
  std::memcpy(d->pack_ptrs.data(), p.bytes.data(), p.bytes.size());
  if (d->pack_ptrs.size() != d->pack_uids.size())
    return misuse(CUDNN_STATUS_BAD_PARAM, "finalize VARIANT_PACK: " + std::to_string(d->pack_uids.size()) +
                                              " unique ids but " + std::to_string(d->pack_ptrs.size()) +
                                              " data pointers");
  d->pack_workspace_set = has(d, CUDNN_ATTR_VARIANT_PACK_WORKSPACE);
  d->pack_workspace =
      d->pack_workspace_set ? d->attrs[CUDNN_ATTR_VARIANT_PACK_WORKSPACE].get<void*>() : nullptr;
  return CUDNN_STATUS_SUCCESS;
}

bool ranges_overlap(const void* a, size_t na, const void* b, size_t nb) {
  const auto x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
  return x < y + nb && y < x + na;
}

cudnnStatus_t fill_descriptor_out(const Desc& src, cudnnBackendDescriptorType_t expect, void* out_elem,
                                  const char* what) {
  Desc* o = as_desc(*static_cast<cudnnBackendDescriptor_t*>(out_elem));
  if (o == nullptr)
    return misuse(CUDNN_STATUS_BAD_PARAM,
                  std::string(what) + ": output element is not a live descriptor (create it first)");
  if (o->type != expect)
    return misuse(CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE, std::string(what) + ": output descriptor is a " +
                                                              type_name(o->type) + ", expected " +
                                                              type_name(expect));
  const cudnnBackendDescriptorType_t t = o->type;
  *o = src;
  o->type = t;
  o->finalized = true;
  return CUDNN_STATUS_SUCCESS;
}

}  // namespace
}  // namespace fake_cudnn

// ================================================================ the API
using namespace fake_cudnn;

extern "C" {

size_t cudnnGetVersion(void) { return CUDNN_VERSION; }
// The CUDA runtime this cuDNN was built for; EMU_CUDNN_CUDART overrides it (a wheel for another CUDA).
size_t cudnnGetCudartVersion(void) {
  const char* v = std::getenv("EMU_CUDNN_CUDART");
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : CUDART_VERSION;
}

const char* cudnnGetErrorString(cudnnStatus_t status) { return status_name(status); }

void cudnnGetLastErrorString(char* message, size_t max_size) {
  if (message == nullptr || max_size == 0) return;
  std::snprintf(message, max_size, "%s", last_message.c_str());
  last_message.clear();
}

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) {
  if (handle == nullptr)
    return misuse(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "cudnnCreate: null handle pointer");
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    (void)cudaGetLastError();
    return CUDNN_STATUS_NOT_INITIALIZED;
  }
  *handle = new cudnnContext;
  handles.insert(*handle);
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) {
  if (!handles.count(handle)) return misuse(CUDNN_STATUS_BAD_PARAM, "cudnnDestroy: unknown handle");
  if (fake::exiting()) fake::report("cuDNN misuse: cudnnDestroy during process teardown (after main returned)");
  handles.erase(handle);
  delete handle;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream) {
  if (!handles.count(handle)) return misuse(CUDNN_STATUS_BAD_PARAM, "cudnnSetStream: unknown handle");
  if (!fake::valid_stream(stream)) return misuse(CUDNN_STATUS_BAD_PARAM, "cudnnSetStream: unknown stream");
  handle->stream = stream;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendCreateDescriptor(cudnnBackendDescriptorType_t type,
                                           cudnnBackendDescriptor_t* descriptor) {
  if (descriptor == nullptr)
    return misuse(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "cudnnBackendCreateDescriptor: null output");
  switch (type) {
    case CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR:
    case CUDNN_BACKEND_ENGINE_DESCRIPTOR:
    case CUDNN_BACKEND_ENGINECFG_DESCRIPTOR:
    case CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR:
    case CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR:
    case CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR:
    case CUDNN_BACKEND_TENSOR_DESCRIPTOR:
    case CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR:
    case CUDNN_BACKEND_KNOB_INFO_DESCRIPTOR:
    case CUDNN_BACKEND_LAYOUT_INFO_DESCRIPTOR: break;
    default:
      return unsupported(CUDNN_STATUS_NOT_SUPPORTED, "cudnnBackendCreateDescriptor: descriptor type " +
                                                         std::to_string(type) + " not emulated");
  }
  Desc* d = new Desc;
  d->type = type;
  live.insert(d);
  *descriptor = d;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendDestroyDescriptor(cudnnBackendDescriptor_t descriptor) {
  Desc* d = as_desc(descriptor);
  if (d == nullptr)
    return misuse(CUDNN_STATUS_BAD_PARAM,
                  "cudnnBackendDestroyDescriptor: not a live descriptor (double destroy?)");
  // Real cuDNN (>= 9.10) may have torn its engine libraries down by then: destroying a plan segfaults.
  // (Reported directly: the thread's last-error text, a thread_local, is already destroyed by then.)
  if (fake::exiting())
    fake::report("cuDNN misuse: cudnnBackendDestroyDescriptor during process teardown (after main returned)");
  live.erase(d);
  delete d;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendSetAttribute(cudnnBackendDescriptor_t descriptor, cudnnBackendAttributeName_t name,
                                       cudnnBackendAttributeType_t type, int64_t count,
                                       const void* elements) {
  Desc* d = as_desc(descriptor);
  if (d == nullptr) return misuse(CUDNN_STATUS_BAD_PARAM, "cudnnBackendSetAttribute: not a live descriptor");
  if (d->finalized)
    return misuse(CUDNN_STATUS_BAD_PARAM,
                  "cudnnBackendSetAttribute: " + where(d, name) + " set on a finalized descriptor");
  const Spec* s = find_spec(d->type, name);
  if (s == nullptr || !s->settable)
    return misuse(
        CUDNN_STATUS_BAD_PARAM,
        "cudnnBackendSetAttribute: " + where(d, name) +
            (s ? " is read-only" : " does not belong to this descriptor type (or is not emulated)"));
  if (std::find(s->types.begin(), s->types.end(), type) == s->types.end())
    return misuse(CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE, "cudnnBackendSetAttribute: " + where(d, name) +
                                                             " given attribute type " + std::to_string(type));
  if (count < s->min_count || count > s->max_count)
    return misuse(CUDNN_STATUS_BAD_PARAM, "cudnnBackendSetAttribute: " + where(d, name) + " given " +
                                              std::to_string(count) + " elements (allowed " +
                                              std::to_string(s->min_count) + ".." +
                                              std::to_string(s->max_count) + ")");
  if (count > 0 && elements == nullptr)
    return misuse(CUDNN_STATUS_BAD_PARAM_NULL_POINTER,
                  "cudnnBackendSetAttribute: " + where(d, name) + ": null elements");
  Attr a;
  a.type = type;
  a.count = count;
  a.bytes.assign(static_cast<const unsigned char*>(elements),
                 static_cast<const unsigned char*>(elements) + count * element_size(type));
  if (type == CUDNN_TYPE_BACKEND_DESCRIPTOR) {
    for (int64_t i = 0; i < count; ++i) {
      Desc* sub = as_desc(static_cast<const cudnnBackendDescriptor_t*>(elements)[i]);
      if (sub == nullptr)
        return misuse(CUDNN_STATUS_BAD_PARAM,
                      "cudnnBackendSetAttribute: " + where(d, name) + ": element is not a live descriptor");
      if (s->referenced_type >= 0 && sub->type != s->referenced_type)
        return misuse(CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE,
                      "cudnnBackendSetAttribute: " + where(d, name) + ": element is a " +
                          type_name(sub->type) + " descriptor, expected " + type_name(s->referenced_type));
      if (!sub->finalized)
        return misuse(CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED, "cudnnBackendSetAttribute: " + where(d, name) +
                                                                ": element descriptor is not finalized");
      a.descs.push_back(std::make_shared<Desc>(*sub));
    }
  }
  if (type == CUDNN_TYPE_HANDLE && !handles.count(*static_cast<const cudnnHandle_t*>(elements)))
    return misuse(CUDNN_STATUS_BAD_PARAM,
                  "cudnnBackendSetAttribute: " + where(d, name) + ": not a cudnnHandle_t from cudnnCreate");
  d->attrs[name] = std::move(a);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendFinalize(cudnnBackendDescriptor_t descriptor) {
  Desc* d = as_desc(descriptor);
  if (d == nullptr) return misuse(CUDNN_STATUS_BAD_PARAM, "cudnnBackendFinalize: not a live descriptor");
  if (d->finalized)
    return misuse(CUDNN_STATUS_BAD_PARAM,
                  std::string("cudnnBackendFinalize: ") + type_name(d->type) + " already finalized");
  cudnnStatus_t s;
  switch (d->type) {
    case CUDNN_BACKEND_TENSOR_DESCRIPTOR: s = finalize_tensor(d); break;
    case CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR: s = finalize_conv(d); break;
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR: s = finalize_op(d); break;
    case CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR: s = finalize_graph(d); break;
    case CUDNN_BACKEND_ENGINE_DESCRIPTOR: s = finalize_engine(d); break;
    case CUDNN_BACKEND_ENGINECFG_DESCRIPTOR: s = finalize_cfg(d); break;
    case CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR: s = finalize_heur(d); break;
    case CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR: s = finalize_plan(d); break;
    case CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR: s = finalize_pack(d); break;
    default:
      s = misuse(CUDNN_STATUS_NOT_SUPPORTED,
                 std::string("cudnnBackendFinalize: ") + type_name(d->type) + " not emulated");
  }
  if (s == CUDNN_STATUS_SUCCESS) d->finalized = true;
  return s;
}

cudnnStatus_t cudnnBackendGetAttribute(cudnnBackendDescriptor_t const descriptor,
                                       cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
                                       int64_t requested, int64_t* count, void* elements) {
  Desc* d = as_desc(descriptor);
  if (d == nullptr) return misuse(CUDNN_STATUS_BAD_PARAM, "cudnnBackendGetAttribute: not a live descriptor");
  if (!d->finalized)
    return misuse(CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED, "cudnnBackendGetAttribute: " + where(d, name) +
                                                            " read from a descriptor that is not finalized");
  const Spec* s = find_spec(d->type, name);
  if (s == nullptr)
    return misuse(CUDNN_STATUS_BAD_PARAM,
                  "cudnnBackendGetAttribute: " + where(d, name) +
                      " does not belong to this descriptor type (or is not emulated)");
  if (std::find(s->types.begin(), s->types.end(), type) == s->types.end())
    return misuse(
        CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE,
        "cudnnBackendGetAttribute: " + where(d, name) + " asked as attribute type " + std::to_string(type));
  if (requested < 0)
    return misuse(CUDNN_STATUS_BAD_PARAM, "cudnnBackendGetAttribute: negative requestedElementCount");
  if (requested > 0 && elements == nullptr)
    return misuse(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "cudnnBackendGetAttribute: null arrayOfElements");
  const size_t es = element_size(type);
  auto give = [&](const void* data, int64_t n) {
    if (count) *count = n;
    const int64_t w = std::min(n, requested);
    if (w > 0) std::memcpy(elements, data, static_cast<size_t>(w) * es);
    return CUDNN_STATUS_SUCCESS;
  };
  const std::string what = "cudnnBackendGetAttribute: " + where(d, name);
  switch (name) {
    case CUDNN_ATTR_OPERATIONGRAPH_ENGINE_GLOBAL_COUNT: {
      const int64_t n = kEngineCount;
      return give(&n, 1);
    }
    case CUDNN_ATTR_ENGINEHEUR_RESULTS: {
      std::vector<Desc> results;
      for (int64_t g : heuristic_order(d->graph, d->heur_mode)) {
        std::string why;
        const cudnnStatus_t st = engine_supports(d->graph, g, &why);
        // Heuristics list engines whose plan may still fail (the FFT engine): keep those; drop the ones that
        // can never run this graph's type (down-converting / tensor cores for float64, Winograd for non-3x3).
        if (st != CUDNN_STATUS_SUCCESS && g != kFft) continue;
        Desc cfg;
        cfg.type = CUDNN_BACKEND_ENGINECFG_DESCRIPTOR;
        cfg.engine.graph = d->graph;
        cfg.engine.gidx = g;
        cfg.workspace = engine_spec(g).workspace;
        results.push_back(cfg);
      }
      const int64_t n = static_cast<int64_t>(results.size());
      if (count) *count = n;
      for (int64_t i = 0; i < std::min(n, requested); ++i)
        if (cudnnStatus_t st =
                fill_descriptor_out(results[i], CUDNN_BACKEND_ENGINECFG_DESCRIPTOR,
                                    static_cast<cudnnBackendDescriptor_t*>(elements) + i, what.c_str()))
          return st;
      return CUDNN_STATUS_SUCCESS;
    }
    case CUDNN_ATTR_ENGINECFG_ENGINE:
    case CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG: {
      if (count) *count = 1;
      if (requested < 1) return CUDNN_STATUS_SUCCESS;
      Desc src;
      src.type = name == CUDNN_ATTR_ENGINECFG_ENGINE ? CUDNN_BACKEND_ENGINE_DESCRIPTOR
                                                     : CUDNN_BACKEND_ENGINECFG_DESCRIPTOR;
      src.engine = d->engine;
      src.workspace = engine_spec(d->engine.gidx).workspace;
      return fill_descriptor_out(src, src.type, elements, what.c_str());
    }
    case CUDNN_ATTR_ENGINECFG_WORKSPACE_SIZE:
    case CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE: return give(&d->workspace, 1);
    case CUDNN_ATTR_ENGINE_GLOBAL_INDEX: return give(&d->engine.gidx, 1);
    case CUDNN_ATTR_ENGINE_NUMERICAL_NOTE: {
      const auto v = engine_spec(d->engine.gidx).numerical;
      return give(v.data(), static_cast<int64_t>(v.size()));
    }
    case CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE: {
      const auto v = engine_spec(d->engine.gidx).behavior;
      return give(v.data(), static_cast<int64_t>(v.size()));
    }
    case CUDNN_ATTR_ENGINE_KNOB_INFO:
    case CUDNN_ATTR_ENGINE_LAYOUT_INFO:
    case CUDNN_ATTR_ENGINECFG_KNOB_CHOICES:
      if (count) *count = 0;
      return CUDNN_STATUS_SUCCESS;
    case CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION: {
      const std::string j = "{\"fake_engine\":" + std::to_string(d->engine.gidx) + "}";
      return give(j.c_str(), static_cast<int64_t>(j.size() + 1));
    }
    case CUDNN_ATTR_EXECUTION_PLAN_HANDLE: return give(&d->plan_handle, 1);
    default: break;
  }
  auto it = d->attrs.find(name);
  if (it == d->attrs.end()) return misuse(CUDNN_STATUS_BAD_PARAM, what + " was never set");
  if (it->second.type != type)
    return misuse(CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE, what + " was set as another attribute type");
  if (type == CUDNN_TYPE_BACKEND_DESCRIPTOR) {
    if (count) *count = it->second.count;
    for (int64_t i = 0; i < std::min(it->second.count, requested); ++i)
      if (cudnnStatus_t st =
              fill_descriptor_out(*it->second.descs[i], it->second.descs[i]->type,
                                  static_cast<cudnnBackendDescriptor_t*>(elements) + i, what.c_str()))
        return st;
    return CUDNN_STATUS_SUCCESS;
  }
  return give(it->second.bytes.data(), it->second.count);
}

cudnnStatus_t cudnnBackendExecute(cudnnHandle_t handle, cudnnBackendDescriptor_t executionPlan,
                                  cudnnBackendDescriptor_t variantPack) {
  if (!handles.count(handle)) return misuse(CUDNN_STATUS_BAD_PARAM, "cudnnBackendExecute: unknown handle");
  Desc* plan = as_desc(executionPlan);
  Desc* pack = as_desc(variantPack);
  if (plan == nullptr || plan->type != CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR || !plan->finalized)
    return misuse(CUDNN_STATUS_BAD_PARAM,
                  "cudnnBackendExecute: executionPlan is not a finalized EXECUTION_PLAN descriptor");
  if (pack == nullptr || pack->type != CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR || !pack->finalized)
    return misuse(CUDNN_STATUS_BAD_PARAM,
                  "cudnnBackendExecute: variantPack is not a finalized VARIANT_PACK descriptor");
  if (plan->plan_handle != handle)
    return misuse(CUDNN_STATUS_BAD_PARAM, "cudnnBackendExecute: the plan was built for another handle");
  if (!fake::valid_stream(handle->stream, "cudnnBackendExecute"))
    return misuse(CUDNN_STATUS_BAD_PARAM, "cudnnBackendExecute: the handle's stream is invalid");
  const OpInfo& op = plan->engine.graph.ops.at(0);
  struct Role {
    const TensorInfo* t;
    bool output;
    void* ptr;
  };
  Role roles[3] = {{&op.x, op.kind == OpKind::BwdData, nullptr},
                   {&op.w, op.kind == OpKind::BwdFilter, nullptr},
                   {&op.y, op.kind == OpKind::Fwd, nullptr}};
  for (size_t i = 0; i < pack->pack_uids.size(); ++i)
    for (size_t j = i + 1; j < pack->pack_uids.size(); ++j)
      if (pack->pack_uids[i] == pack->pack_uids[j])
        return misuse(CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES, "cudnnBackendExecute: unique id " +
                                                                     std::to_string(pack->pack_uids[i]) +
                                                                     " twice in the variant pack");
  for (Role& r : roles) {
    if (r.t->is_virtual)
      return misuse(CUDNN_STATUS_BAD_PARAM,
                    "cudnnBackendExecute: a virtual tensor in a single-operation graph");
    auto it = std::find(pack->pack_uids.begin(), pack->pack_uids.end(), r.t->uid);
    if (it == pack->pack_uids.end())
      return misuse(CUDNN_STATUS_BAD_PARAM, "cudnnBackendExecute: no data pointer for tensor " + r.t->str());
    r.ptr = pack->pack_ptrs[static_cast<size_t>(it - pack->pack_uids.begin())];
    if (r.ptr == nullptr)
      return misuse(CUDNN_STATUS_BAD_PARAM_NULL_POINTER,
                    "cudnnBackendExecute: null data pointer for tensor " + r.t->str());
    if (reinterpret_cast<uintptr_t>(r.ptr) % static_cast<uintptr_t>(r.t->align) != 0)
      return misuse(
          CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER,
          "cudnnBackendExecute: pointer for tensor " + r.t->str() + " is not aligned to its byte alignment");
    if (!fake::is_device_range(r.ptr, r.t->extent_bytes()))
      return misuse(CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND, "cudnnBackendExecute: tensor " + r.t->str() + " (" +
                                                             std::to_string(r.t->extent_bytes()) +
                                                             " bytes) is not inside one device allocation");
  }
  if (pack->pack_uids.size() != 3)
    return misuse(CUDNN_STATUS_BAD_PARAM, "cudnnBackendExecute: the variant pack has " +
                                              std::to_string(pack->pack_uids.size()) +
                                              " entries for a 3-tensor graph");
  for (const Role& o : roles)
    if (o.output)
      for (const Role& i : roles)
        if (!i.output && ranges_overlap(o.ptr, o.t->extent_bytes(), i.ptr, i.t->extent_bytes()))
          return misuse(CUDNN_STATUS_BAD_PARAM, "cudnnBackendExecute: the output overlaps an input");
  const int64_t ws = plan->workspace;
  if (!pack->pack_workspace_set)
    fake::report("cuDNN: cudnnBackendExecute: the variant pack never set CUDNN_ATTR_VARIANT_PACK_WORKSPACE");
  void* wsp = pack->pack_workspace;
  if (ws > 0) {
    if (wsp == nullptr)
      return misuse(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "cudnnBackendExecute: the plan needs " +
                                                             std::to_string(ws) +
                                                             " bytes of workspace, the pointer is null");
    if (!fake::is_device_range(wsp, static_cast<size_t>(ws)))
      return misuse(
          CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT,
          "cudnnBackendExecute: the workspace is not " + std::to_string(ws) + " bytes of device memory");
    for (const Role& r : roles)
      if (ranges_overlap(wsp, static_cast<size_t>(ws), r.ptr, r.t->extent_bytes()))
        return misuse(CUDNN_STATUS_BAD_PARAM, "cudnnBackendExecute: the workspace overlaps a tensor");
  }
  const EngineSpec spec = engine_spec(plan->engine.gidx);
  const OpInfo opc = op;
  void *px = roles[0].ptr, *pw = roles[1].ptr, *py = roles[2].ptr;
  ++executions;
  static const bool fp32_accumulate = fake::env_flag("EMU_CUDNN_FP32_ACCUM");
  fake::enqueue(spec.cost, [opc, px, pw, py, wsp, ws, spec] {
    if (ws > 0)
      std::memset(wsp, 0xFF, static_cast<size_t>(ws));  // the workspace is scratch: scribble over it
    run_convolution(opc, px, pw, py, spec.rounding, fp32_accumulate);
  });
  return CUDNN_STATUS_SUCCESS;
}

}  // extern "C"

namespace {
struct ExitSummary {
  ~ExitSummary() {
    std::fprintf(stderr, "FAKE cuDNN: %lld executions, %zu descriptors still live at exit\n", executions,
                 live.size());
  }
} exit_summary;
}  // namespace
