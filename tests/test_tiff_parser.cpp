// The TIFF structure parser on files built byte by byte here (both byte orders, classic and
// BigTIFF, odd but legal layouts), and the metadata helpers against strings OpenSlide 3.4.1
// prints for the public test slides.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"
#include "support/test_support.hpp"
#include "tiff/metadata.hpp"

namespace fs = std::filesystem;
using slidestream::Error;
using slidestream::ErrorKind;
using slidestream::Slide;

namespace {

// ctest runs each test as its own process, in parallel: a scratch folder per test, so that one
// test's fresh folder never deletes another's files.
std::string per_test(const std::string& base) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info ? base + "_" + info->test_suite_name() + "_" + info->name() : base;
}

// Writes a one-level tiled grey uint8 TIFF: width x height in tile x tile tiles, each tile's
// pixels = tile index + row, uncompressed.
class TiffBuilder {
 public:
  TiffBuilder(bool big_endian, bool bigtiff) : be_(big_endian), big_(bigtiff) {}

  struct Tag {
    uint16_t tag, type;
    std::vector<uint64_t> values;  // integers
    std::string text;              // for ASCII
  };

  std::vector<uint8_t> build(uint32_t width, uint32_t height, uint32_t tile,
                             std::vector<Tag> extra = {}, bool loop = false) {
    std::vector<uint8_t> out;
    // Header.
    out.push_back(be_ ? 'M' : 'I');
    out.push_back(be_ ? 'M' : 'I');
    put(out, big_ ? 43 : 42, 2);
    if (big_) {
      put(out, 8, 2);
      put(out, 0, 2);
    }
    size_t first_ifd_pos = out.size();
    put(out, 0, big_ ? 8 : 4);
    // Tile data.
    uint32_t across = (width + tile - 1) / tile, down = (height + tile - 1) / tile;
    std::vector<uint64_t> offsets, counts;
    for (uint32_t t = 0; t < across * down; ++t) {
      offsets.push_back(out.size());
      counts.push_back(uint64_t{tile} * tile);
      for (uint32_t y = 0; y < tile; ++y) {
        for (uint32_t x = 0; x < tile; ++x) out.push_back(static_cast<uint8_t>(t * 16 + y));
      }
    }
    std::vector<Tag> tags = {
        {256, 4, {width}, {}},
        {257, 4, {height}, {}},
        {258, 3, {8}, {}},
        {259, 3, {1}, {}},
        {262, 3, {1}, {}},
        {277, 3, {1}, {}},
        {322, 3, {tile}, {}},
        {323, 3, {tile}, {}},
        {324, static_cast<uint16_t>(big_ ? 16 : 4), offsets, {}},
        {325, static_cast<uint16_t>(big_ ? 16 : 4), counts, {}},
    };
    tags.insert(tags.end(), extra.begin(), extra.end());
    // Out-of-line values first, then the IFD.
    const size_t inline_size = big_ ? 8 : 4;
    std::vector<std::vector<uint8_t>> values;
    std::vector<uint64_t> value_offsets;
    for (const Tag& t : tags) {
      std::vector<uint8_t> v;
      if (t.type == 2) {
        v.assign(t.text.begin(), t.text.end());
        v.push_back(0);
      } else {
        int size = t.type == 3 ? 2 : t.type == 16 ? 8 : 4;
        for (uint64_t x : t.values) put(v, x, size);
      }
      if (v.size() > inline_size) {
        if (out.size() % 2) out.push_back(0);
        value_offsets.push_back(out.size());
        out.insert(out.end(), v.begin(), v.end());
      } else {
        value_offsets.push_back(0);
      }
      values.push_back(v);
    }
    if (out.size() % 2) out.push_back(0);
    uint64_t ifd = out.size();
    patch(out, first_ifd_pos, ifd, big_ ? 8 : 4);
    put(out, tags.size(), big_ ? 8 : 2);
    for (size_t i = 0; i < tags.size(); ++i) {
      const Tag& t = tags[i];
      put(out, t.tag, 2);
      put(out, t.type, 2);
      put(out, t.type == 2 ? values[i].size() : t.values.size(), big_ ? 8 : 4);
      if (value_offsets[i] != 0) {
        put(out, value_offsets[i], inline_size);
      } else {
        std::vector<uint8_t> v = values[i];
        v.resize(inline_size, 0);
        out.insert(out.end(), v.begin(), v.end());
      }
    }
    put(out, loop ? ifd : 0, big_ ? 8 : 4);
    return out;
  }

