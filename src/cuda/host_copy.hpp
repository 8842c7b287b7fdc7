// Device → host copies of views for callers that must not include CUDA headers (the CLI).
// Declared without CUDA types; defined only in CUDA builds: guard calls with
// SLIDESTREAM_HAVE_CUDA.
#pragma once

#include "slidestream/image.hpp"

namespace slidestream::cuda {

// Copies src (on a GPU) into dst (host), both width × height with their own pitches.
// Synchronous. Throws Error(cuda / invalid_argument).
void copy_to_host(const ImageView& src, const ImageView& dst);

}  // namespace slidestream::cuda
