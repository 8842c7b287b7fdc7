#include "shim/cufile.hpp"

#include <cufile.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <utility>

#include "shim/library.hpp"
#include "slidestream/error.hpp"

namespace slidestream::shim::cufile {
namespace {

struct Symbols {
  decltype(&::cuFileDriverOpen) driver_open = nullptr;
  decltype(&::cuFileHandleRegister) handle_register = nullptr;
  decltype(&::cuFileHandleDeregister) handle_deregister = nullptr;
  decltype(&::cuFileBufRegister) buf_register = nullptr;
  decltype(&::cuFileBufDeregister) buf_deregister = nullptr;
  decltype(&::cuFileRead) read = nullptr;
  decltype(&::cuFileWrite) write = nullptr;
};

std::string describe(CUfileError_t status) {
  std::string text = CUFILE_ERRSTR(status.err);
  text += " (" + std::to_string(static_cast<int>(status.err)) + ")";
  if (IS_CUDA_ERR(status)) text += ", CUDA driver error " + std::to_string(status.cu_err);
  return text;
}

std::atomic<bool> open_tried{false};

struct Loaded {
  Availability availability;
  Symbols symbols;
};

Loaded load() {
  open_tried.store(true);
  Loaded result;
  Availability& a = result.availability;
  a.nvidia_fs = nvidia_fs_present();
  Library library("libcufile", {"libcufile.so.0", "libcufile.so"});
  Symbols& s = result.symbols;
  library.bind("cuFileDriverOpen", &s.driver_open)
      .bind("cuFileHandleRegister", &s.handle_register)
      .bind("cuFileHandleDeregister", &s.handle_deregister)
      .bind("cuFileBufRegister", &s.buf_register)
      .bind("cuFileBufDeregister", &s.buf_deregister)
      .bind("cuFileRead", &s.read)
      .bind("cuFileWrite", &s.write);
  a.library_path = library.path();
  a.why = library.why();
  if (!library.ok()) return result;
  a.library_loaded = true;
  // Opened once per process and left open: cuFileDriverClose at exit would run after the CUDA
  // runtime may already be gone. The driver is cheap to keep.
  CUfileError_t status = s.driver_open();
  if (status.err != CU_FILE_SUCCESS) {
    a.why = "cuFileDriverOpen failed: " + describe(status);
    return result;
  }
  a.driver_open = true;
  if (!a.nvidia_fs) a.why = "nvidia-fs kernel module absent (no /dev/nvidia-fs*)";
  return result;
}

const Loaded& loaded() {
  static const Loaded instance = load();
  return instance;
}

}  // namespace

bool nvidia_fs_present() {
  std::error_code ec;
  if (std::filesystem::exists("/proc/driver/nvidia-fs", ec)) return true;
  for (const auto& entry : std::filesystem::directory_iterator("/dev", ec)) {
    if (entry.path().filename().string().starts_with("nvidia-fs")) return true;
  }
  return false;
}

bool driver_open_tried() {
  return open_tried.load();
}

const Availability& availability() {
  return loaded().availability;
}

FileHandle FileHandle::try_register(int fd, std::string* why) {
  const Loaded& l = loaded();
  FileHandle handle;
  if (!l.availability.driver_open) {
    *why = l.availability.why;
    return handle;
  }
  CUfileDescr_t descr{};
  descr.type = CU_FILE_HANDLE_TYPE_OPAQUE_FD;
  descr.handle.fd = fd;
  CUfileHandle_t raw = nullptr;
  CUfileError_t status = l.symbols.handle_register(&raw, &descr);
  if (status.err != CU_FILE_SUCCESS) {
    *why = "cuFileHandleRegister failed: " + describe(status);
    if (!l.availability.nvidia_fs) *why += "; nvidia-fs kernel module absent";
    return handle;
  }
  handle.handle_ = raw;
  return handle;
}

FileHandle::~FileHandle() {
  if (handle_) loaded().symbols.handle_deregister(static_cast<CUfileHandle_t>(handle_));
}

FileHandle::FileHandle(FileHandle&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)) {}

FileHandle& FileHandle::operator=(FileHandle&& other) noexcept {
  std::swap(handle_, other.handle_);
  return *this;
}

void FileHandle::read_exact(void* device_base, size_t size, uint64_t file_offset,
                            size_t device_offset) const {
  const auto& s = loaded().symbols;
  size_t done = 0;
  while (done < size) {
    ssize_t n =
        s.read(static_cast<CUfileHandle_t>(handle_), device_base, size - done,
               static_cast<off_t>(file_offset + done), static_cast<off_t>(device_offset + done));
    if (n < 0) {
      // -1 with errno for POSIX failures, a negative CUfileOpError otherwise.
      std::string cause =
          n == -1 ? "cuFileRead: I/O error" : std::string("cuFileRead: ") + CUFILE_ERRSTR(n);
      throw Error(ErrorKind::cufile, cause,
                  ErrorContext{.file = {},
                               .level = -1,
                               .tile = -1,
                               .offset = static_cast<int64_t>(file_offset + done)});
    }
    if (n == 0) {
      throw Error(ErrorKind::format, "file ends before the data it points to (cuFileRead)",
                  ErrorContext{.file = {},
                               .level = -1,
                               .tile = -1,
                               .offset = static_cast<int64_t>(file_offset + done)});
    }
    done += static_cast<size_t>(n);
  }
}

void FileHandle::write_exact(const void* device_base, size_t size, uint64_t file_offset,
                             size_t device_offset) const {
  const auto& s = loaded().symbols;
  size_t done = 0;
  while (done < size) {
    ssize_t n =
        s.write(static_cast<CUfileHandle_t>(handle_), device_base, size - done,
                static_cast<off_t>(file_offset + done), static_cast<off_t>(device_offset + done));
    const int64_t at = static_cast<int64_t>(file_offset + done);
    if (n == -1) {
      // -1: a POSIX failure with errno set (compatibility mode, or the kernel's answer).
      const int err = errno;
      throw Error(err == ENOSPC || err == EDQUOT ? ErrorKind::disk_full : ErrorKind::cufile,
                  std::string("cuFileWrite: ") + std::strerror(err),
                  ErrorContext{.file = {}, .level = -1, .tile = -1, .offset = at});
    }
    if (n < 0) {
      throw Error(ErrorKind::cufile, std::string("cuFileWrite: ") + CUFILE_ERRSTR(n),
                  ErrorContext{.file = {}, .level = -1, .tile = -1, .offset = at});
    }
    if (n == 0) {
      throw Error(ErrorKind::disk_full, "cuFileWrite wrote nothing (file system full?)",
                  ErrorContext{.file = {}, .level = -1, .tile = -1, .offset = at});
    }
    done += static_cast<size_t>(n);
  }
}

BufferRegistration::BufferRegistration(const void* device_pointer, size_t bytes) {
  const Loaded& l = loaded();
  if (!l.availability.driver_open) return;
  CUfileError_t status = l.symbols.buf_register(device_pointer, bytes, 0);
  if (status.err == CU_FILE_SUCCESS) pointer_ = device_pointer;
}

BufferRegistration::~BufferRegistration() {
  if (pointer_) loaded().symbols.buf_deregister(pointer_);
}

BufferRegistration::BufferRegistration(BufferRegistration&& other) noexcept
    : pointer_(std::exchange(other.pointer_, nullptr)) {}

BufferRegistration& BufferRegistration::operator=(BufferRegistration&& other) noexcept {
  std::swap(pointer_, other.pointer_);
  return *this;
}

}  // namespace slidestream::shim::cufile
