"""What the step benchmarks' Python sides share: bench/step_bench.py (the vision models) and
bench/text_step_bench.py (the text models) import it for their common options, the BLAS,
device and thread set-up, the losses, the timing of the steps and the report, which match
their C++ counterparts in bench/bench_common.h; the summaries of bench/run_step_bench.sh and
bench/run_text_step_bench.sh import it (Summary) to read the invocations' JSON lines and print
the table. They put this folder first on sys.path to import it, so that they run from any
working directory.
"""
import ctypes
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F


# ---- options ------------------------------------------------------------------------------

def add_model_arguments(p, models, batch, steps, warmup, batch_help=None):
    """--model (first of `models` by default), --batch, --steps, --warmup and --threads."""
    p.add_argument("--model", choices=models, default=models[0])
    p.add_argument("--batch", type=int, default=batch, help=batch_help)
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--warmup", type=int, default=warmup)
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0: every core)")


def add_run_arguments(p):
    """--device, --blas-threads, --seed and --json."""
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--blas-threads", type=int, default=-1,
                   help="openblas_set_num_threads(N) (default: leave OpenBLAS as it starts)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")


def parse_args(p, min_batch):
    """The parsed arguments; a usage error (exit status 2) when --batch is under min_batch or
    --steps, --warmup or --threads under their least values (1, 0, 0)."""
    a = p.parse_args()
    for name, least in (("batch", min_batch), ("steps", 1), ("warmup", 0), ("threads", 0)):
        if getattr(a, name) < least:
            p.error(f"--{name}: expected an integer >= {least}, got {getattr(a, name)}")
    return a


# ---- set-up -------------------------------------------------------------------------------

def openblas():
    """The OpenBLAS that torch loaded (through libblas.so.3), or None."""
    try:
        lib = ctypes.CDLL("libblas.so.3")
        lib.openblas_get_num_threads  # noqa: B018 - raises AttributeError for another BLAS
        return lib
    except (OSError, AttributeError):
        return None


def set_up(a, prog):
    """OpenBLAS threads (--blas-threads), the device (cuDNN benchmark mode on CUDA, as
    configureProcess() does) and the intra-op threads (--threads, 0: every core). Returns
    (the BLAS line of the report, the torch.device). Errors exit with a message naming prog."""
    blas_lib = openblas()
    if a.blas_threads > 0:
        if blas_lib is None:
            raise SystemExit(f"{prog}: --blas-threads: the loaded BLAS is not OpenBLAS")
        blas_lib.openblas_set_num_threads(a.blas_threads)
    if blas_lib is not None:
        blas = f"BLAS: OpenBLAS, {blas_lib.openblas_get_num_threads()} thread(s)"
    else:
        blas = "BLAS: reference or unknown BLAS"
    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"{prog}: --device cuda: this torch has no CUDA device")
    device = torch.device(a.device)
    if a.device == "cuda":
        torch.backends.cudnn.benchmark = True  # as configureProcess() does
    torch.set_num_threads(a.threads if a.threads > 0 else (os.cpu_count() or 1))
    return blas, device


# ---- the step -----------------------------------------------------------------------------

def cross_entropy(outputs, labels):
    return F.cross_entropy(outputs, labels, reduction="none").mean()


def square_loss(outputs, labels, k=1.0, m=1.0):
    # The same tensor ops as LossFunction::perExample, then the mean over the examples (the
    # batch; every position of a [B, T, C] output once flattened).
    num_classes = outputs.size(1)
    target = torch.zeros_like(outputs).scatter_(1, labels.unsqueeze(1), m)
    sq = (outputs - target).pow(2)
    if k != 1.0:
        true_term = sq.gather(1, labels.unsqueeze(1))
        sq = sq.scatter(1, labels.unsqueeze(1), true_term * k)
    return (sq.sum(1) / float(num_classes)).mean()


def loss_function(name):
    """The loss of --loss: cross_entropy for ce, square_loss for square."""
    return cross_entropy if name == "ce" else square_loss


def time_steps(step, warmup, steps, cuda):
    """`warmup` untimed calls of step(), then `steps` timed ones, each on its own clock; on CUDA
    the device is synchronised after the warm-up and inside every timed step. Returns the median
    and mean milliseconds per step."""
    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    ms = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize()
        ms.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(ms), statistics.fmean(ms)


# ---- the report ---------------------------------------------------------------------------

