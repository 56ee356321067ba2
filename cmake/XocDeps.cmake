# Every dependency is found through pkg-config; a missing one names its Debian package.
# tools/install-deps installs all of them.
find_package(PkgConfig REQUIRED)

function(xoc_dep target module debian)
  pkg_check_modules(${target} IMPORTED_TARGET ${module})
  if(NOT ${target}_FOUND)
    message(FATAL_ERROR "xoc: missing dependency '${module}'. Install the Debian package "
                        "'${debian}' (or run tools/install-deps).")
  endif()
endfunction()

xoc_dep(ZMQ      libzmq       libzmq3-dev)
xoc_dep(CZMQ     libczmq      libczmq-dev)
xoc_dep(MSGPACK  msgpack      libmsgpack-dev)
xoc_dep(LMDB     lmdb         liblmdb-dev)
xoc_dep(CURL     libcurl      libcurl4-openssl-dev)
xoc_dep(XML2     libxml-2.0   libxml2-dev)
xoc_dep(SODIUM   libsodium    libsodium-dev)
xoc_dep(LWS      libwebsockets libwebsockets-dev)
xoc_dep(JANSSON  jansson      libjansson-dev)
xoc_dep(YAJL     yajl         libyajl-dev)
xoc_dep(ARCHIVE  libarchive   libarchive-dev)
xoc_dep(CMOCKA   cmocka       libcmocka-dev)
xoc_dep(VNCSERVER libvncserver libvncserver-dev)
xoc_dep(UV       libuv        libuv1-dev)
xoc_dep(MHD      libmicrohttpd libmicrohttpd-dev)

# Helpers for tests: every test is a cmocka program registered in ctest with labels.
function(xoc_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
      ENVIRONMENT "XOC_BUILD_DIR=${CMAKE_BINARY_DIR};XOC_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()

# A fuzz target: one source defining LLVMFuzzerTestOneInput.
# - With XOC_FUZZ=ON (clang), a libFuzzer binary `name` that `make fuzz` runs for a bounded time.
# - Otherwise, the same entry point linked with tests/fuzz/driver.c: a ctest test (label fuzz)
#   that replays the corpus in tests/fuzz/corpus/<name>/ plus deterministic mutations of it.
function(xoc_fuzz name)
  cmake_parse_arguments(F "" "" "SOURCES;LIBS" ${ARGN})
  set(corpus ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${name})
  if(XOC_FUZZ)
    add_executable(${name} ${F_SOURCES})
    target_link_libraries(${name} PRIVATE ${F_LIBS})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${name} ${F_SOURCES} ${CMAKE_SOURCE_DIR}/tests/fuzz/driver.c)
    target_link_libraries(${name} PRIVATE ${F_LIBS})
    add_test(NAME ${name} COMMAND ${name} ${corpus})
    set_tests_properties(${name} PROPERTIES LABELS "fuzz" TIMEOUT 300)
  endif()
endfunction()
