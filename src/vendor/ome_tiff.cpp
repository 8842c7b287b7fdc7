// OME-TIFF: a TIFF whose first ImageDescription is OME-XML. The pyramid is the first image and
// its tiled SubIFDs (largest first); other OME images named label, macro or thumbnail are
// associated images. A slide is one plane: channels stored as separate planes, z-stacks and
// time series would show only their first plane, so they are refused rather than half read.
#include <cctype>
#include <vector>

#include "slidestream/error.hpp"
#include "tiff/metadata.hpp"
#include "tiff/tiff_slide.hpp"
#include "vendor/vendor.hpp"

namespace slidestream::vendor {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void refuse_multi_plane(const tiff::TiffFile& tf, const tiff::OmeMetadata& meta) {
  uint64_t spp = tf.get_uint(tf.ifds().front(), tiff::tag::samples_per_pixel).value_or(1);
  uint64_t planes_c = spp > 0 && meta.size_c % spp == 0 ? meta.size_c / spp : meta.size_c;
  if (planes_c > 1 || meta.size_z > 1 || meta.size_t > 1) {
    throw Error(ErrorKind::unsupported,
                "OME-TIFF image with " + std::to_string(meta.size_c) + " channels (" +
                    std::to_string(spp) + " per plane), " + std::to_string(meta.size_z) +
                    " z-sections and " + std::to_string(meta.size_t) +
                    " time points: slidestream reads single-plane (RGB or grey) images");
  }
}

}  // namespace

std::optional<std::string> detect_ome_tiff(const SlideProbe& probe) {
  if (!probe.tiff) return "not a TIFF file: " + probe.not_tiff;
  const tiff::TiffFile& tf = *probe.tiff;
  if (!tiff::is_ome_xml(tiff::description_of(tf, tf.ifds().front()))) {
    return std::string("the first ImageDescription is not OME-XML");
  }
  if (auto why = tiff::first_ifd_untiled(tf)) return why;
  return std::nullopt;
}

void open_ome_tiff(const SlideProbe& probe, Slide::Impl& s) {
  const tiff::TiffFile& tf = *probe.tiff;
  const auto& ifds = tf.ifds();
  tiff::OmeMetadata meta = tiff::parse_ome_xml(tiff::description_of(tf, ifds.front()));
  refuse_multi_plane(tf, meta);
  std::vector<const tiff::Ifd*> levels{&ifds.front()};
  for (const tiff::Ifd& sub : ifds.front().sub_ifds) {
    if (tiff::is_tiled(sub)) levels.push_back(&sub);
  }
  tiff::add_levels(tf, probe.file, levels, s, true);

  for (size_t i = 1; i < meta.images.size(); ++i) {
    std::string name = lower(meta.images[i].name);
    int64_t index = meta.images[i].first_ifd;
    if ((name == "label" || name == "macro" || name == "thumbnail") && index > 0 &&
        static_cast<size_t>(index) < ifds.size()) {
      tiff::add_associated(tf, probe.file, ifds[static_cast<size_t>(index)], name, s);
    }
  }
  s.mpp_x = meta.mpp_x;
  s.mpp_y = meta.mpp_y;
  if (!s.mpp_x && !s.mpp_y) tiff::set_resolution_mpp(tf, s);
  s.objective_power = meta.objective_power;
}

}  // namespace slidestream::vendor
