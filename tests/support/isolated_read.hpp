// Opening and reading a possibly hostile file in a forked child, with a CPU-time alarm and an
// address-space limit: the outcome is a slidestream::Error (with its message), success, another
// exception, or a crash / hang. The malformed-input suites (test_malformed_input.cpp,
// test_malformed_vendors.cpp) expect a clear error naming the file and a cause.
#pragma once

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "slidestream/error.hpp"
#include "slidestream/slide.hpp"

namespace slidestream::test {

inline constexpr int kTimeoutSeconds = 60;
// Head room over what the child already maps: enough to decode the largest level here
// (2220 x 2967 RGB, 20 MB) many times over, far below what a hostile header could ask for.
inline constexpr uint64_t kAddressSpaceHeadroom = uint64_t{1} << 30;

struct Outcome {
  enum Kind { error, no_error, other_exception, crashed } kind = crashed;
  std::string message;
  std::string stage;  // "open" or "read"
};

inline Outcome open_and_read_isolated(const std::filesystem::path& path) {
  int fds[2];
  if (::pipe(fds) != 0) return {Outcome::crashed, "pipe failed", ""};
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    ::alarm(kTimeoutSeconds);
    struct rlimit limit {};
    {
      // Current mapping size from /proc/self/statm (pages), plus head room.
      long pages = 0;
      if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
        std::fclose(f);
      }
      uint64_t now = static_cast<uint64_t>(pages) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
      limit.rlim_cur = limit.rlim_max = now + kAddressSpaceHeadroom;
      ::setrlimit(RLIMIT_AS, &limit);
    }
    std::string report;
    std::string stage = "open";
    try {
      slidestream::Slide slide = slidestream::Slide::open(path);
      stage = "read";
      slidestream::ReadOptions options;
      options.threads = 1;
      for (const auto& level : slide.levels()) slide.read_level(level.index, options);
      for (const auto& image : slide.associated_images()) slide.read_associated(image.name);
      report = "N" + stage + "|";
    } catch (const slidestream::Error& e) {
      report = "E" + stage + "|" + e.what();
    } catch (const std::exception& e) {
      report = "X" + stage + "|" + e.what();
    }
    ssize_t ignored = ::write(fds[1], report.data(), report.size());
    (void)ignored;
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  Outcome out;
  if (!WIFEXITED(status) || text.empty()) {
    out.kind = Outcome::crashed;
    out.message = WIFSIGNALED(status)
                      ? std::string("killed by signal ") + std::to_string(WTERMSIG(status)) +
                            (WTERMSIG(status) == SIGALRM ? " (hang)" : "")
                      : "no report";
    return out;
  }
  size_t bar = text.find('|');
  out.stage = text.substr(1, bar - 1);
  out.message = text.substr(bar + 1);
  out.kind = text[0] == 'E'   ? Outcome::error
             : text[0] == 'N' ? Outcome::no_error
                              : Outcome::other_exception;
  return out;
}

inline void expect_clear_error(const std::filesystem::path& path, const std::string& label,
                               bool success_allowed = false) {
  Outcome o = open_and_read_isolated(path);
  SCOPED_TRACE(label);
  if (o.kind == Outcome::error && !label.starts_with("truncated"))
    std::printf("  %-40s -> %s\n", label.c_str(), o.message.c_str());
  switch (o.kind) {
    case Outcome::error: {
      // "<path>[, level..]: <cause>" with a non-empty cause.
      EXPECT_NE(o.message.find(path.filename().string()), std::string::npos) << o.message;
      size_t colon = o.message.find(": ", o.message.find(path.filename().string()));
      ASSERT_NE(colon, std::string::npos) << o.message;
      EXPECT_GT(o.message.size(), colon + 5) << o.message;
      break;
    }
    case Outcome::no_error:
      if (!success_allowed) ADD_FAILURE() << "no error from open and read";
      break;
    case Outcome::other_exception:
      ADD_FAILURE() << "exception other than slidestream::Error at " << o.stage << ": "
                    << o.message;
      break;
    case Outcome::crashed:
      ADD_FAILURE() << "child died: " << o.message;
      break;
  }
}

}  // namespace slidestream::test
