// slidestream._core.Slide: the library's Slide for Python. Every read releases the GIL, so one
// Slide serves many Python threads at once; close() drops this object's reference while reads in
// flight keep their own. Reads return new arrays (NumPy on the host, DLPack on a GPU) or fill a
// caller's array (`out`) after checking that it fits.
#include "slidestream/slide.hpp"

#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>

#include "binding.hpp"
#include "slidestream/error.hpp"

namespace slidestream::python {
namespace {

nb::dict level_dict(const Level& l) {
  nb::dict d;
  d["index"] = l.index;
  d["width"] = l.width;
  d["height"] = l.height;
  d["tile_width"] = l.tile_width;
  d["tile_height"] = l.tile_height;
  d["tiles_across"] = l.tiles_across;
  d["tiles_down"] = l.tiles_down;
  d["downsample"] = l.downsample;
  d["compression"] = to_string(l.compression);
  d["channels"] = l.channels;
  d["dtype"] = std::string(to_string(l.dtype));
  return d;
}

ReadOptions read_options(const std::string& device, int threads, const std::string& io,
                         uint8_t fill, bool gpu_jpeg) {
  const Target t = parse_target(device);
  ReadOptions o;
  o.device = t.device;
  o.cuda_device = t.index;
  o.threads = threads;
  o.io = parse_io_backend(io);
  o.fill = fill;
  o.gpu_jpeg = gpu_jpeg;
  return o;
}

// `out` as a writable view that holds exactly (height, width, level channels) of the level's
// dtype on the requested device.
ImageView out_view(const nb::object& out, const Level& l, int64_t width, int64_t height,
                   const ReadOptions& o) {
  nb::ndarray<> writable;
  if (!nb::try_cast(out, writable)) {
    AnyArray readable;
    if (nb::try_cast(out, readable)) {
      throw Error(ErrorKind::invalid_argument, "out: the array is read-only");
    }
    throw Error(ErrorKind::invalid_argument,
                "out: not an array (needs __dlpack__ or the buffer protocol), got " +
                    nb::cast<std::string>(nb::str(out.type())));
  }
  ImageView v = view_of(AnyArray(writable), "out");
  const std::string want = "(" + std::to_string(height) + ", " + std::to_string(width) + ", " +
                           std::to_string(l.channels) + ") " + std::string(to_string(l.dtype));
  if (v.height != height || v.width != width || v.channels != l.channels) {
    throw Error(ErrorKind::invalid_argument,
                "out: shape (" + std::to_string(v.height) + ", " + std::to_string(v.width) + ", " +
                    std::to_string(v.channels) + ") does not match the read, " + want);
  }
  if (v.dtype != l.dtype) {
    throw Error(ErrorKind::invalid_argument, "out: dtype " + std::string(to_string(v.dtype)) +
                                                 " does not match the level's, " + want);
  }
  const bool same_device =
      v.device == o.device && (v.device == Device::cpu || v.cuda_device == o.cuda_device);
  if (!same_device) {
    auto name = [](Device d, int i) {
      return d == Device::cpu ? std::string("cpu") : "cuda:" + std::to_string(i);
    };
    throw Error(ErrorKind::invalid_argument, "out: the array is on " +
                                                 name(v.device, v.cuda_device) + " but device is " +
                                                 name(o.device, o.cuda_device));
  }
  return v;
}

nb::object read_region(const PySlide& self, int level, int64_t x, int64_t y, int64_t width,
                       int64_t height, const std::string& device, const nb::object& out,
                       int threads, const std::string& io, uint8_t fill, bool gpu_jpeg) {
  auto slide = self.get();
  const ReadOptions o = read_options(device, threads, io, fill, gpu_jpeg);
  const Level& l = slide->level(level);
  if (!out.is_none()) {
    const ImageView v = out_view(out, l, width, height, o);
    nb::gil_scoped_release unlocked;
    wait_for_producer(v);
    slide->read_region(level, x, y, width, height, v, o);
    return out;
  }
  Image image;
  {
    nb::gil_scoped_release unlocked;
    image = slide->read_region(level, x, y, width, height, o);
  }
  return to_python(std::move(image));
}

nb::object read_level(const PySlide& self, int level, const std::string& device,
                      const nb::object& out, int threads, const std::string& io, bool gpu_jpeg) {
  auto slide = self.get();
  const ReadOptions o = read_options(device, threads, io, 0, gpu_jpeg);
  const Level& l = slide->level(level);
  if (!out.is_none()) {
    const ImageView v = out_view(out, l, l.width, l.height, o);
    nb::gil_scoped_release unlocked;
    wait_for_producer(v);
    slide->read_level(level, v, o);
    return out;
  }
  Image image;
  {
    nb::gil_scoped_release unlocked;
    image = slide->read_level(level, o);
  }
  return to_python(std::move(image));
}

nb::object read_tile(const PySlide& self, int level, int64_t tx, int64_t ty,
                     const std::string& device, int threads, const std::string& io) {
  auto slide = self.get();
  const ReadOptions o = read_options(device, threads, io, 0, true);
  Image image;
  {
    nb::gil_scoped_release unlocked;
    image = slide->read_tile(level, tx, ty, o);
  }
  return to_python(std::move(image));
}

}  // namespace

void bind_slide(nb::module_& m) {
  nb::class_<PySlide>(m, "Slide", "A slide opened by the C++ core; see slidestream.Slide.")
      .def(nb::init<const std::string&>(), nb::arg("path"))
      .def("close", &PySlide::close)
      .def_prop_ro("closed", &PySlide::closed)
      .def_prop_ro("path", [](const PySlide& s) { return s.get()->path().string(); })
      .def_prop_ro("format", [](const PySlide& s) { return s.get()->format(); })
      .def_prop_ro("properties", [](const PySlide& s) { return s.get()->properties(); })
      .def_prop_ro("mpp",
                   [](const PySlide& s) {
                     auto slide = s.get();
                     return nb::make_tuple(slide->mpp_x(), slide->mpp_y());
                   })
      .def_prop_ro("levels",
                   [](const PySlide& s) {
                     nb::list out;
                     for (const Level& l : s.get()->levels()) out.append(level_dict(l));
                     return out;
                   })
      .def_prop_ro("associated",
                   [](const PySlide& s) {
                     nb::list out;
                     for (const AssociatedImage& a : s.get()->associated_images()) {
                       out.append(nb::make_tuple(a.name, a.width, a.height));
                     }
                     return out;
                   })
      .def("read_region", &read_region, nb::arg("level"), nb::arg("x"), nb::arg("y"),
           nb::arg("width"), nb::arg("height"), nb::arg("device") = "cpu",
           nb::arg("out") = nb::none(), nb::arg("threads") = 0, nb::arg("io") = "auto",
           nb::arg("fill") = 0, nb::arg("gpu_jpeg") = true,
           "A region in the level's own pixel coordinates; outside the level is `fill`.")
      .def("read_level", &read_level, nb::arg("level"), nb::arg("device") = "cpu",
           nb::arg("out") = nb::none(), nb::arg("threads") = 0, nb::arg("io") = "auto",
           nb::arg("gpu_jpeg") = true)
      .def("read_tile", &read_tile, nb::arg("level"), nb::arg("tx"), nb::arg("ty"),
           nb::arg("device") = "cpu", nb::arg("threads") = 0, nb::arg("io") = "auto",
           "One whole tile (edge tiles include the file's padding).")
      .def(
          "read_associated",
          [](const PySlide& s, const std::string& name) {
            auto slide = s.get();
            Image image;
            {
              nb::gil_scoped_release unlocked;
              image = slide->read_associated(name);
            }
            return to_python(std::move(image));
          },
          nb::arg("name"));
}

}  // namespace slidestream::python
