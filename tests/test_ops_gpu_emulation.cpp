// The CUDA kernels' per-thread code (src/ops/gpu_thread_bodies.hpp), run on the CPU by plain loops
// over blocks and threads, with the phases in the kernels' order, must give exactly the CPU
// path's bytes. This tests the GPU's indexing (shared-memory tile loads with the halo, the border
// rule on the image, clamping of partial tiles, pitched views, grid-stride loops) on machines
// without a GPU; test_gpu_ops_parity.cpp checks the real kernels where there is one.
#include <gtest/gtest.h>

#include <memory>

#include "ops/gpu_thread_bodies.hpp"
#include "test_ops_util.hpp"

namespace slidestream::test {
namespace {

using ops::Op;
using ops::OpKind;
using ops::detail::Pointwise;
using ops::detail::PointwiseParams;
namespace gpu = ops::detail::gpu;

// sobel_kernel's grid, with grid.y limited to `grid_y` blocks (65535 on the device) so that small
// limits exercise the grid-stride loop.
template <Pointwise K, typename T, int IC, int C, bool U8>
void emulate_sobel(const PointwiseParams& p, const ImageView& in, ops::Window in_at,
                   const ImageView& out, ops::Window out_at, ops::ImageExtent image,
                   int64_t grid_y) {
  gpu::Geometry g{in_at.x,  in_at.y,   in.width,   in.height,   out_at.x,
                  out_at.y, out.width, out.height, image.width, image.height};
  int64_t tiles_x = (out.width + gpu::kTileW - 1) / gpu::kTileW;
  int64_t tiles_y = (out.height + gpu::kTileH - 1) / gpu::kTileH;
  int64_t blocks_y = std::min(tiles_y, grid_y);
  struct Shared {
    gpu::Tile<C> tile;
  };
  auto shared = std::make_unique<Shared>();  // the block's shared memory
  auto& tile = shared->tile;
  for (int64_t bx = 0; bx < tiles_x; ++bx) {
    for (int64_t block_y = 0; block_y < blocks_y; ++block_y) {
      int64_t x0 = g.out_x + bx * gpu::kTileW;
      for (int64_t by = block_y; by < tiles_y; by += blocks_y) {
        int64_t y0 = g.out_y + by * gpu::kTileH;
        for (int tid = 0; tid < gpu::kBlockThreads; ++tid) {
          gpu::sobel_load<K, T, IC, C>(p, p.table, in.data, in.row_pitch, g, x0, y0, tid, tile);
        }
        for (int ty = 0; ty < gpu::kThreadsY; ++ty) {
          for (int tx = 0; tx < gpu::kTileW; ++tx) {
            gpu::sobel_store<C, U8>(tile, out.data, out.row_pitch, g, x0, y0, tx, ty);
          }
        }
      }
    }
  }
}

struct SobelCase {
  std::vector<Op> chain;  // a colour op (or none) and a Sobel
  int in_channels;
  DataType in_dtype;
  void (*emulate)(const PointwiseParams&, const ImageView&, ops::Window, const ImageView&,
                  ops::Window, ops::ImageExtent, int64_t);
};

PointwiseParams params_of(const std::vector<Op>& chain) {
  if (chain.size() == 1) return ops::detail::make_pointwise(Pointwise::none);
  const Op& op = chain[0];
  Pointwise k = op.kind == OpKind::grey              ? Pointwise::grey
                : op.kind == OpKind::optical_density ? Pointwise::od
                                                     : Pointwise::hed;
  return ops::detail::make_pointwise(k, op.io, op.stains);
}

std::vector<SobelCase> sobel_cases() {
  using P = Pointwise;
  const Op sobel{OpKind::sobel}, sobel_u8{OpKind::sobel_u8};
  const Op grey{OpKind::grey}, od{OpKind::optical_density, 240.0f}, hed{OpKind::hed};
  const DataType u8 = DataType::uint8, f32 = DataType::float32;
  return {
      {{sobel}, 1, u8, emulate_sobel<P::none, uint8_t, 1, 1, false>},
      {{sobel}, 2, u8, emulate_sobel<P::none, uint8_t, 2, 2, false>},
      {{sobel}, 3, u8, emulate_sobel<P::none, uint8_t, 3, 3, false>},
      {{sobel_u8}, 3, u8, emulate_sobel<P::none, uint8_t, 3, 3, true>},
      {{sobel}, 4, u8, emulate_sobel<P::none, uint8_t, 4, 4, false>},
      {{sobel}, 1, f32, emulate_sobel<P::none, float, 1, 1, false>},
      {{sobel}, 3, f32, emulate_sobel<P::none, float, 3, 3, false>},
      {{sobel_u8}, 4, f32, emulate_sobel<P::none, float, 4, 4, true>},
      {{grey, sobel}, 3, u8, emulate_sobel<P::grey, uint8_t, 3, 1, false>},
      {{grey, sobel_u8}, 3, f32, emulate_sobel<P::grey, float, 3, 1, true>},
      {{od, sobel}, 3, u8, emulate_sobel<P::od, uint8_t, 3, 3, false>},
      {{od, sobel}, 1, u8, emulate_sobel<P::od, uint8_t, 1, 1, false>},
      {{hed, sobel}, 3, u8, emulate_sobel<P::hed, uint8_t, 3, 3, false>},
      {{hed, sobel_u8}, 3, u8, emulate_sobel<P::hed, uint8_t, 3, 3, true>},
  };
}

TEST(OpsGpuEmulation, SobelKernelThreadsTiledEqualTheCpuWhole) {
  const int64_t W = 503, H = 301;
  for (const SobelCase& c : sobel_cases()) {
    Image in = random_image(W, H, c.in_channels, c.in_dtype, 5u + c.in_channels, -0.5f, 1.5f);
    Image cpu = apply_whole(c.chain, in);
    PointwiseParams p = params_of(c.chain);
    for (int64_t tile : {7, 33, 64, 300, 503}) {
      for (int64_t grid_y : {int64_t{1}, int64_t{2}, int64_t{65535}}) {
        // Output tiles written into one pitched image (views with row padding).
        Image padded = Image::allocate(W + 5, H, cpu.channels(), cpu.dtype());
        ImageView out_all = padded.view().crop(3, 0, W, H);
        for (int64_t y = 0; y < H; y += tile) {
          for (int64_t x = 0; x < W; x += tile) {
            int64_t w = std::min(tile, W - x), h = std::min(tile, H - y);
            int64_t x0 = std::max<int64_t>(0, x - 1), y0 = std::max<int64_t>(0, y - 1);
            int64_t x1 = std::min(W, x + w + 1), y1 = std::min(H, y + h + 1);
            c.emulate(p, in.view().crop(x0, y0, x1 - x0, y1 - y0), {x0, y0},
                      out_all.crop(x, y, w, h), {x, y}, {W, H}, grid_y);
          }
        }
        Image got = Image::allocate(W, H, cpu.channels(), cpu.dtype());
        for (int64_t y = 0; y < H; ++y) {
          std::memcpy(got.view().row(y), out_all.row(y), out_all.row_bytes());
        }
        std::string what = ops::to_string(c.chain[0]) + (c.chain.size() > 1 ? "," : "") +
                           (c.chain.size() > 1 ? ops::to_string(c.chain[1]) : "") + " on " +
                           std::to_string(c.in_channels) + "-channel " +
                           std::string(to_string(c.in_dtype)) + ", tile " + std::to_string(tile) +
                           ", grid.y " + std::to_string(grid_y);
        ASSERT_TRUE(same_bytes(cpu, got)) << what;
      }
    }
  }
}

TEST(OpsGpuEmulation, PointwiseAndDownsampleThreadsEqualTheCpu) {
  const int64_t W = 301, H = 77;
  Image in = random_image(W, H, 3, DataType::uint8, 77);
  struct Case {
    Op op;
    Pointwise kind;
    void (*at)(const PointwiseParams&, const float*, const std::byte*, size_t, std::byte*, size_t,
               int64_t, int64_t);
  };
  const Case cases[] = {
      {{OpKind::grey}, Pointwise::grey, gpu::pointwise_at<Pointwise::grey, uint8_t, 3, 1>},
      {{OpKind::optical_density, 240.0f},
       Pointwise::od,
       gpu::pointwise_at<Pointwise::od, uint8_t, 3, 3>},
      {{OpKind::hed}, Pointwise::hed, gpu::pointwise_at<Pointwise::hed, uint8_t, 3, 3>},
      {macenko_op(), Pointwise::macenko, gpu::pointwise_at<Pointwise::macenko, uint8_t, 3, 3>},
  };
  for (const Case& c : cases) {
    Image cpu = apply_whole({c.op}, in);
    Image got = Image::allocate(W, H, cpu.channels(), cpu.dtype());
    PointwiseParams p = ops::detail::make_pointwise(c.kind, c.op.io, c.op.stains);
    for (int64_t y = 0; y < H; ++y) {
      for (int64_t x = 0; x < W; ++x) {
        c.at(p, p.table, in.data(), in.view().row_pitch, got.data(), got.view().row_pitch, x, y);
      }
    }
    EXPECT_TRUE(same_bytes(cpu, got)) << ops::to_string(c.op);
  }
  for (DataType dt : {DataType::uint8, DataType::float32}) {
    for (int ch : {1, 3, 4}) {
      Image src = random_image(W, H, ch, dt, 9u + ch, -2.0f, 9.0f);
      Image cpu = Image::allocate(W / 2, H / 2, ch, dt);
      ops::downsample2(src.view(), cpu.view());
      Image got = Image::allocate(W / 2, H / 2, ch, dt);
      for (int64_t y = 0; y < H / 2; ++y) {
        for (uint32_t i = 0; i < static_cast<uint32_t>(W / 2 * ch); ++i) {
          if (dt == DataType::uint8) {
            gpu::downsample_at<uint8_t>(src.data(), src.view().row_pitch, got.data(),
                                        got.view().row_pitch, i, y, ch);
          } else {
            gpu::downsample_at<float>(src.data(), src.view().row_pitch, got.data(),
                                      got.view().row_pitch, i, y, ch);
          }
        }
      }
      EXPECT_TRUE(same_bytes(cpu, got)) << to_string(dt) << " x" << ch;
    }
  }
}

}  // namespace
}  // namespace slidestream::test
