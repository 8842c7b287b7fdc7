#include "shim/nvcomp.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "shim/library.hpp"
#include "shim/nvcomp_api.hpp"
#include "slidestream/error.hpp"

namespace slidestream::shim::nvcomp {
namespace {

struct Symbols {
  api::GetProperties get_properties = nullptr;
  api::GetStatusString status_string = nullptr;
  api::GetRequiredAlignments<api::DeflateDecompressOpts> deflate_alignments = nullptr;
  api::GetTempSize<api::DeflateDecompressOpts> deflate_temp = nullptr;
  api::DecompressAsync<api::DeflateDecompressOpts> deflate = nullptr;
  api::GetRequiredAlignments<api::ZstdDecompressOpts> zstd_alignments = nullptr;
  api::GetTempSize<api::ZstdDecompressOpts> zstd_temp = nullptr;
  api::DecompressAsync<api::ZstdDecompressOpts> zstd = nullptr;
};

struct Loaded {
  Availability availability;
  Symbols symbols;
  Alignment alignments[2];
};

// The CUDA implementation on every GPU: the hardware decompression engine (Blackwell) takes
// deflate chunks only up to a driver limit and fails asynchronously past it.
api::DeflateDecompressOpts deflate_options() {
  api::DeflateDecompressOpts o;
  std::memset(&o, 0, sizeof(o));
  o.backend = api::backend_cuda;
  return o;
}
api::ZstdDecompressOpts zstd_options() {
  api::ZstdDecompressOpts o;
  std::memset(&o, 0, sizeof(o));
  o.backend = api::backend_cuda;
  return o;
}

Alignment at_least_16(const api::AlignmentRequirements& r) {
  return {std::max<size_t>(r.input, 16), std::max<size_t>(r.output, 16),
          std::max<size_t>(r.temp, 16)};
}

Loaded load() {
  Loaded result;
  Availability& a = result.availability;
  Library library("libnvcomp", {"libnvcomp.so.6"});
  Symbols& s = result.symbols;
  library.bind("nvcompGetProperties", &s.get_properties)
      .bind("nvcompGetStatusString", &s.status_string)
      .bind("nvcompBatchedDeflateDecompressGetRequiredAlignments", &s.deflate_alignments)
      .bind("nvcompBatchedDeflateDecompressGetTempSize", &s.deflate_temp)
      .bind("nvcompBatchedDeflateDecompressAsync", &s.deflate)
      .bind("nvcompBatchedZstdDecompressGetRequiredAlignments", &s.zstd_alignments)
      .bind("nvcompBatchedZstdDecompressGetTempSize", &s.zstd_temp)
      .bind("nvcompBatchedZstdDecompressAsync", &s.zstd);
  a.library_path = library.path();
  a.why = library.why();
  if (!library.ok()) return result;
  api::Properties p{};
  if (s.get_properties(&p) != api::success) {
    a.why = "nvcompGetProperties failed";
    return result;
  }
  a.version_major = static_cast<int>(p.version / 1000);
  a.version_minor = static_cast<int>(p.version % 1000 / 100);
  a.version_patch = static_cast<int>(p.version % 100);
  // The declarations in nvcomp_api.hpp are those of 6.x (the decompression options structs
  // arrived in 5.0 and changed the signatures).
  if (a.version_major != 6) {
    a.why = "libnvcomp " + std::to_string(a.version_major) + "." + std::to_string(a.version_minor) +
            " found; slidestream calls the 6.x API";
    return result;
  }
  api::AlignmentRequirements r{};
  if (s.deflate_alignments(deflate_options(), &r) != api::success) {
    a.why = "nvcompBatchedDeflateDecompressGetRequiredAlignments failed";
    return result;
  }
  result.alignments[0] = at_least_16(r);
  if (s.zstd_alignments(zstd_options(), &r) != api::success) {
    a.why = "nvcompBatchedZstdDecompressGetRequiredAlignments failed";
    return result;
  }
  result.alignments[1] = at_least_16(r);
  a.loaded = true;
  return result;
}

const Loaded& loaded() {
  static const Loaded instance = load();
  return instance;
}

const Symbols& symbols() {
  const Loaded& l = loaded();
  if (!l.availability.loaded) {
    throw Error(ErrorKind::unsupported, "nvCOMP is not usable: " + l.availability.why);
  }
  return l.symbols;
}

[[noreturn]] void fail(api::Status status, const char* what) {
  const Symbols& s = loaded().symbols;
  std::string text = s.status_string ? s.status_string(status) : "";
  if (text.empty()) text = "status " + std::to_string(static_cast<int>(status));
  throw Error(ErrorKind::cuda, std::string(what) + ": " + text);
}

}  // namespace

const Availability& availability() {
  return loaded().availability;
}

bool enabled(std::string* why) {
  const Availability& a = availability();
  if (!a.loaded && why) *why = a.why;
  return a.loaded;
}

Alignment alignment(Codec codec) {
  (void)symbols();
  return loaded().alignments[codec == Codec::deflate ? 0 : 1];
}

size_t temp_bytes(Codec codec, size_t chunks, size_t chunk_bytes) {
  const Symbols& s = symbols();
  size_t bytes = 0;
  api::Status status =
      codec == Codec::deflate
          ? s.deflate_temp(chunks, chunk_bytes, deflate_options(), &bytes, chunks * chunk_bytes,
                           nullptr)
          : s.zstd_temp(chunks, chunk_bytes, zstd_options(), &bytes, chunks * chunk_bytes, nullptr);
  if (status != api::success) fail(status, "nvCOMP: GetTempSize");
  return bytes;
}

void decompress_async(Codec codec, const void* const* compressed, const size_t* compressed_bytes,
                      const size_t* capacity, size_t* actual, size_t count, void* temp,
                      size_t temp_size, void* const* output, int* status, cudaStream_t stream) {
  const Symbols& s = symbols();
  auto* statuses = reinterpret_cast<api::Status*>(status);
  api::Status launched =
      codec == Codec::deflate
          ? s.deflate(compressed, compressed_bytes, capacity, actual, count, temp, temp_size,
                      output, deflate_options(), statuses, stream)
          : s.zstd(compressed, compressed_bytes, capacity, actual, count, temp, temp_size, output,
                   zstd_options(), statuses, stream);
  if (launched != api::success) {
    fail(launched, codec == Codec::deflate ? "nvcompBatchedDeflateDecompressAsync"
                                           : "nvcompBatchedZstdDecompressAsync");
  }
}

const char* name(Codec codec) noexcept {
  return codec == Codec::deflate ? "nvcomp-deflate" : "nvcomp-zstd";
}

}  // namespace slidestream::shim::nvcomp
