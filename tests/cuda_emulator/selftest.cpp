// Checks the fake cuBLAS GEMM and the fake cuDNN convolutions against brute-force sums over their
// definitions, in float64, independently of dismax. Exits non-zero on a mismatch or a reported problem.
#include <cublas_v2.h>
#include <cudnn_graph.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "fake_device.h"

namespace {

int failures = 0;

#define CHECK_STATUS(call)                                                     \
  do {                                                                         \
    const int status_ = static_cast<int>(call);                                \
    if (status_ != 0) {                                                        \
      std::printf("FAIL line %d: %s returned %d\n", __LINE__, #call, status_); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

void expect_close(const char* what, double err) {
  if (err > 1e-12) {
    std::printf("FAIL %s: max error %g\n", what, err);
    ++failures;
  }
}

std::vector<double> random_vector(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<double> v(n);
  for (double& x : v) x = normal(rng);
  return v;
}

double* to_device(const std::vector<double>& h) {
  void* p = nullptr;
  CHECK_STATUS(cudaMalloc(&p, h.size() * sizeof(double)));
  CHECK_STATUS(cudaMemcpy(p, h.data(), h.size() * sizeof(double), cudaMemcpyHostToDevice));
  return static_cast<double*>(p);
}

std::vector<double> to_host(const double* d, size_t n) {
  std::vector<double> h(n);
  CHECK_STATUS(cudaMemcpy(h.data(), d, n * sizeof(double), cudaMemcpyDeviceToHost));
  return h;
}

// C = alpha * op(A) * op(B) + beta * C for every transpose combination, with padded leading dimensions;
// the padding rows of C must stay untouched.
void test_gemm() {
  cublasHandle_t h;
  CHECK_STATUS(cublasCreate(&h));
  const int m = 5, n = 7, k = 3;
  const double alpha = 0.7, beta = 0.3;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int lda = (ta ? k : m) + 2, ldb = (tb ? n : k) + 1, ldc = m + 3;
      const auto A = random_vector(lda * (ta ? m : k), 1), B = random_vector(ldb * (tb ? k : n), 2),
                 C = random_vector(ldc * n, 3);
      double *dA = to_device(A), *dB = to_device(B), *dC = to_device(C);
      CHECK_STATUS(cublasDgemm(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k,
                               &alpha, dA, lda, dB, ldb, &beta, dC, ldc));
      const auto got = to_host(dC, C.size());
      double err = 0;
      for (int j = 0; j < n; ++j)
        for (int i = 0; i < ldc; ++i) {
          double want = C[i + j * ldc];
          if (i < m) {
            double s = 0;
            for (int p = 0; p < k; ++p)
              s += (ta ? A[p + i * lda] : A[i + p * lda]) * (tb ? B[j + p * ldb] : B[p + j * ldb]);
            want = alpha * s + beta * want;
          }
          err = std::max(err, std::abs(got[i + j * ldc] - want));
        }
      expect_close(ta ? (tb ? "gemm TT" : "gemm TN") : (tb ? "gemm NT" : "gemm NN"), err);
      for (double* p : {dA, dB, dC}) CHECK_STATUS(cudaFree(p));
    }
  CHECK_STATUS(cublasDestroy(h));
}

template <class T>
void set(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
         int64_t count, const T* values) {
  CHECK_STATUS(cudnnBackendSetAttribute(d, name, type, count, values));
}

cudnnBackendDescriptor_t make(cudnnBackendDescriptorType_t type) {
  cudnnBackendDescriptor_t d = nullptr;
  CHECK_STATUS(cudnnBackendCreateDescriptor(type, &d));
  return d;
}

cudnnBackendDescriptor_t tensor(int64_t uid, const std::vector<int64_t>& dims) {
  std::vector<int64_t> strides(dims.size());
  int64_t stride = 1;
  for (size_t i = dims.size(); i-- > 0;) strides[i] = stride, stride *= dims[i];
  const cudnnDataType_t dtype = CUDNN_DATA_DOUBLE;
  const int64_t alignment = 16;
  cudnnBackendDescriptor_t d = make(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  set(d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dtype);
  set(d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, static_cast<int64_t>(dims.size()), dims.data());
  set(d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, static_cast<int64_t>(strides.size()), strides.data());
  set(d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
  set(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment);
  CHECK_STATUS(cudnnBackendFinalize(d));
  return d;
}

enum class Direction { Forward, BackwardData, BackwardFilter };

struct ConvCase {
  Direction direction;
  int64_t stride, pad, dilation, groups;
};

// Builds the one-operation graph, takes the plain engine (global index 0) from the heuristics' list and
// runs it with alpha = 0.5, beta = 0.25 on random data; compares with the definition.
void test_conv(const ConvCase& c) {
  cudnnHandle_t h;
  CHECK_STATUS(cudnnCreate(&h));
  const int64_t N = 2, C = 4, H = 7, W = 6, K = 6, R = 3, S = 2;
  const int64_t Cg = C / c.groups, Kg = K / c.groups;
  const int64_t P = (H + 2 * c.pad - c.dilation * (R - 1) - 1) / c.stride + 1;
  const int64_t Q = (W + 2 * c.pad - c.dilation * (S - 1) - 1) / c.stride + 1;
  std::vector<cudnnBackendDescriptor_t> owned;
  auto keep = [&](cudnnBackendDescriptor_t d) {
    owned.push_back(d);
    return d;
  };
  cudnnBackendDescriptor_t tx = keep(tensor(1, {N, C, H, W})), tw = keep(tensor(2, {K, Cg, R, S})),
                           ty = keep(tensor(3, {N, K, P, Q}));

  cudnnBackendDescriptor_t conv = keep(make(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR));
  const int64_t spatial = 2, strides[2] = {c.stride, c.stride}, pads[2] = {c.pad, c.pad};
  const int64_t dilations[2] = {c.dilation, c.dilation};
  const cudnnDataType_t compute = CUDNN_DATA_DOUBLE;
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  set(conv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial);
  set(conv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute);
  set(conv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
  set(conv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, strides);
  set(conv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pads);
  set(conv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pads);
  set(conv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dilations);
  CHECK_STATUS(cudnnBackendFinalize(conv));

  // Each operation type's attributes, in the order ALPHA, BETA, CONV_DESC, then the three tensors.
  struct OpAttrs {
    cudnnBackendDescriptorType_t type;
    cudnnBackendAttributeName_t alpha, beta, conv, w, x, y;
  };
  const OpAttrs attrs = c.direction == Direction::Forward
                            ? OpAttrs{CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y}
                        : c.direction == Direction::BackwardData
                            ? OpAttrs{CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY}
                            : OpAttrs{CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
                                      CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY};
  const double alpha = 0.5, beta = 0.25;
  cudnnBackendDescriptor_t op = keep(make(attrs.type));
  set(op, attrs.alpha, CUDNN_TYPE_DOUBLE, 1, &alpha);
  set(op, attrs.beta, CUDNN_TYPE_DOUBLE, 1, &beta);
  set(op, attrs.conv, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &conv);
  set(op, attrs.w, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &tw);
  set(op, attrs.x, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &tx);
  set(op, attrs.y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &ty);
  CHECK_STATUS(cudnnBackendFinalize(op));

  cudnnBackendDescriptor_t graph = keep(make(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR));
  set(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op);
  set(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
  CHECK_STATUS(cudnnBackendFinalize(graph));

  cudnnBackendDescriptor_t heur = keep(make(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR));
  const cudnnBackendHeurMode_t heur_mode = CUDNN_HEUR_MODE_A;
  set(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph);
  set(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &heur_mode);
  CHECK_STATUS(cudnnBackendFinalize(heur));
  int64_t count = 0;
  CHECK_STATUS(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                        &count, nullptr));
  std::vector<cudnnBackendDescriptor_t> configs(static_cast<size_t>(count));
  for (auto& cfg : configs) cfg = keep(make(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
  CHECK_STATUS(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                        count, &count, configs.data()));
  cudnnBackendDescriptor_t plan = nullptr;
  for (cudnnBackendDescriptor_t cfg : configs) {
    cudnnBackendDescriptor_t engine = keep(make(CUDNN_BACKEND_ENGINE_DESCRIPTOR));
    int64_t n = 0, index = -1;
    CHECK_STATUS(cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                          &n, &engine));
    CHECK_STATUS(
        cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n, &index));
    if (index != 0) continue;
    plan = keep(make(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR));
    set(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg);
    set(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
    CHECK_STATUS(cudnnBackendFinalize(plan));
    break;
  }
  if (plan == nullptr) {
    std::printf("FAIL the heuristics do not offer the plain engine\n");
    ++failures;
    return;
  }
  int64_t workspace_bytes = 0, n = 0;
  CHECK_STATUS(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1,
                                        &n, &workspace_bytes));

  const unsigned seed = static_cast<unsigned>(c.direction) * 100 + c.stride * 10 + c.pad;
  const auto x = random_vector(N * C * H * W, seed), w = random_vector(K * Cg * R * S, seed + 1),
             y = random_vector(N * K * P * Q, seed + 2);
  double *dx = to_device(x), *dw = to_device(w), *dy = to_device(y);
  void* workspace = nullptr;
  if (workspace_bytes > 0) CHECK_STATUS(cudaMalloc(&workspace, workspace_bytes));
  cudnnBackendDescriptor_t pack = keep(make(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR));
  const int64_t uids[3] = {1, 2, 3};
  void* const pointers[3] = {dx, dw, dy};
  set(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids);
  set(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, pointers);
  set(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
  CHECK_STATUS(cudnnBackendFinalize(pack));
  CHECK_STATUS(cudnnBackendExecute(h, plan, pack));
  CHECK_STATUS(cudaDeviceSynchronize());

  // The definition: y[n,k,p,q] = sum over c, r, s of x[n, g*Cg + c, p*stride - pad + r*dil, q*stride - pad +
  // s*dil]
  // * w[k,c,r,s]; backward data and backward filter scatter the same products into dx and dw.
  std::vector<double> fwd(y.size(), 0.0), bwd_data(x.size(), 0.0), bwd_filter(w.size(), 0.0);
  for (int64_t in = 0; in < N; ++in)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t p = 0; p < P; ++p)
        for (int64_t q = 0; q < Q; ++q)
          for (int64_t ic = 0; ic < Cg; ++ic)
            for (int64_t r = 0; r < R; ++r)
              for (int64_t s = 0; s < S; ++s) {
                const int64_t hh = p * c.stride - c.pad + r * c.dilation,
                              ww = q * c.stride - c.pad + s * c.dilation;
                if (hh < 0 || hh >= H || ww < 0 || ww >= W) continue;
                const size_t xi = static_cast<size_t>(((in * C + k / Kg * Cg + ic) * H + hh) * W + ww);
                const size_t wi = static_cast<size_t>(((k * Cg + ic) * R + r) * S + s);
                const size_t yi = static_cast<size_t>(((in * K + k) * P + p) * Q + q);
                fwd[yi] += x[xi] * w[wi];
                bwd_data[xi] += y[yi] * w[wi];
                bwd_filter[wi] += y[yi] * x[xi];
              }
  auto compare = [&](const char* what, const double* device, const std::vector<double>& before,
                     const std::vector<double>& sums) {
    const auto got = to_host(device, before.size());
    double err = 0;
    for (size_t i = 0; i < got.size(); ++i)
      err = std::max(err, std::abs(got[i] - (alpha * sums[i] + beta * before[i])));
    expect_close(what, err);
  };
  switch (c.direction) {
    case Direction::Forward: compare("conv forward", dy, y, fwd); break;
    case Direction::BackwardData: compare("conv backward data", dx, x, bwd_data); break;
    case Direction::BackwardFilter: compare("conv backward filter", dw, w, bwd_filter); break;
  }
  for (cudnnBackendDescriptor_t d : owned) CHECK_STATUS(cudnnBackendDestroyDescriptor(d));
  for (void* p : {static_cast<void*>(dx), static_cast<void*>(dw), static_cast<void*>(dy), workspace})
    CHECK_STATUS(cudaFree(p));
  CHECK_STATUS(cudnnDestroy(h));
}

}  // namespace

int main() {
  test_gemm();
  for (Direction d : {Direction::Forward, Direction::BackwardData, Direction::BackwardFilter})
    for (int64_t stride : {1, 2})
      for (int64_t pad : {0, 1, 2})
        for (int64_t dilation : {1, 2})
          for (int64_t groups : {1, 2}) test_conv({d, stride, pad, dilation, groups});
  const long long problems = fake::problem_count();
  std::printf("selftest: %d failures, %lld problems reported by the fakes\n", failures, problems);
  return failures == 0 && problems == 0 ? 0 : 1;
}
