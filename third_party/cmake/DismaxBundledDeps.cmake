# Dependencies from a folder made by tools/gpu-bundle-deps.sh, for a machine without the Debian packages
# (the GPU machines): header-only Eigen, nlohmann-json, doctest and CLI11, plus zlib.
#   include/{eigen3,nlohmann,doctest,CLI,zlib.h,zconf.h}  lib/libz.a  cmake/doctest*.cmake
foreach(dir include include/eigen3 lib cmake)
  if(NOT EXISTS ${DISMAX_DEPS_DIR}/${dir})
    message(FATAL_ERROR "DISMAX_DEPS_DIR=${DISMAX_DEPS_DIR} lacks ${dir}/; make it with tools/gpu-bundle-deps.sh")
  endif()
endforeach()
add_library(Eigen3::Eigen INTERFACE IMPORTED)
set_target_properties(Eigen3::Eigen PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${DISMAX_DEPS_DIR}/include/eigen3)
foreach(target nlohmann_json::nlohmann_json doctest::doctest CLI11::CLI11)
  add_library(${target} INTERFACE IMPORTED)
  set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${DISMAX_DEPS_DIR}/include)
endforeach()
set(ZLIB_INCLUDE_DIR ${DISMAX_DEPS_DIR}/include CACHE PATH "" FORCE)
set(ZLIB_LIBRARY ${DISMAX_DEPS_DIR}/lib/libz.a CACHE FILEPATH "" FORCE)
list(APPEND CMAKE_MODULE_PATH ${DISMAX_DEPS_DIR}/cmake)  # doctest.cmake: doctest_discover_tests
