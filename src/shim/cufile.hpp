// cuFile (GPUDirect Storage) loaded at run time with dlopen, kvikio's design: the build never
// links libcufile, and a machine without it (or without nvidia-fs) still runs every other path.
// This is the only file that knows libcufile's symbols.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace slidestream::shim::cufile {

// What this process can expect from cuFile. Computed once (dlopen, cuFileDriverOpen), never
// throws; `why` says what is missing.
struct Availability {
  bool library_loaded = false;  // libcufile.so.0 and every symbol we use were found
  bool driver_open = false;     // cuFileDriverOpen succeeded (done once per process)
  bool nvidia_fs = false;       // /dev/nvidia-fs* or /proc/driver/nvidia-fs present
  std::string library_path;     // the name dlopen resolved
  std::string why;              // empty when library and driver are fine
};
const Availability& availability();

// True when the nvidia-fs kernel module shows itself; GDS proper needs it (without it cuFile can
// only run in compatibility mode, or, as on our lent GPU machine, not register files at all).
bool nvidia_fs_present();
// Whether this process has asked availability(), which loads libcufile and opens its driver: the
// paths that decide without it (io auto where nvidia-fs is absent) must leave it unasked.
bool driver_open_tried();

// A file registered with cuFile (cuFileHandleRegister), deregistered on destruction.
class FileHandle {
 public:
  FileHandle() = default;
  // Registers `fd`; on failure returns an empty handle and puts the reason in *why.
  static FileHandle try_register(int fd, std::string* why);
  ~FileHandle();
  FileHandle(FileHandle&& other) noexcept;
  FileHandle& operator=(FileHandle&& other) noexcept;
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;

  explicit operator bool() const noexcept { return handle_ != nullptr; }
  // Reads exactly `size` bytes at `file_offset` into device memory at device_base +
  // device_offset; throws Error(cufile or io) naming the offset on any failure or short read.
  void read_exact(void* device_base, size_t size, uint64_t file_offset, size_t device_offset) const;
  // Writes exactly `size` bytes from device memory at device_base + device_offset to the file at
  // `file_offset` (cuFileWrite); throws Error(cufile, or disk_full for ENOSPC) naming the offset on
  // any failure or short write.
  void write_exact(const void* device_base, size_t size, uint64_t file_offset,
                   size_t device_offset) const;

 private:
  void* handle_ = nullptr;  // CUfileHandle_t
};

// A device buffer registered with cuFileBufRegister for reuse across many reads.
class BufferRegistration {
 public:
  BufferRegistration() = default;
  // Registers; on failure stays empty (reads into unregistered memory still work, slower).
  BufferRegistration(const void* device_pointer, size_t bytes);
  ~BufferRegistration();
  BufferRegistration(BufferRegistration&& other) noexcept;
  BufferRegistration& operator=(BufferRegistration&& other) noexcept;
  BufferRegistration(const BufferRegistration&) = delete;
  BufferRegistration& operator=(const BufferRegistration&) = delete;
  explicit operator bool() const noexcept { return pointer_ != nullptr; }

 private:
  const void* pointer_ = nullptr;
};

}  // namespace slidestream::shim::cufile
