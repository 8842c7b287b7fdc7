// ArrayReader: reads any region of a v2 / v3 / sharded array, chunk files in parallel. Files are
// untrusted: sizes, shard indices and compressed streams are checked before use.
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/crc32c.hpp"
#include "core/thread_pool.hpp"
#include "io/file.hpp"
#include "slidestream/error.hpp"
#include "slidestream/zarr.hpp"
#include "zarr/chunk_codec.hpp"
#include "zarr/device_staging.hpp"
#include "zarr/layout.hpp"
#include "zarr/parallel.hpp"

namespace slidestream::zarr {

using detail::Layout;

struct ArrayReader::Impl {
  std::filesystem::path path;
  Layout layout;
  ArrayInfo info;

  // Copies the part of unit (uy, ux) that lies in `out`, whose top-left is (y, x) of the array.
  void read_unit(int64_t uy, int64_t ux, int64_t y, int64_t x, const ImageView& out) const;
};

namespace {

struct Rect {
  int64_t y0, x0, y1, x1;  // half-open
  bool empty() const { return y0 >= y1 || x0 >= x1; }
};

Rect intersect(Rect a, Rect b) {
  return {std::max(a.y0, b.y0), std::max(a.x0, b.x0), std::min(a.y1, b.y1), std::min(a.x1, b.x1)};
}

}  // namespace

void ArrayReader::Impl::read_unit(int64_t uy, int64_t ux, int64_t y, int64_t x,
                                  const ImageView& out) const {
  const Layout& l = layout;
  const Rect want{y, x, y + out.height, x + out.width};
  const Rect unit{uy * l.unit_h, ux * l.unit_w, (uy + 1) * l.unit_h, (ux + 1) * l.unit_w};
  const Rect part = intersect(want, unit);
  if (part.empty()) return;
  auto view_of = [&](Rect r) { return out.crop(r.x0 - x, r.y0 - y, r.x1 - r.x0, r.y1 - r.y0); };
  const auto file_path = path / l.unit_key(uy, ux);
  std::error_code ec;
  if (!std::filesystem::exists(file_path, ec)) {
    detail::fill_view(view_of(part), l);  // absent chunk: fill_value
    return;
  }
  io::File file(file_path, io::File::Mode::read);
  const uint64_t file_size = file.size();
  thread_local std::vector<std::byte> encoded;
  thread_local detail::AlignedBuffer decoded;
  decoded.reserve(l.chunk_bytes());
  auto decode_into = [&](std::span<const std::byte> bytes, Rect chunk, int64_t cy, int64_t cx) {
    Rect p = intersect(part, chunk);
    if (p.empty()) return;
    try {
      detail::decode_bytes(l, bytes, std::span(decoded.data(), l.chunk_bytes()));
    } catch (const Error& e) {
      throw e.with_context({.file = file_path.string(), .tile = cy * l.chunks_across() + cx});
    }
    detail::unpack_chunk(decoded.data(), l, p.y0 - chunk.y0, p.x0 - chunk.x0, view_of(p));
  };
  if (!l.sharded) {
    if (file_size > 2 * detail::encoded_bound(l, l.chunk_bytes()) + (1u << 20)) {
      throw Error(ErrorKind::limit, "chunk file is larger than its chunk could ever encode to",
                  {.file = file_path.string()});
    }
    encoded.resize(file_size);
    file.read_exact(encoded, 0);
    decode_into(encoded, unit, uy, ux);
    return;
  }
  // Shard: read the index, check its crc32c, then each inner chunk that overlaps the request.
  const size_t n = static_cast<size_t>(l.inner_down() * l.inner_across());
  const size_t index_size = l.index_bytes();
  if (file_size < index_size) {
    throw Error(ErrorKind::corrupt, "shard shorter than its index", {.file = file_path.string()});
  }
  std::vector<std::byte> index_bytes(index_size);
  const uint64_t index_offset = l.index_at_end ? file_size - index_size : 0;
  file.read_exact(index_bytes, index_offset);
  if (l.index_crc32c) {
    uint32_t stored;
    std::memcpy(&stored, index_bytes.data() + 16 * n, 4);
    if (crc32c(std::span<const std::byte>(index_bytes.data(), 16 * n)) != stored) {
      throw Error(ErrorKind::corrupt, "shard index crc32c mismatch",
                  {.file = file_path.string(), .offset = static_cast<int64_t>(index_offset)});
    }
  }
  std::vector<uint64_t> index(2 * n);
  std::memcpy(index.data(), index_bytes.data(), 16 * n);
  const uint64_t data_begin = l.index_at_end ? 0 : index_size;
  const uint64_t data_end = l.index_at_end ? file_size - index_size : file_size;
  const uint64_t max_chunk = 2 * detail::encoded_bound(l, l.chunk_bytes()) + (1u << 20);
  for (int64_t iy = 0; iy < l.inner_down(); ++iy) {
    for (int64_t ix = 0; ix < l.inner_across(); ++ix) {
      const int64_t cy = uy * l.inner_down() + iy, cx = ux * l.inner_across() + ix;
      Rect chunk{cy * l.chunk_h, cx * l.chunk_w, (cy + 1) * l.chunk_h, (cx + 1) * l.chunk_w};
      Rect p = intersect(part, chunk);
      if (p.empty()) continue;
      const size_t k = static_cast<size_t>(iy * l.inner_across() + ix);
      const uint64_t offset = index[2 * k], nbytes = index[2 * k + 1];
      if (offset == ~uint64_t{0} && nbytes == ~uint64_t{0}) {
        detail::fill_view(view_of(p), l);
        continue;
      }
      if (offset < data_begin || offset > data_end || nbytes > data_end - offset ||
          nbytes > max_chunk) {
        throw Error(ErrorKind::corrupt,
                    "shard index entry " + std::to_string(k) + " points outside the shard",
                    {.file = file_path.string(), .tile = static_cast<int64_t>(k)});
      }
      encoded.resize(nbytes);
      file.read_exact(encoded, offset);
      decode_into(encoded, chunk, cy, cx);
    }
  }
}

ArrayReader ArrayReader::open(const std::filesystem::path& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  nlohmann::json attributes;
  impl->layout = detail::read_array_metadata(path, &attributes);
  impl->info.spec = impl->layout.to_spec();
  impl->info.attributes_json = attributes.dump();
  return ArrayReader(std::move(impl));
}

ArrayReader::ArrayReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ArrayReader::ArrayReader(ArrayReader&&) noexcept = default;
ArrayReader::~ArrayReader() = default;

const ArrayInfo& ArrayReader::info() const noexcept {
  return impl_->info;
}

void ArrayReader::read_region(int64_t y, int64_t x, const ImageView& out,
                              const ReadOptions& options) const {
  const Layout& l = impl_->layout;
  auto fail = [&](const std::string& what) {
    throw Error(ErrorKind::invalid_argument, "read_region: " + what,
                {.file = impl_->path.string()});
  };
  if (out.channels != l.channels || out.dtype != l.dtype) {
    fail("destination has " + std::to_string(out.channels) + " x " +
         std::string(to_string(out.dtype)) + ", the array " + std::to_string(l.channels) + " x " +
         std::string(to_string(l.dtype)));
  }
  if (y < 0 || x < 0 || out.height < 0 || out.width < 0 || y + out.height > l.height ||
      x + out.width > l.width) {
    fail("region outside the array");
  }
  if (out.height == 0 || out.width == 0) return;
  if (out.device == Device::cuda) {
    // Decode on the host, then one 2-D copy to the GPU.
    Image host = Image::allocate(out.width, out.height, out.channels, out.dtype);
    read_region(y, x, host.view(), options);
    device::copy_view(out, host.view());
    return;
  }
  const int64_t uy0 = y / l.unit_h, uy1 = (y + out.height - 1) / l.unit_h;
  const int64_t ux0 = x / l.unit_w, ux1 = (x + out.width - 1) / l.unit_w;
  const int64_t na = ux1 - ux0 + 1;
  const size_t n = static_cast<size_t>((uy1 - uy0 + 1) * na);
  auto body = [&](size_t i) {
    impl_->read_unit(uy0 + static_cast<int64_t>(i) / na, ux0 + static_cast<int64_t>(i) % na, y, x,
                     out);
  };
  int threads = options.threads > 0 ? options.threads : hardware_threads();
  detail::run_parallel(threads > 1 ? &ThreadPool::shared() : nullptr, n, threads, body);
}

Image ArrayReader::read(const ReadOptions& options) const {
  const Layout& l = impl_->layout;
  Image image =
      Image::allocate(l.width, l.height, l.channels, l.dtype, options.device, options.cuda_device);
  read_region(0, 0, image.view(), options);
  return image;
}

}  // namespace slidestream::zarr