 private:
  void put(std::vector<uint8_t>& out, uint64_t v, int size) const {
    for (int i = 0; i < size; ++i) {
      int shift = be_ ? 8 * (size - 1 - i) : 8 * i;
      out.push_back(static_cast<uint8_t>(v >> shift));
    }
  }
  void patch(std::vector<uint8_t>& out, size_t pos, uint64_t v, int size) const {
    std::vector<uint8_t> tmp;
    put(tmp, v, size);
    std::copy(tmp.begin(), tmp.end(), out.begin() + static_cast<std::ptrdiff_t>(pos));
  }
  bool be_, big_;
};

fs::path write(const std::string& name, const std::vector<uint8_t>& bytes) {
  static const fs::path dir = slidestream::test::scratch_dir(per_test("tiff_parser"));
  fs::path p = dir / name;
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  return p;
}

TEST(TiffParser, AllByteOrdersAndBigTiffGiveTheSameModelAndPixels) {
  for (bool be : {false, true}) {
    for (bool big : {false, true}) {
      SCOPED_TRACE(std::string(be ? "MM" : "II") + (big ? " BigTIFF" : " classic"));
      auto bytes = TiffBuilder(be, big).build(40, 20, 16, {{305, 2, {}, "builder"}});
      Slide slide = Slide::open(
          write(std::string("grid") + (be ? "-be" : "-le") + (big ? "-big" : "") + ".tif", bytes));
      EXPECT_EQ(slide.format(), "generic-tiff");
      ASSERT_EQ(slide.levels().size(), 1u);
      const auto& l = slide.level(0);
      EXPECT_EQ(l.width, 40);
      EXPECT_EQ(l.height, 20);
      EXPECT_EQ(l.tiles_across, 3);
      EXPECT_EQ(l.tiles_down, 2);
      EXPECT_EQ(l.compression, slidestream::Compression::none);
      EXPECT_EQ(slide.properties().at("tiff.Software"), "builder");
      // Tile (2, 1) is tile 5: its bytes are where the builder put them, and read back as such.
      auto loc = slide.tile_location(0, 2, 1);
      EXPECT_EQ(loc.offset, (big ? 16u : 8u) + 5u * 256u);
      EXPECT_EQ(loc.byte_count, 256u);
      slidestream::Image tile = slide.read_tile(0, 2, 1);
      for (int y = 0; y < 16; ++y) {
        EXPECT_EQ(static_cast<int>(tile.data()[y * 16 + 3]), 5 * 16 + y) << "row " << y;
      }
    }
  }
}

TEST(TiffParser, UnknownFieldTypesAreIgnoredAndDuplicateTagsKeepTheFirst) {
  auto bytes = TiffBuilder(false, false)
                   .build(16, 16, 16, {{40000, 99, {1, 2, 3}, {}}, {305, 2, {}, "first"}});
  Slide slide = Slide::open(write("unknown-type.tif", bytes));
  EXPECT_EQ(slide.levels().size(), 1u);
}

TEST(TiffParser, ErrorsNameTheFileAndTheCause) {
  struct Bad {
    const char* name;
    std::vector<uint8_t> bytes;
    ErrorKind kind;
    const char* cause;
  };
  std::vector<uint8_t> not_tiff = {'G', 'I', 'F', '8', '9', 'a', 0, 0, 0, 0};
  std::vector<Bad> cases = {
      {"empty.tif", {}, ErrorKind::format, "shorter than a TIFF header"},
      {"gif.tif", not_tiff, ErrorKind::format, "not a TIFF file"},
      {"self-loop.tif", TiffBuilder(false, false).build(16, 16, 16, {}, true), ErrorKind::format,
       "IFD loop"},
      {"float64.tif", TiffBuilder(true, false).build(16, 16, 16, {{339, 3, {3}, {}}}),
       ErrorKind::unsupported, "8-bit float samples"},
      {"planar3.tif", TiffBuilder(false, true).build(16, 16, 16, {{284, 3, {3}, {}}}),
       ErrorKind::format, "PlanarConfiguration is 3"},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.name);
    fs::path p = write(c.name, c.bytes);
    try {
      Slide::open(p);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), c.kind) << e.what();
      EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
      EXPECT_NE(e.cause().find(c.cause), std::string::npos) << e.what();
    }
  }
}

