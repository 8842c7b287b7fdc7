// The part of nvJPEG2000's C API that nvjpeg2k_shim.cpp calls, declared here rather than
// included, so that no build needs nvJPEG2000's headers: the library itself is dlopen'ed.
// Copied from nvJPEG2000 0.11.0.51 (PyPI nvidia-nvjpeg2k-cu13 0.11.0.51: include/nvjpeg2k.h).
// The soname is libnvjpeg2k.so.0 for every 0.x release: nvjpeg2k_shim.cpp checks the version the
// library reports before trusting these signatures.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace slidestream::shim::nvjpeg2k::api {

enum Status : int {  // nvjpeg2kStatus_t
  success = 0,
  not_initialized = 1,
  invalid_parameter = 2,
  bad_jpeg = 3,
  jpeg_not_supported = 4,
  allocator_failure = 5,
  execution_failed = 6,
  arch_mismatch = 7,
  internal_error = 8,
  implementation_not_supported = 9,
};

enum ImageType : int { uint8 = 0, uint16 = 1, int16 = 2 };  // nvjpeg2kImageType_t (part)
enum ImageFormat : int { planar = 0, interleaved = 1 };     // nvjpeg2kImageFormat_t
enum PropertyType : int { major_version = 0, minor_version = 1, patch_level = 2 };

struct ImageInfo {  // nvjpeg2kImageInfo_t
  uint32_t image_width;
  uint32_t image_height;
  uint32_t tile_width;
  uint32_t tile_height;
  uint32_t num_tiles_x;
  uint32_t num_tiles_y;
  uint32_t num_components;
};
struct ComponentInfo {  // nvjpeg2kImageComponentInfo_t
  uint32_t component_width;
  uint32_t component_height;
  uint8_t precision;
  uint8_t sgn;
};
struct Image {  // nvjpeg2kImage_t
  void** pixel_data;
  size_t* pitch_in_bytes;
  ImageType pixel_type;
  uint32_t num_components;
};

using Handle = struct HandleOpaque*;              // nvjpeg2kHandle_t
using DecodeState = struct DecodeStateOpaque*;    // nvjpeg2kDecodeState_t
using Stream = struct StreamOpaque*;              // nvjpeg2kStream_t
using DecodeParams = struct DecodeParamsOpaque*;  // nvjpeg2kDecodeParams_t

using GetProperty = Status (*)(PropertyType, int*);
using CreateSimple = Status (*)(Handle*);
using Destroy = Status (*)(Handle);
using DecodeStateCreate = Status (*)(Handle, DecodeState*);
using DecodeStateDestroy = Status (*)(DecodeState);
using StreamCreate = Status (*)(Stream*);
using StreamDestroy = Status (*)(Stream);
using StreamParse = Status (*)(Handle, const unsigned char*, size_t, int, int, Stream);
using StreamGetImageInfo = Status (*)(Stream, ImageInfo*);
using StreamGetImageComponentInfo = Status (*)(Stream, ComponentInfo*, uint32_t);
using DecodeParamsCreate = Status (*)(DecodeParams*);
using DecodeParamsDestroy = Status (*)(DecodeParams);
using DecodeParamsSetOutputFormat = Status (*)(DecodeParams, ImageFormat);
using DecodeParamsSetRGBOutput = Status (*)(DecodeParams, int32_t);
using DecodeImage = Status (*)(Handle, DecodeState, Stream, DecodeParams, Image*, cudaStream_t);

}  // namespace slidestream::shim::nvjpeg2k::api
