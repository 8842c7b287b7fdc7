// Zarr for Python: write any array (host or GPU, any DLPack producer) with the library's writer,
// read arrays back into host or GPU memory, and the writer objects slidestream.convert drives
// (OME-Zarr groups, arrays written region by region). Writes release the GIL.
#include "slidestream/zarr.hpp"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>

#include <memory>
#include <optional>
#include <string>

#include "binding.hpp"
#include "slidestream/error.hpp"

namespace slidestream::python {
namespace {

DataType parse_dtype(const std::string& name) {
  for (DataType t : {DataType::uint8, DataType::uint16, DataType::uint32, DataType::float32}) {
    if (to_string(t) == name) return t;
  }
  throw Error(ErrorKind::invalid_argument,
              "dtype '" + name + "' is not one of uint8, uint16, uint32, float32");
}

zarr::Format parse_format(int format) {
  if (format != 2 && format != 3) {
    throw Error(ErrorKind::invalid_argument,
                "zarr_format must be 2 or 3, got " + std::to_string(format));
  }
  return format == 2 ? zarr::Format::v2 : zarr::Format::v3;
}

// Chunk and shard shapes, (height, width) in pixels; shard 0 = none.
struct Grid {
  int64_t chunk_height = 512, chunk_width = 512, shard_height = 0, shard_width = 0;
};

zarr::ArraySpec make_spec(int64_t height, int64_t width, int channels, DataType dtype,
                          const Grid& g, int format, const std::string& codec, int codec_level,
                          double fill_value, zarr::ChannelLayout layout) {
  zarr::ArraySpec s;
  s.height = height;
  s.width = width;
  s.channels = channels;
  s.layout = layout;
  s.dtype = dtype;
  s.chunk_height = g.chunk_height;
  s.chunk_width = g.chunk_width;
  s.shard_height = g.shard_height;
  s.shard_width = g.shard_width;
  s.format = parse_format(format);
  s.codec = zarr::parse_codec(codec);
  s.codec_level = codec_level;
  s.fill_value = fill_value;
  return s;
}

zarr::WriteOptions make_write_options(bool overwrite, bool durable, int threads,
                                      const std::string& io, int io_depth, bool direct_io) {
  zarr::WriteOptions w;
  w.overwrite = overwrite;
  w.durable = durable;
  w.threads = threads;
  w.io = parse_io_backend(io);
  w.io_depth = io_depth;
  w.direct_io = direct_io;
  return w;
}

nb::dict report_dict(const zarr::WriteReport& r) {
  nb::dict d;
  d["bytes_written"] = r.bytes_written;
  d["chunks_written"] = r.chunks_written;
  d["io_path"] = r.io_path;
  d["io_depth"] = r.io_depth;
  return d;
}

nb::dict spec_dict(const zarr::ArraySpec& s) {
  nb::dict d;
  d["shape"] = s.channels == 1 ? nb::make_tuple(s.height, s.width)
                               : nb::make_tuple(s.height, s.width, s.channels);
  d["dtype"] = std::string(to_string(s.dtype));
  d["chunks"] = nb::make_tuple(s.chunk_height, s.chunk_width);
  d["shard"] =
      s.shard_height ? nb::object(nb::make_tuple(s.shard_height, s.shard_width)) : nb::none();
  d["zarr_format"] = static_cast<int>(s.format);
  d["codec"] = zarr::to_string(s.codec);
  d["fill_value"] = s.fill_value;
  d["layout"] = zarr::to_string(s.layout);
  return d;
}

// A source view with its producer's GPU work finished.
ImageView source_view(const AnyArray& array) {
  ImageView v = view_of(array, "array");
  {
    nb::gil_scoped_release unlocked;
    wait_for_producer(v);
  }
  return v;
}

class PyArrayWriter {
 public:
  explicit PyArrayWriter(zarr::ArrayWriter w) : writer_(std::move(w)) {}
  void write_region(int64_t y, int64_t x, const AnyArray& array) {
    const ImageView v = source_view(array);
    nb::gil_scoped_release unlocked;
    live().write_region(y, x, v);
  }
  void set_attributes(const std::string& json) { live().set_attributes(json); }
  nb::dict finish_chunks() {
    zarr::WriteReport r;
    {
      nb::gil_scoped_release unlocked;
      r = live().finish_chunks();
    }
    return report_dict(r);
  }
  nb::dict finish() {
    zarr::WriteReport r;
    {
      nb::gil_scoped_release unlocked;
      r = live().finish();
    }
    writer_.reset();
    return report_dict(r);
  }
  nb::dict spec() { return spec_dict(live().spec()); }

