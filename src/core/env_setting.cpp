#include "core/env_setting.hpp"

#include <algorithm>
#include <cstdlib>

namespace slidestream {

int env_int(const char* name, int fallback, int lowest, int highest) {
  const char* text = std::getenv(name);
  const int value = text ? std::atoi(text) : 0;
  return value > 0 ? std::clamp(value, lowest, highest) : fallback;
}

}  // namespace slidestream
