// Loading NVIDIA's optional libraries (cuFile, nvJPEG) at run time, so that neither the build nor
// CI needs them. One place for dlopen/dlsym; each shim names its library and symbols.
#pragma once

#include <dlfcn.h>

#include <initializer_list>
#include <string>

namespace slidestream::cuda {

// Opens the first loadable name. The handle is never closed: the vendors' libraries keep threads
// and state that must outlive every handle made from them. Returns nullptr and sets *why.
inline void* open_first_library(std::initializer_list<const char*> names, std::string* opened,
                                std::string* why) {
  std::string first_error;
  for (const char* name : names) {
    if (void* library = dlopen(name, RTLD_NOW | RTLD_LOCAL)) {
      *opened = name;
      return library;
    }
    const char* err = dlerror();
    if (first_error.empty()) first_error = err ? err : "unknown reason";
  }
  *why = std::string(*names.begin()) + " not loadable: " + first_error;
  return nullptr;
}

// Binds one symbol; false (and *why naming the library and symbol) when it is missing.
template <typename T>
bool bind_symbol(void* library, const char* library_name, const char* name, T* out,
                 std::string* why) {
  *out = reinterpret_cast<T>(dlsym(library, name));
  if (*out == nullptr) *why = std::string(library_name) + " lacks " + name;
  return *out != nullptr;
}

}  // namespace slidestream::cuda
