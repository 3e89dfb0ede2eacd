#include "base/write_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace minotaur {

Result<Ok, std::string> write_file_atomically(const std::string& path, const std::string& text,
                                              mode_t mode) {
  const std::string tmp = path + ".new";
  const auto fail = [&](const char* what) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return err("cannot " + std::string(what) + " " + tmp + ": " + why +
               "; check the folder and its permissions");
  };
  // 0600 first, whatever `mode` is: the file is private until fchmod gives what was asked.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail("create");
  bool ok = ::fchmod(fd, mode) == 0;
  for (std::size_t done = 0; ok && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  if (::close(fd) != 0) ok = false;
  if (!ok) return fail("write");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename");
  return Ok{};
}

}  // namespace minotaur
