// GPU equals CPU, bit for bit: every op and chain on the GPU, whole and tiled, on real slide
// pixels and random data, must give exactly the CPU's bytes (the CPU path is itself checked
// against scikit-image in test_ops_reference.cpp). Also 64-bit indexing on an image of more than
// 2^31 bytes. Skips without a GPU.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"
#include "support/test_support.hpp"
#include "test_ops_util.hpp"

namespace slidestream::test {
namespace {

using ops::Op;
using ops::OpKind;

void cuda_ok(cudaError_t status, const char* what) {
  ASSERT_EQ(status, cudaSuccess) << what << ": " << cudaGetErrorString(status);
}

// The copy must have landed before any kernel reads it. cudaMemcpy from pageable host memory may
// return while its DMA is still in flight (CUDA's "API synchronization behavior"), ordered only on
// the legacy default stream, and the tests' kernels run on a cudaStreamNonBlocking stream, which
// does not wait for that stream: without the device synchronisation the first kernels of a call
// sometimes read the device image before the pixels arrive (the nondeterministic tiled failures
// on the H200, first difference at (0, 0)).
Image to_device(const Image& host) {
  Image d =
      Image::allocate(host.width(), host.height(), host.channels(), host.dtype(), Device::cuda);
  if (host.size_bytes()) {
    cuda_ok(cudaMemcpy(d.data(), host.data(), host.size_bytes(), cudaMemcpyHostToDevice), "h2d");
    cuda_ok(cudaDeviceSynchronize(), "h2d sync");
  }
  return d;
}

Image to_host(const ImageView& d) {
  Image h = Image::allocate(d.width, d.height, d.channels, d.dtype);
  if (h.size_bytes()) {
    cuda_ok(cudaMemcpy2D(h.data(), h.view().row_pitch, d.data, d.row_pitch, d.row_bytes(),
                         static_cast<size_t>(d.height), cudaMemcpyDeviceToHost),
            "d2h");
  }
  return h;
}

class Stream {
 public:
  Stream() { cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking); }
  ~Stream() { cudaStreamDestroy(s_); }
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

Image gpu_whole(const std::vector<Op>& chain, const Image& host_in, cudaStream_t stream) {
  Image in = to_device(host_in);
  ops::PixelFormat f = ops::output_format(chain, {in.channels(), in.dtype()});
  Image out = Image::allocate(in.width(), in.height(), f.channels, f.dtype, Device::cuda);
  ops::apply_chain(chain, in.view(), {0, 0}, out.view(), {0, 0}, {in.width(), in.height()}, stream);
  cuda_ok(cudaStreamSynchronize(stream), "sync");
  return to_host(out.view());
}

// Tile by tile on the GPU, each tile's input a device crop holding the tile plus the halo, each
// tile's output a crop of one device image (so pitched output views are used too).
Image gpu_tiled(const std::vector<Op>& chain, const Image& host_in, int64_t tile,
                cudaStream_t stream) {
  Image in = to_device(host_in);
  ops::PixelFormat f = ops::output_format(chain, {in.channels(), in.dtype()});
  Image out = Image::allocate(in.width(), in.height(), f.channels, f.dtype, Device::cuda);
  const int64_t r = ops::halo_radius(chain), W = in.width(), H = in.height();
  for (int64_t y = 0; y < H; y += tile) {
    for (int64_t x = 0; x < W; x += tile) {
      int64_t w = std::min(tile, W - x), h = std::min(tile, H - y);
      int64_t x0 = std::max<int64_t>(0, x - r), y0 = std::max<int64_t>(0, y - r);
      int64_t x1 = std::min(W, x + w + r), y1 = std::min(H, y + h + r);
      ops::apply_chain(chain, in.view().crop(x0, y0, x1 - x0, y1 - y0), {x0, y0},
                       out.view().crop(x, y, w, h), {x, y}, {W, H}, stream);
    }
  }
  cuda_ok(cudaStreamSynchronize(stream), "sync");
  return to_host(out.view());
}

const std::vector<std::vector<Op>> kChains = {
    {{OpKind::sobel}},
    {{OpKind::sobel_u8}},
    {{OpKind::grey}},
    {{OpKind::optical_density}},
    {{OpKind::optical_density, 240.0f}},
    {{OpKind::hed}},
    {{OpKind::grey}, {OpKind::sobel}},
    {{OpKind::hed}, {OpKind::sobel}},
    {{OpKind::optical_density}, {OpKind::sobel_u8}},
    {{OpKind::sobel}, {OpKind::sobel}},
    {{OpKind::hed}, {OpKind::sobel}, {OpKind::grey}, {OpKind::sobel_u8}},
    {macenko_op()},
    {macenko_op(), {OpKind::sobel}},  // not fused: the Sobel reads macenko's uint8 output
};

std::string name(const std::vector<Op>& chain) {
  std::string s;
  for (const Op& op : chain) s += (s.empty() ? "" : ",") + ops::to_string(op);
  return s;
}

// Real slide pixels through our own CPU reader (itself checked pixel for pixel against
// OpenSlide in test_pixels_*): the GPU machine has no Python JPEG decoder for tifffile.
Image slide_region(int64_t x, int64_t y, int64_t w, int64_t h) {
  Slide slide = Slide::open(shared_testdata() / "cmu-1-small-region.svs");
  return slide.read_region(0, x, y, w, h);
}

TEST(GpuOps, EveryChainEqualsTheCpuOnSlidePixels) {
  SLIDESTREAM_REQUIRE_GPU();
  Stream stream;
  Image in = slide_region(800, 1200, 1031, 517);
  for (const auto& chain : kChains) {
    Image cpu = apply_whole(chain, in);
    EXPECT_TRUE(same_bytes(cpu, gpu_whole(chain, in, stream.get()))) << name(chain);
  }
}

TEST(GpuOps, TiledOnTheGpuEqualsWholeOnTheCpu) {
  SLIDESTREAM_REQUIRE_GPU();
  Stream stream;
  Image in = random_image(503, 301, 3, DataType::uint8, 42);
  for (const auto& chain : kChains) {
    Image cpu = apply_whole(chain, in);
    for (int64_t tile : {1, 2, 7, 33, 64, 300}) {
      if (tile == 1 && chain.size() > 2) continue;  // 150k tiny passes: slow, not more telling
      EXPECT_TRUE(same_bytes(cpu, gpu_tiled(chain, in, tile, stream.get())))
          << name(chain) << " tile " << tile;
    }
  }
}

TEST(GpuOps, FloatAndMultiChannelSobelEqualsTheCpu) {
  SLIDESTREAM_REQUIRE_GPU();
  Stream stream;
  for (int c : {1, 2, 3, 4}) {
    Image in = random_image(257, 129, c, DataType::float32, 3u + c, -3.0f, 7.0f);
    for (const auto& chain :
         {std::vector<Op>{{OpKind::sobel}}, std::vector<Op>{{OpKind::sobel_u8}}}) {
      EXPECT_TRUE(same_bytes(apply_whole(chain, in), gpu_whole(chain, in, stream.get())))
          << name(chain) << " channels " << c;
    }
    Image u8 = random_image(257, 129, c, DataType::uint8, 9u + c);
    EXPECT_TRUE(same_bytes(apply_whole({{OpKind::sobel}}, u8),
                           gpu_whole({{OpKind::sobel}}, u8, stream.get())))
        << "uint8 channels " << c;
  }
}

TEST(GpuOps, DownsampleEqualsTheCpu) {
  SLIDESTREAM_REQUIRE_GPU();
  Stream stream;
  for (DataType dt : {DataType::uint8, DataType::float32}) {
    for (int c : {1, 3, 4}) {
      Image in = random_image(503, 301, c, dt, 17u + c);
      Image cpu = Image::allocate(251, 150, c, dt);
      ops::downsample2(in.view(), cpu.view());
      Image d_in = to_device(in);
      Image d_out = Image::allocate(251, 150, c, dt, Device::cuda);
      ops::downsample2(d_in.view(), d_out.view(), stream.get());
      cuda_ok(cudaStreamSynchronize(stream.get()), "sync");
      EXPECT_TRUE(same_bytes(cpu, to_host(d_out.view()))) << to_string(dt) << " x" << c;
    }
  }
}

TEST(GpuOps, SixtyFourBitOffsetsInAnImageBeyondTwoGigabytes) {
  SLIDESTREAM_REQUIRE_GPU();
  // 60000 × 12000 RGB uint8 = 2.16e9 bytes: offsets past 2^31 in the input, and the float output
  // of the whole-image pointwise op (8.6e9 bytes) past 2^32.
  const int64_t W = 60000, H = 12000;
  size_t free_bytes = 0, total = 0;
  cudaMemGetInfo(&free_bytes, &total);
  if (free_bytes < size_t{12} << 30) GTEST_SKIP() << "needs 12 GiB of free GPU memory";
  Image host = Image::allocate(W, H, 3, DataType::uint8);
  uint64_t state = 0x9e3779b97f4a7c15ull;
  auto* p = reinterpret_cast<uint64_t*>(host.data());
  for (size_t i = 0; i < host.size_bytes() / 8; ++i) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    p[i] = state;
  }
  Image in = to_device(host);
  Stream stream;
  // Sobel of small windows near the far corner, computed from the whole device image.
  for (auto [x, y] : {std::pair<int64_t, int64_t>{W - 40, H - 30}, {0, H - 30}, {W - 40, 0}}) {
    std::vector<Op> chain = {{OpKind::hed}, {OpKind::sobel}};
    Image d_out = Image::allocate(40, 30, 3, DataType::float32, Device::cuda);
    ops::apply_chain(chain, in.view(), {0, 0}, d_out.view(), {x, y}, {W, H}, stream.get());
    cuda_ok(cudaStreamSynchronize(stream.get()), "sync");
    Image cpu = Image::allocate(40, 30, 3, DataType::float32);
    ops::apply_chain(chain, host.view(), {0, 0}, cpu.view(), {x, y}, {W, H});
    EXPECT_TRUE(same_bytes(cpu, to_host(d_out.view()))) << "window at " << x << ", " << y;
  }
  // A whole-image grey (1 float per pixel = 2.9e9 bytes): compare the last rows.
  Image d_grey = Image::allocate(W, H, 1, DataType::float32, Device::cuda);
  ops::apply({OpKind::grey}, in.view(), {0, 0}, d_grey.view(), {0, 0}, {W, H}, stream.get());
  cuda_ok(cudaStreamSynchronize(stream.get()), "sync");
  Image cpu_rows = Image::allocate(W, 2, 1, DataType::float32);
  ops::apply({OpKind::grey}, host.view().crop(0, H - 2, W, 2), {0, H - 2}, cpu_rows.view(),
             {0, H - 2}, {W, H});
  EXPECT_TRUE(same_bytes(cpu_rows, to_host(d_grey.view().crop(0, H - 2, W, 2))));
}

TEST(GpuOps, MismatchedDevicesAreRefused) {
  SLIDESTREAM_REQUIRE_GPU();
  Image host = random_image(16, 16, 3, DataType::uint8, 1);
  Image dev = Image::allocate(16, 16, 3, DataType::float32, Device::cuda);
  EXPECT_THROW(ops::apply({OpKind::sobel}, host.view(), {0, 0}, dev.view(), {0, 0}, {16, 16}),
               Error);
}

}  // namespace
}  // namespace slidestream::test
