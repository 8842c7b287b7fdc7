// OmeZarrWriter: a multiscale group (OME-NGFF 0.4 on Zarr v2, 0.5 on Zarr v3) whose arrays "0",
// "1", ... are the pyramid levels. Specs: https://ngff.openmicroscopy.org/0.4/ and /0.5/.
#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <vector>

#include "io/file.hpp"
#include "slidestream/error.hpp"
#include "slidestream/zarr.hpp"
#include "zarr/layout.hpp"
#include "zarr/output_dir.hpp"
#include "zarr/writer_impl.hpp"

namespace slidestream::zarr {

using nlohmann::json;

struct OmeZarrWriter::Impl {
  // First, so destroyed last: an unfinished group is removed after everything else.
  detail::OutputDir output;
  std::filesystem::path root;  // where the levels go: output.write_dir()
  MultiscaleOptions options;
  struct LevelEntry {
    int index;
    double downsample;
    int channels;
  };
  std::vector<LevelEntry> levels;
  std::shared_ptr<std::atomic<int>> finished_levels = std::make_shared<std::atomic<int>>(0);
  bool finished = false;
};

namespace {

// NGFF 0.4 (v2: .zattrs + .zgroup) or 0.5 (v3: zarr.json) group metadata over the levels.
void write_ome_group(const OmeZarrWriter::Impl& s) {
  auto levels = s.levels;
  std::sort(levels.begin(), levels.end(),
            [](const auto& a, const auto& b) { return a.index < b.index; });
  const bool has_c = levels[0].channels > 1;
  const bool has_mpp = s.options.mpp_x.has_value() && s.options.mpp_y.has_value();
  json axes = json::array();
  if (has_c) axes.push_back({{"name", "c"}, {"type", "channel"}});
  for (const char* name : {"y", "x"}) {
    json axis = {{"name", name}, {"type", "space"}};
    if (has_mpp) axis["unit"] = "micrometer";
    axes.push_back(axis);
  }
  json datasets = json::array();
  for (const auto& level : levels) {
    double sy = (has_mpp ? *s.options.mpp_y : 1.0) * level.downsample;
    double sx = (has_mpp ? *s.options.mpp_x : 1.0) * level.downsample;
    json scale = has_c ? json::array({1.0, sy, sx}) : json::array({sy, sx});
    datasets.push_back({{"path", std::to_string(level.index)},
                        {"coordinateTransformations", {{{"type", "scale"}, {"scale", scale}}}}});
  }
  json multiscale = {{"name", s.options.name}, {"axes", axes}, {"datasets", datasets}};
  const bool durable = s.options.durable;
  if (s.options.format == Format::v2) {
    multiscale["version"] = "0.4";
    json attrs = {{"multiscales", json::array({multiscale})}};
    detail::write_small_file_atomically(s.root / ".zattrs", attrs.dump(2), durable);
    detail::write_small_file_atomically(s.root / ".zgroup", json({{"zarr_format", 2}}).dump(2),
                                        durable);
  } else {
    json group = {{"zarr_format", 3},
                  {"node_type", "group"},
                  {"attributes",
                   {{"ome", {{"version", "0.5"}, {"multiscales", json::array({multiscale})}}}}}};
    detail::write_small_file_atomically(s.root / "zarr.json", group.dump(2), durable);
  }
}

// A plain group (no OME-NGFF metadata) over (y, x, c) levels.
void write_plain_group(const std::filesystem::path& root, Format format, bool durable) {
  if (format == Format::v2) {
    detail::write_small_file_atomically(root / ".zgroup", json({{"zarr_format", 2}}).dump(2),
                                        durable);
  } else {
    json group = {{"zarr_format", 3}, {"node_type", "group"}, {"attributes", json::object()}};
    detail::write_small_file_atomically(root / "zarr.json", group.dump(2), durable);
  }
}

}  // namespace

OmeZarrWriter OmeZarrWriter::create(const std::filesystem::path& root,
                                    const MultiscaleOptions& options) {
  // Always staged: the group appears at `root` whole, at finish(), never half-written.
  auto impl = std::make_unique<Impl>();
  impl->output = detail::OutputDir::create(root, options.overwrite, options.overwrite_any, true);
  impl->root = impl->output.write_dir();
  impl->options = options;
  return OmeZarrWriter(std::move(impl));
}

OmeZarrWriter::OmeZarrWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OmeZarrWriter::OmeZarrWriter(OmeZarrWriter&&) noexcept = default;
OmeZarrWriter::~OmeZarrWriter() = default;

ArrayWriter OmeZarrWriter::add_level(int index, double downsample, ArraySpec spec,
                                     WriteOptions options) {
  Impl& s = *impl_;
  if (s.finished) throw Error(ErrorKind::invalid_argument, "add_level after finish()");
  if (index < 0 || downsample <= 0) {
    throw Error(ErrorKind::invalid_argument, "level index must be >= 0 and downsample > 0");
  }
  for (const auto& level : s.levels) {
    if (level.index == index) {
      throw Error(ErrorKind::invalid_argument, "level " + std::to_string(index) + " added twice");
    }
    if (level.channels != spec.channels) {
      throw Error(ErrorKind::invalid_argument, "levels differ in channel count");
    }
  }
  spec.format = s.options.format;
  spec.layout = s.options.layout;
  options.overwrite = false;  // a fresh directory inside the group's own staging directory
  options.durable = s.options.durable;
  ArrayWriter writer = ArrayWriter::create(s.root / std::to_string(index), spec, options);
  writer.impl_->finish_counter = s.finished_levels;
  s.levels.push_back({index, downsample, spec.channels});
  return writer;
}

void OmeZarrWriter::finish() {
  Impl& s = *impl_;
  if (s.finished) throw Error(ErrorKind::invalid_argument, "finish() called twice");
  if (s.levels.empty()) {
    throw Error(ErrorKind::invalid_argument, "an OME-Zarr image needs at least one level",
                {.file = s.root.string()});
  }
  if (s.finished_levels->load() != static_cast<int>(s.levels.size())) {
    throw Error(ErrorKind::invalid_argument,
                "finish() before every level was finished; the group is left without metadata",
                {.file = s.root.string()});
  }
  const bool durable = s.options.durable;
  if (s.options.layout == ChannelLayout::yxc) {
    write_plain_group(s.root, s.options.format, durable);
  } else {
    write_ome_group(s);
  }
  if (durable) io::sync_directory(s.root);
  s.output.commit(durable);
  s.finished = true;
}

}  // namespace slidestream::zarr
