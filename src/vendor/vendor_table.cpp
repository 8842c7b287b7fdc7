// The vendor table and its driver: probe the path once, ask each vendor in order, let the first
// that accepts open the slide, then finish what every vendor shares (levels' downsamples,
// OpenSlide's common properties for TIFF files).
#include <array>
#include <exception>

#include "slidestream/error.hpp"
#include "source/slide_factory.hpp"
#include "tiff/tiff_slide.hpp"
#include "vendor/vendor.hpp"

namespace slidestream::vendor {
namespace {

// Detection order: the vendors that recognise their own marks first, generic-tiff last.
constexpr auto kVendors = std::to_array<Vendor>({
    {"hamamatsu", detect_hamamatsu_ndpi, open_hamamatsu_ndpi},
    {"aperio", detect_aperio, open_aperio},
    {"philips", detect_philips, open_philips, finish_philips},
    {"leica", detect_leica, open_leica, finish_leica},
    {"ventana", detect_ventana, open_ventana, finish_ventana},
    {"ome-tiff", detect_ome_tiff, open_ome_tiff},
    {"generic-tiff", detect_generic_tiff, open_generic_tiff},
});

}  // namespace

std::span<const Vendor> vendors() {
  return kVendors;
}

void open_slide(Slide::Impl& s) {
  SlideProbe probe;
  probe.path = s.path;
  std::optional<tiff::TiffFile> tiff;
  std::exception_ptr tiff_error;
  if (!std::filesystem::is_directory(s.path)) {
    probe.file = std::make_shared<source::FileStore>(s.path);
    s.file_size = probe.file->size();
    try {
      tiff.emplace(*probe.file->file(), probe.file->size());
      probe.tiff = &*tiff;
    } catch (const Error& e) {
      probe.not_tiff = e.cause();
      tiff_error = std::current_exception();
    }
  } else {
    probe.not_tiff = "a directory, not a TIFF file";
  }

  std::string reasons;
  for (const Vendor& vendor : vendors()) {
    auto why = vendor.detect(probe);
    if (why) {
      reasons += std::string(reasons.empty() ? "" : "; ") + vendor.name + ": " + *why;
      s.refused_formats.emplace_back(vendor.name, *why);
      continue;
    }
    s.format = vendor.name;
    vendor.open(probe, s);
    source::finish_levels(s);
    if (probe.tiff) tiff::add_common_properties(*probe.tiff, s);
    if (vendor.finish) vendor.finish(s);
    return;
  }
  // Every vendor today reads TIFF: a file that is not one keeps the parser's own error.
  if (tiff_error) std::rethrow_exception(tiff_error);
  if (!probe.file) {
    throw Error(ErrorKind::format,
                "is a directory, and no vendor reads slide directories (" + reasons + ")");
  }
  throw Error(ErrorKind::unsupported, "no slide format reads this TIFF (" + reasons + ")");
}

}  // namespace slidestream::vendor
