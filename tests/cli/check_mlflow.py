#!/usr/bin/env python3
"""Checks what fake_mlflow.py holds against a LossLab run database, read with sqlite3 only.

Usage: check_mlflow.py DB STATE_FILE
Every started run of the database must be one active MLflow run (tag losslab.uid) in the
experiment NAME#ID, with each stored epoch metric once as SPLIT/METRIC at step = epoch, each
step metric once as step/METRIC at step = the optimiser step (for a run still training, those
of epochs whose metrics are stored), the metrics at the reported
epoch as reported/SPLIT/METRIC there (and maybe at earlier epochs, reported while it trained),
MLflow's status for the run's status, its settings as
params, and no other points. Prints what differs and exits 1, or exits 0.
"""
import json
import math
import sqlite3
import sys

STATUS = {"completed": "FINISHED", "diverged": "FINISHED", "failed": "FAILED", "cancelled": "KILLED",
          "interrupted": "KILLED", "running": "RUNNING"}


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def main():
    db = sqlite3.connect(sys.argv[1])
    with open(sys.argv[2]) as f:
        state = json.load(f)
    problems = []
    experiments = {e["name"]: eid for eid, e in state["experiments"].items()}
    runs = db.execute("SELECT r.id, r.uid, e.name, e.id, r.status, r.best_epoch, r.loss, r.seed, r.spec_yaml, r.epochs, r.started_at "
                      "FROM runs r JOIN experiments e ON e.id = r.experiment_id ORDER BY r.id").fetchall()
    for run_id, uid, name, eid, status, best, loss, seed, spec, epochs, started in runs:
        if epochs == 0 and not started:
            continue
        label = f"run {run_id}"
        mlflow_eid = experiments.get(f"{name}#{eid}")
        if mlflow_eid is None:
            problems.append(f"{label}: no MLflow experiment {name}#{eid}")
            continue
        found = [(rid, r) for rid, r in state["runs"].items()
                 if r["tags"].get("losslab.uid") == uid and r["lifecycle_stage"] == "active"]
        if len(found) != 1:
            problems.append(f"{label}: {len(found)} active MLflow runs with its uid, expected 1")
            continue
        rid, r = found[0]
        if r["experiment_id"] != mlflow_eid:
            problems.append(f"{label}: in MLflow experiment {r['experiment_id']}, expected {mlflow_eid}")
        want = {}
        for epoch, split, metric, value in db.execute(
                "SELECT epoch, split, metric, value FROM epoch_metrics WHERE run_id = ?", (run_id,)):
            want[(f"{split}/{metric}", epoch)] = float("nan") if value is None else value
        last_epoch = max([e for _, e in want] or [0])
        for step, epoch, metric, value in db.execute(
                "SELECT step, epoch, metric, value FROM step_metrics WHERE run_id = ?", (run_id,)):
            # A run that ended has all its steps sent; one still training those of whole epochs.
            if epoch <= last_epoch or status not in ("queued", "running"):
                want[(f"step/{metric}", step)] = float("nan") if value is None else value
        if best > 0:
            for split, metric, value in db.execute(
                    "SELECT split, metric, value FROM epoch_metrics WHERE run_id = ? AND epoch = ?", (run_id, best)):
                want[(f"reported/{split}/{metric}", best)] = float("nan") if value is None else value
        got = {}
        for key, value, timestamp, step in r["metrics"]:
            if (key, step) in got:
                problems.append(f"{label}: {key} at step {step} sent twice")
            got[(key, step)] = value
        for point, value in want.items():
            if point not in got:
                problems.append(f"{label}: {point[0]} at step {point[1]} missing")
            elif not same(got[point], value):
                problems.append(f"{label}: {point[0]} at step {point[1]} is {got[point]}, stored {value}")
        for point in got.keys() - want.keys():
            # An export made while the run trained sent the reported epoch of then: an earlier one.
            if not (point[0].startswith("reported/") and point[1] < best):
                problems.append(f"{label}: {point[0]} at step {point[1]} was sent but is not stored")
        if r["status"] != STATUS.get(status, "?"):
            problems.append(f"{label}: MLflow status {r['status']} for a {status} run")
        params = r["params"]
        for key, value in (("loss_type", loss), ("seed", str(seed)), ("train.batch_size", None)):
            if key not in params or (value is not None and params[key] != value):
                problems.append(f"{label}: param {key} is {params.get(key)!r}, expected {value or 'present'}")
        if spec and "batch_size: " in spec and "train.batch_size" in params and f"batch_size: {params['train.batch_size']}" not in spec:
            problems.append(f"{label}: param train.batch_size {params['train.batch_size']} is not the spec's")
        if r["tags"].get("losslab.exported") != str(len([p for p in want if not p[0].startswith("reported/")])):
            problems.append(f"{label}: tag losslab.exported is {r['tags'].get('losslab.exported')}")
        if r["tags"].get("losslab.status") != status:
            problems.append(f"{label}: tag losslab.status is {r['tags'].get('losslab.status')}, stored {status}")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
