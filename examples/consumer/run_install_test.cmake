# The ctest `install_consumer`: proves that the installed package works for another project.
#   1. cmake --install BUILD_DIR --prefix WORK_DIR/prefix
#   2. configure + build examples/consumer against that prefix only (find_package(slidestream))
#   3. run it on SLIDE and compare every level's size and tile size with OpenSlide's
#      (openslide-show-properties, an independent reader), and run the installed CLI.
# Run as: cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DGENERATOR=... -DCXX_COMPILER=...
#               -DSLIDE=... [-DOPENSLIDE_SHOW_PROPERTIES=...] -P run_install_test.cmake
cmake_minimum_required(VERSION 3.25)

foreach(_var BUILD_DIR SOURCE_DIR WORK_DIR GENERATOR SLIDE)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "run_install_test.cmake: -D${_var}=... is required")
  endif()
endforeach()

# Runs a command; stops the test with its output when it fails. Output goes to ${out_var}.
function(run_step what out_var)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "install_consumer: ${what} failed (${_rc}):\n${_out}\n${_err}")
  endif()
  set(${out_var} "${_out}" PARENT_SCOPE)
endfunction()

set(_prefix ${WORK_DIR}/prefix)
set(_consumer_build ${WORK_DIR}/consumer-build)
file(REMOVE_RECURSE ${WORK_DIR})

# 1. Install.
run_step("cmake --install" _ignored ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${_prefix})
include(GNUInstallDirs)
foreach(_file include/slidestream/slidestream.hpp include/slidestream/version.hpp
              ${CMAKE_INSTALL_LIBDIR}/cmake/slidestream/slidestreamConfig.cmake
              ${CMAKE_INSTALL_LIBDIR}/cmake/slidestream/slidestreamConfigVersion.cmake
              ${CMAKE_INSTALL_BINDIR}/slidestream)
  if(NOT EXISTS ${_prefix}/${_file})
    message(FATAL_ERROR "install_consumer: the install lacks ${_file}")
  endif()
endforeach()

# 2. Configure and build the consumer against the installed package alone: no package registry,
# nothing from the build tree.
set(_configure ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/consumer -B ${_consumer_build}
    -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${_prefix}
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
if(CXX_COMPILER)
  list(APPEND _configure -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()
if(CXX_FLAGS)
  list(APPEND _configure "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${CXX_FLAGS}")
endif()
run_step("configuring examples/consumer" _ignored ${_configure})
run_step("building examples/consumer" _ignored ${CMAKE_COMMAND} --build ${_consumer_build})

# 3. Run it, and compare with OpenSlide.
run_step("slide_levels ${SLIDE}" _ours ${_consumer_build}/slide_levels ${SLIDE})
message(STATUS "consumer output:\n${_ours}")
if(NOT OPENSLIDE_SHOW_PROPERTIES)
  find_program(OPENSLIDE_SHOW_PROPERTIES openslide-show-properties REQUIRED)
endif()
run_step("openslide-show-properties" _props ${OPENSLIDE_SHOW_PROPERTIES} ${SLIDE})
string(REGEX MATCH "openslide.level-count: '([0-9]+)'" _ignored "${_props}")
set(_count ${CMAKE_MATCH_1})
if(NOT _count)
  message(FATAL_ERROR "install_consumer: no openslide.level-count for ${SLIDE}:\n${_props}")
endif()
if(NOT _ours MATCHES ", ${_count} levels\n")
  message(FATAL_ERROR "install_consumer: OpenSlide counts ${_count} levels, the consumer said:\n"
                      "${_ours}")
endif()
math(EXPR _last "${_count} - 1")
foreach(_i RANGE ${_last})
  set(_fields "")
  foreach(_key width height tile-width tile-height)
    string(REGEX MATCH "openslide.level\\[${_i}\\].${_key}: '([0-9]+)'" _ignored "${_props}")
    list(APPEND _fields ${CMAKE_MATCH_1})
  endforeach()
  list(GET _fields 0 _w)
  list(GET _fields 1 _h)
  list(GET _fields 2 _tw)
  list(GET _fields 3 _th)
  set(_expected "level ${_i}: ${_w} x ${_h}, tile ${_tw} x ${_th},")
  string(FIND "${_ours}" "${_expected}" _at)
  if(_at EQUAL -1)
    message(FATAL_ERROR "install_consumer: expected '${_expected}' (OpenSlide), got:\n${_ours}")
  endif()
endforeach()

# The installed CLI must find its shared libraries from the install prefix (RPATH).
run_step("installed slidestream --version" _version ${_prefix}/${CMAKE_INSTALL_BINDIR}/slidestream
         --version)
message(STATUS "installed CLI: ${_version}")
message(STATUS "install_consumer: OK, ${_count} levels match OpenSlide")
