// Independent references for the pixel tests: OpenSlide's read_region, libtiff's own decoding
// (TIFFReadEncodedTile) and tifffile (through tests/python/read_tifffile_level.py), each giving a
// whole level as tight, interleaved, host-order bytes, plus the fixture manifest.
#pragma once

#include <gtest/gtest.h>
#include <openslide.h>
#include <tiffio.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "slidestream/slide.hpp"
#include "source/slide_impl.hpp"
#include "support/test_support.hpp"
#include "tiff/tiff_level_source.hpp"

namespace slidestream::test {

// The IFD a TIFF level was read from, for libtiff's TIFFSetSubDirectory.
inline uint64_t ifd_offset_of(const Slide& slide, int level) {
  const auto* tiff = dynamic_cast<const tiff::TiffLevelSource*>(&slide.impl().level_source(level));
  if (tiff == nullptr) {
    ADD_FAILURE() << "level " << level << " is not a TIFF level";
    return 0;
  }
  return tiff->ifd_offset();
}

struct FixtureEntry {
  std::string name;
  std::string reference;  // "openslide", "libtiff", "tifffile"
  std::string writer;
  std::string recipe;
};

inline std::vector<FixtureEntry> manifest() {
  std::vector<FixtureEntry> entries;
  std::ifstream in(fixture_dir() / "manifest.json");
  if (!in) {
    ADD_FAILURE() << "no manifest.json in " << fixture_dir() << " (run ctest: make_fixtures)";
    return entries;
  }
  nlohmann::json j = nlohmann::json::parse(in);
  for (const auto& f : j.at("files")) {
    entries.push_back({f.at("name"), f.at("reference"), f.at("writer"), f.at("recipe")});
  }
  return entries;
}

// The good slides of ../shared/testdata, all of which OpenSlide reads.
inline std::vector<std::filesystem::path> shared_good_slides() {
  return {shared_testdata() / "cmu-1-small-region.svs", shared_testdata() / "boxes.tiff",
          shared_testdata() / "small.svs"};
}

struct Pixels {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> bytes;  // tight, interleaved, host order
  std::string error;           // why the reference could not produce pixels
};

// OpenSlide: read_region of a whole level, premultiplied ARGB un-premultiplied to RGB. Every
// pixel inside a level is opaque, so the conversion is exact; a non-opaque pixel is an error.
// With channels == 1, OpenSlide's grey (R = G = B) pixels are compared as one channel.
inline Pixels openslide_level(const std::filesystem::path& path, int level, int channels = 3) {
  Pixels p;
  openslide_t* osr = openslide_open(path.c_str());
  if (osr == nullptr) {
    p.error = "OpenSlide does not recognise the file";
    return p;
  }
  if (const char* err = openslide_get_error(osr)) {
    p.error = std::string("OpenSlide: ") + err;
    openslide_close(osr);
    return p;
  }
  if (level >= openslide_get_level_count(osr)) {
    p.error = "OpenSlide has no level " + std::to_string(level);
    openslide_close(osr);
    return p;
  }
  openslide_get_level_dimensions(osr, level, &p.width, &p.height);
  std::vector<uint32_t> argb(static_cast<size_t>(p.width * p.height));
  openslide_read_region(osr, argb.data(), 0, 0, level, p.width, p.height);
  if (const char* err = openslide_get_error(osr)) {
    p.error = std::string("OpenSlide: ") + err;
    openslide_close(osr);
    return p;
  }
  openslide_close(osr);
  p.bytes.resize(argb.size() * 3);
  for (size_t i = 0; i < argb.size(); ++i) {
    uint32_t v = argb[i];
    if ((v >> 24) != 255) {
      p.error = "OpenSlide pixel " + std::to_string(i) + " is not opaque";
      return p;
    }
    p.bytes[3 * i + 0] = static_cast<uint8_t>(v >> 16);
    p.bytes[3 * i + 1] = static_cast<uint8_t>(v >> 8);
    p.bytes[3 * i + 2] = static_cast<uint8_t>(v);
  }
  if (channels == 1) {
    for (size_t i = 0; i < argb.size(); ++i) {
      if (p.bytes[3 * i] != p.bytes[3 * i + 1] || p.bytes[3 * i] != p.bytes[3 * i + 2]) {
        p.error = "OpenSlide pixel " + std::to_string(i) + " of a grey image is not grey";
        return p;
      }
      p.bytes[i] = p.bytes[3 * i];
    }
    p.bytes.resize(argb.size());
  }
  return p;
}

// libtiff: every tile of the IFD at `ifd_offset` through TIFFReadEncodedTile (JPEG YCbCr tiles
// converted to RGB by libjpeg inside libtiff; predictors and byte order undone by libtiff).
inline Pixels libtiff_level(const std::filesystem::path& path, uint64_t ifd_offset) {
  Pixels p;
  TIFFSetWarningHandler(nullptr);
  TIFF* tif = TIFFOpen(path.c_str(), "r");
  if (tif == nullptr) {
    p.error = "libtiff cannot open the file";
    return p;
  }
  auto fail = [&](const std::string& why) {
    p.error = "libtiff: " + why;
    TIFFClose(tif);
    return p;
  };
  if (!TIFFSetSubDirectory(tif, ifd_offset)) return fail("cannot set directory");
  uint32_t w = 0, h = 0, tw = 0, th = 0;
  uint16_t spp = 1, bps = 8, planar = 1, photometric = 0, compression = 1;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
  if (!TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw) || !TIFFGetField(tif, TIFFTAG_TILELENGTH, &th)) {
    return fail("not tiled");
  }
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric);
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
  if (compression == COMPRESSION_JPEG && photometric == PHOTOMETRIC_YCBCR) {
    TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
  }
  const size_t sample = bps / 8;
  const size_t pixel = sample * spp;
  p.width = w;
  p.height = h;
  p.bytes.assign(size_t{w} * h * pixel, 0);
  const int planes = planar == PLANARCONFIG_SEPARATE ? spp : 1;
  const size_t tile_pixel = planar == PLANARCONFIG_SEPARATE ? sample : pixel;
  std::vector<uint8_t> tile(static_cast<size_t>(TIFFTileSize(tif)));
  for (int s = 0; s < planes; ++s) {
    for (uint32_t y = 0; y < h; y += th) {
      for (uint32_t x = 0; x < w; x += tw) {
        ttile_t index = TIFFComputeTile(tif, x, y, 0, static_cast<uint16_t>(s));
        if (TIFFReadEncodedTile(tif, index, tile.data(), static_cast<tmsize_t>(tile.size())) < 0) {
          return fail("TIFFReadEncodedTile failed on tile " + std::to_string(index));
        }
        for (uint32_t yy = y; yy < std::min(h, y + th); ++yy) {
          for (uint32_t xx = x; xx < std::min(w, x + tw); ++xx) {
            const uint8_t* src = tile.data() + (size_t{yy - y} * tw + (xx - x)) * tile_pixel;
            uint8_t* dst = p.bytes.data() + (size_t{yy} * w + xx) * pixel + s * sample;
            std::memcpy(dst, src, tile_pixel);
          }
        }
      }
    }
  }
  TIFFClose(tif);
  return p;
}

