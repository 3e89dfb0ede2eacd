# Strict warnings, as errors, for the project's own targets only (generated protobuf code is
# compiled without -Werror: it is not ours to fix). No -Wnull-dereference: g++ 12 reports false
# positives inside libstdc++ (streambuf) with it. No -Wmismatched-new-delete: g++ 12 reports Asio's
# coroutine frames (its own operator new/delete pair) as mismatched after inlining.
function(minotaur_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Werror
    -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused
    -Woverloaded-virtual -Wconversion -Wsign-conversion
    -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough -Wno-mismatched-new-delete)
endfunction()
