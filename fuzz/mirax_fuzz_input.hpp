// The fuzz_mirax input: a MIRAX slide's three kinds of file in one byte string, so that
// libFuzzer mutates all of them. Layout: u32 LE n, n bytes of Slidedat.ini, u32 LE m, m bytes of
// Index.dat, then the rest: the data file, written as Data0000.dat (and the names
// Data0001..0003.dat hard-linked to it, so that a Slidedat.ini listing several finds them).
// write_mirax_input lays it out as DIR/slide.mrxs + DIR/slide/; a short input gives empty files.
// Shared by fuzz/fuzz_mirax.cpp and tests/test_malformed_vendors_mirax.cpp (seed replay).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace slidestream::fuzz {

inline std::string_view take_part(std::string_view& in) {
  if (in.size() < 4) {
    in = {};
    return {};
  }
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = size_t{p[0]} | size_t{p[1]} << 8 | size_t{p[2]} << 16 | size_t{p[3]} << 24;
  in.remove_prefix(4);
  const std::string_view part = in.substr(0, n);
  in.remove_prefix(part.size());
  return part;
}

// Returns DIR/slide.mrxs.
inline std::filesystem::path write_mirax_input(const std::filesystem::path& dir,
                                               std::string_view input) {
  namespace fs = std::filesystem;
  const fs::path slide = dir / "slide";
  fs::create_directories(slide);
  auto write = [](const fs::path& path, std::string_view bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  };
  const std::string_view ini = take_part(input);
  const std::string_view index = take_part(input);
  write(dir / "slide.mrxs", {});
  write(slide / "Slidedat.ini", ini);
  write(slide / "Index.dat", index);
  write(slide / "Data0000.dat", input);
  for (const char* name : {"Data0001.dat", "Data0002.dat", "Data0003.dat"}) {
    std::error_code ec;
    fs::remove(slide / name, ec);
    fs::create_hard_link(slide / "Data0000.dat", slide / name, ec);
  }
  return dir / "slide.mrxs";
}

}  // namespace slidestream::fuzz
