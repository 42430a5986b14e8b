#include "losslab/training/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <tuple>
#include <utility>
#include <filesystem>
#include <iostream>
#include <list>
#include <mutex>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <c10/util/Exception.h>
#include <torch/serialize.h>
#include <torch/utils.h>

#include "losslab/data/split.h"
#include "losslab/error.h"
#include "losslab/losses/loss_function.h"
#include "losslab/metrics/metric_accumulator.h"
#include "losslab/metrics/metric_names.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/model_random.h"
#include "losslab/tasks/task.h"
#include "losslab/training/archive_file.h"
#include "losslab/training/cuda_support.h"
#include "losslab/training/optimizer_factory.h"
#include "losslab/training/stopping_rule.h"
#include "losslab/torch_compat.h"
#include "../tasks/task_contract.h"

namespace losslab {

using Internal::checkScores;
using Internal::taskName;

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Independent random streams of a run, each from its own generator (see deriveSeed). The
// split and the subset are drawn from data.split_seed, the rest from the run's seed.
enum Stream : std::uint64_t {
    kSplitStream = 1, kSubsetStream = 2, kOrderStream = 3, kAugmentStream = 4, kTestStream = 5, kDeviceStream = 6,
    kInitStream = 7, kValStream = 8
};

// The run's own CUDA stream, so that runs sharing a GPU do not serialise on the default one.
c10::Stream runStream(const torch::Device& device) {
    return c10::impl::VirtualGuardImpl(c10::DeviceType::CUDA).getStreamFromGlobalPool(device, /*isHighPriority=*/false);
}

} // namespace

// Loaded datasets are immutable and shared between runs of the process (CPU tensors).
std::shared_ptr<const DataBundle> loadSharedData(const Task& task, const ParamSet& params, const DataContext& context) {
    static std::mutex mutex;
    static std::list<std::pair<std::string, std::shared_ptr<const DataBundle>>> cache; // most recent first
    // Every data.* and model.* value may change what a task loads; the split and subsets are
    // made later.
    std::string key = task.info().id;
    for (const auto& [name, value] : params.values())
        // model.* too: the text tasks read pretrained word vectors with the data (model.embeddings),
        // the TorchScript tasks tokenise with the model's vocabulary (model.vocab, model.max_length).
        if ((name.rfind("data.", 0) == 0 && name != "data.val_fraction" && name != "data.limit_train" &&
             name != "data.limit_test" && name != "data.split_seed") || name.rfind("model.", 0) == 0)
            key += "\n" + name + "=" + value;
    std::lock_guard<std::mutex> lock(mutex);
    for (auto it = cache.begin(); it != cache.end(); ++it)
        if (it->first == key) {
            cache.splice(cache.begin(), cache, it);
            return cache.front().second;
        }
    auto bundle = std::make_shared<const DataBundle>(task.loadDataIn(params, context));
    cache.emplace_front(key, bundle);
    if (cache.size() > 3) cache.pop_back();
    return bundle;
}

