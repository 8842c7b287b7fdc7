// The shared thread pool in a process forked right after a parallel_for, while the parent's pool
// threads are still waking for helper tasks or going back to wait (the state a condition variable
// cannot be used from in a child): the child must run parallel_for to completion (the Python
// package's DataLoader workers under the "fork" start method do exactly this). A child that hangs
// is killed by its alarm and the test fails; no timing is measured.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>

#include "core/thread_pool.hpp"

namespace {

using slidestream::ThreadPool;

// Sum of 0..n-1 through the shared pool, with every thread it has.
long long pool_sum(size_t n) {
  std::atomic<long long> sum{0};
  ThreadPool::shared().parallel_for(n, [&](size_t i) { sum += static_cast<long long>(i); });
  return sum.load();
}

TEST(ThreadPoolFork, AForkedChildRunsParallelForOnAFreshPool) {
  const size_t n = 10000;
  const long long expected = static_cast<long long>(n) * (n - 1) / 2;
  for (int round = 0; round < 100; ++round) {
    ASSERT_EQ(pool_sum(n), expected);  // the parent's threads are still settling when we fork
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      alarm(10);  // a deadlock ends as SIGALRM, not as a hung test
      bool ok = pool_sum(n) == expected && pool_sum(n) == expected;
      _exit(ok ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << "child killed by signal " << WTERMSIG(status)
                                   << (WTERMSIG(status) == SIGALRM ? " (hung)" : "");
    ASSERT_EQ(WEXITSTATUS(status), 0) << "wrong sum in the child";
  }
}

}  // namespace
