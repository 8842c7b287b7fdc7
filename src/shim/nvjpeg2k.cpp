#include "shim/nvjpeg2k.hpp"

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "shim/library.hpp"
#include "shim/nvjpeg2k_api.hpp"
#include "slidestream/error.hpp"

namespace slidestream::shim::nvjpeg2k {
namespace {

struct Symbols {
  api::GetProperty get_property = nullptr;
  api::CreateSimple create = nullptr;
  api::Destroy destroy = nullptr;
  api::DecodeStateCreate state_create = nullptr;
  api::DecodeStateDestroy state_destroy = nullptr;
  api::StreamCreate stream_create = nullptr;
  api::StreamDestroy stream_destroy = nullptr;
  api::StreamParse parse = nullptr;
  api::StreamGetImageInfo image_info = nullptr;
  api::StreamGetImageComponentInfo component_info = nullptr;
  api::DecodeParamsCreate params_create = nullptr;
  api::DecodeParamsDestroy params_destroy = nullptr;
  api::DecodeParamsSetOutputFormat set_output_format = nullptr;
  api::DecodeParamsSetRGBOutput set_rgb_output = nullptr;
  api::DecodeImage decode_image = nullptr;
};

struct Loaded {
  Availability availability;
  Symbols symbols;
};

const char* status_name(api::Status s) {
  switch (s) {
    case api::success:
      return "success";
    case api::not_initialized:
      return "not initialized";
    case api::invalid_parameter:
      return "invalid parameter";
    case api::bad_jpeg:
      return "bad JPEG 2000 stream";
    case api::jpeg_not_supported:
      return "stream not supported";
    case api::allocator_failure:
      return "allocator failure";
    case api::execution_failed:
      return "execution failed";
    case api::arch_mismatch:
      return "architecture mismatch";
    case api::internal_error:
      return "internal error";
    case api::implementation_not_supported:
      return "implementation not supported";
  }
  return "unknown status";
}

Loaded load() {
  Loaded result;
  Availability& a = result.availability;
  Library library("libnvjpeg2k", {"libnvjpeg2k.so.0"});
  Symbols& s = result.symbols;
  library.bind("nvjpeg2kGetProperty", &s.get_property)
      .bind("nvjpeg2kCreateSimple", &s.create)
      .bind("nvjpeg2kDestroy", &s.destroy)
      .bind("nvjpeg2kDecodeStateCreate", &s.state_create)
      .bind("nvjpeg2kDecodeStateDestroy", &s.state_destroy)
      .bind("nvjpeg2kStreamCreate", &s.stream_create)
      .bind("nvjpeg2kStreamDestroy", &s.stream_destroy)
      .bind("nvjpeg2kStreamParse", &s.parse)
      .bind("nvjpeg2kStreamGetImageInfo", &s.image_info)
      .bind("nvjpeg2kStreamGetImageComponentInfo", &s.component_info)
      .bind("nvjpeg2kDecodeParamsCreate", &s.params_create)
      .bind("nvjpeg2kDecodeParamsDestroy", &s.params_destroy)
      .bind("nvjpeg2kDecodeParamsSetOutputFormat", &s.set_output_format)
      .bind("nvjpeg2kDecodeParamsSetRGBOutput", &s.set_rgb_output)
      .bind("nvjpeg2kDecodeImage", &s.decode_image);
  a.library_path = library.path();
  a.why = library.why();
  if (!library.ok()) return result;
  s.get_property(api::major_version, &a.version_major);
  s.get_property(api::minor_version, &a.version_minor);
  s.get_property(api::patch_level, &a.version_patch);
  // Decode parameters with an output format arrived in 0.6; nvjpeg2k_api.hpp is 0.11's.
  if (a.version_major != 0 || a.version_minor < 6) {
    a.why = "libnvjpeg2k " + std::to_string(a.version_major) + "." +
            std::to_string(a.version_minor) + " found; slidestream calls the 0.6+ API";
    return result;
  }
  a.loaded = true;
  return result;
}

const Loaded& loaded() {
  static const Loaded instance = load();
  return instance;
}

}  // namespace

const Availability& availability() {
  return loaded().availability;
}

bool enabled(std::string* why) {
  const Availability& a = availability();
  if (!a.loaded && why) *why = a.why;
  return a.loaded;
}

Decoder::Decoder() {
  const Loaded& l = loaded();
  if (!l.availability.loaded) {
    throw Error(ErrorKind::unsupported, "nvJPEG2000 is not usable: " + l.availability.why);
  }
  const Symbols& s = l.symbols;
  // On failure the destructor is not run: undo what was made so far by hand.
  auto fail = [&](api::Status status, const char* what) {
    if (params_) s.params_destroy(static_cast<api::DecodeParams>(params_));
    if (stream_) s.stream_destroy(static_cast<api::Stream>(stream_));
    if (state_) s.state_destroy(static_cast<api::DecodeState>(state_));
    if (handle_) s.destroy(static_cast<api::Handle>(handle_));
    throw Error(status == api::allocator_failure ? ErrorKind::out_of_memory : ErrorKind::cuda,
                std::string(what) + ": " + status_name(status));
  };
  api::Handle handle = nullptr;
  if (api::Status st = s.create(&handle); st != api::success) fail(st, "nvjpeg2kCreateSimple");
  handle_ = handle;
  api::DecodeState state = nullptr;
  if (api::Status st = s.state_create(handle, &state); st != api::success) {
    fail(st, "nvjpeg2kDecodeStateCreate");
  }
  state_ = state;
  api::Stream stream = nullptr;
  if (api::Status st = s.stream_create(&stream); st != api::success) {
    fail(st, "nvjpeg2kStreamCreate");
  }
  stream_ = stream;
  api::DecodeParams params = nullptr;
  if (api::Status st = s.params_create(&params); st != api::success) {
    fail(st, "nvjpeg2kDecodeParamsCreate");
  }
  params_ = params;
  // Planes as the codestream holds them, no colour conversion: OpenJPEG's library does none
  // either (Aperio's YCbCr is converted afterwards, the same way on both paths).
  if (api::Status st = s.set_output_format(params, api::planar); st != api::success) {
    fail(st, "nvjpeg2kDecodeParamsSetOutputFormat");
  }
  if (api::Status st = s.set_rgb_output(params, 0); st != api::success) {
    fail(st, "nvjpeg2kDecodeParamsSetRGBOutput");
  }
}

Decoder::~Decoder() {
  const Symbols& s = loaded().symbols;
  if (params_) s.params_destroy(static_cast<api::DecodeParams>(params_));
  if (stream_) s.stream_destroy(static_cast<api::Stream>(stream_));
  if (state_) s.state_destroy(static_cast<api::DecodeState>(state_));
  if (handle_) s.destroy(static_cast<api::Handle>(handle_));
}

bool Decoder::parse(std::span<const std::byte> bytes, std::vector<Component>* components,
                    std::string* why) {
  const Symbols& s = loaded().symbols;
  auto stream = static_cast<api::Stream>(stream_);
  api::Status st =
      s.parse(static_cast<api::Handle>(handle_),
              reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), 0, 0, stream);
  if (st != api::success) {
    *why = std::string("nvjpeg2kStreamParse: ") + status_name(st);
    return false;
  }
  api::ImageInfo info{};
  if (st = s.image_info(stream, &info); st != api::success) {
    *why = std::string("nvjpeg2kStreamGetImageInfo: ") + status_name(st);
    return false;
  }
  components->resize(info.num_components);
  for (uint32_t c = 0; c < info.num_components; ++c) {
    api::ComponentInfo ci{};
    if (st = s.component_info(stream, &ci, c); st != api::success) {
      *why = std::string("nvjpeg2kStreamGetImageComponentInfo: ") + status_name(st);
      return false;
    }
    (*components)[c] = {ci.component_width, ci.component_height, ci.precision, ci.sgn != 0};
  }
  return true;
}

