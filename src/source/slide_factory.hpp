// Assembling a Slide from level sources: what every vendor does once its sources are made, and
// the way in for tests that serve a slide from stub sources.
#pragma once

#include <memory>

#include "slidestream/slide.hpp"
#include "source/slide_impl.hpp"

namespace slidestream::source {

// Numbers the levels, computes OpenSlide's downsample (the mean of the width and height ratios
// to level 0) and copies each source's layout into impl.levels. Throws unsupported when there
// is no level. The sources' order is the pyramid's (largest first).
void finish_levels(Slide::Impl& impl);

// finish_levels, then the Slide.
Slide make_slide(std::shared_ptr<Slide::Impl> impl);

}  // namespace slidestream::source
