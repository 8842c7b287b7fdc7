// The pipeline on the CPU, on real slides: tiled output equals global output bit for bit for any
// tile size (sizes that divide nothing, 1-2 px short of a multiple, smaller than the chain's halo),
// the written OME-Zarr equals process_to_image (read back with our reader and with zarr-python,
// which also checks the pixels against scikit-image), and errors propagate with no output that
// looks complete.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "slidestream/error.hpp"
#include "slidestream/pipeline.hpp"
#include "slidestream/slide.hpp"
#include "support/test_support.hpp"

namespace slidestream {
namespace {

namespace fs = std::filesystem;
using pipeline::Mode;

std::vector<ops::Op> chain_of(std::initializer_list<const char*> names) {
  std::vector<ops::Op> chain;
  for (const char* n : names) chain.push_back(ops::parse_op(n));
  return chain;
}

std::string chain_name(const std::vector<ops::Op>& chain) {
  std::string s;
  for (const auto& op : chain) s += (s.empty() ? "" : "+") + ops::to_string(op);
  return s;
}

// Byte equality of two host images; on a difference, says where the first one is.
::testing::AssertionResult same_pixels(const Image& a, const Image& b) {
  if (a.width() != b.width() || a.height() != b.height() || a.channels() != b.channels() ||
      a.dtype() != b.dtype()) {
    return ::testing::AssertionFailure() << "shapes differ";
  }
  const ImageView& va = a.view();
  const ImageView& vb = b.view();
  for (int64_t y = 0; y < a.height(); ++y) {
    if (std::memcmp(va.row(y), vb.row(y), va.row_bytes()) != 0) {
      for (int64_t x = 0; x < a.width(); ++x) {
        size_t px = va.pixel_bytes();
        if (std::memcmp(va.row(y) + x * px, vb.row(y) + x * px, px) != 0) {
          return ::testing::AssertionFailure() << "first difference at x " << x << ", y " << y;
        }
      }
    }
  }
  return ::testing::AssertionSuccess();
}

Image run(const Slide& slide, const std::vector<ops::Op>& chain, Mode mode, int64_t tile,
          int level = 0, int threads = 2, pipeline::Summary* summary = nullptr) {
  pipeline::Options o;
  o.mode = mode;
  o.level = level;
  o.tile = tile;
  o.threads = threads;
  return pipeline::process_to_image(slide, chain, o, summary);
}

fs::path cmu() {
  return test::shared_testdata() / "cmu-1-small-region.svs";
}
fs::path boxes() {
  return test::shared_testdata() / "boxes.tiff";
}

TEST(PipelineTiledEqualsGlobal, CmuSmallRegionManyTileSizesAndChains) {
  Slide slide = Slide::open(cmu());  // 2220 x 2967, JPEG tiles of 240
  const auto chains = {chain_of({"sobel"}), chain_of({"grey", "sobel"}), chain_of({"sobel-u8"}),
                       chain_of({"hed"}), chain_of({"od", "sobel"})};
  for (const auto& chain : chains) {
    Image global = run(slide, chain, Mode::global, 0 + 512);
    // 512: the default; 240: the slide's own tiles; 1111: 2 px short of 2 × 1111 = 2222 across;
    // 1484: 1 px short of 2 × 1484 = 2968 down; 300 and 97 divide nothing.
    for (int64_t tile : {512, 240, 1111, 1484, 300, 97}) {
      pipeline::Summary summary;
      Image tiled = run(slide, chain, Mode::tiled, tile, 0, 2, &summary);
      EXPECT_TRUE(same_pixels(tiled, global)) << chain_name(chain) << " tile " << tile;
      int64_t across = (2220 + tile - 1) / tile, down = (2967 + tile - 1) / tile;
      EXPECT_EQ(summary.tiles, across * down);
    }
  }
}

TEST(PipelineTiledEqualsGlobal, TilesSmallerThanTheHaloOnEveryLevelOfBoxes) {
  Slide slide = Slide::open(boxes());  // 300 x 250 down to 37 x 31, 64 x 64 tiles
  // grey → sobel → sobel has a halo of 2: tiles of 1 and 2 px are smaller than it, so every
  // tile's window reaches across several neighbours, and at the corners across two borders.
  const auto chains = {chain_of({"grey", "sobel", "sobel"}), chain_of({"sobel"})};
  for (const auto& chain : chains) {
    for (int level = 0; level < static_cast<int>(slide.levels().size()); ++level) {
      Image global = run(slide, chain, Mode::global, 64, level);
      std::vector<int64_t> tiles = {1, 2, 3, 63, 64, 65, 299, 1000};
      if (level == 0) tiles = {2, 3, 63, 64, 65, 299, 1000};  // 1 px tiles: levels 1+ only (speed)
      for (int64_t tile : tiles) {
        Image tiled = run(slide, chain, Mode::tiled, tile, level, 3);
        EXPECT_TRUE(same_pixels(tiled, global))
            << chain_name(chain) << " level " << level << " tile " << tile;
      }
    }
  }
}

TEST(PipelineTiledEqualsGlobal, SlotAndThreadCountsDoNotChangeTheResult) {
  Slide slide = Slide::open(cmu());
  auto chain = chain_of({"grey", "sobel"});
  Image reference = run(slide, chain, Mode::global, 512);
  for (auto [slots, threads] : {std::pair{1, 1}, {2, 4}, {16, 3}}) {
    pipeline::Options o;
    o.tile = 256;
    o.slots = slots;
    o.threads = threads;
    pipeline::Summary summary;
    Image tiled = pipeline::process_to_image(slide, chain, o, &summary);
    EXPECT_TRUE(same_pixels(tiled, reference)) << slots << " slots, " << threads << " threads";
    EXPECT_EQ(summary.slots, slots);
  }
}

TEST(PipelineTiledEqualsGlobal, MacenkoFittedOnceForTheWholeSlide) {
  Slide slide = Slide::open(cmu());
  auto chain = pipeline::fit_stains(slide, chain_of({"macenko", "grey", "sobel"}));
  ops::StainFit reference;
  EXPECT_NE(chain[0].stains.he[0][0], reference.he[0][0]) << "the slide's own fit was not used";
  EXPECT_EQ(chain[1].kind, ops::OpKind::grey);
  Image global = run(slide, chain, Mode::global, 512);
  for (int64_t tile : {512, 333}) {
    EXPECT_TRUE(same_pixels(run(slide, chain, Mode::tiled, tile), global)) << tile;
  }
  auto plain = chain_of({"sobel"});
  EXPECT_EQ(pipeline::fit_stains(slide, plain).size(), 1u);
}

TEST(PipelineTiledEqualsGlobal, GeneratedPyramidsOfEveryLayout) {
  // Independent writers' pyramids (libvips, tifffile): 1003 x 751 (a size no tile divides),
  // uncompressed, JPEG, planar, big-endian, 1-channel uint8 and float32, each level.
  struct Case {
    const char* name;
    std::vector<ops::Op> chain;
  };
  const std::vector<Case> cases = {
      {"vips-none-256.tif", chain_of({"grey", "sobel"})},
      {"vips-jpeg90-256.tif", chain_of({"sobel-u8"})},
      {"tf-planar-deflate-256.tif", chain_of({"hed"})},
      {"tf-bigendian-rgb-256.tif", chain_of({"od", "sobel"})},
      {"vips-grey-lzw-128.tif", chain_of({"sobel", "sobel"})},
      {"tf-float32-none-256.tif", chain_of({"sobel"})},
  };
  for (const auto& c : cases) {
    Slide slide = Slide::open(test::fixture(c.name));
    for (int level = 0; level < static_cast<int>(slide.levels().size()); ++level) {
      Image global = run(slide, c.chain, Mode::global, 512, level);
      for (int64_t tile : {256, 255, 100, 7}) {
        Image tiled = run(slide, c.chain, Mode::tiled, tile, level);
        EXPECT_TRUE(same_pixels(tiled, global))
            << c.name << " " << chain_name(c.chain) << " level " << level << " tile " << tile;
      }
    }
  }
}

Image read_zarr(const fs::path& array) {
  return zarr::ArrayReader::open(array).read();
}

TEST(PipelineZarr, WrittenLevelsEqualProcessToImageAndTheReferences) {
  Slide slide = Slide::open(cmu());
  auto chain = chain_of({"sobel"});
  Image expected = run(slide, chain, Mode::global, 512);
  for (auto format : {zarr::Format::v3, zarr::Format::v2}) {
    for (Mode mode : {Mode::tiled, Mode::global}) {
      auto out = test::scratch_dir("pipeline_zarr") / "out.zarr";
      pipeline::Options o;
      o.mode = mode;
      o.tile = 256;
      o.threads = 2;
      o.format = format;
      o.pyramid = true;
      o.codec = format == zarr::Format::v3 ? zarr::Codec::zstd : zarr::Codec::none;
      int64_t progress_calls = 0;
      o.on_progress = [&](const pipeline::Progress& p) {
        ++progress_calls;
        EXPECT_LE(p.tiles_done, p.tiles_total);
      };
      pipeline::Summary summary = pipeline::process(slide, chain, out, o);
      std::string what = std::string(mode == Mode::tiled ? "tiled" : "global") + " v" +
                         std::to_string(static_cast<int>(format));
      EXPECT_GT(progress_calls, 0) << what;
      EXPECT_EQ(summary.levels, 5) << what;  // 2220 x 2967 → ... → 138 x 185 with tile 256
      EXPECT_GT(summary.bytes_written, 0u) << what;
      EXPECT_TRUE(same_pixels(read_zarr(out / "0"), expected)) << what;
      std::string output;
      int status = test::run_python(
          "pipeline_check_zarr.py",
          {out.string(), cmu().string(), "--op", "sobel", "--expect-levels", "5"}, &output);
      EXPECT_EQ(status, 0) << what << ": " << output;
    }
  }
}

TEST(PipelineZarr, TiledPyramidEqualsGlobalPyramidOnEveryLevel) {
  Slide slide = Slide::open(cmu());
  auto chain = chain_of({"grey", "sobel-u8"});
  auto dir = test::scratch_dir("pipeline_pyramid");
  for (Mode mode : {Mode::tiled, Mode::global}) {
    pipeline::Options o;
    o.mode = mode;
    o.tile = 128;  // 2220 x 2967 → levels down to 138 x 185 → 69 x 92 (7 levels)
    o.pyramid = true;
    o.threads = 2;
    o.slots = 3;
    pipeline::process(slide, chain, dir / (mode == Mode::tiled ? "t.zarr" : "g.zarr"), o);
  }
  for (int level = 0; level < 6; ++level) {
    auto name = std::to_string(level);
    ASSERT_TRUE(fs::exists(dir / "t.zarr" / name)) << level;
    EXPECT_TRUE(same_pixels(read_zarr(dir / "t.zarr" / name), read_zarr(dir / "g.zarr" / name)))
        << "level " << level;
  }
}

TEST(PipelineZarr, ShardedOutputEqualsUnsharded) {
  Slide slide = Slide::open(cmu());
  auto chain = chain_of({"sobel"});
  auto dir = test::scratch_dir("pipeline_shard");
  pipeline::Options o;
  o.tile = 256;
  o.shard = 1024;
  o.threads = 2;
  o.pyramid = true;
  pipeline::process(slide, chain, dir / "s.zarr", o);
  Image expected = run(slide, chain, Mode::global, 512);
  EXPECT_TRUE(same_pixels(read_zarr(dir / "s.zarr" / "0"), expected));
  std::string output;
  EXPECT_EQ(test::run_python("pipeline_check_zarr.py",
                             {(dir / "s.zarr").string(), cmu().string(), "--op", "sobel"}, &output),
            0)
      << output;
}

// A copy of the slide with one tile's JPEG data overwritten, so that decoding it fails.
fs::path corrupt_copy(const fs::path& dir, int64_t tx, int64_t ty) {
  fs::path copy = dir / "corrupt.svs";
  fs::copy_file(cmu(), copy, fs::copy_options::overwrite_existing);
  TileLocation where = Slide::open(cmu()).tile_location(0, tx, ty);
  std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(where.offset));
  std::vector<char> junk(std::min<uint64_t>(where.byte_count, 64), '\x5a');
  f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  return copy;
}

void expect_no_complete_output(const fs::path& out) {
  // Metadata is written last: a failed run leaves no group or array metadata for a reader.
  for (const char* name : {"zarr.json", ".zattrs", ".zgroup", "0/zarr.json", "0/.zarray"}) {
    EXPECT_FALSE(fs::exists(out / name)) << out / name;
  }
}

TEST(PipelineErrors, CorruptTileFailsTheRunWithContextAndNoCompleteOutput) {
  auto dir = test::scratch_dir("pipeline_corrupt");
  fs::path slide_path = corrupt_copy(dir, 4, 6);
  Slide slide = Slide::open(slide_path);
  for (Mode mode : {Mode::tiled, Mode::global}) {
    for (auto format : {zarr::Format::v3, zarr::Format::v2}) {
      fs::path out = dir / "out.zarr";
      fs::remove_all(out);
      pipeline::Options o;
      o.mode = mode;
      o.tile = 256;
      o.threads = 2;
      o.format = format;
      o.pyramid = true;
      try {
        pipeline::process(slide, chain_of({"sobel"}), out, o);
        ADD_FAILURE() << "a corrupt tile did not fail the run";
      } catch (const Error& e) {
        std::string what = e.what();
        EXPECT_NE(what.find("corrupt.svs"), std::string::npos) << what;
        EXPECT_EQ(e.context().level, 0) << what;
        EXPECT_NE(e.kind(), ErrorKind::cancelled) << what;
      }
      expect_no_complete_output(out);
    }
  }
}

TEST(PipelineErrors, UnreadableSlideAndCliReportOneLineAndExitNonZero) {
  auto dir = test::scratch_dir("pipeline_cli_errors");
  std::string output;
  int status = test::run_command(test::cli_path() + " process '" +
                                     (test::shared_testdata() / "unreadable.svs").string() + "' '" +
                                     (dir / "u.zarr").string() + "' --op sobel",
                                 &output);
  EXPECT_NE(status, 0) << output;
  EXPECT_NE(output.find("unreadable.svs"), std::string::npos) << output;
  expect_no_complete_output(dir / "u.zarr");

  // An existing output is refused without --overwrite, and kept.
  fs::create_directories(dir / "exists.zarr");
  std::ofstream(dir / "exists.zarr" / "keep.txt") << "mine";
  status = test::run_command(test::cli_path() + " process '" + cmu().string() + "' '" +
                                 (dir / "exists.zarr").string() + "' --op sobel",
                             &output);
  EXPECT_NE(status, 0) << output;
  EXPECT_TRUE(fs::exists(dir / "exists.zarr" / "keep.txt"));

  // Without a usable GPU, --device cuda fails before anything is created on disk.
  if (!test::gpu_available()) {
    status = test::run_command(test::cli_path() + " process '" + cmu().string() + "' '" +
                                   (dir / "gpu.zarr").string() + "' --op sobel --device cuda",
                               &output);
    EXPECT_NE(status, 0) << output;
    EXPECT_NE(output.find("cuda"), std::string::npos) << output;
    EXPECT_FALSE(fs::exists(dir / "gpu.zarr"));
  }

  // An odd tile with --pyramid is refused up front.
  status = test::run_command(test::cli_path() + " process '" + cmu().string() + "' '" +
                                 (dir / "odd.zarr").string() + "' --op sobel --pyramid --tile 255",
                             &output);
  EXPECT_NE(status, 0) << output;
  EXPECT_NE(output.find("even"), std::string::npos) << output;
}

TEST(PipelineCli, ProcessWritesAVerifiedPyramidAndOneSummaryLine) {
  auto dir = test::scratch_dir("pipeline_cli");
  fs::path out = dir / "grey-sobel.zarr";
  std::string output;
  int status =
      test::run_command(test::cli_path() + " process '" + cmu().string() + "' '" + out.string() +
                            "' --op grey --op sobel --tile 256 --pyramid --threads 2 "
                            "--zarr-format 2 --codec zstd",
                        &output);
  ASSERT_EQ(status, 0) << output;
  // Not a terminal here: no progress bar, just the summary line.
  EXPECT_EQ(output.find('\r'), std::string::npos) << output;
  EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;
  EXPECT_NE(output.find("tiles in"), std::string::npos) << output;
  EXPECT_NE(output.find("peak GPU memory"), std::string::npos) << output;
  EXPECT_EQ(test::run_python("pipeline_check_zarr.py",
                             {out.string(), cmu().string(), "--op", "grey", "--op", "sobel",
                              "--expect-levels", "5"},
                             &output),
            0)
      << output;

  status = test::run_command(test::cli_path() + " process '" + cmu().string() + "' '" +
                                 (dir / "j.zarr").string() + "' --op hed --mode global --json",
                             &output);
  ASSERT_EQ(status, 0) << output;
  EXPECT_NE(output.find("\"seconds\""), std::string::npos) << output;
}

}  // namespace
}  // namespace slidestream
