// Use case 2: an array in GPU (or host) memory to uncompressed Zarr on disk, timed from data in
// memory to data durable on disk (chunks synced, metadata written and synced). Also measures the
// disk's durable direct-write limit in the same process as BENCH-ANCHORS.md describes it: parallel
// O_DIRECT pwrite of a 4 GiB file from page-aligned buffers, several (threads x block)
// configurations, then fsync, each configuration repeated in rounds spread over the run (before,
// between and after our cases: the disk is shared and drifts), so that the results are ratios
// against a limit measured on the same machine in the same call.
//
//   bench_uc2 --dir SCRATCH --json OUT.json [--size-mb 1600] [--device cuda|cpu] [--threads N]
//             [--io-depth D] [--chunks 256,512,1024,2048] [--dtypes uint8,float32]
//             [--shard 4096] [--raw-gib 4] [--raw-configs 1x64,4x16,4x64,8x64] [--raw-rounds 3]
//             [--serial 512,2048] [--cufile 512,2048] [--sweep 8,16,32,64,128] [--quick]
//
// --serial: chunk sizes also written with 1 thread and 1 file in flight (the sharded case too);
// --cufile: chunk sizes also written with io=cufile (an error where cuFile cannot write: recorded);
// --sweep: in-flight depths tried on uint8 256² / 512² and float32 1024² (which default is best);
// --yxc: chunk sizes also written as the seed's own arrays, (H, W, 3) with (n, n, 3) chunks and no
// transpose, v2 (role "v2-yxc") and v3 (role "yxc"); every other case is (3, H, W) as the peers.
// bench/uc2.py runs this and the peers (tensorstore, zarr-python) and writes the tables.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "slidestream/error.hpp"
#include "slidestream/zarr.hpp"
#include "zarr/chunk_codec.hpp"
#include "zarr/device_staging.hpp"

namespace fs = std::filesystem;
using namespace slidestream;
using nlohmann::json;