namespace {

class WeightSnapshot {
public:
    const std::vector<torch::Tensor>& tensors() const { return m_tensors; }
    void setTensors(std::vector<torch::Tensor> tensors) { m_tensors = std::move(tensors); }
    void take(torch::nn::Module& model) {
        torch::NoGradGuard noGrad;
        m_tensors.clear();
        for (const auto& p : model.parameters()) m_tensors.push_back(p.detach().clone());
        for (const auto& b : model.buffers()) m_tensors.push_back(b.detach().clone());
    }
    bool restore(torch::nn::Module& model) const {
        if (m_tensors.empty()) return false;
        torch::NoGradGuard noGrad;
        std::size_t i = 0;
        for (auto& p : model.parameters()) p.copy_(m_tensors[i++]);
        for (auto& b : model.buffers()) b.copy_(m_tensors[i++]);
        return true;
    }

private:
    std::vector<torch::Tensor> m_tensors;
};

// A split as a run reads it: on the run's device, but for what is read on the host. The
// lengths stay on the CPU (plugin API 6), and so do the features a transform reads on the host
// (InputTransform::featuresOnHost); `hostLabels` holds the labels on the CPU too, for tasks
// with padded labels (ModelInput::hostTargets).
struct RunSplit {
    TensorSplit rows;
    torch::Tensor hostLabels;
    std::int64_t size() const { return rows.size(); }
};

// A batch of a RunSplit: its rows as stored, and its labels on the CPU where the split has them.
struct RunBatch {
    TensorSplit rows;
    torch::Tensor hostLabels;
};

// Rows of a split: `idx` on the device of its labels, `hostIdx` the same rows on the CPU; each
// member is selected where it is stored.
RunBatch batchRows(const RunSplit& split, const torch::Tensor& idx, const torch::Tensor& hostIdx) {
    const torch::Tensor& host = split.hostLabels;
    return {split.rows.index(idx, hostIdx), host.defined() ? host.index_select(0, hostIdx) : host};
}

torch::Tensor asLong(const torch::Tensor& t) {
    return !t.defined() || t.scalar_type() == torch::kLong ? t : t.to(torch::kLong);
}

// Lengths a transform returned (plugin API 6): on the CPU, copied to the device without a wait;
// on the device, read back once for the host.
void lengthsOnBothSides(torch::Tensor& lengths, torch::Tensor& host, const torch::Device& device) {
    if (!lengths.defined()) return;
    if (!host.defined()) host = lengths.is_cpu() ? lengths : lengths.cpu();
    if (lengths.device() != device) lengths = copyToDevice(lengths, device);
}

// The model input of a batch: the transform's, with the batch's labels as targets (plugin API
// 4), and the lengths and padded labels also on the CPU (plugin API 6).
ModelInput modelInput(const InputTransform& transform, const RunBatch& batch, const torch::Device& device, bool training,
                      at::Generator& gen) {
    ModelInput input = transform.apply(batch.rows, training, gen);
    input.targets = asLong(batch.rows.labels);
    input.hostTargets = asLong(batch.hostLabels);
    lengthsOnBothSides(input.lengths, input.hostLengths, device);
    lengthsOnBothSides(input.lengths2, input.hostLengths2, device);
    return input;
}

struct EvalContext {
    const Task& task;
    const ParamSet& params;
    const InputTransform& transform;
    const LossFunction& loss;
    std::int64_t numClasses;
    std::int64_t batchSize;
    bool bf16 = false;         // train.precision: bf16
    bool channelsLast = false; // train.channels_last
};

// train.channels_last: image batches in channels-last order (what cuDNN's fastest
// convolutions read); other inputs as they are.
void toChannelsLast(ModelInput& input) {
    if (input.features.defined() && input.features.dim() == 4)
        input.features = input.features.contiguous(at::MemoryFormat::ChannelsLast);
}

// The model's scores for `input`; under train.precision bf16 computed in bfloat16 and returned
// as float, so that the losses and metrics are computed in float as for fp32.
torch::Tensor scores(ClassifierModule& model, const ModelInput& input, const torch::Device& device, bool bf16) {
    torch::Tensor out;
    {
        Bf16Autocast autocast(device.type(), bf16);
        out = model.forward(input);
    }
    return bf16 && out.is_floating_point() ? out.to(torch::kFloat) : out;
}

// The split's metrics; its ECE bins are appended to `calibration` when it has examples.
std::vector<MetricValue> evaluate(ClassifierModule& model, const RunSplit& split, const EvalContext& ctx,
                                  const std::string& name, at::Generator& gen, std::vector<CalibrationBins>& calibration) {
    torch::NoGradGuard noGrad;
    model.eval();
    MetricAccumulator acc(ctx.loss, ctx.numClasses, ctx.task.info().metrics);
    const std::unique_ptr<TaskEvaluator> evaluator = ctx.task.makeEvaluator(ctx.params, name);
    const std::int64_t n = split.size();
    for (std::int64_t start = 0; start < n; start += ctx.batchSize) {
        const std::int64_t end = std::min(n, start + ctx.batchSize);
        const auto rows = torch::TensorOptions().dtype(torch::kLong);
        const torch::Device device = split.rows.labels.device();
        const torch::Tensor idx = torch::arange(start, end, rows.device(device));
        const RunBatch batch = batchRows(split, idx, idx.is_cpu() ? idx : torch::arange(start, end, rows));
        ModelInput input = modelInput(ctx.transform, batch, device, false, gen);
        if (ctx.channelsLast) toChannelsLast(input);
        const torch::Tensor out = scores(model, input, device, ctx.bf16);
        checkScores(out, batch.rows.labels, ctx.numClasses, ctx.task.info());
        acc.add(out, batch.rows.labels);
        if (evaluator) {
            Bf16Autocast autocast(device.type(), ctx.bf16);
            evaluator->add(model, input, batch.rows);
        }
    }
    CalibrationBins bins;
    std::vector<MetricValue> out = acc.finish(name, &bins);
    if (bins.total() > 0) calibration.push_back(std::move(bins));
    if (evaluator && n > 0)
        for (auto& m : evaluator->finish(name)) out.push_back(std::move(m));
    return out;
}

// clip_grad_norm_ of LibTorch with the same arithmetic (so the same numbers), without its
// final read of the total norm, which would make every step wait for the device.
void clipGradientNorm(const std::vector<torch::Tensor>& parameters, double maxNorm) {
    std::vector<torch::Tensor> grads;
    for (const auto& p : parameters)
        if (p.grad().defined()) grads.push_back(p.grad());
    if (grads.empty()) return;
    std::vector<torch::Tensor> norms;
    norms.reserve(grads.size());
    for (const auto& g : grads) norms.push_back(g.data().norm(2.0));
    const torch::Tensor total = norms.size() == 1 ? norms[0] : torch::stack(norms).norm(2.0);
    const torch::Tensor coefficient = torch::clamp(maxNorm / (total + 1e-6), c10::nullopt, 1.0);
    for (auto& g : grads) g.data().mul_(coefficient);
}

void saveWeightsAtomically(ClassifierModule& model, const std::string& path) {
    namespace fs = std::filesystem;
    fs::create_directories(fs::path(path).parent_path());
    torch::serialize::OutputArchive archive;
    model.save(archive);
    saveArchiveAtomically(archive, path);
}

// train.cuda_graphs auto: models up to this size, whose steps are short enough that launching
// their kernels one by one costs a large share of the step (to be measured on a GPU).
constexpr std::int64_t kAutoGraphMaxParameters = 5'000'000;

// Adds the sync debug mode's count of a scope's waits to `total` when the scope ends.
class SyncTally {
public:
    explicit SyncTally(std::int64_t& total) : m_total(total) {
        if (syncDebugWarningsOn()) m_counter.emplace();
    }
    ~SyncTally() {
        if (m_counter) m_total += m_counter->count();
    }
    SyncTally(const SyncTally&) = delete;
    SyncTally& operator=(const SyncTally&) = delete;

private:
    std::int64_t& m_total;
    std::optional<SyncCounter> m_counter;
};

class RunTrainer {
public:
    RunTrainer(const RunSpec& spec, const Task& task, const torch::Device& device, const RunContext& ctx)
        : m_spec(spec), m_task(task), m_device(device), m_ctx(ctx), m_loss(spec.loss),
          m_numClasses(classCount(task.info(), spec.params)) {
        m_loss.setIgnorePadding(task.info().paddedLabels);
    }

