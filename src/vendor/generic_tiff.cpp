// Generic tiled TIFF, last in the table (OpenSlide's openslide-vendor-generic-tiff.c). Levels:
// the first image, the tiled reduced-resolution images of the main chain (OpenSlide's rule),
// and the tiled SubIFDs of the first image (the pyramids tifffile and vips --subifd write),
// largest first.
#include <vector>

#include "tiff/tiff_slide.hpp"
#include "vendor/vendor.hpp"

namespace slidestream::vendor {

std::optional<std::string> detect_generic_tiff(const SlideProbe& probe) {
  if (!probe.tiff) return "not a TIFF file: " + probe.not_tiff;
  return tiff::first_ifd_untiled(*probe.tiff);
}

void open_generic_tiff(const SlideProbe& probe, Slide::Impl& s) {
  const tiff::TiffFile& tf = *probe.tiff;
  const auto& ifds = tf.ifds();
  std::vector<const tiff::Ifd*> levels{&ifds.front()};
  for (size_t i = 1; i < ifds.size(); ++i) {
    uint64_t subfile = tf.get_uint(ifds[i], tiff::tag::new_subfile_type).value_or(0);
    if (tiff::is_tiled(ifds[i]) && (subfile & 1) != 0) levels.push_back(&ifds[i]);
  }
  for (const tiff::Ifd& sub : ifds.front().sub_ifds) {
    if (tiff::is_tiled(sub)) levels.push_back(&sub);
  }
  tiff::add_levels(tf, probe.file, levels, s, true);
  tiff::set_resolution_mpp(tf, s);
}

}  // namespace slidestream::vendor
