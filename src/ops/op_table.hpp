// The op table: one entry per op, everything the rest of the library needs to know about it (its
// name, parameters and their parsing, halo, the formats it takes and gives, its kernels on the CPU
// and on CUDA, and an optional step that learns from the slide before a run). ops.cpp reads only
// this; there is no per-op switch anywhere else. The models are libvips' operation classes (an op
// declares its arguments and its work) and tensorstore's codec registry (a kind is found by its
// name), but the table is an explicit array in op_table.cpp: no registration by static
// initialisers, so the set of ops is what that file lists, in that order.
#pragma once

#include <span>
#include <string_view>

#include "ops/kernels.hpp"
#include "ops/pointwise.hpp"
#include "slidestream/ops.hpp"

namespace slidestream::ops::detail {

// A numeric parameter, written after the op's name ("od:240"; several: "name:a:b"). `at` gives
// its place in an Op; to_string leaves out parameters at their default.
struct ParamSpec {
  const char* name = nullptr;  // as error messages name it ("Io")
  float fallback = 0.0f;       // the value parse_op gives when the name comes alone
  float min = 0.0f;            // smallest value accepted (finite values only)
  float& (*at)(Op& op) = nullptr;
};

// The inputs an op takes and the output it gives.
struct Formats {
  int takes_channels = 0;  // 0: any number
  bool takes_uint8 = true;
  bool takes_float32 = false;
  const char* takes = "";  // for the error message: "3-channel uint8 RGB"
  int gives_channels = 0;  // 0: as many as it takes
  DataType gives = DataType::float32;
};

struct OpEntry {
  OpKind kind;        // its place in the table
  const char* name;   // canonical, as to_string writes it
  const char* alias;  // also accepted by parse_op, or nullptr
  std::span<const ParamSpec> params;
  int halo = 0;  // pixels each side beyond the area it produces
  Formats formats;
  // A colour op: its per-pixel kind (pointwise.hpp), also run fused inside a following kernel
  // that takes one (pointwise_fuses_into_sobel). Pointwise::none for the others.
  Pointwise pointwise = Pointwise::none;
  bool takes_fused = false;  // runs a colour op fused before it (KernelCall::pointwise)
  Kernel cpu = nullptr;
  Kernel cuda = nullptr;  // nullptr: no GPU kernel (or a build without CUDA)
  // Learns the op's parameters from the slide before a run (macenko fits its stains on the
  // lowest-resolution level), so that every tile uses the same ones. nullptr: nothing to learn.
  void (*prepare)(Op& op, const SlideOverview& overview) = nullptr;
};

std::span<const OpEntry> op_table();
const OpEntry& entry_of(const Op& op);  // throws Error(invalid_argument) for an unknown kind
const OpEntry* find_op(std::string_view name);  // by name or alias; nullptr if none

}  // namespace slidestream::ops::detail
