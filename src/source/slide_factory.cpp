#include "source/slide_factory.hpp"

#include <utility>

#include "slidestream/error.hpp"

namespace slidestream::source {

void finish_levels(Slide::Impl& impl) {
  if (impl.level_sources.empty()) {
    throw Error(ErrorKind::unsupported,
                (impl.format.empty() ? std::string("slide") : impl.format + " slide") +
                    " without a tiled pyramid level");
  }
  const Level& base = impl.level_sources.front()->layout();
  const double base_w = static_cast<double>(base.width), base_h = static_cast<double>(base.height);
  impl.levels.clear();
  for (size_t i = 0; i < impl.level_sources.size(); ++i) {
    LevelSource& source = *impl.level_sources[i];
    const Level& l = source.layout();
    const double downsample =
        impl.level_downsamples.size() == impl.level_sources.size()
            ? impl.level_downsamples[i]
            : (base_h / static_cast<double>(l.height) + base_w / static_cast<double>(l.width)) /
                  2.0;
    source.place_in_pyramid(static_cast<int>(i), downsample);
    impl.levels.push_back(source.layout());
  }
}

Slide make_slide(std::shared_ptr<Slide::Impl> impl) {
  finish_levels(*impl);
  return Slide(std::move(impl));
}

}  // namespace slidestream::source