    RunOutcome run() {
        const auto t0 = Clock::now();
        RunOutcome out;
        try {
            std::optional<c10::StreamGuard> stream;
            if (m_device.is_cuda()) stream.emplace(runStream(m_device));
            prepare();
            loop(out);
        } catch (const FileWriteError& e) {
            // Not the run's fault, and it can go on from its last checkpoint once there is room:
            // stopped like a cancel, and the queue stops the others (RunOutcome::writeFailure).
            out.status = RunStatus::Cancelled;
            out.error = std::string("stopped: ") + e.what();
            out.writeFailure = e.what();
        } catch (const Error& e) {
            out.status = RunStatus::Failed;
            out.error = e.what();
        } catch (const c10::Error& e) {
            out.status = RunStatus::Failed;
            out.error = std::string("LibTorch: ") + e.what_without_backtrace();
        } catch (const std::bad_alloc&) {
            out.status = RunStatus::Failed;
            out.error = "out of memory";
        } catch (const std::exception& e) {
            out.status = RunStatus::Failed;
            out.error = e.what();
        } catch (...) {
            // A plugin's code may throw anything; it must not leave the worker thread (which
            // would end the process).
            out.status = RunStatus::Failed;
            out.error = taskName(m_task.info()) + ": its code threw an exception that is not a std::exception";
        }
        out.wallSeconds = secondsSince(t0);
        return out;
    }

private:
    const ParamSet& params() const { return m_spec.params; }

    // A CPU split (the loader's) on the run's device, but for what is read on the host (RunSplit).
    RunSplit toRunDevice(const TensorSplit& cpu) const {
        RunSplit out{cpu.to(m_device), torch::Tensor()};
        if (m_transform->featuresOnHost()) out.rows.features = cpu.features;
        out.rows.lengths = cpu.lengths;
        out.rows.lengths2 = cpu.lengths2;
        if (m_task.info().paddedLabels) out.hostLabels = cpu.labels;
        return out;
    }

    void prepare() {
        const auto bundle = loadSharedData(m_task, params(), DataContext{m_ctx.store ? m_ctx.store->dataCacheDir() : std::string()});
        const std::int64_t splitSeed = splitSeedOf(params(), m_spec.seed);
        // A data set's own validation split (text8's) is used as it is; otherwise one is split off train.
        const bool ownValidation = bundle->val.size() > 0;
        TrainValSplit split = splitValidation(bundle->train, ownValidation ? 0.0 : params().getDouble("data.val_fraction"),
                                              deriveSeed(splitSeed, kSplitStream));
        m_transform = m_task.makeTransformFor(params(), m_device, *bundle);
        if (!m_transform) throw Error(taskName(m_task.info()) + ": makeTransform returned no transform (a null pointer)");
        m_train = toRunDevice(seededSubset(split.train, params().getInt("data.limit_train"), deriveSeed(splitSeed, kSubsetStream)));
        m_val = toRunDevice(ownValidation ? seededSubset(bundle->val, params().getInt("data.limit_test"), deriveSeed(0, kValStream))
                                          : split.val);
        // The same test subset for every seed, so seeds differ only in training.
        m_test = toRunDevice(seededSubset(bundle->test, params().getInt("data.limit_test"), deriveSeed(0, kTestStream)));
        if (m_train.size() == 0) throw Error("the training set is empty after the validation split");
        // Every random draw comes from a generator of this run, never from torch's global
        // ones, which the other runs of the process share.
        at::Generator init = at::make_generator<at::CPUGeneratorImpl>(deriveSeed(m_spec.seed, kInitStream));
        {
            // torch::nn's layer constructors draw from the global generator (see model_random.h).
            std::lock_guard<std::mutex> lock(globalGeneratorMutex());
            m_model = m_task.makeModel(params(), init);
        }
        if (!m_model) throw Error(taskName(m_task.info()) + ": makeModel returned no model (a null pointer)");
        m_task.prepareModel(*m_model, *bundle, params());
        m_model->to(m_device);
        const std::string precision = params().getString("train.precision");
        m_bf16 = precision == "bf16";
        m_channelsLast = params().getBool("train.channels_last");
        if (m_channelsLast) {
            torch::NoGradGuard noGrad;
            for (auto& p : m_model->parameters())
                if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
        }
        if (m_device.is_cuda()) {
            // Process-wide switches: the run queue refuses runs of one queue that disagree.
            // fp32 is fp32 for convolutions too (LibTorch lets cuDNN use TF32 by default).
            at::globalContext().setAllowTF32CuBLAS(precision == "tf32");
            at::globalContext().setAllowTF32CuDNN(precision == "tf32");
        }
        m_optimizer = makeOptimizer(params(), m_model->parameters(), m_spec.loss.lr);
        chooseCudaGraphs();
        m_orderGen = at::make_generator<at::CPUGeneratorImpl>(deriveSeed(m_spec.seed, kOrderStream));
        m_augGen = at::make_generator<at::CPUGeneratorImpl>(deriveSeed(m_spec.seed, kAugmentStream));
        m_modelGen = makeGenerator(m_device, deriveSeed(m_spec.seed, kDeviceStream));
        m_initialLoss = std::numeric_limits<double>::quiet_NaN();
    }

