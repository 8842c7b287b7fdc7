// Our ArrayReader reads arrays that zarr-python 3 and tensorstore wrote in the layouts we support
// (v2 planar with either key separator, v3 planar and transposed, sharded, each compressor), and
// the (y, x, c) arrays they write for an (H, W, 3) image (the seed's own files), v2 and v3.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "slidestream/zarr.hpp"
#include "support/test_support.hpp"

namespace slidestream::zarr {
namespace {

DataType dtype_of(const std::string& name) {
  if (name == "uint8") return DataType::uint8;
  if (name == "uint16") return DataType::uint16;
  if (name == "float32") return DataType::float32;
  ADD_FAILURE() << "unexpected dtype " << name;
  return DataType::uint8;
}

TEST(ZarrPeers, ReadsWhatZarrPythonAndTensorstoreWrote) {
  auto dir = test::scratch_dir("zarr_peers");
  std::string output;
  ASSERT_EQ(test::run_python("zarr_write_peers.py", {dir.string()}, &output), 0) << output;
  auto manifest = nlohmann::json::parse(std::ifstream(dir / "manifest.json"));
  ASSERT_GE(manifest.size(), 12u);
  for (const auto& e : manifest) {
    SCOPED_TRACE(e["name"].get<std::string>());
    const int64_t h = e["height"], w = e["width"];
    const int c = e["channels"];
    const DataType t = dtype_of(e["dtype"]);
    std::ifstream raw(e["raw"].get<std::string>(), std::ios::binary);
    std::vector<char> expected((std::istreambuf_iterator<char>(raw)), {});
    ASSERT_EQ(expected.size(), static_cast<size_t>(h * w * c) * size_of(t));

    auto reader = ArrayReader::open(e["path"].get<std::string>());
    EXPECT_EQ(reader.info().spec.height, h);
    EXPECT_EQ(reader.info().spec.width, w);
    EXPECT_EQ(reader.info().spec.channels, c);
    EXPECT_EQ(reader.info().spec.dtype, t);
    if (c > 1) {
      EXPECT_EQ(to_string(reader.info().spec.layout), e["layout"].get<std::string>());
    }
    Image img = reader.read({.threads = 2});
    ASSERT_EQ(img.size_bytes(), expected.size());
    EXPECT_EQ(std::memcmp(img.data(), expected.data(), expected.size()), 0);
  }
}

}  // namespace
}  // namespace slidestream::zarr
