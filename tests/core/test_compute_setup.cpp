// How many threads a run computes with when runner.threads is 0: the cores the process may use
// (its CPU affinity, as under taskset, a Slurm step or a container's cpuset), or
// OMP_NUM_THREADS when it is set. Whether oneDNN computes CPU convolutions (LOSSLAB_ONEDNN).
#include <gtest/gtest.h>

#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/version.h>

#include "losslab/error.h"
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

// The configuration lines of the builds this was seen on (torch.__config__.show()).
constexpr const char* kDebian13Config = "PyTorch built with:\n  - GCC 14.2\n  - Intel(R) MKL-DNN v3.7.2 (Git Hash N/A)\n  - OpenMP 201511";
constexpr const char* kOneDnn35Config = "PyTorch built with:\n  - Intel(R) oneDNN v3.5.3 (Git Hash 66f0cb9eb66affd2da3bf5f8d897376f04aae6af)\n";

TEST(OneDnnChoice, AutoTurnsItOffOnlyForLibTorch26WithOneDnn37) {
    const losslab::OneDnnChoice debian13 = losslab::chooseOneDnn(nullptr, "2.6.0", kDebian13Config);
    EXPECT_FALSE(debian13.enabled);
    EXPECT_NE(debian13.why.find("LibTorch 2.6.0 with oneDNN 3.7"), std::string::npos) << debian13.why;
    EXPECT_NE(debian13.why.find("LOSSLAB_ONEDNN=on"), std::string::npos) << debian13.why;
    EXPECT_FALSE(losslab::chooseOneDnn("auto", "2.6.0", kDebian13Config).enabled);
    EXPECT_FALSE(losslab::chooseOneDnn("", "2.6.1", kDebian13Config).enabled);
    // Other versions and other oneDNN builds keep it, saying nothing.
    for (const auto& [version, config] : std::vector<std::pair<std::string, std::string>>{
             {"2.6.0", kOneDnn35Config},
             {"2.6.0", "PyTorch built with:\n  - Intel(R) MKL-DNN v3.70.1\n"},
             {"2.6.0", "PyTorch built with:\n  - OpenMP 201511\n"}, // no oneDNN at all
             {"1.13.1", "  - Intel(R) MKL-DNN v2.6.0 (Git Hash N/A)\n"},
             {"2.14.1", kDebian13Config},
             {"2.16.0", kDebian13Config}}) {
        const losslab::OneDnnChoice c = losslab::chooseOneDnn(nullptr, version, config);
        EXPECT_TRUE(c.enabled) << version << " " << config;
        EXPECT_EQ(c.why, "") << version;
    }
}

TEST(OneDnnChoice, OnAndOffAreObeyedAndAnythingElseIsRefusedByName) {
    EXPECT_TRUE(losslab::chooseOneDnn("on", "2.6.0", kDebian13Config).enabled);
    EXPECT_FALSE(losslab::chooseOneDnn("off", "1.13.1", kOneDnn35Config).enabled);
    EXPECT_EQ(losslab::chooseOneDnn("off", "1.13.1", kOneDnn35Config).why, "LOSSLAB_ONEDNN=off");
    for (const char* bad : {"yes", "ON", "0", " off"}) {
        try {
            losslab::chooseOneDnn(bad, "2.6.0", kDebian13Config);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const losslab::Error& e) {
            EXPECT_EQ(std::string(e.what()), std::string("LOSSLAB_ONEDNN: expected auto, on or off, got '") + bad + "'");
        }
    }
}

// The process this test runs in was set up by configureProcess (tests/process_setup.cpp), as
// losslab-cli's is: ATen's switch, the description and the library stored with each run agree
// with what chooseOneDnn says of this very build.
TEST(OneDnnChoice, TheProcessFollowsTheChoiceAndRunsRecordIt) {
    const char* setting = std::getenv("LOSSLAB_ONEDNN");
    const losslab::OneDnnChoice choice = losslab::chooseOneDnn(setting, TORCH_VERSION, at::show_config());
    const std::string description = losslab::configureProcess();
    EXPECT_NE(description.find(choice.enabled ? "oneDNN: on" : "oneDNN: off"), std::string::npos) << description;
    if (!at::hasMKLDNN()) GTEST_SKIP() << "this LibTorch has no oneDNN: " << description;
    EXPECT_EQ(at::globalContext().userEnabledMkldnn(), choice.enabled);
    EXPECT_EQ(losslab::trainingLibrary(), std::string("LibTorch ") + TORCH_VERSION + (choice.enabled ? "" : ", oneDNN off"));
    std::cout << "this build: LibTorch " << TORCH_VERSION << "; " << description << "\n";
}

} // namespace