    void saveResumeState(int epoch, const StoppingRule& rule, const WeightSnapshot& best) {
        namespace fs = std::filesystem;
        // The epoch's rows must be committed before a checkpoint claims the epoch is done;
        // the other way round a crash could make a resumed run skip an epoch's metrics.
        if (m_ctx.store) m_ctx.store->flushRun(m_ctx.runId);
        torch::serialize::OutputArchive archive;
        torch::serialize::OutputArchive model, optimizer;
        m_model->save(model);
        m_optimizer->save(optimizer);
        archive.write("model", model);
        archive.write("optimizer", optimizer);
        archive.write("rng/order", m_orderGen.get_state());
        archive.write("rng/augment", m_augGen.get_state());
        archive.write("rng/device", m_modelGen.get_state());
        archive.write("state/initial_loss", torch::tensor({m_initialLoss}, torch::TensorOptions().dtype(torch::kDouble)));
        const StoppingRule::State s = rule.state();
        archive.write("state/epoch", c10::IValue(static_cast<std::int64_t>(epoch)));
        archive.write("state/step", c10::IValue(m_step));
        archive.write("state/rule", torch::tensor({static_cast<double>(s.lastEpoch), static_cast<double>(s.reported),
                                                   static_cast<double>(s.sinceBest), s.best},
                                                  torch::TensorOptions().dtype(torch::kDouble)));
        archive.write("best/count", c10::IValue(static_cast<std::int64_t>(best.tensors().size())));
        for (std::size_t i = 0; i < best.tensors().size(); ++i)
            archive.write("best/" + std::to_string(i), best.tensors()[i]);
        fs::create_directories(fs::path(m_ctx.resumePath).parent_path());
        saveArchiveAtomically(archive, m_ctx.resumePath);
    }

    // Returns the last finished epoch recorded in the checkpoint.
    int loadResumeState(StoppingRule& rule, WeightSnapshot& best) {
        torch::serialize::InputArchive archive;
        try {
            archive.load_from(m_ctx.resumePath, m_device);
        } catch (const c10::Error& e) {
            throw Error("cannot resume from " + m_ctx.resumePath + ": " + e.what_without_backtrace());
        }
        torch::serialize::InputArchive model, optimizer;
        archive.read("model", model);
        archive.read("optimizer", optimizer);
        m_model->load(model);
        m_optimizer->load(optimizer);
        torch::Tensor order, augment, device, ruleState, initialLoss;
        archive.read("rng/order", order);
        archive.read("rng/augment", augment);
        archive.read("rng/device", device);
        m_orderGen.set_state(order.cpu());
        m_augGen.set_state(augment.cpu());
        m_modelGen.set_state(device.cpu());
        if (archive.try_read("state/initial_loss", initialLoss)) m_initialLoss = initialLoss.cpu().item<double>();
        c10::IValue epoch, step, count;
        archive.read("state/epoch", epoch);
        archive.read("state/step", step);
        archive.read("state/rule", ruleState);
        ruleState = ruleState.cpu();
        const auto r = ruleState.accessor<double, 1>();
        rule.restore({static_cast<int>(r[0]), static_cast<int>(r[1]), static_cast<int>(r[2]), r[3]});
        m_step = step.toInt();
        archive.read("best/count", count);
        std::vector<torch::Tensor> tensors(static_cast<std::size_t>(count.toInt()));
        for (std::size_t i = 0; i < tensors.size(); ++i) archive.read("best/" + std::to_string(i), tensors[i]);
        best.setTensors(std::move(tensors));
        return static_cast<int>(epoch.toInt());
    }

    StoppingRule makeRule() const {
        const int maxEpochs = static_cast<int>(params().getInt("train.max_epochs"));
        switch (m_spec.protocol) {
        case Protocol::EarlyStopping:
            return StoppingRule::earlyStopping(static_cast<int>(params().getInt("train.patience")), maxEpochs);
        case Protocol::SameEpochsAsCe:
            return StoppingRule::exactEpochs(m_ctx.targetEpochs);
        case Protocol::FixedEpochs:
            return StoppingRule::exactEpochs(m_ctx.targetEpochs > 0 ? m_ctx.targetEpochs : maxEpochs);
        }
        throw Error("unknown protocol");
    }

    bool cancelled() const { return m_ctx.cancel && m_ctx.cancel->load(std::memory_order_relaxed); }

    void emit(RunEvent e) const {
        if (!m_ctx.emit) return;
        e.runId = m_ctx.runId;
        m_ctx.emit(e);
    }