// Strings OpenSlide 3.4.1 prints for the public slides (openslide-show-properties).
TEST(Metadata, NumbersAreFormattedAsOpenSlideDoes) {
  using slidestream::tiff::format_double;
  EXPECT_EQ(format_double(1.0), "1");
  EXPECT_EQ(format_double(*slidestream::tiff::parse_double("0.4990")), "0.499");
  EXPECT_EQ(format_double((300.0 / 75 + 250.0 / 62) / 2), "4.0161290322580641");
  EXPECT_EQ(format_double((300.0 / 37 + 250.0 / 31) / 2), "8.0863121185701843");
  EXPECT_EQ(format_double(static_cast<float>(28.346456692913385)), "28.346456527709961");
}

TEST(Metadata, ParseDoubleFollowsOpenSlide) {
  using slidestream::tiff::parse_double;
  EXPECT_EQ(parse_double("0,25"), 0.25);  // a comma decimal point is taken as '.'
  EXPECT_EQ(parse_double("20"), 20.0);
  EXPECT_FALSE(parse_double("20x"));
  EXPECT_FALSE(parse_double(""));
  EXPECT_FALSE(parse_double("inf"));
  EXPECT_FALSE(parse_double("1e999"));
}

TEST(Metadata, AperioDescriptionFields) {
  const std::string desc =
      "Aperio Image Library v11.2.1 \r\n46000x32914 [42673,5576 2220x2967] (240x240) "
      "JPEG/RGB Q=30|AppMag = 20|MPP = 0.4990|ScanScope ID = CPAPERIOCS|Flag|Empty = ";
  auto props = slidestream::tiff::aperio_properties(desc);
  EXPECT_EQ(props.at("aperio.AppMag"), "20");
  EXPECT_EQ(props.at("aperio.MPP"), "0.4990");
  EXPECT_EQ(props.at("aperio.ScanScope ID"), "CPAPERIOCS");
  EXPECT_EQ(props.at("aperio.Empty"), "");
  EXPECT_EQ(props.count("aperio.Flag"), 0u);
  EXPECT_EQ(props.size(), 4u);
  using slidestream::tiff::aperio_associated_name;
  EXPECT_EQ(aperio_associated_name("Aperio Image Library v11.2.1 \nlabel 387x463"), "label");
  EXPECT_EQ(aperio_associated_name("Aperio Image Library v11.2.1 \nmacro 1280x431"), "macro");
  EXPECT_FALSE(aperio_associated_name("Aperio Image Library v11.2.1 \r\nlabel 387x463"));
  EXPECT_FALSE(aperio_associated_name("Aperio Image Library v11.2.1"));
}

TEST(Metadata, OmeXmlUnitsAndObjective) {
  const char* xml =
      "<?xml version=\"1.0\"?><ome:OME xmlns:ome=\"http://www.openmicroscopy.org/Schemas/OME/"
      "2016-06\"><ome:Instrument><ome:Objective ID=\"Objective:0\" NominalMagnification=\"20\"/>"
      "</ome:Instrument><ome:Image ID=\"Image:0\" Name=\"a &amp; b\"><ome:Pixels "
      "PhysicalSizeX=\"0.5\" PhysicalSizeXUnit=\"mm\" PhysicalSizeY='250' "
      "PhysicalSizeYUnit=\"nm\"><ome:TiffData IFD=\"0\"/></ome:Pixels></ome:Image>"
      "<ome:Image Name=\"macro\"><ome:Pixels><ome:TiffData IFD=\"3\"/></ome:Pixels>"
      "</ome:Image></ome:OME>";
  EXPECT_TRUE(slidestream::tiff::is_ome_xml(xml));
  auto meta = slidestream::tiff::parse_ome_xml(xml);
  EXPECT_DOUBLE_EQ(*meta.mpp_x, 500.0);
  EXPECT_DOUBLE_EQ(*meta.mpp_y, 0.25);
  EXPECT_DOUBLE_EQ(*meta.objective_power, 20.0);
  ASSERT_EQ(meta.images.size(), 2u);
  EXPECT_EQ(meta.images[0].name, "a & b");
  EXPECT_EQ(meta.images[1].name, "macro");
  EXPECT_EQ(meta.images[1].first_ifd, 3);
  // Broken XML gives what it can, never an exception.
  EXPECT_NO_THROW(slidestream::tiff::parse_ome_xml("<OME><Image Name=\"x"));
  EXPECT_FALSE(slidestream::tiff::is_ome_xml("Aperio Image Library"));
}

TEST(Metadata, CompressionNames) {
  EXPECT_EQ(slidestream::to_string(slidestream::Compression::jpeg), "jpeg");
  EXPECT_EQ(slidestream::to_string(static_cast<slidestream::Compression>(12345)), "unknown(12345)");
}

}  // namespace
