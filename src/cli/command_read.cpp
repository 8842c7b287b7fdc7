// slidestream read SLIDE: reads a whole level into memory on the CPU or a GPU, as fast as the
// library can, and says how long it took, which path the bytes took and a checksum of the
// pixels (IO-NOTES "Conventions": CRC-32C of the tight pixels, the same on every device and
// backend for lossless slides, checkable with google_crc32c on a numpy array).
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "slidestream/checksum.hpp"
#include "slidestream/error.hpp"
#include "slidestream/image.hpp"
#include "slidestream/read_options.hpp"
#include "slidestream/slide.hpp"
#include "slidestream/system.hpp"

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
  bool gpu_jpeg_wait = false;
  bool gpu_byte_codecs = false;
  std::string gpu_jpeg2000 = "reversible";
  std::string dump;  // write the tight pixels here (for comparisons by other tools)
};

void dump_pixels(const ImageView& view, const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "wb"), std::fclose);
  if (!file) {
    throw Error(ErrorKind::io, std::string("cannot open for writing: ") + std::strerror(errno),
                {.file = path});
  }
  for_each_host_band(view, [&](std::span<const std::byte> band) {
    if (std::fwrite(band.data(), 1, band.size(), file.get()) != band.size()) {
      throw Error(ErrorKind::io, std::string("write failed: ") + std::strerror(errno),
                  {.file = path});
    }
  });
  if (std::fclose(file.release()) != 0) {
    throw Error(ErrorKind::io, std::string("write failed: ") + std::strerror(errno),
                {.file = path});
  }
}

int run_read(const ReadCommandOptions& o) {
  const DeviceSpec device = usable_device(o.device);
  Slide slide = Slide::open(o.slide);
  const Level& l = slide.level(o.level);
  ReadOptions options;
  options.device = device.kind;
  options.cuda_device = device.index;
  options.threads = o.threads;
  options.io = parse_io_backend(o.io);
  options.task_bytes = o.task_bytes;
  options.gpu_jpeg = o.gpu_jpeg;
  options.gpu_jpeg_wait = o.gpu_jpeg_wait;
  options.gpu_byte_codecs = o.gpu_byte_codecs;
  options.gpu_jpeg2000 = o.gpu_jpeg2000 == "off"   ? GpuJpeg2000::off
                         : o.gpu_jpeg2000 == "all" ? GpuJpeg2000::all
                                                   : GpuJpeg2000::reversible;
  // The destination is allocated once, as a user's preallocated array would be: the timings
  // are of the read alone.
  Image image =
      Image::allocate(l.width, l.height, l.channels, l.dtype, options.device, options.cuda_device);
  std::vector<double> seconds;
  ReadReport report;
  for (int r = 0; r < std::max(1, o.repeat); ++r) {
    if (o.drop_cache) evict_from_page_cache(slide.path());
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
  const std::string crc_text = o.no_checksum ? "" : checksum_text(checksum_crc32c(image.view()));
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
                        {"checksum", crc_text}};
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
  if (!o.no_checksum) std::printf("checksum: %s\n", crc_text.c_str());
  return 0;
}

}  // namespace

Command add_read_command(CLI::App& app) {
  auto o = std::make_shared<ReadCommandOptions>();
  auto* sub = app.add_subcommand("read",
                                 "Read a whole level into CPU or GPU memory; print time, "
                                 "path and checksum");
  sub->add_option("slide", o->slide, "Slide file")->required();
  sub->add_option("--level", o->level, "Pyramid level (0 = full resolution)")
      ->check(CLI::NonNegativeNumber);
  add_device_option(sub, o->device, "Where the level is read to");
  add_threads_option(sub, o->threads, "CPU threads");
  sub->add_option("--io", o->io, "I/O backend for GPU reads")
      ->check(CLI::IsMember({"auto", "posix", "cufile"}));
  sub->add_option("--repeat", o->repeat, "Read the level this many times; report the median")
      ->check(CLI::Range(1, 100000));
  sub->add_flag("--drop-cache", o->drop_cache,
                "Drop the file's pages from the page cache before each read (cold reads)");
  sub->add_option("--task-bytes", o->task_bytes, "Coalesced read size for GPU reads (0: default)")
      ->check(CLI::Range(size_t{0}, size_t{1} << 30));
  sub->add_flag("--json", o->json, "One JSON object instead of text");
  sub->add_flag("--no-checksum", o->no_checksum, "Skip the checksum");
  sub->add_flag("--gpu-jpeg,!--no-gpu-jpeg", o->gpu_jpeg,
                "GPU reads: let nvJPEG's hardware engines decode JPEG tiles beside the CPU "
                "threads (default; pixels equal libjpeg-turbo's). --no-gpu-jpeg: CPU threads only");
  sub->add_flag("--gpu-jpeg-wait", o->gpu_jpeg_wait,
                "GPU reads: make nvJPEG's decoders now and wait for them (default: from the second "
                "read in a process on, made in the background)");
  sub->add_flag("--gpu-byte-codecs", o->gpu_byte_codecs,
                "GPU reads: deflate / zstd tiles through nvCOMP where its output can be checked "
                "(default: the CPU threads; nvCOMP can fault on a damaged stream)");
  sub->add_option("--gpu-jpeg2000", o->gpu_jpeg2000,
                  "GPU reads: JPEG 2000 tiles through nvJPEG2000: off, reversible (5/3 streams, "
                  "bit-exact; default) or all (9/7 too)")
      ->check(CLI::IsMember({"off", "reversible", "all"}));
  sub->add_option("--dump", o->dump,
                  "Also write the level's tight pixels (raw bytes) to this file");
  return {sub, [o] { return run_read(*o); }};
}

}  // namespace slidestream::cli