    // One pass over the training set. Returns false when the run must end (diverged or
    // cancelled; `status` says which).
    bool trainEpoch(int epoch, int maxEpochs, MetricAccumulator* running, RunStatus& status, double& trainSeconds,
                    torch::Tensor& epochLossSum) {
        const auto t0 = Clock::now();
        m_model->train();
        const std::int64_t batchSize = params().getInt("train.batch_size");
        std::vector<torch::Tensor> batches = m_transform->batchOrder(m_train.rows, batchSize, m_orderGen);
        const std::vector<torch::Tensor> hostBatches = batches; // CPU, for what is kept on the host
        if (!m_device.is_cpu() && !batches.empty()) {
            // One copy of the epoch's batch indices to the device instead of one per step.
            std::vector<std::int64_t> sizes;
            for (const auto& b : batches) sizes.push_back(b.numel());
            const torch::Tensor all = copyToDevice(torch::cat(batches), m_device);
            batches = all.split_with_sizes(sizes);
        }
        const auto stepsPerEpoch = static_cast<std::int64_t>(batches.size());
        m_stepsPerEpoch = std::max<std::int64_t>(1, stepsPerEpoch);
        const std::int64_t logEvery = params().getInt("train.log_every_steps");
        const double clip = params().getDouble("train.grad_clip");
        // A per-step schedule runs over train.max_epochs epochs of this epoch's length.
        const bool perStep = schedulesPerStep(params());
        const std::int64_t totalSteps = params().getInt("train.max_epochs") * stepsPerEpoch;
        torch::Tensor lossSum = torch::zeros({}, torch::TensorOptions().device(m_device).dtype(torch::kDouble));
        epochLossSum = torch::zeros({}, torch::TensorOptions().device(m_device).dtype(torch::kDouble));
        std::int64_t lossCount = 0;
        std::vector<StepMetricRow> steps;
        // Under CUDA's sync debug mode (tests), the steps' waits for the device are counted.
        const SyncTally syncs(m_syncsInSteps);
        for (std::int64_t s = 0; s < stepsPerEpoch; ++s) {
            if (cancelled()) {
                status = RunStatus::Cancelled;
                return false;
            }
            const auto b = static_cast<std::size_t>(s);
            const RunBatch batch = batchRows(m_train, batches[b].to(m_device), hostBatches[b]);
            ModelInput input = modelInput(*m_transform, batch, m_device, true, m_augGen);
            input.generator = m_modelGen;
            if (m_channelsLast) toChannelsLast(input);
            if (perStep) {
                m_lastLr = stepLearningRate(params(), m_spec.loss.lr, m_step, totalSteps);
                setLearningRate(*m_optimizer, m_lastLr);
            }
            const torch::Tensor& labels = batch.rows.labels;
            const auto [outputs, loss] = m_graph.active ? graphedStep(input, labels, clip, batchSize)
                                                        : optimiseStep(input, labels, clip);
            // The loss at initialisation: the first batch's, before any update (the step's
            // first, always eager: read after the update, it is the same value).
            if (m_step == 0) {
                m_initialLoss = loss.detach().item<double>();
                ++m_hostReads;
            }
            ++m_step;
            lossSum += loss.detach().to(torch::kDouble);
            ++lossCount;
            if (running) running->add(outputs, labels);
            if (m_step % logEvery == 0 || s + 1 == stepsPerEpoch) {
                const double mean = lossSum.item<double>() / static_cast<double>(lossCount);
                ++m_hostReads;
                steps.push_back({m_ctx.runId, m_step, epoch, "train_loss", mean});
                RunEvent e;
                e.kind = RunEvent::Kind::Step;
                e.epoch = epoch;
                e.maxEpochs = maxEpochs;
                e.step = m_step;
                e.stepsPerEpoch = stepsPerEpoch;
                e.metrics = {{"train", "loss", mean}};
                emit(e);
                epochLossSum += lossSum; // once per log interval, not per step
                lossSum.zero_();
                lossCount = 0;
                if (const std::string why = divergence(mean); !why.empty()) {
                    flushSteps(steps);
                    status = RunStatus::Diverged;
                    m_divergence = "in epoch " + std::to_string(epoch) + ", step " + std::to_string(m_step) + ": " + why;
                    return false;
                }
            }
        }
        flushSteps(steps);
        trainSeconds = secondsSince(t0);
        return true;
    }

    // One optimisation step on `input`: the scores, the loss, its gradients (clipped), the
    // update. Returns the scores and the loss, on the device.
    std::pair<torch::Tensor, torch::Tensor> optimiseStep(const ModelInput& input, const torch::Tensor& labels, double clip) {
        torch::Tensor outputs = scores(*m_model, input, m_device, m_bf16);
        checkScores(outputs, labels, m_numClasses, m_task.info());
        // The study's loss, and the model's own term when it has one (plugin API 4: CTC).
        torch::Tensor loss = m_model->objective(m_loss(outputs, labels));
        zeroGradients(*m_optimizer);
        loss.backward();
        if (clip > 0) clipGradientNorm(m_model->parameters(), clip);
        m_optimizer->step();
        return {outputs, loss};
    }

    // train.cuda_graphs: which runs capture their step, decided once the model is built.
    // Says why not where `on` asked for it.
    void chooseCudaGraphs() {
        m_graph = GraphState();
        const std::string mode = params().getString("train.cuda_graphs");
        if (mode == "off" || !m_device.is_cuda()) return; // the CPU launches no kernels
        std::string why;
        const std::string optimizer = params().getString("train.optimizer");
        std::int64_t parameters = 0;
        for (const auto& p : m_model->parameters()) parameters += p.numel();
        if (optimizer != "sgd")
            why = "train.optimizer " + optimizer + " counts its steps on the host, which a replayed step would not advance";
        else if (schedulesPerStep(params()))
            why = "the learning rate changes every step (train.schedule " + params().getString("train.schedule") + ")";
        else if (m_bf16)
            why = "train.precision bf16 (autocast caches its casts of the weights)";
        else if (m_train.rows.lengths.defined() || m_train.hostLabels.defined())
            why = "the model may read the batch's lengths or labels on the host (ModelInput::hostLengths), which a "
                  "replayed step would not see";
        else if (mode == "auto" && parameters > kAutoGraphMaxParameters)
            why = "auto captures models of at most " + std::to_string(kAutoGraphMaxParameters) + " parameters, this one has " +
                  std::to_string(parameters);
        if (!why.empty()) {
            // Said once: a restart from a damaged checkpoint prepares the run again.
            if (mode == "on" && m_graphNote != "off: " + why) note("CUDA graphs off: " + why);
            m_graphNote = "off: " + why;
            return;
        }
        m_graph.active = true;
    }

