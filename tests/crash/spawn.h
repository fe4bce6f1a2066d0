#pragma once
// Starts the crash child (tests/crash/crash_child.cc) as a fresh process.
#include <spawn.h>
#include <sys/types.h>

#include <string>
#include <vector>

extern char** environ;

namespace veeduria::testing {

// The child inherits every open descriptor; the caller closes its copies of the child's ends.
// Returns the pid, or -1.
inline pid_t SpawnCrashChild(std::vector<std::string> args) {
  args.insert(args.begin(), VEEDURIA_CRASH_CHILD);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  return posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0 ? pid : -1;
}

}  // namespace veeduria::testing
