# Decides whether torch.save (.pth) files can be read and written, through Debian's libzip
# (DISMAX_ZIP = AUTO | ON | OFF); sets DISMAX_WITH_LIBZIP, DISMAX_LIBZIP_INCLUDE_DIRS and DISMAX_LIBZIP_LIBRARIES.
# Found with pkg-config: Debian's libzip CMake package names its command-line tools, which are packaged
# apart, and fails without them.
set(DISMAX_WITH_LIBZIP OFF)
if(NOT DISMAX_ZIP STREQUAL "OFF")
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(DISMAX_PC_LIBZIP QUIET libzip)
  endif()
  if(DISMAX_PC_LIBZIP_FOUND)
    set(DISMAX_WITH_LIBZIP ON)
    set(DISMAX_LIBZIP_INCLUDE_DIRS ${DISMAX_PC_LIBZIP_INCLUDE_DIRS})
    set(DISMAX_LIBZIP_LIBRARIES ${DISMAX_PC_LIBZIP_LINK_LIBRARIES})
  elseif(DISMAX_ZIP STREQUAL "ON")
    message(FATAL_ERROR "DISMAX_ZIP=ON but libzip was not found (apt install libzip-dev pkg-config)")
  endif()
endif()
