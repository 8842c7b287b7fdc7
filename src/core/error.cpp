#include "slidestream/error.hpp"

#include <utility>

namespace slidestream {
namespace {

std::string format_message(const std::string& cause, const ErrorContext& c) {
  std::string where = c.file;
  auto add = [&where](const std::string& part) {
    where += where.empty() ? part : ", " + part;
  };
  if (c.level >= 0) add("level " + std::to_string(c.level));
  if (c.tile >= 0) add("tile " + std::to_string(c.tile));
  if (c.offset >= 0) add("offset " + std::to_string(c.offset));
  return where.empty() ? cause : where + ": " + cause;
}

}  // namespace

const char* to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::io: return "I/O error";
    case ErrorKind::not_found: return "not found";
    case ErrorKind::format: return "format error";
    case ErrorKind::unsupported: return "unsupported";
    case ErrorKind::corrupt: return "corrupt data";
    case ErrorKind::limit: return "limit exceeded";
    case ErrorKind::invalid_argument: return "invalid argument";
    case ErrorKind::out_of_memory: return "out of memory";
    case ErrorKind::disk_full: return "disk full";
    case ErrorKind::already_exists: return "already exists";
    case ErrorKind::cuda: return "CUDA error";
    case ErrorKind::cufile: return "cuFile error";
    case ErrorKind::cancelled: return "cancelled";
  }
  return "error";
}

Error::Error(ErrorKind kind, std::string cause, ErrorContext context)
    : std::runtime_error(format_message(cause, context)),
      kind_(kind),
      cause_(std::move(cause)),
      context_(std::move(context)) {}

Error Error::with_context(const ErrorContext& outer) const {
  ErrorContext merged = context_;
  if (merged.file.empty()) merged.file = outer.file;
  if (merged.level < 0) merged.level = outer.level;
  if (merged.tile < 0) merged.tile = outer.tile;
  if (merged.offset < 0) merged.offset = outer.offset;
  return Error(kind_, cause_, std::move(merged));
}

}  // namespace slidestream
