// slidestream._core: the nanobind extension behind the `slidestream` package. Library errors
// become the Python exceptions of slidestream/_errors.py (one class per ErrorKind family),
// carrying the kind, the cause and the context (file, level, tile, offset).
#include <nanobind/stl/string.h>

#include <exception>
#include <string>

#include "binding.hpp"
#include "slidestream/error.hpp"
#include "slidestream/system.hpp"
#include "slidestream/version.hpp"

namespace slidestream::python {
namespace {

// The kind's identifier, as slidestream/_errors.py names it.
const char* kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::io:
      return "io";
    case ErrorKind::not_found:
      return "not_found";
    case ErrorKind::format:
      return "format";
    case ErrorKind::unsupported:
      return "unsupported";
    case ErrorKind::corrupt:
      return "corrupt";
    case ErrorKind::limit:
      return "limit";
    case ErrorKind::invalid_argument:
      return "invalid_argument";
    case ErrorKind::out_of_memory:
      return "out_of_memory";
    case ErrorKind::disk_full:
      return "disk_full";
    case ErrorKind::already_exists:
      return "already_exists";
    case ErrorKind::cuda:
      return "cuda";
    case ErrorKind::cufile:
      return "cufile";
    case ErrorKind::cancelled:
      return "cancelled";
  }
  return "error";
}

void raise_python(const Error& error) {
  const ErrorContext& c = error.context();
  nb::object make = nb::module_::import_("slidestream._errors").attr("_from_library");
  nb::object exc =
      make(kind_name(error.kind()), error.what(), error.cause(), c.file, c.level, c.tile, c.offset);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
}

}  // namespace

void bind_errors(nb::module_&) {
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const Error& e) {
      raise_python(e);
    }
  });
}

}  // namespace slidestream::python

NB_MODULE(_core, m) {
  using namespace slidestream::python;
  m.doc() = "slidestream's C++ core (use the `slidestream` package, not this module)";
  m.attr("__version__") = SLIDESTREAM_VERSION;
  m.attr("has_cuda") = static_cast<bool>(SLIDESTREAM_HAVE_CUDA);
  m.def(
      "describe_system", [](bool json) { return slidestream::describe_system(json); },
      nb::arg("json") = false,
      "GPUs, CUDA versions, cuFile / nvidia-fs and nvJPEG as slidestream sees them.");
  m.def(
      "parse_device",
      [](const std::string& text) {
        Target t = parse_target(text);
        return nb::make_tuple(t.device == slidestream::Device::cuda ? "cuda" : "cpu", t.index);
      },
      nb::arg("device"), "('cpu' | 'cuda', index) of a device string; raises on anything else.");
  m.def(
      "require_device",
      [](const std::string& text) {
        const Target t = parse_target(text);
        slidestream::require_device(slidestream::DeviceSpec{t.device, t.index});
      },
      nb::arg("device"),
      "Nothing for the CPU or a GPU that exists; InvalidArgumentError naming the GPUs there are "
      "otherwise.");
  bind_errors(m);
  bind_arrays(m);
  bind_slide(m);
  bind_zarr(m);
  bind_pipeline(m);
  bind_regions(m);
  bind_patches(m);
  bind_patch_arrays(m);
}
