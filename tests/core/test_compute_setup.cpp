// How many threads a run computes with when runner.threads is 0: the cores the process may use
// (its CPU affinity, as under taskset, a Slurm step or a container's cpuset), or
// OMP_NUM_THREADS when it is set.
#include <gtest/gtest.h>

#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <ATen/Parallel.h>

#include "losslab/training/compute_setup.h"

namespace {

using losslab::defaultRunThreads;
using losslab::usableCores;

// The CPUs the calling thread may run on.
std::vector<int> allowedCpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set)) cpus.push_back(c);
    return cpus;
}

// Runs `body` in a new thread pinned to `cpus` (threads inherit their creator's affinity, so the
// test's own thread stays as it was).
template <typename Body>
void onCpus(const std::vector<int>& cpus, Body body) {
    std::thread t([&] {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int c : cpus) CPU_SET(c, &set);
        ASSERT_EQ(::sched_setaffinity(0, sizeof set, &set), 0) << "cannot pin the test thread";
        body();
    });
    t.join();
}

// Sets OMP_NUM_THREADS (or unsets it) for the test's lifetime, then restores it.
class OmpNumThreads {
public:
    explicit OmpNumThreads(const char* value) {
        if (const char* old = std::getenv("OMP_NUM_THREADS")) m_old = old;
        if (value) ::setenv("OMP_NUM_THREADS", value, 1);
        else ::unsetenv("OMP_NUM_THREADS");
    }
    ~OmpNumThreads() {
        if (m_old) ::setenv("OMP_NUM_THREADS", m_old->c_str(), 1);
        else ::unsetenv("OMP_NUM_THREADS");
    }
    OmpNumThreads(const OmpNumThreads&) = delete;
    OmpNumThreads& operator=(const OmpNumThreads&) = delete;

private:
    std::optional<std::string> m_old;
};

TEST(ComputeSetup, UsableCoresAreTheAffinityNotTheMachine) {
    const std::vector<int> cpus = allowedCpus();
    ASSERT_FALSE(cpus.empty());
    EXPECT_EQ(usableCores(), static_cast<int>(cpus.size()));
    if (cpus.size() < 2) GTEST_SKIP() << "one CPU only: a thread pinned to fewer cannot be told apart";
    int one = 0;
    int two = 0;
    onCpus({cpus[0]}, [&] { one = usableCores(); });
    onCpus({cpus[0], cpus[1]}, [&] { two = usableCores(); });
    EXPECT_EQ(one, 1);
    EXPECT_EQ(two, 2);
}

TEST(ComputeSetup, DefaultRunThreadsShareTheUsableCores) {
    OmpNumThreads unset(nullptr);
    const int cores = usableCores();
    EXPECT_EQ(defaultRunThreads(1), cores);
    EXPECT_EQ(defaultRunThreads(2), std::max(1, cores / 2));
    EXPECT_EQ(defaultRunThreads(cores + 1), 1);
    EXPECT_EQ(defaultRunThreads(0), cores);   // no CPU runs counted: as one
}

TEST(ComputeSetup, OmpNumThreadsSetsEachRunsThreads) {
    {
        OmpNumThreads three("3");
        EXPECT_EQ(defaultRunThreads(1), 3);
        EXPECT_EQ(defaultRunThreads(4), 3);   // per run, as PyTorch reads it per pool
    }
    // Anything but a plain positive number leaves the default.
    for (const char* value : {"", "0", "-2", "4,2", "x", "3 "}) {
        OmpNumThreads odd(value);
        EXPECT_EQ(defaultRunThreads(1), usableCores()) << "OMP_NUM_THREADS='" << value << "'";
    }
}

TEST(ComputeSetup, WorkerThreadOnOneCoreComputesWithOneThread) {
    OmpNumThreads unset(nullptr);
    const std::vector<int> cpus = allowedCpus();
    if (cpus.size() < 2) GTEST_SKIP() << "one CPU only: every default is one thread";
    int pinned = 0;
    onCpus({cpus[0]}, [&] {
        losslab::configureWorkerThread(0);
        pinned = at::get_num_threads();
    });
    EXPECT_EQ(pinned, 1);
    int free = 0;
    std::thread t([&] {
        losslab::configureWorkerThread(0);
        free = at::get_num_threads();
    });
    t.join();
    EXPECT_EQ(free, static_cast<int>(cpus.size()));
}

} // namespace
