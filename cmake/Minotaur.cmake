# Every compile waits for every protoc run: a header generated in one folder is often included
# (through a header of its layer) by code in another, and Ninja must not compile it before.
add_custom_target(minotaur_generated)

# minotaur_proto_library(NAME FILE.proto [OUT SUBDIR]): the generated code of one schema, as a
# library. Headers land in <build>/SUBDIR/ (default: this folder's path), so code includes them
# as "SUBDIR/file.pb.h".
function(minotaur_proto_library name proto)
  cmake_parse_arguments(ARG "" "OUT" "" ${ARGN})
  if(NOT ARG_OUT)
    file(RELATIVE_PATH ARG_OUT ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  add_library(${name} STATIC ${proto})
  file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/${ARG_OUT})
  protobuf_generate(TARGET ${name} PROTOC_OUT_DIR ${PROJECT_BINARY_DIR}/${ARG_OUT})
  target_include_directories(${name} SYSTEM PUBLIC ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PUBLIC protobuf::libprotobuf)
  add_dependencies(minotaur_generated ${name})
endfunction()

# minotaur_library(NAME SOURCES ... DEPS ...): one layer's library, with the project's warnings.
function(minotaur_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  minotaur_warnings(${name})
  add_dependencies(${name} minotaur_generated)
endfunction()

# minotaur_test(NAME SOURCES ... DEPS ... [LABEL unit|process|...] [PROPERTIES ...]): a GoogleTest binary;
# PROPERTIES are given to each of its tests (a fixture, a time-out); each TEST
# is one CTest test. LABEL process marks tests that start real node processes.
function(minotaur_test name)
  cmake_parse_arguments(ARG "" "LABEL" "SOURCES;DEPS;PROPERTIES" ${ARGN})
  if(NOT ARG_LABEL)
    set(ARG_LABEL unit)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  minotaur_warnings(${name})
  add_dependencies(${name} minotaur_generated)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS ${ARG_LABEL} ${ARG_PROPERTIES})
endfunction()

# minotaur_fuzz_target(NAME SOURCES ... DEPS ...): a fuzz target for a decoder of outside bytes.
# The source defines LLVMFuzzerTestOneInput. With MINOTAUR_FUZZ (clang) it is a libFuzzer binary
# that scripts/fuzz.sh runs; otherwise it links fuzz/standalone_main.cc and runs as a CTest test
# over its seed corpus fuzz/corpus/NAME plus a few thousand seeded random mutations, so every
# build exercises it.
function(minotaur_fuzz_target name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  set(corpus ${PROJECT_SOURCE_DIR}/fuzz/corpus/${name})
  if(MINOTAUR_FUZZ)
    add_executable(${name} ${ARG_SOURCES})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${name} ${ARG_SOURCES} ${PROJECT_SOURCE_DIR}/fuzz/standalone_main.cc)
    add_test(NAME ${name} COMMAND ${name} ${corpus})
    set_tests_properties(${name} PROPERTIES LABELS fuzz)
  endif()
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  minotaur_warnings(${name})
  add_dependencies(${name} minotaur_generated)
endfunction()
