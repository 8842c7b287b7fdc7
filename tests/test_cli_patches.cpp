// `slidestream patches`: the CSV holds exactly the library's patch_grid over the tissue mask, and
// the Zarr output, read back by zarr-python, holds exactly read_regions_at_mpp of those corners,
// with the corners in its attributes. Bad outputs are refused with errors that say why.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "slidestream/patches.hpp"
#include "slidestream/regions.hpp"
#include "slidestream/slide.hpp"
#include "support/test_support.hpp"

namespace slidestream::test {
namespace {

std::string patches_cmd(const std::filesystem::path& slide, const std::string& args) {
  return "'" + cli_path() + "' patches '" + slide.string() + "' " + args;
}

std::vector<RegionLocation> expected_grid(const Slide& slide) {
  const TissueMask mask = tissue_mask(slide);
  return patch_grid(slide, {.size = 256, .mpp = 0.5, .mask = &mask, .min_tissue = 0.5});
}

TEST(CliPatches, CsvHoldsTheTissueGrid) {
  const auto dir = scratch_dir("CliPatches.Csv");
  const auto slide_path = shared_testdata() / "cmu-1-small-region.svs";
  const auto csv = dir / "coords.csv";
  std::string out;
  ASSERT_EQ(run_command(patches_cmd(slide_path,
                                    "--size 256 --mpp 0.5 --tissue --out '" + csv.string() + "'"),
                        &out),
            0)
      << out;
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "x,y");
  std::vector<RegionLocation> got;
  while (std::getline(in, line)) {
    RegionLocation p;
    char comma = 0;
    std::istringstream(line) >> p.x >> comma >> p.y;
    got.push_back(p);
  }
  const std::vector<RegionLocation> expected = expected_grid(Slide::open(slide_path));
  EXPECT_FALSE(expected.empty());
  EXPECT_TRUE(got == expected) << got.size() << " vs " << expected.size();
  // --mask-out: the tissue mask as a Zarr array zarr-python reads.
  const auto mask_path = dir / "mask.zarr";
  ASSERT_EQ(run_command(patches_cmd(slide_path, "--tissue --out '" + (dir / "c2.csv").string() +
                                                    "' --mask-out '" + mask_path.string() + "'"),
                        &out),
            0)
      << out;
  ASSERT_EQ(run_python("patches_mask_dump.py", {mask_path.string()}, &out), 0) << out;
  const TissueMask mask = tissue_mask(Slide::open(slide_path));
  int64_t h = 0, w = 0, tissue = 0;
  std::istringstream(out) >> h >> w >> tissue;
  EXPECT_EQ(h, mask.height);
  EXPECT_EQ(w, mask.width);
  int64_t expected_tissue = 0;
  for (uint8_t v : mask.pixels) expected_tissue += v;
  EXPECT_EQ(tissue, expected_tissue);
  // An existing output stays unless --overwrite.
  EXPECT_NE(run_command(patches_cmd(slide_path, "--out '" + csv.string() + "'"), &out), 0);
  EXPECT_NE(out.find("exists"), std::string::npos) << out;
  EXPECT_NE(run_command(patches_cmd(slide_path, "--out '" + (dir / "x.txt").string() + "'"), &out),
            0);
  EXPECT_NE(out.find(".csv"), std::string::npos) << out;
}

TEST(CliPatches, ZarrHoldsThePatchesZarrPythonReads) {
  const auto dir = scratch_dir("CliPatches.Zarr");
  const auto slide_path = shared_testdata() / "cmu-1-small-region.svs";
  const auto zarr = dir / "patches.zarr";
  std::string out;
  ASSERT_EQ(run_command(patches_cmd(slide_path, "--size 256 --mpp 0.5 --tissue --batch 7 --out '" +
                                                    zarr.string() + "'"),
                        &out),
            0)
      << out;
  const auto raw = dir / "patches.raw";
  ASSERT_EQ(run_python("patches_zarr_dump.py", {zarr.string(), raw.string()}, &out), 0) << out;
  int64_t count = 0, size = 0, x = 0, y = 0;
  std::istringstream(out) >> count >> size >> x >> y;
  Slide slide = Slide::open(slide_path);
  const std::vector<RegionLocation> grid = expected_grid(slide);
  ASSERT_EQ(count, static_cast<int64_t>(grid.size()));
  EXPECT_EQ(size, 256);
  EXPECT_EQ(x, grid.front().x);
  EXPECT_EQ(y, grid.front().y);
  const Image expected = read_regions_at_mpp(slide, 0.5, grid, 256, 256);
  std::ifstream in(raw, std::ios::binary);
  std::vector<char> bytes(std::istreambuf_iterator<char>(in), {});
  ASSERT_EQ(bytes.size(), expected.size_bytes());
  EXPECT_EQ(std::memcmp(bytes.data(), expected.data(), bytes.size()), 0);
}

}  // namespace
}  // namespace slidestream::test