// tifffile + imagecodecs (the project venv): level `level` of series 0.
inline Pixels tifffile_level(const std::filesystem::path& path, int level,
                             const std::filesystem::path& scratch) {
  Pixels p;
  auto raw = scratch / ("tifffile-level-" + std::to_string(level) + ".raw");
  std::string output;
  int rc = run_python("read_tifffile_level.py",
                      {path.string(), std::to_string(level), raw.string()}, &output);
  if (rc != 0) {
    p.error = "tifffile: " + output;
    return p;
  }
  // The last line holds the shape (tifffile may warn on stderr before it).
  while (!output.empty() && output.back() == '\n') output.pop_back();
  std::istringstream shape(output.substr(output.find_last_of('\n') + 1));
  shape >> p.height >> p.width;
  std::ifstream in(raw, std::ios::binary);
  p.bytes.assign(std::istreambuf_iterator<char>(in), {});
  return p;
}

// Slidestream's whole level as tight bytes.
inline Pixels our_level(const Slide& slide, int level, int threads = 0) {
  Pixels p;
  ReadOptions options;
  options.threads = threads;
  Image image = slide.read_level(level, options);
  p.width = image.width();
  p.height = image.height();
  const auto* b = reinterpret_cast<const uint8_t*>(image.data());
  p.bytes.assign(b, b + image.size_bytes());
  return p;
}

// Empty when equal; otherwise how they differ.
inline std::string compare(const Pixels& ours, const Pixels& theirs, size_t pixel_bytes) {
  if (ours.width != theirs.width || ours.height != theirs.height) {
    return "size " + std::to_string(ours.width) + "x" + std::to_string(ours.height) + " vs " +
           std::to_string(theirs.width) + "x" + std::to_string(theirs.height);
  }
  if (ours.bytes.size() != theirs.bytes.size()) {
    return "byte count " + std::to_string(ours.bytes.size()) + " vs " +
           std::to_string(theirs.bytes.size());
  }
  if (ours.bytes == theirs.bytes) return {};
  size_t differing = 0, first = SIZE_MAX;
  int max_diff = 0;
  for (size_t i = 0; i < ours.bytes.size(); ++i) {
    if (ours.bytes[i] != theirs.bytes[i]) {
      ++differing;
      if (first == SIZE_MAX) first = i;
      max_diff = std::max(max_diff, std::abs(int(ours.bytes[i]) - int(theirs.bytes[i])));
    }
  }
  size_t px = first / pixel_bytes;
  return std::to_string(differing) + " bytes differ (max byte difference " +
         std::to_string(max_diff) + "), first at pixel (" +
         std::to_string(px % static_cast<size_t>(ours.width)) + ", " +
         std::to_string(px / static_cast<size_t>(ours.width)) + ")";
}

}  // namespace slidestream::test
