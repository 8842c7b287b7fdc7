// slidestream read SLIDE: reads a whole level into memory on the CPU or a GPU, as fast as the
// library can, and says how long it took, which path the bytes took and a checksum of the
// pixels (IO-NOTES "Conventions": CRC-32C of the tight pixels, the same on every device and
// backend for lossless slides, checkable with google_crc32c on a numpy array).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "core/crc32c.hpp"
#include "io/file.hpp"
#include "slidestream/error.hpp"
#include "slidestream/image.hpp"
#include "slidestream/read_options.hpp"
#include "slidestream/slide.hpp"

#if SLIDESTREAM_HAVE_CUDA
#include "cuda/host_copy.hpp"
#endif

namespace slidestream::cli {
namespace {

struct ReadCommandOptions {
  std::string slide;
  int level = 0;
  std::string device = "cpu";
  int threads = 0;
  std::string io = "auto";
  int repeat = 1;
  bool drop_cache = false;
  size_t task_bytes = 0;
  bool json = false;
  bool no_checksum = false;
  bool gpu_jpeg = true;
  std::string dump;  // write the tight pixels here (for comparisons by other tools)
};

// Visits the view's pixels laid out tightly, band by band, so that a GPU level is never copied
// to the host whole.
template <typename Visit>
void for_each_band(const ImageView& view, Visit&& visit) {
  if (view.width == 0 || view.height == 0) return;
  const size_t row = view.row_bytes();
  if (view.device == Device::cpu) {
    if (view.row_pitch == row) {
      visit(std::span<const std::byte>(view.data, row * static_cast<size_t>(view.height)));
      return;
    }
    for (int64_t y = 0; y < view.height; ++y) visit(std::span<const std::byte>(view.row(y), row));
    return;
  }
#if SLIDESTREAM_HAVE_CUDA
  const int64_t band_rows = std::max<int64_t>(1, static_cast<int64_t>((size_t{64} << 20) / row));
  Image band =
      Image::allocate(view.width, std::min(band_rows, view.height), view.channels, view.dtype);
  for (int64_t y = 0; y < view.height; y += band_rows) {
    int64_t rows = std::min(band_rows, view.height - y);
    ImageView dst = band.view();
    dst.height = rows;
    cuda::copy_to_host(view.crop(0, y, view.width, rows), dst);
    visit(std::span<const std::byte>(dst.data, row * static_cast<size_t>(rows)));
  }
#else
  throw Error(ErrorKind::unsupported, "this build has no CUDA support");
#endif
}

// CRC-32C of the tight pixels (IO-NOTES "Conventions").
uint32_t checksum(const ImageView& view) {
  uint32_t crc = 0;
  for_each_band(view, [&](std::span<const std::byte> band) { crc = crc32c(band, crc); });
  return crc;
}

void dump_pixels(const ImageView& view, const std::string& path) {
  io::File file(path, io::File::Mode::write_truncate);
  uint64_t at = 0;
  for_each_band(view, [&](std::span<const std::byte> band) {
    file.write_exact(band, at);
    at += band.size();
  });
}

int run_read(const ReadCommandOptions& o) {
  Slide slide = Slide::open(o.slide);
  const Level& l = slide.level(o.level);
  ReadOptions options;
  if (o.device == "cuda" || o.device == "gpu") {
    options.device = Device::cuda;
  } else if (o.device != "cpu") {
    throw Error(ErrorKind::invalid_argument, "--device must be cpu or cuda");
  }
  options.threads = o.threads;
  options.io = parse_io_backend(o.io);
  options.task_bytes = o.task_bytes;
  options.gpu_jpeg = o.gpu_jpeg;
  // The destination is allocated once, as a user's preallocated array would be: the timings
  // are of the read alone.
  Image image =
      Image::allocate(l.width, l.height, l.channels, l.dtype, options.device, options.cuda_device);
  std::vector<double> seconds;
  ReadReport report;
  for (int r = 0; r < std::max(1, o.repeat); ++r) {
    if (o.drop_cache) io::File(slide.path(), io::File::Mode::read).advise_dont_need();
    report = ReadReport{};
    auto start = std::chrono::steady_clock::now();
    slide.read_level(o.level, image.view(), options, &report);
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  const double best = sorted.front();
  const uint64_t bytes = image.view().tight_bytes();
  const double gbps = median > 0 ? static_cast<double>(bytes) / median / 1e9 : 0.0;
  char crc_text[16] = "-";
  if (!o.no_checksum) std::snprintf(crc_text, sizeof crc_text, "%08x", checksum(image.view()));
  if (!o.dump.empty()) dump_pixels(image.view(), o.dump);

  if (o.json) {
    nlohmann::json j = {{"file", slide.path().string()},
                        {"level", o.level},
                        {"width", l.width},
                        {"height", l.height},
                        {"device", o.device},
                        {"threads", o.threads},
                        {"io", o.io},
                        {"drop_cache", o.drop_cache},
                        {"bytes", bytes},
                        {"file_bytes", report.file_bytes},
                        {"seconds", seconds},
                        {"median_seconds", median},
                        {"best_seconds", best},
                        {"gb_per_s", gbps},
                        {"io_path", report.io_path},
                        {"io_note", report.io_note},
                        {"decoder", report.decoder},
                        {"checksum", o.no_checksum ? "" : std::string("crc32c:") + crc_text}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("file:     %s\n", slide.path().c_str());
  std::printf("level:    %d (%lld x %lld x %d %s, %s)\n", o.level, static_cast<long long>(l.width),
              static_cast<long long>(l.height), l.channels, std::string(to_string(l.dtype)).c_str(),
              to_string(l.compression).c_str());
  for (size_t i = 0; i < seconds.size(); ++i) {
    std::printf("run %zu:    %.4f s  %.2f GB/s%s\n", i + 1, seconds[i],
                static_cast<double>(bytes) / seconds[i] / 1e9, o.drop_cache ? " (cold)" : "");
  }
  std::printf("bytes:    %llu (%llu read from the file)\n", static_cast<unsigned long long>(bytes),
              static_cast<unsigned long long>(report.file_bytes));
  std::printf("seconds:  %.4f (median of %zu; best %.4f)\n", median, seconds.size(), best);
  std::printf("GB/s:     %.2f\n", gbps);
  std::printf("device:   %s\n", o.device.c_str());
  std::printf("path:     %s%s%s\n", report.io_path.c_str(), report.io_note.empty() ? "" : "; ",
              report.io_note.c_str());
  std::printf("decoder:  %s\n", report.decoder.c_str());
  if (!o.no_checksum) std::printf("checksum: crc32c:%s\n", crc_text);
  return 0;
}

}  // namespace

Command add_read_command(CLI::App& app) {
  auto o = std::make_shared<ReadCommandOptions>();
  auto* sub = app.add_subcommand("read",
                                 "Read a whole level into CPU or GPU memory; print time, "
                                 "path and checksum");
  sub->add_option("slide", o->slide, "Slide file")->required();
  sub->add_option("--level", o->level, "Pyramid level (0 = full resolution)");
  sub->add_option("--device", o->device, "cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda", "gpu"}));
  sub->add_option("--threads", o->threads, "CPU threads (0: all hardware threads)");
  sub->add_option("--io", o->io, "I/O backend for GPU reads")
      ->check(CLI::IsMember({"auto", "posix", "cufile"}));
  sub->add_option("--repeat", o->repeat, "Read the level this many times; report the median");
  sub->add_flag("--drop-cache", o->drop_cache,
                "Drop the file's pages from the page cache before each read (cold reads)");
  sub->add_option("--task-bytes", o->task_bytes, "Coalesced read size for GPU reads (0: default)");
  sub->add_flag("--json", o->json, "One JSON object instead of text");
  sub->add_flag("--no-checksum", o->no_checksum, "Skip the checksum");
  sub->add_flag("--gpu-jpeg,!--no-gpu-jpeg", o->gpu_jpeg,
                "GPU reads: let nvJPEG's hardware engines decode JPEG tiles beside the CPU "
                "threads (default; pixels equal libjpeg-turbo's). --no-gpu-jpeg: CPU threads only");
  sub->add_option("--dump", o->dump,
                  "Also write the level's tight pixels (raw bytes) to this file");
  return {sub, [o] { return run_read(*o); }};
}

}  // namespace slidestream::cli
