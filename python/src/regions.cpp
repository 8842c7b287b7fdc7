// slidestream._core.read_regions and slidestream._core.TileCache: batched region reads
// (slidestream/regions.hpp) for Python. Locations come as an (N, 2) int64 array of level-0
// (x, y); the batch goes out as one (N, H, W, C) array (NumPy on the host, DLPack on a GPU) or
// into a caller's C-contiguous (N, H, W, C) array. The read releases the GIL.
#include "slidestream/regions.hpp"

#include <nanobind/stl/string.h>

#include <algorithm>
#include <string>
#include <vector>

#include "binding.hpp"
#include "slidestream/error.hpp"

namespace slidestream::python {
namespace {

using Locations = nb::ndarray<const int64_t, nb::ndim<2>, nb::c_contig, nb::device::cpu>;

std::vector<RegionLocation> locations_of(const Locations& array) {
  if (array.shape(1) != 2) {
    throw Error(ErrorKind::invalid_argument,
                "locations: expected shape (N, 2) of level-0 (x, y), got (" +
                    std::to_string(array.shape(0)) + ", " + std::to_string(array.shape(1)) + ")");
  }
  std::vector<RegionLocation> out(array.shape(0));
  const int64_t* p = array.data();
  for (size_t i = 0; i < out.size(); ++i) out[i] = {p[2 * i], p[2 * i + 1]};
  return out;
}

// A caller's (N, H, W, C) array as the (W, N × H) view read_regions fills.
// With first >= 0, regions [first, first + n) of a larger batch (the loader fills one batch
// slide by slide); with first < 0, exactly n regions.
ImageView batch_out_view(const nb::object& out, const Level& l, size_t n, int64_t width,
                         int64_t height, const ReadOptions& o, int64_t first_region) {
  const bool part = first_region >= 0;
  const size_t first = part ? static_cast<size_t>(first_region) : 0;
  nb::ndarray<nb::c_contig> array;
  if (!nb::try_cast(out, array)) {
    throw Error(ErrorKind::invalid_argument,
                "out: needs a writable C-contiguous (N, H, W, C) array (DLPack or buffer), got " +
                    nb::cast<std::string>(nb::str(out.type())));
  }
  const std::string want = "(" + std::to_string(n) + ", " + std::to_string(height) + ", " +
                           std::to_string(width) + ", " + std::to_string(l.channels) + ")";
  if (array.ndim() != 4 || (part ? array.shape(0) < first + n : array.shape(0) != n) ||
      array.shape(1) != static_cast<size_t>(height) ||
      array.shape(2) != static_cast<size_t>(width) ||
      array.shape(3) != static_cast<size_t>(l.channels)) {
    std::string got = "(";
    for (size_t i = 0; i < array.ndim(); ++i) {
      got += (i ? ", " : "") + std::to_string(array.shape(i));
    }
    throw Error(ErrorKind::invalid_argument,
                "out: shape " + got + ") does not match the batch, " + want);
  }
  // Reuse the 3-D checks (dtype, device) on a (N × H, W, C) reading of the same memory.
  ImageView v;
  v.data = static_cast<std::byte*>(array.data()) +
           first * static_cast<size_t>(height * width) * l.channels * size_of(l.dtype);
  v.width = width;
  v.height = static_cast<int64_t>(n) * height;
  v.channels = l.channels;
  v.row_pitch = static_cast<size_t>(width) * l.channels * size_of(l.dtype);
  const nb::dlpack::dtype dt = array.dtype();
  const bool dtype_ok =
      dt.bits == size_of(l.dtype) * 8 &&
      dt.code == static_cast<uint8_t>(l.dtype == DataType::float32 ? nb::dlpack::dtype_code::Float
                                                                   : nb::dlpack::dtype_code::UInt);
  if (!dtype_ok) {
    throw Error(ErrorKind::invalid_argument,
                "out: dtype does not match the level's, " + std::string(to_string(l.dtype)));
  }
  v.dtype = l.dtype;
  const bool on_gpu = array.device_type() == nb::device::cuda::value;
  v.device = on_gpu ? Device::cuda : Device::cpu;
  v.cuda_device = on_gpu ? array.device_id() : 0;
  if (v.device != o.device || (on_gpu && v.cuda_device != o.cuda_device)) {
    throw Error(ErrorKind::invalid_argument, "out: the array is not on the requested device");
  }
  return v;
}

nb::object read_regions_py(const PySlide& self, int level, const Locations& locations,
                           int64_t width, int64_t height, const std::string& device,
                           const nb::object& out, int threads, uint8_t fill, bool gpu_jpeg,
                           TileCache* cache, double mpp, int64_t first) {
  auto slide = self.get();
  const Target t = parse_target(device);
  ReadOptions o;
  o.device = t.device;
  o.cuda_device = t.index;
  o.threads = threads;
  o.fill = fill;
  o.gpu_jpeg = gpu_jpeg;
  // At an mpp the level is the one mpp_source picks (it says why when the slide has no mpp).
  if (mpp > 0) {
    level =
        mpp_source(*slide, mpp, std::max<int64_t>(width, 0), std::max<int64_t>(height, 0)).level;
  }
  const Level& l = slide->level(level);
  const std::vector<RegionLocation> where = locations_of(locations);
  if (!out.is_none()) {
    const ImageView v = batch_out_view(out, l, where.size(), width, height, o, first);
    nb::gil_scoped_release unlocked;
    // A caller's array may have GPU work pending; the loader's own batches (first >= 0) come
    // from empty_patches with none, and a device-wide wait would stall its other reads.
    if (first < 0) wait_for_producer(v);
    if (mpp > 0) {
      read_regions_at_mpp(*slide, mpp, where, width, height, v, o, cache);
    } else {
      read_regions(*slide, level, where, width, height, v, o, cache);
    }
    return out;
  }
  // A fresh batch: pool memory on a GPU (a cudaFree per batch would wait for the whole device).
  std::byte* data = nullptr;
  const nb::dlpack::dtype dt{
      static_cast<uint8_t>(l.dtype == DataType::float32 ? nb::dlpack::dtype_code::Float
                                                        : nb::dlpack::dtype_code::UInt),
      static_cast<uint8_t>(size_of(l.dtype) * 8), 1};
  nb::object array = new_batch(where.size(), static_cast<size_t>(std::max<int64_t>(height, 0)),
                               static_cast<size_t>(std::max<int64_t>(width, 0)),
                               static_cast<size_t>(l.channels), dt, t, &data);
  ImageView v;
  v.data = data;
  v.width = width;
  v.height = static_cast<int64_t>(where.size()) * height;
  v.channels = l.channels;
  v.dtype = l.dtype;
  v.row_pitch = v.row_bytes();
  v.device = t.device;
  v.cuda_device = t.index;
  {
    nb::gil_scoped_release unlocked;
    if (mpp > 0) {
      read_regions_at_mpp(*slide, mpp, where, width, height, v, o, cache);
    } else {
      read_regions(*slide, level, where, width, height, v, o, cache);
    }
  }
  return array;
}

}  // namespace

void bind_regions(nb::module_& m) {
  nb::class_<TileCache>(m, "TileCache", "A bounded cache of decoded tiles (bytes cap, LRU).")
      .def(nb::init<size_t>(), nb::arg("capacity_bytes"))
      .def_prop_ro("capacity_bytes", &TileCache::capacity_bytes)
      .def("clear", &TileCache::clear)
      .def("stats", [](const TileCache& c) {
        const TileCache::Stats s = c.stats();
        nb::dict d;
        d["hits"] = s.hits;
        d["misses"] = s.misses;
        d["evictions"] = s.evictions;
        d["entries"] = s.entries;
        d["used_bytes"] = s.used_bytes;
        d["device_hits"] = s.device_hits;
        d["device_misses"] = s.device_misses;
        d["device_entries"] = s.device_entries;
        d["device_used_bytes"] = s.device_used_bytes;
        return d;
      });
  m.def("read_regions", &read_regions_py, nb::arg("slide"), nb::arg("level"), nb::arg("locations"),
        nb::arg("width"), nb::arg("height"), nb::arg("device") = "cpu", nb::arg("out") = nb::none(),
        nb::arg("threads") = 0, nb::arg("fill") = 0, nb::arg("gpu_jpeg") = true,
        nb::arg("cache").none() = nb::none(), nb::arg("mpp") = 0.0, nb::arg("first") = -1,
        "N regions at level-0 (x, y) of one level (or at an mpp > 0) into one (N, H, W, C) "
        "array.");
}

}  // namespace slidestream::python
