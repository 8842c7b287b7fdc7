// The tiled pipeline for Python: a slide level through a chain of ops into OME-Zarr on disk, or
// into an array in memory. The work runs with the GIL released; the progress callback takes the
// GIL for each call (the pipeline calls it from one thread at a time). An exception raised by
// the callback (KeyboardInterrupt from a progress bar, say) is kept and re-raised once the
// pipeline returns, and later calls are skipped.
#include "slidestream/pipeline.hpp"

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <vector>

#include "binding.hpp"
#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"

namespace slidestream::python {
namespace {

struct ProcessArgs {
  std::string mode = "tiled";
  std::string device = "cpu";
  int level = 0;
  int64_t tile = 512;
  int slots = 0;
  int threads = 0;
  std::string io = "auto";
  int zarr_format = 3;
  std::string codec = "none";
  int64_t shard = 0;
  bool pyramid = false;
  bool overwrite = false;
};

pipeline::Options make_options(const ProcessArgs& a) {
  if (a.mode != "tiled" && a.mode != "global") {
    throw Error(ErrorKind::invalid_argument,
                "mode must be 'tiled' or 'global', got '" + a.mode + "'");
  }
  const Target t = parse_target(a.device);
  pipeline::Options o;
  o.mode = a.mode == "global" ? pipeline::Mode::global : pipeline::Mode::tiled;
  o.device = t.device;
  o.cuda_device = t.index;
  o.level = a.level;
  o.tile = a.tile;
  o.slots = a.slots;
  o.threads = a.threads;
  o.io = parse_io_backend(a.io);
  if (a.zarr_format != 2 && a.zarr_format != 3) {
    throw Error(ErrorKind::invalid_argument, "zarr_format must be 2 or 3");
  }
  o.format = a.zarr_format == 2 ? zarr::Format::v2 : zarr::Format::v3;
  o.codec = zarr::parse_codec(a.codec);
  o.shard = a.shard;
  o.pyramid = a.pyramid;
  o.overwrite = a.overwrite;
  return o;
}

nb::dict summary_dict(const pipeline::Summary& s) {
  nb::dict d;
  d["seconds"] = s.seconds;
  d["tiles"] = s.tiles;
  d["bytes_read"] = s.bytes_read;
  d["bytes_written"] = s.bytes_written;
  d["peak_gpu_bytes"] = s.peak_gpu_bytes;
  d["gpu_memory_delta_bytes"] = s.gpu_memory_delta_bytes;
  d["io_path"] = s.io_path;
  d["write_io_path"] = s.write_io_path;
  d["slots"] = s.slots;
  d["levels"] = s.levels;
  d["executor"] = s.executor;
  d["streamed"] = s.streamed;
  return d;
}

// Wires a Python callable (or None) to Options::on_progress.
class ProgressBridge {
 public:
  ProgressBridge(nb::object callback, pipeline::Options& o) : callback_(std::move(callback)) {
    if (callback_.is_none()) return;
    o.on_progress = [this](const pipeline::Progress& p) {
      nb::gil_scoped_acquire locked;
      if (error_) return;
      try {
        callback_(p.tiles_done, p.tiles_total, p.bytes_read, p.bytes_written, p.seconds);
      } catch (nb::python_error& e) {
        error_ = std::make_unique<nb::python_error>(std::move(e));
      }
    };
  }
  // Called with the GIL held, after the pipeline returned.
  void rethrow() {
    if (error_) {
      error_->restore();
      throw nb::python_error();
    }
  }

 private:
  nb::object callback_;
  std::unique_ptr<nb::python_error> error_;
};

std::vector<ops::Op> parse_chain(const Slide& slide, const std::vector<std::string>& names) {
  std::vector<ops::Op> chain;
  for (const auto& name : names) chain.push_back(ops::parse_op(name));
  nb::gil_scoped_release unlocked;
  return pipeline::fit_stains(slide, std::move(chain));
}

nb::dict process(const PySlide& py_slide, const std::vector<std::string>& op_names,
                 const std::string& output, const ProcessArgs& args, nb::object progress) {
  const auto held = py_slide.get();
  const Slide& slide = *held;
  pipeline::Options o = make_options(args);
  ProgressBridge bridge(std::move(progress), o);
  const auto chain = parse_chain(slide, op_names);
  pipeline::Summary s;
  {
    nb::gil_scoped_release unlocked;
    s = pipeline::process(slide, chain, output, o);
  }
  bridge.rethrow();
  return summary_dict(s);
}

nb::tuple process_to_array(const PySlide& py_slide, const std::vector<std::string>& op_names,
                           const ProcessArgs& args, nb::object progress) {
  const auto held = py_slide.get();
  const Slide& slide = *held;
  pipeline::Options o = make_options(args);
  ProgressBridge bridge(std::move(progress), o);
  const auto chain = parse_chain(slide, op_names);
  pipeline::Summary s;
  Image image;
  {
    nb::gil_scoped_release unlocked;
    image = pipeline::process_to_image(slide, chain, o, &s);
  }
  bridge.rethrow();
  return nb::make_tuple(to_python(std::move(image)), summary_dict(s));
}

}  // namespace

void bind_pipeline(nb::module_& m) {
  nb::class_<ProcessArgs>(m, "ProcessOptions")
      .def(nb::init<>())
      .def_rw("mode", &ProcessArgs::mode)
      .def_rw("device", &ProcessArgs::device)
      .def_rw("level", &ProcessArgs::level)
      .def_rw("tile", &ProcessArgs::tile)
      .def_rw("slots", &ProcessArgs::slots)
      .def_rw("threads", &ProcessArgs::threads)
      .def_rw("io", &ProcessArgs::io)
      .def_rw("zarr_format", &ProcessArgs::zarr_format)
      .def_rw("codec", &ProcessArgs::codec)
      .def_rw("shard", &ProcessArgs::shard)
      .def_rw("pyramid", &ProcessArgs::pyramid)
      .def_rw("overwrite", &ProcessArgs::overwrite);
  m.def("process", &process, nb::arg("slide"), nb::arg("ops"), nb::arg("output"),
        nb::arg("options"), nb::arg("progress") = nb::none());
  m.def("process_to_array", &process_to_array, nb::arg("slide"), nb::arg("ops"), nb::arg("options"),
        nb::arg("progress") = nb::none());
}

}  // namespace slidestream::python
