# Every third-party library, found once, as an imported target. See README "Dependencies".
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(JPEG REQUIRED IMPORTED_TARGET libjpeg)          # libjpeg-turbo
pkg_check_modules(DEFLATE REQUIRED IMPORTED_TARGET libdeflate)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(OPENJP2 REQUIRED IMPORTED_TARGET libopenjp2)
pkg_check_modules(BLOSC REQUIRED IMPORTED_TARGET blosc)
pkg_check_modules(PNG REQUIRED IMPORTED_TARGET libpng)           # CLI region output
# Philips / Leica / Ventana XML. Optional so that a machine without it (the lent GPU machine
# before its .debs carry pugixml) still builds: those vendors then refuse their slides, saying so.
pkg_check_modules(PUGIXML IMPORTED_TARGET pugixml)
if(NOT PUGIXML_FOUND)
  message(WARNING "pugixml not found: Philips, Leica and Ventana slides will not open "
                  "(apt-get install libpugixml-dev, or carry its .debs: scripts/device-check.sh prepare)")
endif()
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 REQUIRED)
# The GPU machine lacks libtiff/OpenSlide: SLIDESTREAM_TESTS_GPU_ONLY builds only the
# test_gpu_* binaries, which compare GPU results with our own (separately verified) CPU path.
option(SLIDESTREAM_TESTS_GPU_ONLY "Build only the GPU tests (no libtiff/OpenSlide needed)" OFF)
if(SLIDESTREAM_BUILD_TESTS)
  find_package(GTest REQUIRED)
  if(NOT SLIDESTREAM_TESTS_GPU_ONLY)
    pkg_check_modules(TIFF REQUIRED IMPORTED_TARGET libtiff-4)     # reference decoder in tests
    pkg_check_modules(OPENSLIDE REQUIRED IMPORTED_TARGET openslide) # reference reader in tests
  endif()
endif()
if(SLIDESTREAM_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()

# Headers of NVIDIA's optional libraries (cuFile, nvJPEG). The libraries themselves are loaded
# at run time (dlopen), so builds and CI never need them; the headers come from the CUDA toolkit
# where it has them, or from the PyPI wheels nvidia-cufile / nvidia-nvjpeg (scripts/setup.sh).
if(SLIDESTREAM_CUDA)
  set(_nv_hint_dirs ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
  # PROJECT_SOURCE_DIR, not CMAKE_SOURCE_DIR: the Python package's build (python/CMakeLists.txt)
  # includes this project as a subdirectory and adds the wheels of its own interpreter in
  # SLIDESTREAM_NV_HEADER_HINTS.
  file(GLOB _wheel_dirs ${PROJECT_SOURCE_DIR}/.venv/lib/python3*/site-packages/nvidia/*/include
                        ${PROJECT_SOURCE_DIR}/.venv/lib/python3*/site-packages/nvidia/*/*/include)
  list(APPEND _wheel_dirs ${SLIDESTREAM_NV_HEADER_HINTS})
  find_path(SLIDESTREAM_CUFILE_INCLUDE cufile.h HINTS ${_nv_hint_dirs} ${_wheel_dirs})
  find_path(SLIDESTREAM_NVJPEG_INCLUDE nvjpeg.h HINTS ${_nv_hint_dirs} ${_wheel_dirs})
  if(NOT SLIDESTREAM_CUFILE_INCLUDE OR NOT SLIDESTREAM_NVJPEG_INCLUDE)
    message(FATAL_ERROR "cufile.h / nvjpeg.h not found: run scripts/setup.sh (pip wheels "
                        "nvidia-cufile, nvidia-nvjpeg) or pass -DSLIDESTREAM_CUDA=OFF")
  endif()
endif()
