// Slide vendors as an ordered table of {name, detect, open}, in OpenSlide's manner (one file per
// vendor, as openslide-vendor-*.c): the first vendor whose detect accepts the file opens it;
// generic-tiff comes last. detect says why it refused, so that an unreadable file gets an error
// listing every reason and `slidestream info` can show them.
//
// detect gets a probe of the path: the file opened as a byte store (none for a directory) and
// the file parsed as TIFF where it parses as one, so that vendors that are not TIFF (NDPI's
// JPEG levels, DICOM directories, MIRAX index files) can join the table without another parse.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "source/byte_store.hpp"
#include "source/slide_impl.hpp"
#include "tiff/tiff_parser.hpp"

namespace slidestream::vendor {

struct SlideProbe {
  std::filesystem::path path;
  std::shared_ptr<const source::FileStore> file;  // null when the path is a directory
  const tiff::TiffFile* tiff = nullptr;           // null unless the file parses as TIFF
  std::string not_tiff;                           // why it does not, when tiff is null
};

struct Vendor {
  const char* name;
  // nullopt: accepted; otherwise the reason this vendor refuses the file.
  std::optional<std::string> (*detect)(const SlideProbe& probe);
  // Fills level_sources, associated*, metadata and vendor properties; the table's driver then
  // finishes the levels (source::finish_levels). May throw Error naming the cause.
  void (*open)(const SlideProbe& probe, Slide::Impl& slide);
  // Optional: runs after the shared properties are in (to drop or adjust some of them).
  void (*finish)(Slide::Impl& slide) = nullptr;
};

// The table, in detection order.
std::span<const Vendor> vendors();

// Probes slide.path, runs the table and fills the whole model. Errors carry no file name;
// Slide::open adds it.
void open_slide(Slide::Impl& slide);

// The vendors, one file each (aperio.cpp, ome_tiff.cpp, generic_tiff.cpp).
std::optional<std::string> detect_aperio(const SlideProbe& probe);
void open_aperio(const SlideProbe& probe, Slide::Impl& slide);
std::optional<std::string> detect_ome_tiff(const SlideProbe& probe);
void open_ome_tiff(const SlideProbe& probe, Slide::Impl& slide);
std::optional<std::string> detect_generic_tiff(const SlideProbe& probe);
void open_generic_tiff(const SlideProbe& probe, Slide::Impl& slide);
// Hamamatsu NDPI: hamamatsu.cpp (with hamamatsu_ndpi.cpp, hamamatsu_jpeg.cpp,
// hamamatsu_level_source.cpp).
std::optional<std::string> detect_hamamatsu_ndpi(const SlideProbe& probe);
void open_hamamatsu_ndpi(const SlideProbe& probe, Slide::Impl& slide);
std::optional<std::string> detect_philips(const SlideProbe& probe);
void open_philips(const SlideProbe& probe, Slide::Impl& slide);
void finish_philips(Slide::Impl& slide);
std::optional<std::string> detect_leica(const SlideProbe& probe);
void open_leica(const SlideProbe& probe, Slide::Impl& slide);
void finish_leica(Slide::Impl& slide);
std::optional<std::string> detect_ventana(const SlideProbe& probe);
void open_ventana(const SlideProbe& probe, Slide::Impl& slide);
void finish_ventana(Slide::Impl& slide);
// DICOM WSI: dicom.cpp, with the parser in src/dicom/.
std::optional<std::string> detect_dicom(const SlideProbe& probe);
void open_dicom(const SlideProbe& probe, Slide::Impl& slide);
void finish_dicom(Slide::Impl& slide);
// 3DHISTECH MIRAX (.mrxs + directory): mirax.cpp (mirax_keyfile.cpp, mirax_level_source.cpp).
std::optional<std::string> detect_mirax(const SlideProbe& probe);
void open_mirax(const SlideProbe& probe, Slide::Impl& slide);
void finish_mirax(Slide::Impl& slide);

}  // namespace slidestream::vendor