    // A step replayed from the CUDA graph of the first full batches' step. The graph holds the
    // rate it was captured with, so a new rate (a new epoch's) captures it again; a batch of
    // other shapes (the epoch's last) runs eagerly; sequence tasks never capture. A step
    // that cannot be captured turns graphs off for the run, and says why.
    std::pair<torch::Tensor, torch::Tensor> graphedStep(const ModelInput& input, const torch::Tensor& labels, double clip,
                                                        std::int64_t batchSize) {
        const double lr = m_epochLr;
        GraphState& g = m_graph;
        if (labels.size(0) != batchSize) return optimiseStep(input, labels, clip);
        if (g.graph.captured() && !sameShapes(g.input, g.labels, input, labels)) return optimiseStep(input, labels, clip);
        if (g.graph.captured() && lr != g.lr) g.graph.reset();
        if (!g.graph.captured()) {
            // Eager steps first: cuDNN picks its algorithms and the optimiser its buffers.
            if (g.warmSteps < StepGraph::kWarmupSteps) {
                ++g.warmSteps;
                return optimiseStep(input, labels, clip);
            }
            g.input = staticCopy(input);
            g.labels = labels.clone();
            try {
                g.graph.capture(m_device, m_modelGen,
                                [&] { std::tie(g.outputs, g.loss) = optimiseStep(g.input, g.labels, clip); });
            } catch (const Error& e) {
                // Nothing of the captured step ran: the same step, eagerly.
                m_graph = GraphState();
                m_graphNote = std::string("off: ") + e.what();
                note(std::string("CUDA graphs off: ") + e.what() + "; training eagerly");
                return optimiseStep(input, labels, clip);
            }
            g.lr = lr;
            ++m_graphCaptures;
        } else {
            copyInto(g.input, input);
            g.labels.copy_(labels);
        }
        g.graph.replay();
        ++m_graphReplays;
        return {g.outputs, g.loss};
    }

    static ModelInput staticCopy(const ModelInput& in) {
        ModelInput out;
        auto clone = [](const torch::Tensor& t) { return t.defined() ? t.clone() : t; };
        out.features = clone(in.features);
        out.lengths = clone(in.lengths);
        out.features2 = clone(in.features2);
        out.lengths2 = clone(in.lengths2);
        out.targets = clone(in.targets);
        out.generator = in.generator;
        return out;
    }

    static void copyInto(ModelInput& to, const ModelInput& from) {
        for (auto [t, f] : {std::pair{&to.features, &from.features}, {&to.lengths, &from.lengths},
                            {&to.features2, &from.features2}, {&to.lengths2, &from.lengths2}, {&to.targets, &from.targets}})
            if (t->defined()) t->copy_(*f);
    }

    static bool sameShapes(const ModelInput& a, const torch::Tensor& aLabels, const ModelInput& b, const torch::Tensor& bLabels) {
        auto same = [](const torch::Tensor& x, const torch::Tensor& y) {
            return x.defined() == y.defined() && (!x.defined() || (x.sizes() == y.sizes() && x.scalar_type() == y.scalar_type()));
        };
        return same(a.features, b.features) && same(a.lengths, b.lengths) && same(a.features2, b.features2) &&
               same(a.lengths2, b.lengths2) && same(a.targets, b.targets) && same(aLabels, bLabels);
    }

    void note(const std::string& message) const {
        RunEvent e;
        e.kind = RunEvent::Kind::Note;
        e.message = message;
        emit(e);
    }

    // The divergence rule (docs/losses-and-metrics.md): a training loss that is not finite, or
    // that exceeds train.divergence_factor times the loss at initialisation. Returns why, or "".
    std::string divergence(double loss) const {
        if (!std::isfinite(loss)) return "the training loss is not finite (" + formatLoss(loss) + ")";
        const double factor = params().getDouble("train.divergence_factor");
        if (factor > 0 && std::isfinite(m_initialLoss) && m_initialLoss > 0 && loss > factor * m_initialLoss)
            return "the training loss " + formatLoss(loss) + " exceeds " + formatLoss(factor) + " x its initial value " +
                   formatLoss(m_initialLoss) + " (train.divergence_factor)";
        return "";
    }

    static std::string formatLoss(double v) {
        char text[32];
        std::snprintf(text, sizeof text, "%.4g", v);
        return text;
    }

    void flushSteps(std::vector<StepMetricRow>& steps) {
        if (m_ctx.store && !steps.empty()) m_ctx.store->appendSteps(steps);
        steps.clear();
    }

