# Helpers that give every kgw target the same language standard, warnings,
# include root and (optionally) sanitizers. Every target in the tree is made
# through one of these, so a flag changed here changes everywhere.

option(KGW_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(KGW_WERROR "Treat warnings as errors" ON)
option(KGW_FUZZ "Build the libFuzzer targets (clang only); instruments every target" OFF)

# Applies the project-wide settings to TARGET.
function(kgw_configure_target target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  # Designated initializers that leave defaulted members out are intended;
  # GCC 12 would warn about every such member.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-missing-field-initializers)
  if(KGW_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(KGW_SANITIZE)
    # -O1 keeps sanitizer builds quick to compile and their stacks readable.
    # -g1 (line tables only) is all a sanitizer's report needs, and compiles
    # in about two thirds of the time of full debug information.
    target_compile_options(${target} PRIVATE -O1 -g1 -fsanitize=address,undefined
                                             -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
  if(KGW_FUZZ)
    target_compile_options(${target} PRIVATE -O1 -g1 -fsanitize=fuzzer-no-link,address,undefined
                                             -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
endfunction()

# kgw_library(NAME SRCS a.cc b.cc DEPS x y [PUBLIC_DEPS ...])
# A library with no sources becomes an INTERFACE library (header-only).
function(kgw_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  if(ARG_SRCS)
    add_library(${name} STATIC ${ARG_SRCS})
    kgw_configure_target(${name})
    target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  else()
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
    target_compile_features(${name} INTERFACE cxx_std_20)
    target_link_libraries(${name} INTERFACE ${ARG_DEPS})
  endif()
endfunction()

# kgw_executable(NAME SRCS ... DEPS ...): lands in build/bin/.
function(kgw_executable name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  kgw_configure_target(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
endfunction()

# kgw_test(NAME SRCS ... DEPS ... LABELS unit|e2e [plain_only] [ENV K=V ...] [TIMEOUT s])
# A GoogleTest binary registered with ctest under the given labels. Unit tests
# must run in seconds with no Kafka; e2e tests need the cluster started by
# tests/kafka/kafka-cluster.sh and find it through KGW_KAFKA_* variables.
function(kgw_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SRCS;DEPS;LABELS;ENV" ${ARGN})
  # The sanitizer build does not run plain_only tests, so it need not build them.
  if(KGW_SANITIZE AND "plain_only" IN_LIST ARG_LABELS)
    return()
  endif()
  add_executable(${name} ${ARG_SRCS})
  kgw_configure_target(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
  if(ARG_ENV)
    set_tests_properties(${name} PROPERTIES ENVIRONMENT "${ARG_ENV}")
  endif()
endfunction()
