if(MINOTAUR_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(MINOTAUR_TSAN)
  # -Wno-tsan: g++ warns that std::atomic_thread_fence is not instrumented; the libraries'
  # fences are not ours to change, and the warning would be an error.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
  add_link_options(-fsanitize=thread)
endif()
if(MINOTAUR_FUZZ)
  # Everything gets libFuzzer's coverage instrumentation and the sanitizers, so the fuzzer is
  # guided through the decoders themselves, not only through the target's own file.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