def print_report(a, task, batch, blas, median, mean, hidden="", grad_clip=None, parameters=None):
    """One line of JSON (--json) or two of text: the fields of printReport in
    bench/bench_common.h, less "thread", in the same order. grad_clip and parameters are the text models' (printed
    when given); hidden is printed in the text when it is not empty."""
    if a.json:
        fields = {"impl": "python", "torch": torch.__version__, "task": task, "model": a.model, "hidden": hidden,
                  "batch": batch, "loss": a.loss}
        if grad_clip is not None:
            fields["grad_clip"] = grad_clip
        fields["device"] = a.device
        if parameters is not None:
            fields["parameters"] = parameters
        fields.update({"threads": torch.get_num_threads(), "blas": blas, "warmup": a.warmup, "steps": a.steps,
                       "median_ms": round(median, 4), "mean_ms": round(mean, 4)})
        print(json.dumps(fields))
        return
    print(f"python torch {torch.__version__}  {task}" + (f" hidden {hidden}" if hidden else "")
          + (f" ({parameters} parameters)" if parameters is not None else "")
          + f"  batch {batch}  loss {a.loss}" + (f"  grad clip {grad_clip:g}" if grad_clip is not None else "")
          + f"  device {a.device}  threads {torch.get_num_threads()}  {blas}")
    print(f"       median {median:.3f} ms/step, mean {mean:.3f} ms/step over {a.steps} steps"
          f" ({a.warmup} warm-up)")


# ---- the run scripts' summary -------------------------------------------------------------

class Summary:
    """The invocations of a run script: its results file, one line per invocation,
    "VARIANT<TAB>OTHER_PERCENT<TAB>JSON" (run_one in bench/bench_lib.sh). A cell is keyed by
    (model, batch, loss); `limit` is the share of the CPUs (percent) that other processes may
    take before an invocation counts as disturbed."""

    def __init__(self, path, limit):
        self.limit = limit
        self.records = []  # the JSON line of every invocation, as a dict
        self.others = []  # the percent other processes took during each invocation
        self.rows = {}  # (model, batch, loss) -> variant -> [median_ms per invocation]
        self.disturbed = set()  # cells with an invocation over the limit
        self.blas = {}  # variant -> its BLAS line, up to the first ";"
        with open(path) as f:
            for line in f:
                variant, other, text = line.rstrip("\n").split("\t", 2)
                self.others.append(int(other))
                r = json.loads(text)
                self.records.append(r)
                key = (r["model"], r["batch"], r["loss"])
                self.rows.setdefault(key, {}).setdefault(variant, []).append(r["median_ms"])
                if int(other) > limit:
                    self.disturbed.add(key)
                self.blas[variant] = r["blas"].split(";")[0]

    def print_cpu_share(self, tries):
        kept = sum(o > self.limit for o in self.others)
        print(f"- CPU share taken by other processes during an invocation: median {statistics.median(self.others)}%, "
              f"max {max(self.others)}%; {kept} of {len(self.others)} invocations over {self.limit}% even after "
              f"{tries} tries" + (" (their cells are marked *)" if kept else ""))

    def print_table(self, cpu, head, rule, first_cells):
        """The Markdown table: `head` and `rule` are the header and rule of the columns that
        first_cells(model, batch, loss) returns for a row (its first cell gets a * when the cell
        was disturbed), then C++ ms, Python ms and their ratio, and on CPU (`cpu`) Python with
        OPENBLAS_NUM_THREADS=1 and that ratio. A cell is the median of the invocations' medians,
        with their range when there are several."""
        head += " C++ ms | Python ms | C++ / Python |"
        rule += "---:|---:|---:|"
        if cpu:
            head += " Python ms, OPENBLAS_NUM_THREADS=1 | C++ / Python, same BLAS threads |"
            rule += "---:|---:|"
        print(head)
        print(rule)
        for (model, batch, loss), v in self.rows.items():
            c, p = v.get("cpp", []), v.get("python", [])
            cells = first_cells(model, batch, loss)
            if (model, batch, loss) in self.disturbed:
                cells[0] += "*"
            cells += [_cell(c), _cell(p), f"{_median(c) / _median(p):.2f}"]
            if cpu:
                p1 = v.get("python_blas1", [])
                cells += [_cell(p1), f"{_median(c) / _median(p1):.2f}"]
            print("| " + " | ".join(cells) + " |")

    def print_blas(self):
        for variant, text in self.blas.items():
            print(f"- {variant}: {text}")


def summarize(argv, head, rule, first_cells, notes=None):
    """The summary a run script prints after its environment lines, for argv = [results file,
    device, disturbed limit (percent), tries]: the CPU share line, notes(summary) when given
    (more "- " lines), the table (Summary.print_table) and the BLAS line of every variant."""
    path, device, limit, tries = argv
    summary = Summary(path, int(limit))
    summary.print_cpu_share(int(tries))
    if notes is not None:
        notes(summary)
    print()
    summary.print_table(device == "cpu", head, rule, first_cells)
    print()
    summary.print_blas()


def _median(v):
    return statistics.median(v) if v else float("nan")


def _cell(v):
    if not v:
        return "-"
    return f"{_median(v):.2f}" + (f" ({min(v):.2f}-{max(v):.2f})" if len(v) > 1 else "")
