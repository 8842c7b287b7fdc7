// The one place the library reads SLIDESTREAM_* environment variables. Every field of Settings
// has one variable (SLIDESTREAM_ + its name in capitals) and one range; a value that is not a
// decimal integer in range is an error naming the variable, never silently clamped or ignored,
// so that a sweep that mistypes a value does not measure the default. Variables that used to
// choose a backend are retired with an error that names the option replacing them.
#include "slidestream/settings.hpp"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "slidestream/error.hpp"

namespace slidestream {
namespace {

constexpr int64_t kKiB = 1024, kMiB = kKiB * 1024, kGiB = kMiB * 1024;
constexpr int64_t kTiBInMiB = 1024 * 1024;

SettingInfo field(const char* name, int64_t lowest, int64_t highest, int64_t Settings::*member) {
  std::string variable = "SLIDESTREAM_";
  for (const char* c = name; *c; ++c) variable += static_cast<char>(std::toupper(*c));
  return SettingInfo{name, std::move(variable), lowest, highest, member};
}

// Backend choices that were environment variables once, and the options that decide them now.
const std::pair<const char*, const char*> kRetired[] = {
    {"SLIDESTREAM_NVJPEG", "ReadOptions::gpu_jpeg / gpu_jpeg_wait (CLI --no-gpu-jpeg)"},
    {"SLIDESTREAM_NVCOMP", "ReadOptions::gpu_byte_codecs"},
    {"SLIDESTREAM_NVJPEG2K", "ReadOptions::gpu_jpeg2000"},
    {"SLIDESTREAM_CUFILE", "ReadOptions::io / zarr::WriteOptions::io = posix (CLI --io posix)"},
    {"SLIDESTREAM_PIPELINE_READ", "pipeline::Options::read_into_device"},
    {"SLIDESTREAM_PIPELINE_BANDS", "pipeline::Options::bands = false"},
    {"SLIDESTREAM_BAND_STREAM", "pipeline::Options::band_stream = false"},
};

void check_range(const SettingInfo& f, int64_t value, const std::string& who) {
  if (value < f.lowest || value > f.highest) {
    throw Error(ErrorKind::invalid_argument, who + ": " + std::to_string(value) + " is outside " +
                                                 std::to_string(f.lowest) + ".." +
                                                 std::to_string(f.highest));
  }
}

struct State {
  std::mutex mutex;
  std::optional<Settings> current;
};
State& state() {
  static State s;
  return s;
}

}  // namespace

const std::vector<SettingInfo>& setting_fields() {
  static const std::vector<SettingInfo> fields = {
      field("nvjpeg_batch", 8, 256, &Settings::nvjpeg_batch),
      field("nvjpeg_workers", 1, 8, &Settings::nvjpeg_workers),
      field("nvcomp_workers", 1, 64, &Settings::nvcomp_workers),
      field("nvjpeg2k_workers", 1, 64, &Settings::nvjpeg2k_workers),
      field("nvcomp_input_bytes", 4 * kKiB, kGiB, &Settings::nvcomp_input_bytes),
      field("gpu_codec_output_bytes", kMiB, 4 * kGiB, &Settings::gpu_codec_output_bytes),
      field("direct_in_flight", 1, 64, &Settings::direct_in_flight),
      field("staging_idle_slots", 0, 1024, &Settings::staging_idle_slots),
      field("read_device_staging_mib", 16, kTiBInMiB, &Settings::read_device_staging_mib),
      field("band_readers", 1, 16, &Settings::band_readers),
      field("band_task_mib", 1, 64, &Settings::band_task_mib),
      field("band_row_tiles", 0, 64, &Settings::band_row_tiles),
      field("band_device_budget_mib", 64, kTiBInMiB, &Settings::band_device_budget_mib),
      field("slot_device_budget_mib", 64, kTiBInMiB, &Settings::slot_device_budget_mib),
      field("tile_cache_mib", 16, kTiBInMiB, &Settings::tile_cache_mib),
      field("zarr_io_depth", 1, 4096, &Settings::zarr_io_depth),
      field("zarr_staging_mib", 64, kTiBInMiB, &Settings::zarr_staging_mib),
  };
  return fields;
}

Settings settings_from_environment(const std::function<const char*(const char*)>& lookup) {
  for (const auto& [variable, option] : kRetired) {
    if (const char* v = lookup(variable)) {
      throw Error(ErrorKind::invalid_argument, std::string(variable) + "=" + v +
                                                   " is no longer read: the backend is chosen by " +
                                                   option);
    }
  }
  Settings s;
  for (const SettingInfo& f : setting_fields()) {
    const char* text = lookup(f.variable.c_str());
    if (text == nullptr) continue;
    const std::string who = f.variable + "=\"" + text + "\"";
    const char* end = text + std::char_traits<char>::length(text);
    int64_t value = 0;
    const auto [stop, ec] = std::from_chars(text, end, value);
    if (text == end || ec != std::errc() || stop != end) {
      throw Error(ErrorKind::invalid_argument, who + ": not a decimal integer (expected " +
                                                   std::to_string(f.lowest) + ".." +
                                                   std::to_string(f.highest) + ")");
    }
    check_range(f, value, who);
    s.*f.member = value;
  }
  return s;
}

Settings settings() {
  State& st = state();
  std::lock_guard lock(st.mutex);
  if (!st.current)
    st.current = settings_from_environment([](const char* n) { return std::getenv(n); });
  return *st.current;
}

void set_settings(const Settings& settings) {
  for (const SettingInfo& f : setting_fields()) check_range(f, settings.*f.member, f.field);
  State& st = state();
  std::lock_guard lock(st.mutex);
  st.current = settings;
}

}  // namespace slidestream