 private:
  zarr::ArrayWriter& live() {
    if (!writer_) throw Error(ErrorKind::invalid_argument, "the array writer is finished");
    return *writer_;
  }
  std::optional<zarr::ArrayWriter> writer_;
};

class PyOmeZarrWriter {
 public:
  PyOmeZarrWriter(const std::string& root, int format, const std::string& name,
                  std::optional<double> mpp_x, std::optional<double> mpp_y, bool overwrite,
                  bool durable) {
    zarr::MultiscaleOptions o;
    o.format = parse_format(format);
    o.name = name;
    o.mpp_x = mpp_x;
    o.mpp_y = mpp_y;
    o.overwrite = overwrite;
    o.durable = durable;
    writer_.emplace(zarr::OmeZarrWriter::create(root, o));
    format_ = format;
  }
  std::unique_ptr<PyArrayWriter> add_level(int index, double downsample, int64_t height,
                                           int64_t width, int channels, const std::string& dtype,
                                           Grid grid, const std::string& codec, int threads,
                                           const std::string& io, int io_depth) {
    const zarr::ArraySpec spec =
        make_spec(height, width, channels, parse_dtype(dtype), grid, format_, codec, 3, 0,
                  zarr::ChannelLayout::cyx);  // OME-NGFF: (c, y, x)
    zarr::WriteOptions w = make_write_options(false, true, threads, io, io_depth, true);
    return std::make_unique<PyArrayWriter>(live().add_level(index, downsample, spec, w));
  }
  void finish() {
    nb::gil_scoped_release unlocked;
    live().finish();
  }

