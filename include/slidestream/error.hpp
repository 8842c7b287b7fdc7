// Errors: one exception type for the whole library. Each layer adds the context it knows
// (file, level, tile, byte offset) as the error rises, so the final message names the file and
// the cause in one line.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace slidestream {

enum class ErrorKind {
  io,                // a read or write failed (errno-level failure)
  not_found,         // the file or array does not exist
  format,            // not a TIFF/Zarr we recognise, or structurally malformed
  unsupported,       // well-formed but uses a feature we do not implement
  corrupt,           // compressed data or values inside a well-formed file are damaged
  limit,             // a size or count beyond what the file can justify
  invalid_argument,  // the caller asked for something impossible
  out_of_memory,     // host or GPU allocation failed
  disk_full,         // ENOSPC / EDQUOT on write
  already_exists,    // refusing to overwrite
  cuda,              // a CUDA runtime or library call failed
  cufile,            // a cuFile call failed
  cancelled,         // work stopped because another part failed or the caller cancelled
};

const char* to_string(ErrorKind kind) noexcept;

// Where an error happened. -1 / empty means "not known at this layer".
struct ErrorContext {
  std::string file;
  int level = -1;
  int64_t tile = -1;
  int64_t offset = -1;
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string cause, ErrorContext context = {});

  ErrorKind kind() const noexcept { return kind_; }
  const std::string& cause() const noexcept { return cause_; }
  const ErrorContext& context() const noexcept { return context_; }

  // A copy whose unknown fields are filled from `outer`; fields already known stay.
  Error with_context(const ErrorContext& outer) const;

 private:
  ErrorKind kind_;
  std::string cause_;
  ErrorContext context_;
};

}  // namespace slidestream
