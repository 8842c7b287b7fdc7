// Functions written once for the host and the GPU: SS_HD marks them __host__ __device__ when
// nvcc compiles the file and plain inline otherwise, so CPU-only builds and tests use the very
// same code the kernels run.
#pragma once

#if defined(__CUDACC__)
#define SS_HD __host__ __device__ __forceinline__
#else
#define SS_HD inline
#endif
