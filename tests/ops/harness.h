#pragma once
// Helpers of the service tests: run the veeduria binary, start `serve` as a child process on an
// ephemeral port (it prints "serving http://HOST:PORT" first), temporary directories.

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace veeduria::testing {

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "veeduria-serve-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

struct RunResult {
  int rc = -1;
  std::string out;
};

inline std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs the binary with `args`; stdout captured, stderr discarded.
inline RunResult Run(const std::vector<std::string>& args) {
  std::string cmd = Quote(VEEDURIA_BINARY);
  for (const auto& a : args) cmd += " " + Quote(a);
  cmd += " 2>/dev/null";
  RunResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = ::pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// tests/scenarios/cycle_2023.scn as a command file in `dir` (as tests/cli/e2e_test.sh does).
inline std::string ScenarioCommands(const std::string& dir) {
  const std::string src = VEEDURIA_SOURCE_DIR;
  std::ifstream in(src + "/tests/scenarios/cycle_2023.scn");
  const std::string out_path = dir + "/cycle.jsonl";
  std::ofstream out(out_path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("! load ", 0) == 0) {
      std::ifstream f(src + "/" + line.substr(7));
      out << f.rdbuf();
    } else if (line.empty() || line[0] == '!' || line[0] == '>' || line[0] == '#') {
      continue;
    } else {
      out << line << "\n";
    }
  }
  return out_path;
}

// `veeduria ARGS` (a serve command) as a child process; port 0 when it did not start.
struct ServeProcess {
  pid_t pid = -1;
  int port = 0;
  std::string first_line;
  explicit ServeProcess(const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid = ::fork();
    if (pid == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<char*> argv;
      std::string bin = VEEDURIA_BINARY;
      argv.push_back(bin.data());
      std::vector<std::string> copy = args;
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(bin.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    char c;
    while (::read(fds[0], &c, 1) == 1 && c != '\n') first_line += c;  // blocks until it listens
    ::close(fds[0]);
    const size_t colon = first_line.rfind(':');
    if (first_line.rfind("serving ", 0) == 0 && colon != std::string::npos)
      port = std::atoi(first_line.c_str() + colon + 1);
  }
  ~ServeProcess() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int st;
      ::waitpid(pid, &st, 0);
    }
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;
};

}  // namespace veeduria::testing
