// The one loader of NVIDIA's optional libraries (cuFile, nvJPEG, nvCOMP, nvJPEG2000), kvikio's
// shim design: each is opened with dlopen at run time, so that neither the build nor CI needs
// them, and a machine without one still runs every other path. Each shim (src/shim/*.cpp) names
// its library and binds its symbols through this class; nothing else calls dlopen or dlsym.
#pragma once

#include <dlfcn.h>

#include <initializer_list>
#include <string>

namespace slidestream::shim {

class Library {
 public:
  // Opens the first of `names` that loads (RTLD_NOW | RTLD_LOCAL); never throws. `label` names
  // the library in messages ("libnvcomp"). The handle is never closed: the vendors' libraries
  // keep threads and CUDA state that must outlive every handle made from them, and unloading at
  // exit races CUDA's own teardown.
  Library(const char* label, std::initializer_list<const char*> names) : label_(label) {
    std::string first_error;
    for (const char* name : names) {
      if ((handle_ = dlopen(name, RTLD_NOW | RTLD_LOCAL)) != nullptr) {
        path_ = name;
        return;
      }
      const char* err = dlerror();
      if (first_error.empty()) first_error = err ? err : "unknown reason";
    }
    why_ = std::string(*names.begin()) + " not loadable: " + first_error;
  }

  // Binds symbol `name` into *out. Once a symbol is missing the library counts as unusable and
  // why() names the first one missing; later binds do nothing. Chainable:
  //   lib.bind("a", &s.a).bind("b", &s.b); if (!lib.ok()) ... lib.why()
  template <typename T>
  Library& bind(const char* name, T* out) {
    *out = nullptr;
    if (!ok()) return *this;
    *out = reinterpret_cast<T>(dlsym(handle_, name));
    if (*out == nullptr) why_ = label_ + " lacks " + name;
    return *this;
  }

  // Loaded, and every symbol asked for so far was found.
  bool ok() const noexcept { return handle_ != nullptr && why_.empty(); }
  const std::string& path() const noexcept { return path_; }  // the name dlopen resolved
  const std::string& why() const noexcept { return why_; }    // empty while ok()

 private:
  std::string label_;
  std::string path_;
  std::string why_;
  void* handle_ = nullptr;
};

// Whether one of `names` can be loaded now (opened and closed again): for reports in builds that
// have no shim for it (a CPU-only build's `info --system`).
inline bool loadable(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (void* handle = dlopen(name, RTLD_LAZY | RTLD_LOCAL)) {
      dlclose(handle);
      return true;
    }
  }
  return false;
}

}  // namespace slidestream::shim
