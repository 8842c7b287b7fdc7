// Use case 2: an array in GPU (or host) memory to uncompressed Zarr on disk, timed from data in
// memory to data durable on disk (chunks synced, metadata written and synced). Also measures the
// disk's raw parallel O_DIRECT write bandwidth in the same process, several times, so that the
// results are ratios against a limit measured on the same machine in the same call.
//
//   bench_uc2 --dir SCRATCH --json OUT.json [--size-mb 1600] [--device cuda|cpu] [--threads N]
//             [--chunks 256,512,1024,2048] [--dtypes uint8,float32] [--shard 4096]
//             [--raw-repeats 3] [--quick]
//
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
  std::vector<int64_t> chunks{256, 512, 1024, 2048};
  std::vector<std::string> dtypes{"uint8", "float32"};
  int64_t shard = 4096;
  int raw_repeats = 3;
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
    else if (k == "--raw-repeats")
      a.raw_repeats = std::stoi(v());
    else if (k == "--quick")
      a.quick = true;
    else if (k == "--chunks") {
      a.chunks.clear();
      for (auto& c : split(v())) a.chunks.push_back(std::stoll(c));
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
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The raw limit: `threads` threads each pwrite `block`-byte O_DIRECT blocks of one file of `bytes`
// bytes, then fsync. Returns GB/s.
double raw_direct_write(const fs::path& file, size_t bytes, int threads, size_t block) {
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
  ::fsync(fd);
  double t1 = now();
  ::close(fd);
  fs::remove(file);
  if (failed) throw Error(ErrorKind::io, "raw write failed on " + file.string());
  (void)direct;
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
  std::string io;
};

}  // namespace

int main(int argc, char** argv) try {
  Args a = parse(argc, argv);
  if (a.quick) {
    a.size_mb = std::min(a.size_mb, 24.0);
    a.raw_repeats = std::min(a.raw_repeats, 2);
  }
  fs::create_directories(a.dir);
  const Device device = a.device == "cuda" ? Device::cuda : Device::cpu;
  json out = {{"device", a.device},
              {"threads", a.threads},
              {"size_mb", a.size_mb},
              {"results", json::array()},
              {"raw_disk", json::array()}};

  // The disk's limit, before and after the Zarr cases (the disk is shared and noisy).
  auto measure_raw = [&](const std::string& when) {
    const size_t bytes = static_cast<size_t>(a.size_mb * 1e6);
    for (auto [threads, block_mb] : {std::pair{8, 16}, std::pair{4, 64}}) {
      std::vector<double> runs;
      for (int r = 0; r < a.raw_repeats; ++r) {
        size_t block = static_cast<size_t>(block_mb) << 20;
        if (a.quick) block = std::min<size_t>(block, 1 << 20);
        runs.push_back(raw_direct_write(a.dir / "raw.bin", bytes, threads, block));
      }
      out["raw_disk"].push_back({{"when", when},
                                 {"threads", threads},
                                 {"block_mb", block_mb},
                                 {"gb_per_s", runs},
                                 {"median_gb_per_s", median(runs)}});
      std::fprintf(stderr, "raw O_DIRECT %d threads x %d MiB: median %.2f GB/s\n", threads,
                   block_mb, median(runs));
    }
  };
  measure_raw("before");

  for (const auto& dtype_name : a.dtypes) {
    const DataType dtype = dtype_name == "float32" ? DataType::float32 : DataType::uint8;
    const int64_t side = static_cast<int64_t>(
        std::sqrt(a.size_mb * 1e6 / (3.0 * static_cast<double>(size_of(dtype)))));
    Image src = make_source(side, dtype, device);
    const double gb = static_cast<double>(src.size_bytes()) / 1e9;
    std::vector<Case> cases;
    for (int64_t chunk : a.chunks) {
      cases.push_back({dtype_name, chunk, 0, 3, a.threads, "posix"});
      cases.push_back({dtype_name, chunk, 0, 3, 1, "posix"});
      if (device == Device::cuda) cases.push_back({dtype_name, chunk, 0, 3, a.threads, "cufile"});
      if (chunk == 512) cases.push_back({dtype_name, chunk, 0, 2, a.threads, "posix"});
    }
    if (a.shard) {
      cases.push_back({dtype_name, 256, a.shard, 3, a.threads, "posix"});
      cases.push_back({dtype_name, 256, a.shard, 3, 1, "posix"});
    }
    // Warm-up, untimed, once per unit size: first-use costs (cuFile detection, pinned staging
    // memory, which the library keeps across writers as a long-running converter would).
    std::vector<std::pair<int64_t, int64_t>> warmed;
    auto warm_up = [&](const Case& c) {
      std::pair<int64_t, int64_t> key{c.chunk, c.shard};
      if (std::find(warmed.begin(), warmed.end(), key) != warmed.end()) return;
      warmed.push_back(key);
      const int64_t unit = c.shard ? c.shard : c.chunk;
      const int64_t warm_side = std::min(side, unit * 4);
      auto warm = a.dir / "warm.zarr";
      auto w = zarr::ArrayWriter::create(
          warm,
          {.height = warm_side,
           .width = warm_side,
           .channels = 3,
           .dtype = dtype,
           .chunk_height = c.chunk,
           .chunk_width = c.chunk,
           .shard_height = c.shard,
           .shard_width = c.shard},
          {.threads = a.threads, .io = IoBackend::cufile, .overwrite = true, .durable = false});
      w.write(src.view().crop(0, 0, warm_side, warm_side));
      w.finish();
      fs::remove_all(warm);
    };
    for (const Case& c : cases) {
      warm_up(c);
      auto path = a.dir / "ours.zarr";
      fs::remove_all(path);
      ::sync();  // nothing of the previous case left to flush inside this one's timing
      zarr::ArraySpec spec{.height = side,
                           .width = side,
                           .channels = 3,
                           .dtype = dtype,
                           .chunk_height = c.chunk,
                           .chunk_width = c.chunk,
                           .shard_height = c.shard,
                           .shard_width = c.shard,
                           .format = c.format == 2 ? zarr::Format::v2 : zarr::Format::v3,
                           .codec = zarr::Codec::none};
      zarr::WriteOptions wo{.threads = c.threads,
                            .io = c.io == "cufile" ? IoBackend::cufile : IoBackend::posix,
                            .overwrite = true,
                            .durable = true};
      double t0 = now();
      auto writer = zarr::ArrayWriter::create(path, spec, wo);
      writer.write(src.view());
      zarr::WriteReport report = writer.finish();
      double seconds = now() - t0;
      json r = {{"who", "slidestream"},
                {"dtype", dtype_name},
                {"shape", {3, side, side}},
                {"gb", gb},
                {"chunk", c.chunk},
                {"shard", c.shard},
                {"zarr_format", c.format},
                {"threads", c.threads},
                {"io_requested", c.io},
                {"io_path", report.io_path},
                {"files", report.chunks_written},
                {"seconds", seconds},
                {"gb_per_s", gb / seconds}};
      out["results"].push_back(r);
      std::fprintf(
          stderr,
          "ours %-7s chunk %4lld shard %4lld v%d threads %2d %-6s: %.3f s  %.2f GB/s  [%s]\n",
          dtype_name.c_str(), static_cast<long long>(c.chunk), static_cast<long long>(c.shard),
          c.format, c.threads, c.io.c_str(), seconds, gb / seconds, report.io_path.c_str());
      fs::remove_all(path);
    }
  }
  measure_raw("after");
  std::ofstream(a.json_out) << out.dump(2);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_uc2: %s\n", e.what());
  return 1;
}
