// Starting a child process whose output goes to a log file (minotaur local, the test harness).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.h"

namespace minotaur {

// Runs argv[0] with `argv`, standard input from /dev/null, standard output and error appended
// to `log_path`. The child's pid, or why it could not be started.
Result<pid_t, std::string> spawn_logged(const std::vector<std::string>& argv,
                                        const std::string& log_path);

}  // namespace minotaur
