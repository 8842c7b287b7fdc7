// Device names as text: the one parser of "cpu" / "cuda" / "cuda:N" that every front end uses.
// Whether the GPU exists is the system room's question (src/system/devices.cpp).
#include "slidestream/device.hpp"

#include <charconv>
#include <string>

#include "slidestream/error.hpp"

namespace slidestream {

std::string_view to_string(Device device) noexcept {
  return device == Device::cuda ? "cuda" : "cpu";
}

DeviceSpec parse_device(std::string_view text) {
  if (text == "cpu") return {Device::cpu, 0};
  if (text == "cuda") return {Device::cuda, 0};
  constexpr std::string_view prefix = "cuda:";
  if (text.starts_with(prefix) && text.size() > prefix.size()) {
    const std::string_view digits = text.substr(prefix.size());
    int index = -1;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec == std::errc() && end == digits.data() + digits.size() && index >= 0) {
      return {Device::cuda, index};
    }
  }
  throw Error(ErrorKind::invalid_argument,
              "invalid device \"" + std::string(text) + "\": expected cpu, cuda or cuda:N");
}

std::string to_string(const DeviceSpec& spec) {
  if (spec.kind == Device::cpu) return "cpu";
  return "cuda:" + std::to_string(spec.index);
}

}  // namespace slidestream
