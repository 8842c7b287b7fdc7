// Aperio SVS (as OpenSlide's openslide-vendor-aperio.c reads it): a TIFF whose first
// ImageDescription starts with "Aperio". Tiled images are pyramid levels in file order; the
// second image is the thumbnail; other stripped images are named by the first word of their
// description's second line ("label", "macro"). JPEG 2000 levels in Aperio's YCbCr are decoded
// to RGB by the codec (the level source's format says which colour space).
#include <utility>
#include <vector>

#include "tiff/metadata.hpp"
#include "tiff/tiff_slide.hpp"
#include "vendor/vendor.hpp"

namespace slidestream::vendor {

std::optional<std::string> detect_aperio(const SlideProbe& probe) {
  if (!probe.tiff) return "not a TIFF file: " + probe.not_tiff;
  const tiff::TiffFile& tf = *probe.tiff;
  if (auto why = tiff::first_ifd_untiled(tf)) return why;
  if (!tiff::description_of(tf, tf.ifds().front()).starts_with("Aperio")) {
    return std::string("ImageDescription does not start with \"Aperio\"");
  }
  return std::nullopt;
}

void open_aperio(const SlideProbe& probe, Slide::Impl& s) {
  const tiff::TiffFile& tf = *probe.tiff;
  std::vector<const tiff::Ifd*> levels;
  std::vector<std::pair<const tiff::Ifd*, std::string>> associated;
  const auto& ifds = tf.ifds();
  for (size_t i = 0; i < ifds.size(); ++i) {
    auto name = tiff::aperio_associated_name(tiff::description_of(tf, ifds[i]));
    bool named_associated = i > 0 && name && (*name == "label" || *name == "macro");
    if (tiff::is_tiled(ifds[i]) && !named_associated) {
      levels.push_back(&ifds[i]);
    } else if (i == 1) {
      associated.emplace_back(&ifds[i], "thumbnail");
    } else if (name) {
      associated.emplace_back(&ifds[i], *name);
    }
  }
  tiff::add_levels(tf, probe.file, levels, s, false);
  for (const auto& [ifd, name] : associated) tiff::add_associated(tf, probe.file, *ifd, name, s);

  auto props = tiff::aperio_properties(tiff::description_of(tf, ifds.front()));
  if (auto it = props.find("aperio.MPP"); it != props.end()) {
    s.mpp_x = s.mpp_y = tiff::parse_double(it->second);
  }
  if (auto it = props.find("aperio.AppMag"); it != props.end()) {
    s.objective_power = tiff::parse_double(it->second);
  }
  s.properties.insert(props.begin(), props.end());
}

}  // namespace slidestream::vendor
