// Every op against an independent implementation on real slide pixels (CMU-1-Small-Region, read
// by tifffile in tests/python/ops_reference.py): scikit-image's sobel (per channel), rgb2gray and
// rgb2hed, the optical-density formula in float64, and the 2 × 2 mean as numpy computes libvips'
// rule and as `vips tiffsave --pyramid` itself writes it.
//
// Tolerances: our kernels compute in float32, the references in float64, so results agree to a
// few float32 ulps of the values involved: 1e-6 absolute on [0, 1] data (sobel, grey), scaled by
// the largest magnitude for HED (up to ~2) and optical density (up to ln 255 ≈ 5.5).
#include <gtest/gtest.h>

#include <sstream>

#include "support/test_support.hpp"
#include "test_ops_util.hpp"

namespace slidestream::test {
namespace {

std::vector<ops::Op> parse_chain(const std::string& text) {
  std::vector<ops::Op> chain;
  std::stringstream s(text);
  std::string name;
  while (std::getline(s, name, ',')) chain.push_back(ops::parse_op(name));
  return chain;
}

struct Region {
  std::string name;
  int64_t x, y, w, h;
};

// A tissue region with sizes that divide nothing, and the slide's top-left corner (background).
const Region kRegions[] = {{"tissue", 800, 1200, 503, 301}, {"corner", 0, 0, 257, 129}};

class OpsReference : public ::testing::Test {
 protected:
  // Each test in its own scratch folder: ctest runs tests as parallel processes.
  void SetUp() override {
    dir_ = new std::filesystem::path(
        scratch_dir(std::string("ops_reference.") +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    for (const Region& r : kRegions) {
      std::string out;
      auto path = *dir_ / (r.name + ".raw");
      int rc = run_python(
          "ops_reference.py",
          {"region", (shared_testdata() / "cmu-1-small-region.svs").string(), std::to_string(r.x),
           std::to_string(r.y), std::to_string(r.w), std::to_string(r.h), path.string()},
          &out);
      ASSERT_EQ(rc, 0) << out;
    }
  }
  void TearDown() override {
    delete dir_;
    dir_ = nullptr;
  }

  static Image region(const Region& r) {
    return image_from_file(*dir_ / (r.name + ".raw"), r.w, r.h, 3, DataType::uint8);
  }

  // scikit-image's float64 result of `chain` on `in`.
  static std::vector<double> reference(const std::string& chain, const Image& in,
                                       const std::string& tag) {
    auto in_path = *dir_ / (tag + ".in.raw");
    auto out_path = *dir_ / (tag + ".ref.raw");
    write_image(in, in_path);
    std::string out;
    int rc = run_python(
        "ops_reference.py",
        {"apply", chain, in_path.string(), std::to_string(in.height()), std::to_string(in.width()),
         std::to_string(in.channels()), std::string(to_string(in.dtype())), out_path.string()},
        &out);
    EXPECT_EQ(rc, 0) << out;
    return doubles_from_file(out_path);
  }

  static void expect_close(const Image& ours, const std::vector<double>& ref, double tolerance,
                           const std::string& what) {
    size_t n = static_cast<size_t>(ours.width() * ours.height() * ours.channels());
    ASSERT_EQ(ref.size(), n) << what;
    double worst = 0;
    size_t worst_at = 0;
    for (size_t i = 0; i < n; ++i) {
      double e = std::abs(sample_as_double(ours, i) - ref[i]);
      if (!(e <= worst)) {
        worst = e;
        worst_at = i;
      }
    }
    EXPECT_LE(worst, tolerance) << what << ": worst at sample " << worst_at << " ours "
                                << sample_as_double(ours, worst_at) << " reference "
                                << ref[worst_at];
    std::cout << "[ info ] " << what << ": max |ours - reference| = " << worst << "\n";
  }

  static std::filesystem::path* dir_;
};
std::filesystem::path* OpsReference::dir_ = nullptr;

struct ChainCase {
  const char* chain;
  double tolerance;
};

TEST_F(OpsReference, ColourOpsAndSobelOnSlidePixelsMatchScikitImage) {
  const ChainCase cases[] = {
      {"sobel", 1e-6},  {"grey", 1e-6},      {"grey,sobel", 1e-6},
      {"hed", 2e-6},    {"hed,sobel", 2e-6}, {"od", 6e-6},
      {"od:240", 6e-6}, {"od,sobel", 6e-6},  {"od:240,sobel", 6e-6},
  };
  for (const Region& r : kRegions) {
    Image in = region(r);
    for (const ChainCase& c : cases) {
      std::vector<ops::Op> chain = parse_chain(c.chain);
      Image ours = apply_whole(chain, in);
      std::string tag = r.name + "." + c.chain;
      expect_close(ours, reference(c.chain, in, tag), c.tolerance, tag);
    }
  }
}

TEST_F(OpsReference, SobelOnFloatInputMatchesScikitImage) {
  // Float input is used as it is (no / 255): 1, 2 and 4 channels, odd sizes.
  const int channels[] = {1, 2, 4};
  for (int c : channels) {
    Image in = random_image(131, 67, c, DataType::float32, 7u + c);
    Image ours = apply_whole({ops::parse_op("sobel")}, in);
    std::string tag = "float" + std::to_string(c);
    expect_close(ours, reference("sobel", in, tag), 1e-6, tag);
  }
}

TEST_F(OpsReference, SobelU8IsTheRoundedScaledMagnitude) {
  Image in = region(kRegions[0]);
  Image ours = apply_whole({ops::parse_op("sobel-u8")}, in);
  std::vector<double> ref = reference("sobel", in, "sobel-u8");
  ASSERT_EQ(ref.size(), static_cast<size_t>(in.width() * in.height() * 3));
  int64_t off_by_one = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    double scaled = std::clamp(ref[i], 0.0, 1.0) * 255.0;
    double expected = std::nearbyint(scaled);
    double got = sample_as_double(ours, i);
    if (got == expected) continue;
    // Only at a .5 boundary: uint8 input makes exact ties (e.g. 255 * v = 0.5 when the two
    // gradients are 2/255 each), which float64 rounds to even and float32 lands either side of.
    ASSERT_LE(std::abs(scaled - std::floor(scaled) - 0.5), 1e-4) << "sample " << i;
    ASSERT_EQ(std::abs(got - expected), 1.0) << "sample " << i;
    ++off_by_one;
  }
  std::cout << "[ info ] " << off_by_one << " of " << ref.size() << " samples at .5 ties\n";
}

TEST_F(OpsReference, Downsample2MatchesLibvipsPyramidAndNumpy) {
  for (const Region& r : kRegions) {
    Image in = region(r);
    Image ours = Image::allocate(in.width() / 2, in.height() / 2, 3, DataType::uint8);
    ops::downsample2(in.view(), ours.view());

    auto in_path = *dir_ / (r.name + ".ds.in.raw");
    write_image(in, in_path);
    auto numpy_path = *dir_ / (r.name + ".ds.numpy.raw");
    std::string out;
    ASSERT_EQ(run_python("ops_reference.py",
                         {"downsample", in_path.string(), std::to_string(in.height()),
                          std::to_string(in.width()), "3", "uint8", numpy_path.string()},
                         &out),
              0)
        << out;
    EXPECT_TRUE(same_bytes(
        ours, image_from_file(numpy_path, ours.width(), ours.height(), 3, DataType::uint8)))
        << r.name << " vs numpy";

    auto vips_path = *dir_ / (r.name + ".ds.vips.raw");
    ASSERT_EQ(run_python("ops_reference.py",
                         {"vips-level1", in_path.string(), std::to_string(in.height()),
                          std::to_string(in.width()), vips_path.string()},
                         &out),
              0)
        << out;
    std::stringstream shape(out.substr(out.find_first_of("0123456789")));
    int64_t vh = 0, vw = 0;
    shape >> vh >> vw;
    ASSERT_EQ(vh, ours.height()) << out;
    ASSERT_EQ(vw, ours.width()) << out;
    EXPECT_TRUE(same_bytes(ours, image_from_file(vips_path, vw, vh, 3, DataType::uint8)))
        << r.name << " vs vips tiffsave --pyramid";
  }
}

TEST_F(OpsReference, Downsample2OnFloatIsTheMean) {
  Image in = random_image(101, 77, 2, DataType::float32, 3u, -2.0f, 5.0f);
  Image ours = Image::allocate(50, 38, 2, DataType::float32);
  ops::downsample2(in.view(), ours.view());
  auto in_path = *dir_ / "ds_float.in.raw";
  auto ref_path = *dir_ / "ds_float.ref.raw";
  write_image(in, in_path);
  std::string out;
  ASSERT_EQ(
      run_python("ops_reference.py",
                 {"downsample", in_path.string(), "77", "101", "2", "float32", ref_path.string()},
                 &out),
      0)
      << out;
  Image ref = image_from_file(ref_path, 50, 38, 2, DataType::float32);
  for (size_t i = 0; i < 50 * 38 * 2; ++i) {
    // numpy rounds the float64 mean once; ours rounds each float32 sum: within 2 ulps of 5.
    ASSERT_NEAR(sample_as_double(ours, i), sample_as_double(ref, i), 2e-6) << i;
  }
}

TEST_F(OpsReference, MacenkoFitAndNormalisationMatchTorchstain) {
  // The fit runs in double like torchstain's numpy normaliser (our Jacobi eigen-solver vs LAPACK:
  // agreement to ~1e-12); the normalised image is float32 per pixel, truncated to uint8 as
  // torchstain does, so a sample may land one below or above where float64 is within float32
  // rounding of an integer.
  for (const Region& r : {kRegions[0], Region{"large", 300, 700, 1200, 900}}) {
    Image in = r.name == "large" ? Image() : region(r);
    if (!in) {
      std::string out;
      auto path = *dir_ / (r.name + ".raw");
      ASSERT_EQ(run_python("ops_reference.py",
                           {"region", (shared_testdata() / "cmu-1-small-region.svs").string(),
                            std::to_string(r.x), std::to_string(r.y), std::to_string(r.w),
                            std::to_string(r.h), path.string()},
                           &out),
                0)
          << out;
      in = image_from_file(path, r.w, r.h, 3, DataType::uint8);
    }
    auto in_path = *dir_ / (r.name + ".macenko.in.raw");
    auto ref_path = *dir_ / (r.name + ".macenko.ref.raw");
    write_image(in, in_path);
    std::string out;
    ASSERT_EQ(run_python("ops_reference.py",
                         {"macenko", in_path.string(), std::to_string(r.h), std::to_string(r.w),
                          ref_path.string()},
                         &out),
              0)
        << out;
    std::stringstream numbers(out);
    double he[6], max_c[2];
    for (double& v : he) numbers >> v;
    for (double& v : max_c) numbers >> v;
    ASSERT_FALSE(numbers.fail()) << out;

    ops::Op op = ops::parse_op("macenko");
    op.stains = ops::fit_macenko(in.view());
    for (int i = 0; i < 6; ++i) EXPECT_NEAR(op.stains.he[i / 2][i % 2], he[i], 1e-9) << i;
    for (int i = 0; i < 2; ++i) EXPECT_NEAR(op.stains.max_c[i], max_c[i], 1e-9) << i;

    Image ours = apply_whole({op}, in);
    Image ref = image_from_file(ref_path, r.w, r.h, 3, DataType::uint8);
    size_t n = static_cast<size_t>(r.w * r.h * 3);
    size_t off = 0;
    for (size_t i = 0; i < n; ++i) {
      double d = std::abs(sample_as_double(ours, i) - sample_as_double(ref, i));
      ASSERT_LE(d, 1.0) << r.name << " sample " << i;
      off += d != 0;
    }
    EXPECT_LT(off, n / 1000) << r.name;
    std::cout << "[ info ] " << r.name << " macenko: " << off << " of " << n
              << " samples off by one\n";
  }
}

}  // namespace
}  // namespace slidestream::test
