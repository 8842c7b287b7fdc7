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
    {"dicom", detect_dicom, open_dicom, finish_dicom},
    {"hamamatsu", detect_hamamatsu_ndpi, open_hamamatsu_ndpi},
    {"aperio", detect_aperio, open_aperio},
    {"philips", detect_philips, open_philips, finish_philips},
    {"leica", detect_leica, open_leica, finish_leica},
    {"ventana", detect_ventana, open_ventana, finish_ventana},
    {"mirax", detect_mirax, open_mirax, finish_mirax},
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
  // A file that is not TIFF keeps the TIFF parser's error, with why it is not DICOM either (the
  // one vendor that reads files of another kind).
  if (tiff_error) {
    try {
      std::rethrow_exception(tiff_error);
    } catch (const Error& e) {
      std::string not_dicom;
      for (const auto& [name, why] : s.refused_formats) {
        if (name == "dicom") not_dicom = why;
      }
      if (not_dicom.empty()) throw;
      throw Error(e.kind(), e.cause() + "; not DICOM either: " + not_dicom, e.context());
    }
  }
  if (!probe.file) {
    throw Error(ErrorKind::format,
                "is a directory, and no vendor reads slide directories (" + reasons + ")");
  }
  throw Error(ErrorKind::unsupported, "no slide format reads this TIFF (" + reasons + ")");
}

}  // namespace slidestream::vendor
