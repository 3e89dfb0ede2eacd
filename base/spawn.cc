#include "base/spawn.h"

#include <fcntl.h>
#include <spawn.h>

#include <cstring>

extern char** environ;

namespace minotaur {

Result<pid_t, std::string> spawn_logged(const std::vector<std::string>& args,
                                        const std::string& log_path) {
  MINOTAUR_ASSERT(!args.empty());
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return err("cannot start " + args[0] + ": " + std::strerror(rc) +
               "; check that the file exists and is executable");
  }
  return pid;
}

}  // namespace minotaur
