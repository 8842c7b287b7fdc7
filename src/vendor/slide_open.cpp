// Slide::open: the vendor table (vendor/vendor.hpp) fills the model; errors get the file name.
#include <memory>
#include <new>
#include <utility>

#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"
#include "source/slide_impl.hpp"
#include "vendor/vendor.hpp"

namespace slidestream {

Slide Slide::open(const std::filesystem::path& path) {
  auto impl = std::make_shared<Impl>();
  impl->path = path;
  try {
    vendor::open_slide(*impl);
  } catch (const Error& e) {
    throw e.with_context({.file = path.string()});
  } catch (const std::bad_alloc&) {
    throw Error(ErrorKind::out_of_memory, "out of memory while reading the TIFF structure",
                {.file = path.string()});
  }
  return Slide(std::move(impl));
}

}  // namespace slidestream
