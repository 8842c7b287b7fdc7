// OpenSlide 4.0.1 as the reference for the vendor slides (tests/fixtures/make_vendor_fixtures.py):
// tests/python/openslide4_dump.py writes what OpenSlide reports and reads, and these helpers
// load it and compare our slide with it. OpenSlide's pixels are RGBA: transparent where it
// draws nothing (missing tiles), which our reads must fill with ReadOptions::fill.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "slidestream/slide.hpp"
#include "support/test_support.hpp"

namespace slidestream::test {

struct VendorFixture {
  std::string name, vendor, reference, recipe;
  std::filesystem::path path() const { return fixture_dir() / "vendors" / name; }
};

inline std::vector<VendorFixture> vendor_fixtures() {
  std::vector<VendorFixture> out;
  std::ifstream in(fixture_dir() / "vendors" / "manifest.json");
  if (!in) {
    ADD_FAILURE() << "no vendors/manifest.json (run ctest: make_vendor_fixtures)";
    return out;
  }
  const nlohmann::json manifest = nlohmann::json::parse(in);
  for (const auto& f : manifest.at("files")) {
    out.push_back({f.at("name").get<std::string>(), f.at("vendor").get<std::string>(),
                   f.at("reference").get<std::string>(), f.at("recipe").get<std::string>()});
  }
  return out;
}

inline std::vector<uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// OpenSlide 4.0.1's view of a slide, dumped into `dir`; meta is null when the dump failed.
inline nlohmann::json openslide4_dump(const std::filesystem::path& slide,
                                      const std::filesystem::path& dir) {
  std::string log;
  if (run_python("openslide4_dump.py", {slide.string(), dir.string()}, &log) != 0) {
    ADD_FAILURE() << "openslide4_dump.py failed:\n" << log;
    return nullptr;
  }
  std::ifstream in(dir / "meta.json");
  return nlohmann::json::parse(in);
}

// Empty when `ours` (RGB, read with fill `fill`) equals OpenSlide's RGBA: opaque pixels equal,
// transparent ones (nothing drawn) equal to the fill. A composed level (vendor/tilemap_compose.hpp:
// `composed_tile` > 0, its grid tile's side) fills only grid tiles where OpenSlide draws nothing;
// inside a tile where it draws something, its transparent pixels are 0 (transparent black), and
// its partly transparent ones (pieces painted between pixels) OpenSlide's un-premultiplied RGB.
inline std::string compare_rgba(const Image& ours, const std::vector<uint8_t>& rgba, uint8_t fill,
                                int64_t composed_tile = 0) {
  const size_t n = static_cast<size_t>(ours.width() * ours.height());
  if (ours.channels() != 3 || rgba.size() != n * 4) {
    return "shape: ours " + std::to_string(ours.channels()) + " channels, reference " +
           std::to_string(rgba.size()) + " bytes for " + std::to_string(n) + " pixels";
  }
  const auto* p = reinterpret_cast<const uint8_t*>(ours.data());
  const size_t width = static_cast<size_t>(ours.width());
  // Per composed grid tile: whether OpenSlide draws anything in it.
  std::vector<bool> drawn;
  size_t across = 1, side = static_cast<size_t>(composed_tile);
  if (composed_tile > 0) {
    across = (width + side - 1) / side;
    drawn.resize(across * ((n / width + side - 1) / side));
    for (size_t i = 0; i < n; ++i) {
      if (rgba[4 * i + 3] != 0) drawn[(i / width / side) * across + i % width / side] = true;
    }
  }
  size_t differing = 0, first = n, transparent = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t a = rgba[4 * i + 3];
    const bool in_drawn_tile =
        !drawn.empty() && drawn[(i / width / side) * across + i % width / side];
    const uint8_t nothing = in_drawn_tile ? 0 : fill;
    bool same = true;
    for (int c = 0; c < 3; ++c) {
      const uint8_t want = a == 0 ? nothing : rgba[4 * i + static_cast<size_t>(c)];
      // Partly transparent (a composed level's tiles painted between pixels): OpenSlide's
      // un-premultiplied RGB, as the composition returns it.
      const bool alpha_ok = a == 0 || a == 255 || composed_tile > 0;
      same = same && alpha_ok && p[3 * i + static_cast<size_t>(c)] == want;
    }
    transparent += a == 0;
    if (!same && differing++ == 0) first = i;
  }
  if (differing == 0) return {};
  std::ostringstream s;
  s << differing << " of " << n << " pixels differ (" << transparent
    << " transparent in OpenSlide), first at x " << first % static_cast<size_t>(ours.width())
    << " y " << first / static_cast<size_t>(ours.width());
  return s.str();
}

}  // namespace slidestream::test