namespace {

struct Args {
  fs::path dir = "uc2-scratch";
  fs::path json_out = "uc2.json";
  double size_mb = 1600;
  std::string device = "cuda";
  int threads = 0;
  int io_depth = 0;  // 0: the library's default
  std::vector<int64_t> chunks{256, 512, 1024, 2048};
  std::vector<std::string> dtypes{"uint8", "float32"};
  int64_t shard = 4096;
  double raw_gib = 4;
  std::vector<std::pair<int, int>> raw_configs{{1, 64}, {4, 16}, {4, 64}, {8, 64}};
  int raw_rounds = 3;
  std::vector<int64_t> serial{512, 2048};
  std::vector<int64_t> yxc{512, 1024, 2048};
  std::vector<int64_t> cufile{512, 2048};
  std::vector<int> sweep;
  bool quick = false;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(item);
  return out;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto v = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--dir")
      a.dir = v();
    else if (k == "--json")
      a.json_out = v();
    else if (k == "--size-mb")
      a.size_mb = std::stod(v());
    else if (k == "--device")
      a.device = v();
    else if (k == "--threads")
      a.threads = std::stoi(v());
    else if (k == "--shard")
      a.shard = std::stoll(v());
    else if (k == "--io-depth")
      a.io_depth = std::stoi(v());
    else if (k == "--raw-gib")
      a.raw_gib = std::stod(v());
    else if (k == "--raw-rounds")
      a.raw_rounds = std::stoi(v());
    else if (k == "--quick")
      a.quick = true;
    else if (k == "--raw-configs") {
      a.raw_configs.clear();
      for (auto& c : split(v())) {
        auto x = c.find('x');
        a.raw_configs.emplace_back(std::stoi(c.substr(0, x)), std::stoi(c.substr(x + 1)));
      }
    } else if (k == "--chunks" || k == "--serial" || k == "--cufile" || k == "--yxc") {
      auto& list = k == "--chunks"   ? a.chunks
                   : k == "--serial" ? a.serial
                   : k == "--yxc"    ? a.yxc
                                     : a.cufile;
      list.clear();
      for (auto& c : split(v())) list.push_back(std::stoll(c));
    } else if (k == "--sweep") {
      for (auto& c : split(v())) a.sweep.push_back(std::stoi(c));
    } else if (k == "--dtypes") {
      a.dtypes = split(v());
    } else {
      std::fprintf(stderr, "unknown argument %s\n", k.c_str());
      std::exit(2);
    }
  }
  if (a.threads <= 0)
    a.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return a;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The raw limit: `threads` threads each pwrite `block`-byte O_DIRECT blocks of one file of `bytes`
// bytes, then fsync. Returns GB/s.
double raw_direct_write(const fs::path& file, size_t bytes, int threads, size_t block,
                        bool* was_direct) {
  fs::remove(file);
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0644);
  bool direct = fd >= 0;
  if (fd < 0) fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(ErrorKind::io, "cannot open " + file.string());
  const size_t blocks = (bytes + block - 1) / block;
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  double t0 = now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      zarr::detail::AlignedBuffer buf(block);
      std::memset(buf.data(), 0x5A, block);
      for (size_t b; (b = next.fetch_add(1)) < blocks;) {
        size_t done = 0;
        while (done < block) {
          ssize_t n =
              ::pwrite(fd, buf.data() + done, block - done, static_cast<off_t>(b * block + done));
          if (n <= 0) {
            failed = true;
            return;
          }
          done += static_cast<size_t>(n);
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  if (::fsync(fd) != 0) failed = true;
  double t1 = now();
  ::close(fd);
  fs::remove(file);
  if (failed) throw Error(ErrorKind::io, "raw write failed on " + file.string());
  *was_direct = direct;
  return static_cast<double>(blocks * block) / (t1 - t0) / 1e9;
}

// Pixels with some structure (a gradient plus noise); uncompressed writes do not care, but a
// debugger looking at the output should see an image.
Image make_source(int64_t side, DataType dtype, Device device) {
  Image host = Image::allocate(side, side, 3, dtype);
  const size_t row = host.view().row_bytes();
  uint32_t state = 12345;
  for (int64_t y = 0; y < side; ++y) {
    std::byte* p = host.view().row(y);
    if (dtype == DataType::uint8) {
      for (size_t i = 0; i < row; ++i) {
        state = state * 1664525u + 1013904223u;
        p[i] = static_cast<std::byte>(((y + static_cast<int64_t>(i / 3)) >> 5) + (state >> 29));
      }
    } else {
      auto* f = reinterpret_cast<float*>(p);
      for (size_t i = 0; i < row / 4; ++i) {
        state = state * 1664525u + 1013904223u;
        f[i] = static_cast<float>(y % 997) * 0.25f + static_cast<float>(state >> 24);
      }
    }
  }
  if (device == Device::cpu) return host;
  Image dev = Image::allocate(side, side, 3, dtype, Device::cuda);
  zarr::device::copy_view(dev.view(), host.view());
  return dev;
}

struct Case {
  std::string dtype;
  int64_t chunk;
  int64_t shard;
  int format;
  int threads;
  int io_depth;  // 0: the library's default
  std::string io;
  std::string role;  // "main", "serial", "cufile", "v2", "sweep", "v2-yxc", "yxc"
  zarr::ChannelLayout layout = zarr::ChannelLayout::cyx;
};

IoBackend backend_of(const std::string& io) {
  return io == "cufile"  ? IoBackend::cufile
         : io == "posix" ? IoBackend::posix
                         : IoBackend::automatic;
}

bool contains(const std::vector<int64_t>& list, int64_t v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

}  // namespace

int main(int argc, char** argv) try {
  Args a = parse(argc, argv);
  if (a.quick) {
    a.size_mb = std::min(a.size_mb, 24.0);
    a.raw_gib = std::min(a.raw_gib, 0.0625);
    a.raw_rounds = std::min(a.raw_rounds, 2);
  }
  fs::create_directories(a.dir);
  const Device device = a.device == "cuda" ? Device::cuda : Device::cpu;
  json out = {{"device", a.device},
              {"threads", a.threads},
              {"io_depth_default", zarr::kDefaultIoDepth},
              {"size_mb", a.size_mb},
              {"raw_gib", a.raw_gib},
              {"results", json::array()},
              {"raw_disk", json::array()}};

  // Written after every measurement: a run stopped at its time limit still leaves its numbers.
  auto save = [&] { std::ofstream(a.json_out) << out.dump(2); };
  // One round of the disk's limit: each configuration once. Rounds are spread over the run.
  std::vector<std::vector<double>> raw_runs(a.raw_configs.size());
  int round = 0;
  auto measure_raw = [&](const std::string& when) {
    if (round >= a.raw_rounds) return;
    ++round;
    const size_t bytes = static_cast<size_t>(a.raw_gib * double(size_t{1} << 30));
    for (size_t c = 0; c < a.raw_configs.size(); ++c) {
      auto [threads, block_mb] = a.raw_configs[c];
      size_t block = static_cast<size_t>(block_mb) << 20;
      if (a.quick) block = std::min<size_t>(block, 1 << 20);
      ::sync();
      bool direct = false;
      double gbps = raw_direct_write(a.dir / "raw.bin", bytes, threads, block, &direct);
      raw_runs[c].push_back(gbps);
      out["raw_disk"].push_back({{"when", when},
                                 {"round", round},
                                 {"threads", threads},
                                 {"block_mb", block_mb},
                                 {"direct", direct},
                                 {"gb_per_s", gbps}});
      std::fprintf(stderr, "raw %s %d threads x %d MiB (%s): %.2f GB/s\n",
                   direct ? "O_DIRECT" : "BUFFERED (O_DIRECT refused)", threads, block_mb,
                   when.c_str(), gbps);
      save();
    }
  };
  measure_raw("before");

  for (size_t d = 0; d < a.dtypes.size(); ++d) {
    const std::string& dtype_name = a.dtypes[d];
    const DataType dtype = dtype_name == "float32" ? DataType::float32 : DataType::uint8;
    const int64_t side = static_cast<int64_t>(
        std::sqrt(a.size_mb * 1e6 / (3.0 * static_cast<double>(size_of(dtype)))));
    Image src = make_source(side, dtype, device);
    const double gb = static_cast<double>(src.size_bytes()) / 1e9;
    std::vector<Case> cases;
    for (int64_t chunk : a.chunks) {
      cases.push_back({dtype_name, chunk, 0, 3, a.threads, a.io_depth, "auto", "main"});
      if (contains(a.serial, chunk)) {
        cases.push_back({dtype_name, chunk, 0, 3, 1, 1, "auto", "serial"});
      }
      if (device == Device::cuda && contains(a.cufile, chunk)) {
        cases.push_back({dtype_name, chunk, 0, 3, a.threads, a.io_depth, "cufile", "cufile"});
      }
      if (chunk == 512)
        cases.push_back({dtype_name, chunk, 0, 2, a.threads, a.io_depth, "auto", "v2"});
    }
    // The seed's own layout: chunks go out as the source holds them.
    for (int64_t chunk : a.yxc) {
      for (int format : {2, 3}) {
        cases.push_back({dtype_name, chunk, 0, format, a.threads, a.io_depth, "auto",
                         format == 2 ? "v2-yxc" : "yxc", zarr::ChannelLayout::yxc});
      }
    }
    if (a.shard) {
      cases.push_back({dtype_name, 256, a.shard, 3, a.threads, a.io_depth, "auto", "main"});
      if (!a.serial.empty()) {
        cases.push_back({dtype_name, 256, a.shard, 3, 1, 1, "auto", "serial"});
      }
    }
    // Which in-flight depth is best: the smallest files (uint8 256², 512²) and a large one.
    for (int depth : a.sweep) {
      for (int64_t chunk :
           dtype_name == "uint8" ? std::vector<int64_t>{256, 512} : std::vector<int64_t>{1024}) {
        cases.push_back({dtype_name, chunk, 0, 3, a.threads, depth, "auto", "sweep"});
      }
    }
    // Warm-up, untimed, once per unit size and depth: first-use costs (the cuFile probe, pinned
    // staging memory for every unit in flight, which the library keeps across writers as a
    // long-running converter would). Written to a tmpfs where there is one, so that it adds no
    // load to the disk under test.
    std::vector<std::tuple<int64_t, int64_t, int>> warmed;
    auto warm_up = [&](const Case& c) {
      std::tuple<int64_t, int64_t, int> key{c.chunk, c.shard, c.io_depth};
      if (std::find(warmed.begin(), warmed.end(), key) != warmed.end()) return;
      warmed.push_back(key);
      const int64_t unit = c.shard ? c.shard : c.chunk;
      // The units the timed write keeps in flight: the library caps them at 1 GiB of staging.
      const double unit_bytes = static_cast<double>(unit * unit * 3) * size_of(dtype);
      const double in_flight =
          std::min<double>(std::max(c.threads > 0 ? c.threads : a.threads,
                                    c.io_depth > 0 ? c.io_depth : zarr::kDefaultIoDepth),
                           std::max(2.0, std::floor(double(size_t{1} << 30) / unit_bytes)));
      const int64_t per_side = static_cast<int64_t>(std::ceil(std::sqrt(in_flight)));
      const int64_t warm_side = std::min(side, unit * std::max<int64_t>(per_side, 2));
      auto warm_in = [&](const fs::path& warm) {
        auto w = zarr::ArrayWriter::create(warm,
                                           {.height = warm_side,
                                            .width = warm_side,
                                            .channels = 3,
                                            .layout = c.layout,
                                            .dtype = dtype,
                                            .chunk_height = c.chunk,
                                            .chunk_width = c.chunk,
                                            .shard_height = c.shard,
                                            .shard_width = c.shard},
                                           {.threads = a.threads,
                                            .io = IoBackend::automatic,
                                            .overwrite = true,
                                            .durable = false,
                                            .io_depth = c.io_depth});
        w.write(src.view().crop(0, 0, warm_side, warm_side));
        w.finish();
      };
      std::error_code ec;
      const fs::path shm = "/dev/shm/slidestream-uc2-warm.zarr";
      try {
        if (!fs::is_directory("/dev/shm", ec)) throw Error(ErrorKind::not_found, "no /dev/shm");
        warm_in(shm);
      } catch (const Error&) {  // no tmpfs, or too small a one: warm up on the disk instead
        warm_in(a.dir / "warm.zarr");
      }
      fs::remove_all(shm, ec);
      fs::remove_all(a.dir / "warm.zarr", ec);
    };
    for (const Case& c : cases) {
      warm_up(c);
      auto path = a.dir / "ours.zarr";
      fs::remove_all(path);
      ::sync();  // nothing of the previous case left to flush inside this one's timing
      zarr::ArraySpec spec{.height = side,
                           .width = side,
                           .channels = 3,
                           .layout = c.layout,
                           .dtype = dtype,
                           .chunk_height = c.chunk,
                           .chunk_width = c.chunk,
                           .shard_height = c.shard,
                           .shard_width = c.shard,
                           .format = c.format == 2 ? zarr::Format::v2 : zarr::Format::v3,
                           .codec = zarr::Codec::none};
      zarr::WriteOptions wo{.threads = c.threads,
                            .io = backend_of(c.io),
                            .overwrite = true,
                            .durable = true,
                            .io_depth = c.io_depth};
      json r = {{"who", "slidestream"},
                {"role", c.role},
                {"dtype", dtype_name},
                {"shape",
                 c.layout == zarr::ChannelLayout::yxc ? json{side, side, 3} : json{3, side, side}},
                {"layout", zarr::to_string(c.layout)},
                {"gb", gb},
                {"chunk", c.chunk},
                {"shard", c.shard},
                {"zarr_format", c.format},
                {"threads", c.threads},
                {"io_depth_requested", c.io_depth},
                {"io_requested", c.io}};
      try {
        double t0 = now();
        auto writer = zarr::ArrayWriter::create(path, spec, wo);
        writer.write(src.view());
        zarr::WriteReport report = writer.finish();
        double seconds = now() - t0;
        r["io_path"] = report.io_path;
        r["io_depth"] = report.io_depth;
        r["files"] = report.chunks_written;
        // Edge chunks are stored whole: the disk absorbs more bytes than the array holds.
        r["bytes_written"] = report.bytes_written;
        r["seconds"] = seconds;
        r["gb_per_s"] = gb / seconds;
        std::fprintf(stderr,
                     "ours %-6s %-7s chunk %4lld shard %4lld v%d threads %2d depth %3d %-6s: "
                     "%.3f s  %.2f GB/s  [%s]\n",
                     c.role.c_str(), dtype_name.c_str(), static_cast<long long>(c.chunk),
                     static_cast<long long>(c.shard), c.format, c.threads, report.io_depth,
                     c.io.c_str(), seconds, gb / seconds, report.io_path.c_str());
      } catch (const Error& e) {
        // A refusal (cufile asked for where cuFile cannot write) is a result, not a crash.
        r["error"] = e.what();
        std::fprintf(stderr, "ours %-6s %-7s chunk %4lld %-6s: refused: %s\n", c.role.c_str(),
                     dtype_name.c_str(), static_cast<long long>(c.chunk), c.io.c_str(), e.what());
      }
      out["results"].push_back(r);
      save();
      fs::remove_all(path);
    }
    if (d + 1 < a.dtypes.size()) measure_raw("between");
  }
  measure_raw("after");
  // The limit: per configuration the median and the best run; the best configuration's median is
  // the claim's denominator (robust to one lucky run), the best single run is reported beside it.
  json configs = json::array();
  double best_median = 0, best_run = 0;
  for (size_t c = 0; c < a.raw_configs.size(); ++c) {
    if (raw_runs[c].empty()) continue;
    const double m = median(raw_runs[c]);
    const double b = *std::max_element(raw_runs[c].begin(), raw_runs[c].end());
    configs.push_back({{"threads", a.raw_configs[c].first},
                       {"block_mb", a.raw_configs[c].second},
                       {"runs", raw_runs[c]},
                       {"median_gb_per_s", m},
                       {"best_gb_per_s", b}});
    best_median = std::max(best_median, m);
    best_run = std::max(best_run, b);
  }
  out["raw_configs"] = configs;
  out["raw_limit_median_gb_per_s"] = best_median;
  out["raw_limit_best_run_gb_per_s"] = best_run;
  std::fprintf(stderr, "limit: best configuration median %.2f GB/s, best run %.2f GB/s\n",
               best_median, best_run);
  save();
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_uc2: %s\n", e.what());
  return 1;
}
