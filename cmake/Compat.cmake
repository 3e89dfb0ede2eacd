# The previous release's build, for the tests that run it beside this one (label compat: the
# two-build roll in node/compat_test.cc and `minotaur bench --from-binary` in bench/). Its commit
# is named in compat/previous; scripts/build-previous.sh builds it from git history into
# build/previous-VERSION/ and says where the binary is. MINOTAUR_PREVIOUS_BINARY is that path,
# and the fixture minotaur_previous_build builds it, or finds it built: scripts/test.sh builds it
# in a stage of its own first, so that the build does not compete with running tests.
execute_process(COMMAND ${PROJECT_SOURCE_DIR}/scripts/build-previous.sh --print-binary
  OUTPUT_VARIABLE MINOTAUR_PREVIOUS_BINARY OUTPUT_STRIP_TRAILING_WHITESPACE
  COMMAND_ERROR_IS_FATAL ANY)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/compat/previous)
add_test(NAME Compat.BuildThePreviousRelease COMMAND ${PROJECT_SOURCE_DIR}/scripts/build-previous.sh)
set_tests_properties(Compat.BuildThePreviousRelease PROPERTIES LABELS compat TIMEOUT 3600
  FIXTURES_SETUP minotaur_previous_build)