 private:
  zarr::OmeZarrWriter& live() {
    if (!writer_) throw Error(ErrorKind::invalid_argument, "the OME-Zarr writer is finished");
    return *writer_;
  }
  std::optional<zarr::OmeZarrWriter> writer_;
  int format_ = 3;
};

nb::dict write_array(const AnyArray& array, const std::string& path, int64_t chunk_height,
                     int64_t chunk_width, int64_t shard_height, int64_t shard_width, int format,
                     const std::string& codec, int codec_level, double fill_value, bool overwrite,
                     bool durable, int threads, const std::string& io, int io_depth,
                     const std::string& attributes, const std::string& layout) {
  const ImageView v = source_view(array);
  const Grid grid{chunk_height, chunk_width, shard_height, shard_width};
  const zarr::ArraySpec spec =
      make_spec(v.height, v.width, v.channels, v.dtype, grid, format, codec, codec_level,
                fill_value, zarr::parse_channel_layout(layout));
  const zarr::WriteOptions w = make_write_options(overwrite, durable, threads, io, io_depth, true);
  zarr::WriteReport r;
  {
    nb::gil_scoped_release unlocked;
    auto writer = zarr::ArrayWriter::create(path, spec, w);
    if (!attributes.empty()) writer.set_attributes(attributes);
    writer.write(v);
    r = writer.finish();
  }
  return report_dict(r);
}

// create() or attach() (another process's array) of one array, for writers fed region by region.
std::unique_ptr<PyArrayWriter> open_writer(bool attach, const std::string& path, int64_t height,
                                           int64_t width, int channels, const std::string& dtype,
                                           Grid grid, int format, const std::string& codec,
                                           int codec_level, double fill_value, bool overwrite,
                                           bool durable, int threads, const std::string& io,
                                           int io_depth, const std::string& layout) {
  const zarr::ArraySpec spec =
      make_spec(height, width, channels, parse_dtype(dtype), grid, format, codec, codec_level,
                fill_value, zarr::parse_channel_layout(layout));
  zarr::WriteOptions w = make_write_options(overwrite, durable, threads, io, io_depth, true);
  // Writers attach() to this array by its path (Dask): an output it replaces (a partial one
  // included, which has no metadata yet) goes at create(), not at finish().
  w.overwrite_any = overwrite;
  w.stage_overwrite = false;
  nb::gil_scoped_release unlocked;
  return std::make_unique<PyArrayWriter>(attach ? zarr::ArrayWriter::attach(path, spec, w)
                                                : zarr::ArrayWriter::create(path, spec, w));
}

nb::object read_array(const std::string& path, const std::string& device, int threads) {
  const Target t = parse_target(device);
  ReadOptions o;
  o.device = t.device;
  o.cuda_device = t.index;
  o.threads = threads;
  Image image;
  {
    nb::gil_scoped_release unlocked;
    image = zarr::ArrayReader::open(path).read(o);
  }
  return to_python(std::move(image), true);
}

nb::dict array_info(const std::string& path) {
  std::optional<zarr::ArrayReader> reader;
  {
    nb::gil_scoped_release unlocked;
    reader.emplace(zarr::ArrayReader::open(path));
  }
  nb::dict d = spec_dict(reader->info().spec);
  d["attributes"] = reader->info().attributes_json;
  return d;
}

}  // namespace

void bind_zarr(nb::module_& m) {
  nb::class_<Grid>(m, "ZarrGrid")
      .def(nb::init<int64_t, int64_t, int64_t, int64_t>(), nb::arg("chunk_height"),
           nb::arg("chunk_width"), nb::arg("shard_height") = 0, nb::arg("shard_width") = 0);
  nb::class_<PyArrayWriter>(m, "ZarrArrayWriter")
      .def("write_region", &PyArrayWriter::write_region, nb::arg("y"), nb::arg("x"),
           nb::arg("array"))
      .def("set_attributes", &PyArrayWriter::set_attributes, nb::arg("json"))
      .def("finish_chunks", &PyArrayWriter::finish_chunks,
           "This writer's chunks made durable; no metadata (many writers, one array).")
      .def("finish", &PyArrayWriter::finish, "Every chunk durable, then the metadata.")
      .def_prop_ro("spec", &PyArrayWriter::spec);
  m.def("open_array_writer", &open_writer, nb::arg("attach"), nb::arg("path"), nb::arg("height"),
        nb::arg("width"), nb::arg("channels"), nb::arg("dtype"), nb::arg("grid"),
        nb::arg("zarr_format") = 3, nb::arg("codec") = "none", nb::arg("codec_level") = 3,
        nb::arg("fill_value") = 0.0, nb::arg("overwrite") = false, nb::arg("durable") = true,
        nb::arg("threads") = 0, nb::arg("io") = "auto", nb::arg("io_depth") = 0,
        nb::arg("layout") = "yxc");
  m.def(
      "is_complete", [](const std::string& root) { return zarr::is_complete(root); },
      nb::arg("root"),
      "True when root holds a finished output of slidestream's writers (its metadata landed "
      "last).");
  m.def(
      "stage_replacement",
      [](const std::string& path, bool overwrite_any) {
        nb::gil_scoped_release unlocked;
        return zarr::stage_replacement(path, overwrite_any).string();
      },
      nb::arg("path"), nb::arg("overwrite_any") = false,
      "A fresh empty sibling of path to write its replacement into (many writers, one array).");
  m.def(
      "commit_replacement",
      [](const std::string& staged, const std::string& path, bool durable) {
        nb::gil_scoped_release unlocked;
        zarr::commit_replacement(staged, path, durable);
      },
      nb::arg("staged"), nb::arg("path"), nb::arg("durable") = true,
      "The complete array at staged takes path's place; the old output is removed.");
  nb::class_<PyOmeZarrWriter>(m, "OmeZarrWriter")
      .def(nb::init<const std::string&, int, const std::string&, std::optional<double>,
                    std::optional<double>, bool, bool>(),
           nb::arg("root"), nb::arg("zarr_format") = 3, nb::arg("name") = "image",
           nb::arg("mpp_x") = nb::none(), nb::arg("mpp_y") = nb::none(),
           nb::arg("overwrite") = false, nb::arg("durable") = true)
      .def("add_level", &PyOmeZarrWriter::add_level, nb::arg("index"), nb::arg("downsample"),
           nb::arg("height"), nb::arg("width"), nb::arg("channels"), nb::arg("dtype"),
           nb::arg("grid"), nb::arg("codec") = "none", nb::arg("threads") = 0,
           nb::arg("io") = "auto", nb::arg("io_depth") = 0, nb::keep_alive<0, 1>())
      .def("finish", &PyOmeZarrWriter::finish);
  m.def("write_array", &write_array, nb::arg("array"), nb::arg("path"), nb::arg("chunk_height"),
        nb::arg("chunk_width"), nb::arg("shard_height") = 0, nb::arg("shard_width") = 0,
        nb::arg("zarr_format") = 3, nb::arg("codec") = "none", nb::arg("codec_level") = 3,
        nb::arg("fill_value") = 0.0, nb::arg("overwrite") = false, nb::arg("durable") = true,
        nb::arg("threads") = 0, nb::arg("io") = "auto", nb::arg("io_depth") = 0,
        nb::arg("attributes") = "", nb::arg("layout") = "yxc");
  m.def("read_array", &read_array, nb::arg("path"), nb::arg("device") = "cpu",
        nb::arg("threads") = 0);
  m.def("array_info", &array_info, nb::arg("path"));
}

}  // namespace slidestream::python