bool Decoder::decode(void* const* planes, const size_t* pitches, int count, bool sixteen,
                     cudaStream_t stream, std::string* why) {
  const Symbols& s = loaded().symbols;
  api::Image image{};
  image.pixel_data = const_cast<void**>(planes);
  image.pitch_in_bytes = const_cast<size_t*>(pitches);
  image.pixel_type = sixteen ? api::uint16 : api::uint8;
  image.num_components = static_cast<uint32_t>(count);
  api::Status st = s.decode_image(
      static_cast<api::Handle>(handle_), static_cast<api::DecodeState>(state_),
      static_cast<api::Stream>(stream_), static_cast<api::DecodeParams>(params_), &image, stream);
  if (st != api::success) {
    *why = std::string("nvjpeg2kDecodeImage: ") + status_name(st);
    return false;
  }
  return true;
}

namespace {
struct Pool {
  std::mutex mutex;
  std::map<int, std::vector<std::unique_ptr<Decoder>>> idle;
};
Pool& pool() {
  // Leaked on purpose: decoders must not be destroyed after the CUDA runtime shut down at exit.
  static Pool* p = new Pool;
  return *p;
}
}  // namespace

std::unique_ptr<Decoder> acquire_decoder(int device) {
  {
    std::lock_guard lock(pool().mutex);
    auto& list = pool().idle[device];
    if (!list.empty()) {
      std::unique_ptr<Decoder> d = std::move(list.back());
      list.pop_back();
      return d;
    }
  }
  return std::make_unique<Decoder>();  // on the caller's current device
}

void release_decoder(int device, std::unique_ptr<Decoder> decoder) {
  if (!decoder) return;
  std::lock_guard lock(pool().mutex);
  pool().idle[device].push_back(std::move(decoder));
}

}  // namespace slidestream::shim::nvjpeg2k
