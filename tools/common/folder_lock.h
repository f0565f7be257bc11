// An exclusive lock on an output folder, so that two runs (a training and a --resume of it, or two
// trainings) never write into one folder at once. flock(2) on DIR/.dismax.lock: released by the kernel
// when the process ends however it ends (kill -9 included), so a stale lock never blocks the next run.
#pragma once

#include <string>

namespace dismax {

class FolderLock {
 public:
  // Takes the lock or throws naming the folder and the holder's pid and command (read from the lock file).
  FolderLock(const std::string& folder, const std::string& command);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

// Removes the temporary files of interrupted atomic writes ("NAME.tmp.<pid>") directly in `folder`; call
// it while holding the folder's lock, when no write of this folder can be in flight. Returns how many.
int remove_stale_temporaries(const std::string& folder);

}  // namespace dismax
