// The settings object: its defaults, each field's environment variable, and the errors for a
// malformed value or a retired backend switch. Uses settings_from_environment with a fake
// environment, so nothing here depends on (or changes) the test process's own.
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "slidestream/error.hpp"
#include "slidestream/settings.hpp"
#include "support/test_support.hpp"

namespace ss = slidestream;

namespace {

ss::Settings from(const std::map<std::string, std::string>& env) {
  return ss::settings_from_environment([&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

ss::Error error_from(const std::map<std::string, std::string>& env) {
  try {
    from(env);
  } catch (const ss::Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error for " << env.begin()->first << "=" << env.begin()->second;
  return ss::Error(ss::ErrorKind::io, "none");
}

bool same(const ss::Settings& a, const ss::Settings& b) {
  for (const auto& f : ss::setting_fields()) {
    if (a.*f.member != b.*f.member) return false;
  }
  return true;
}

}  // namespace

TEST(Settings, EveryFieldHasOneVariableNamedAfterIt) {
  // Every int64_t field of Settings is in the table (a field added without a row fails here).
  EXPECT_EQ(ss::setting_fields().size() * sizeof(int64_t), sizeof(ss::Settings));
  for (const auto& f : ss::setting_fields()) {
    std::string upper;
    for (char c : f.field) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(f.variable, "SLIDESTREAM_" + upper);
    const int64_t value = ss::Settings{}.*f.member;
    EXPECT_LE(f.lowest, value) << f.field << ": the default is outside its range";
    EXPECT_LE(value, f.highest) << f.field << ": the default is outside its range";
  }
}

TEST(Settings, AnEmptyEnvironmentGivesTheDefaults) {
  EXPECT_TRUE(same(from({}), ss::Settings{}));
  EXPECT_EQ(ss::Settings{}.nvjpeg_batch, 64);
  EXPECT_EQ(ss::Settings{}.zarr_io_depth, 128);
}

TEST(Settings, AVariableOverridesItsFieldOnly) {
  const ss::Settings s = from({{"SLIDESTREAM_NVJPEG_BATCH", "16"},
                               {"SLIDESTREAM_BAND_TASK_MIB", "8"},
                               {"SLIDESTREAM_NVCOMP_INPUT_BYTES", "100000"}});
  ss::Settings want;
  want.nvjpeg_batch = 16;
  want.band_task_mib = 8;
  want.nvcomp_input_bytes = 100000;
  EXPECT_TRUE(same(s, want));
  for (const auto& f : ss::setting_fields()) {
    const ss::Settings lowest = from({{f.variable, std::to_string(f.lowest)}});
    const ss::Settings highest = from({{f.variable, std::to_string(f.highest)}});
    EXPECT_EQ(lowest.*f.member, f.lowest) << f.variable;
    EXPECT_EQ(highest.*f.member, f.highest) << f.variable;
  }
}

TEST(Settings, AMalformedOrOutOfRangeValueIsAnErrorNamingTheVariable) {
  for (const char* text :
       {"", "abc", "12x", " 12", "1.5", "-1", "0", "1000", "99999999999999999999"}) {
    const ss::Error e = error_from({{"SLIDESTREAM_NVJPEG_BATCH", text}});
    EXPECT_EQ(e.kind(), ss::ErrorKind::invalid_argument) << text;
    EXPECT_EQ(e.cause().rfind("SLIDESTREAM_NVJPEG_BATCH=\"" + std::string(text) + "\": ", 0), 0u)
        << e.cause();
    EXPECT_NE(e.cause().find("8..256"), std::string::npos) << e.cause();
  }
}

TEST(Settings, ARetiredBackendSwitchIsAnErrorNamingTheOptionThatReplacesIt) {
  const std::map<std::string, std::string> retired = {
      {"SLIDESTREAM_NVJPEG", "ReadOptions::gpu_jpeg"},
      {"SLIDESTREAM_NVCOMP", "ReadOptions::gpu_byte_codecs"},
      {"SLIDESTREAM_NVJPEG2K", "ReadOptions::gpu_jpeg2000"},
      {"SLIDESTREAM_CUFILE", "ReadOptions::io"},
      {"SLIDESTREAM_PIPELINE_READ", "pipeline::Options::read_into_device"},
      {"SLIDESTREAM_PIPELINE_BANDS", "pipeline::Options::bands"},
      {"SLIDESTREAM_BAND_STREAM", "pipeline::Options::band_stream"}};
  for (const auto& [variable, option] : retired) {
    const ss::Error e = error_from({{variable, "0"}});
    EXPECT_EQ(e.kind(), ss::ErrorKind::invalid_argument);
    EXPECT_EQ(e.cause().rfind(variable + "=0 is no longer read", 0), 0u) << e.cause();
    EXPECT_NE(e.cause().find(option), std::string::npos) << e.cause();
  }
}

TEST(Settings, SetSettingsReplacesThemAndRefusesAFieldOutOfRange) {
  const ss::Settings before = ss::settings();
  ss::Settings changed = before;
  changed.band_readers = 5;
  ss::set_settings(changed);
  EXPECT_EQ(ss::settings().band_readers, 5);
  changed.band_readers = 0;
  try {
    ss::set_settings(changed);
    ADD_FAILURE() << "band_readers = 0 accepted";
  } catch (const ss::Error& e) {
    EXPECT_EQ(e.kind(), ss::ErrorKind::invalid_argument);
    EXPECT_EQ(e.cause().rfind("band_readers: 0 is outside 1..16", 0), 0u) << e.cause();
  }
  EXPECT_EQ(ss::settings().band_readers, 5);  // unchanged by the refused call
  ss::set_settings(before);
  EXPECT_TRUE(same(ss::settings(), before));
}

TEST(Settings, TheReadmeListsEveryVariable) {
  std::ifstream in(std::filesystem::path(SLIDESTREAM_SOURCE_DIR) / "README.md");
  std::stringstream text;
  text << in.rdbuf();
  for (const auto& f : ss::setting_fields()) {
    EXPECT_NE(text.str().find("`" + f.variable + "`"), std::string::npos)
        << f.variable << " is missing from the README's settings table";
  }
}
