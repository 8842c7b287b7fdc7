// The whole public API.
#pragma once

#include "slidestream/checksum.hpp"
#include "slidestream/device.hpp"
#include "slidestream/error.hpp"
#include "slidestream/image.hpp"
#include "slidestream/ops.hpp"
#include "slidestream/patches.hpp"
#include "slidestream/pipeline.hpp"
#include "slidestream/read_options.hpp"
#include "slidestream/regions.hpp"
#include "slidestream/slide.hpp"
#include "slidestream/system.hpp"
#include "slidestream/version.hpp"
#include "slidestream/zarr.hpp"
