// The DICOM WSI fixtures (tests/fixtures/make_dicom_fixtures.py): one directory per series, the
// file to open in it, and the malformed cases with the cause each error must name.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace slidestream::test {

struct DicomFixture {
  std::string name, open, recipe;
  std::filesystem::path dir() const { return fixture_dir() / "dicom" / name; }
  std::filesystem::path file() const { return dir() / open; }
};

struct DicomMalformed {
  std::string name, open, cause;
  std::filesystem::path path() const {
    auto dir = fixture_dir() / "dicom" / "malformed" / name;
    return open.empty() ? dir : dir / open;
  }
};

inline nlohmann::json dicom_manifest() {
  std::ifstream in(fixture_dir() / "dicom" / "manifest.json");
  if (!in) {
    ADD_FAILURE() << "no dicom/manifest.json (run ctest: make_dicom_fixtures)";
    return nlohmann::json::object();
  }
  return nlohmann::json::parse(in);
}

inline std::vector<DicomFixture> dicom_fixtures() {
  std::vector<DicomFixture> out;
  const auto manifest = dicom_manifest();
  for (const auto& f : manifest.value("slides", nlohmann::json::array())) {
    out.push_back({f.at("name").get<std::string>(), f.at("open").get<std::string>(),
                   f.at("recipe").get<std::string>()});
  }
  return out;
}

inline std::vector<DicomMalformed> dicom_malformed() {
  std::vector<DicomMalformed> out;
  const auto manifest = dicom_manifest();
  for (const auto& f : manifest.value("malformed", nlohmann::json::array())) {
    out.push_back({f.at("name").get<std::string>(), f.at("open").get<std::string>(),
                   f.at("cause").get<std::string>()});
  }
  return out;
}

}  // namespace slidestream::test
