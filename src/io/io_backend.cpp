// Names of the I/O backends (read_options.hpp). Outside cuda/ so that CPU-only builds parse the
// same option values and can say "cufile is not available in this build".
#include <string>

#include "slidestream/error.hpp"
#include "slidestream/read_options.hpp"

namespace slidestream {

std::string_view to_string(IoBackend backend) noexcept {
  switch (backend) {
    case IoBackend::automatic:
      return "auto";
    case IoBackend::posix:
      return "posix";
    case IoBackend::cufile:
      return "cufile";
  }
  return "auto";
}

IoBackend parse_io_backend(std::string_view text) {
  if (text == "auto" || text == "automatic") return IoBackend::automatic;
  if (text == "posix") return IoBackend::posix;
  if (text == "cufile") return IoBackend::cufile;
  throw Error(ErrorKind::invalid_argument,
              "unknown I/O backend '" + std::string(text) + "' (expected auto, posix or cufile)");
}

}  // namespace slidestream