    void loop(RunOutcome& out) {
        StoppingRule rule = makeRule();
        WeightSnapshot best;
        int firstEpoch = 1;
        bool staleAfterCheckpoint = false;
        if (m_ctx.resume) {
            try {
                firstEpoch = loadResumeState(rule, best) + 1;
                out.epochs = firstEpoch - 1;
                // After a power loss the checkpoint may be newer than the committed rows;
                // resuming from it would leave a gap, so train again instead.
                if (m_ctx.store) {
                    int stored = 0;
                    for (const auto& row : m_ctx.store->epochMetrics({m_ctx.runId})) stored = std::max(stored, row.epoch);
                    if (stored < out.epochs)
                        throw Error("its checkpoint is at epoch " + std::to_string(out.epochs) + " but the database holds " +
                                    std::to_string(stored) + " epoch(s)");
                    // Epochs after the checkpoint (runner.resume_every_epochs) are trained again
                    // and their rows replaced (the same values on the CPU); rows past the epoch
                    // where the run then ends are removed when it ends, so no committed row
                    // disappears while it trains.
                    staleAfterCheckpoint = stored > out.epochs;
                }
            } catch (const std::exception& e) {
                // A damaged checkpoint: start over. The run is determined by its seed, so the
                // epochs it trains again are rewritten with the same values; the stored ones
                // go first, or a restart that stops earlier would keep stale later epochs.
                std::cerr << "losslab: run #" << m_ctx.runId << ": " << e.what() << "; training it again from epoch 1\n";
                if (m_ctx.store) m_ctx.store->discardMetricsAfter(m_ctx.runId, 0);
                prepare();
                out.epochs = 0;
                rule = makeRule();
                best = WeightSnapshot();
                m_step = 0;
            }
        }
        const std::string trainMetrics = params().getString("train.train_metrics");
        const bool runningTrainMetrics = trainMetrics == "running";
        // at_report evaluates the training set only after epochs the protocol may report;
        // without a validation set early stopping watches the training accuracy, every epoch.
        const bool trainAtReportOnly = trainMetrics == "at_report" && m_val.size() > 0;
        const std::int64_t evalBatch = params().getInt("train.eval_batch_size");
        std::vector<MetricValue> reported;
        const std::int64_t resumeEvery = params().getInt("runner.resume_every_epochs");
        double lastCheckpointSeconds = 0, sinceCheckpointSeconds = 0;
        out.status = RunStatus::Completed;
        for (int epoch = firstEpoch; !rule.shouldStop(); ++epoch) {
            m_epochLr = scheduledLearningRate(params(), m_spec.loss.lr, epoch);
            setLearningRate(*m_optimizer, m_epochLr);
            MetricAccumulator running(m_loss, m_numClasses, m_task.info().metrics);
            double trainSeconds = 0;
            torch::Tensor epochLossSum; // the sum of the epoch's step losses, on the device
            RunStatus status = RunStatus::Completed;
            if (!trainEpoch(epoch, rule.maxEpochs(), runningTrainMetrics ? &running : nullptr, status, trainSeconds,
                            epochLossSum)) {
                out.status = status;
                if (status == RunStatus::Diverged) out.error = "diverged " + m_divergence;
                break;
            }
            const EvalContext eval{m_task, params(), *m_transform, m_loss, m_numClasses, evalBatch, m_bf16, m_channelsLast};
            std::vector<MetricValue> metrics;
            std::vector<CalibrationBins> calibration;
            if (runningTrainMetrics) {
                CalibrationBins bins;
                metrics = running.finish("train", &bins);
                if (bins.total() > 0) calibration.push_back(std::move(bins));
            } else if (!trainAtReportOnly) {
                metrics = evaluate(*m_model, m_train, eval, "train", m_augGen, calibration);
            }
            for (auto& m : evaluate(*m_model, m_val, eval, "val", m_augGen, calibration)) metrics.push_back(m);
            for (auto& m : evaluate(*m_model, m_test, eval, "test", m_augGen, calibration)) metrics.push_back(m);
            const double valAcc = m_val.size() > 0 ? findMetricValue(metrics, "val", "acc") : findMetricValue(metrics, "train", "acc");
            const bool reportedNow = rule.observe(epoch, valAcc);
            if (trainAtReportOnly && (rule.isEarlyStopping() ? reportedNow : epoch >= rule.maxEpochs())) {
                std::vector<MetricValue> train = evaluate(*m_model, m_train, eval, "train", m_augGen, calibration);
                metrics.insert(metrics.begin(), train.begin(), train.end());
            }
            metrics.push_back({"train", "wall_s", trainSeconds});
            metrics.push_back({"train", "examples_per_s", trainSeconds > 0 ? m_train.size() / trainSeconds : 0.0});
            // A per-step schedule stores the rate of the epoch's last step.
            metrics.push_back({"train", "lr", schedulesPerStep(params()) ? m_lastLr
                                                                         : scheduledLearningRate(params(), m_spec.loss.lr, epoch)});
            if (m_ctx.store) m_ctx.store->appendEpoch(m_ctx.runId, epoch, metrics, calibration);
            out.epochs = epoch;
            // The divergence rule compares training-mode losses with the first batch's: the epoch's
            // mean step loss (one read from the device per epoch). The training set's loss
            // evaluated after the epoch is in eval mode, where a model with BatchNorm and few steps
            // behind it (running statistics still far from the batches') can score far above its
            // first batch and still be training well; of that loss only a non-finite value counts.
            const double stepLoss = epochLossSum.item<double>() / static_cast<double>(m_stepsPerEpoch);
            const bool trainEvaluated = std::any_of(metrics.begin(), metrics.end(), [](const MetricValue& m) {
                return m.split == "train" && m.metric == "loss";
            });
            const double evaluatedLoss = trainEvaluated ? findMetricValue(metrics, "train", "loss") : 0.0;
            if (reportedNow) {
                reported = metrics;
                if (rule.isEarlyStopping()) best.take(*m_model);
            }
            RunEvent e;
            e.kind = RunEvent::Kind::Epoch;
            e.epoch = epoch;
            e.maxEpochs = rule.maxEpochs();
            e.step = m_step;
            e.metrics = metrics;
            e.bestEpoch = rule.reportedEpoch();
            emit(e);
            std::string why = divergence(stepLoss);
            if (why.empty() && !std::isfinite(evaluatedLoss))
                why = "the training set's loss evaluated after the epoch is not finite (" + formatLoss(evaluatedLoss) + ")";
            if (!why.empty()) {
                out.status = RunStatus::Diverged;
                out.error = "diverged after epoch " + std::to_string(epoch) + ": " + why;
                break;
            }
            if (!m_ctx.resumePath.empty()) {
                sinceCheckpointSeconds += trainSeconds;
                // runner.resume_every_epochs: N, or 0 (auto) for whenever the write costs at most a
                // tenth of the training time it protects (large models: not every epoch).
                const bool due = resumeEvery > 0 ? (epoch - firstEpoch + 1) % resumeEvery == 0
                                                 : sinceCheckpointSeconds >= 10.0 * lastCheckpointSeconds;
                if (due) {
                    const auto w0 = Clock::now();
                    saveResumeState(epoch, rule, best);
                    lastCheckpointSeconds = secondsSince(w0);
                    sinceCheckpointSeconds = 0;
                }
            }
        }
        if (staleAfterCheckpoint && m_ctx.store && out.status != RunStatus::Cancelled)
            m_ctx.store->discardMetricsAfter(m_ctx.runId, out.epochs);
        out.bestEpoch = rule.reportedEpoch();
        out.reported = reported;
        out.hostReadsInSteps = m_hostReads;
        out.syncsInSteps = syncDebugWarningsOn() ? m_syncsInSteps : -1;
        out.cudaGraphs = m_graphNote.empty() && m_graphCaptures > 0
                             ? "on: " + std::to_string(m_graphCaptures) + " capture(s), " + std::to_string(m_graphReplays) + " replayed step(s)"
                             : m_graphNote;
        if (rule.isEarlyStopping()) best.restore(*m_model);
        if (out.status == RunStatus::Completed && !m_ctx.checkpointPath.empty() && out.bestEpoch > 0) {
            saveWeightsAtomically(*m_model, m_ctx.checkpointPath);
            if (m_ctx.store) m_ctx.store->setCheckpoint(m_ctx.runId, m_ctx.checkpointPath);
        }
        // A finished run keeps only the reported weights; a cancelled one may be resumed.
        if (out.status != RunStatus::Cancelled && !m_ctx.resumePath.empty()) {
            std::error_code ec;
            std::filesystem::remove(m_ctx.resumePath, ec);
        }
    }

