#include "tools/common/folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/error.h"

namespace dismax {

namespace fs = std::filesystem;

FolderLock::FolderLock(const std::string& folder, const std::string& command) {
  const std::string path = (fs::path(folder) / ".dismax.lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  DISMAX_CHECK(fd_ >= 0, "cannot create the lock file ", path, " (", std::strerror(errno), ")");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char holder[256] = {0};
    const ssize_t n = ::pread(fd_, holder, sizeof(holder) - 1, 0);
    ::close(fd_);
    fd_ = -1;
    std::string who = n > 0 ? std::string(holder, static_cast<size_t>(n)) : std::string("an unknown process");
    while (!who.empty() && std::isspace(static_cast<unsigned char>(who.back()))) who.pop_back();
    if (err == EWOULDBLOCK)
      DISMAX_FAIL(folder, " is in use by another run (", who, "); wait for it to end or choose another --out");
    DISMAX_FAIL("cannot lock ", path, " (", std::strerror(err), ")");
  }
  const std::string me = "pid " + std::to_string(::getpid()) + ": " + command + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const ssize_t w = ::pwrite(fd_, me.data(), me.size(), 0);
  }
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

int remove_stale_temporaries(const std::string& folder) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    const size_t at = name.rfind(".tmp.");
    if (at == std::string::npos || at + 5 >= name.size()) continue;
    bool digits = true;
    for (size_t i = at + 5; i < name.size(); ++i) digits &= std::isdigit(static_cast<unsigned char>(name[i])) != 0;
    if (digits && entry.is_regular_file(ec) && fs::remove(entry.path(), ec)) ++removed;
  }
  return removed;
}

}  // namespace dismax
