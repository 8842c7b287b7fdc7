// What the TIFF-based vendors (src/vendor/aperio.cpp, ome_tiff.cpp, generic_tiff.cpp) share:
// turning IFDs into level and associated-image sources, OpenSlide's common properties, and the
// small questions every detector asks of a TIFF.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "source/byte_store.hpp"
#include "source/slide_impl.hpp"
#include "tiff/tiff_parser.hpp"

namespace slidestream::tiff {

bool is_tiled(const Ifd& ifd);
std::string description_of(const TiffFile& tiff, const Ifd& ifd);  // "" when absent
// Why the first IFD cannot be a slide's level 0 (it is stored in strips), or nullopt.
// OpenSlide's TIFF vendors refuse such files too.
std::optional<std::string> first_ifd_untiled(const TiffFile& tiff);

// One source per IFD, appended to slide.level_sources; sorted largest first when `sort`
// (OpenSlide's generic-tiff order), in the given order otherwise.
void add_levels(const TiffFile& tiff, const std::shared_ptr<const source::ByteStore>& store,
                const std::vector<const Ifd*>& ifds, Slide::Impl& slide, bool sort);
// An associated image named `name`; the first image of a name wins.
void add_associated(const TiffFile& tiff, const std::shared_ptr<const source::ByteStore>& store,
                    const Ifd& ifd, const std::string& name, Slide::Impl& slide);

// mpp from the first IFD's XResolution / YResolution / ResolutionUnit, as OpenSlide reads them.
void set_resolution_mpp(const TiffFile& tiff, Slide::Impl& slide);
// The same from another IFD (OpenSlide's property directory of Leica and Ventana slides).
void set_resolution_mpp(const TiffFile& tiff, const Ifd& ifd, Slide::Impl& slide);
// Properties every TIFF vendor shares, in OpenSlide's names (openslide.*, tiff.*). Needs the
// levels finished (source::finish_levels).
void add_common_properties(const TiffFile& tiff, Slide::Impl& slide);

}  // namespace slidestream::tiff