    const RunSpec& m_spec;
    const Task& m_task;
    torch::Device m_device;
    const RunContext& m_ctx;
    LossFunction m_loss;
    std::int64_t m_numClasses;
    RunSplit m_train, m_val, m_test;
    std::unique_ptr<InputTransform> m_transform;
    std::shared_ptr<ClassifierModule> m_model;
    std::unique_ptr<torch::optim::Optimizer> m_optimizer;
    at::Generator m_orderGen, m_augGen;
    at::Generator m_modelGen; // on the training device: dropout and other in-model draws
    double m_initialLoss = std::numeric_limits<double>::quiet_NaN();
    std::string m_divergence;
    std::int64_t m_step = 0;
    std::int64_t m_hostReads = 0;
    std::int64_t m_stepsPerEpoch = 1; // of the last epoch trained
    bool m_bf16 = false;         // train.precision: bf16
    bool m_channelsLast = false; // train.channels_last // device values read inside training steps (RunOutcome)
    double m_lastLr = 0; // the rate of the last step, under a per-step schedule
    double m_epochLr = 0; // the epoch's rate (a per-step schedule changes it each step)
    std::int64_t m_syncsInSteps = 0; // counted under CUDA's sync debug mode
    // train.cuda_graphs
    struct GraphState {
        bool active = false;
        int warmSteps = 0;
        StepGraph graph;
        ModelInput input; // the captured step reads these...
        torch::Tensor labels;
        torch::Tensor outputs, loss; // ...and writes these
        double lr = 0;
    };
    GraphState m_graph;
    std::string m_graphNote; // RunOutcome::cudaGraphs when graphs are off
    std::int64_t m_graphCaptures = 0, m_graphReplays = 0;
};

} // namespace

std::int64_t splitSeedOf(const ParamSet& params, std::int64_t runSeed) {
    if (!params.has("data.split_seed")) return runSeed; // runs stored before the key existed
    const std::string& value = params.raw("data.split_seed");
    return value == "per_seed" ? runSeed : params.getInt("data.split_seed");
}

std::uint64_t deriveSeed(std::int64_t runSeed, std::uint64_t stream) {
    // splitmix64 of (seed, stream): well-mixed, and the same on every platform.
    std::uint64_t z = static_cast<std::uint64_t>(runSeed) * 0x9E3779B97F4A7C15ull + stream * 0xD1B54A32D192ED03ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

RunOutcome trainRun(const RunSpec& spec, const Task& task, const torch::Device& device, const RunContext& context) {
    return RunTrainer(spec, task, device, context).run();
}

} // namespace losslab
