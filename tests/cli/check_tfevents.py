#!/usr/bin/env python3
"""Checks a `losslab-cli export` folder against the database it came from, reading the event
files with this script's own TFRecord and protocol-buffer decoding (Python's standard library
only), written from the formats' specifications, not from LossLab's writer.

Usage: check_tfevents.py DATABASE LOGDIR

For every started run of the database's experiments whose runs share no folder label (no
sweep): LOGDIR/<experiment>#<id>/<task>/<loss name>/<protocol>/seed<seed> holds exactly one
event file; every record's length and data CRC-32C (masked) are right; the first event names
"brain.Event:2"; every stored epoch metric is the scalar "<split>/<metric>" at step = epoch,
every step metric "step/<metric>" at its step, and every metric of the reported epoch
"reported/<split>/<metric>" at that epoch, equal as float32; nothing else is there; the text
"run" names the run's seed; the HParams session start names the run's loss, and its group is
the run's folder without the seed. Prints one line per run; exits 1 naming the first mismatch.
"""
import math
import os
import sqlite3
import struct
import sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf, at):
    value, shift = 0, 0
    while True:
        byte = buf[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def fields(buf):
    """The fields of one protocol buffer message: a list of (number, wire type, value)."""
    out, at = [], 0
    while at < len(buf):
        key, at = varint(buf, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = varint(buf, at)
        elif wire == 1:
            value, at = buf[at:at + 8], at + 8
        elif wire == 5:
            value, at = buf[at:at + 4], at + 4
        elif wire == 2:
            size, at = varint(buf, at)
            value, at = buf[at:at + size], at + size
        else:
            raise ValueError("wire type %d" % wire)
        out.append((number, wire, value))
    return out


def field(buf, number):
    found = [v for n, _, v in fields(buf) if n == number]
    if len(found) != 1:
        raise ValueError("field %d appears %d times" % (number, len(found)))
    return found[0]


def read_events(path):
    data = open(path, "rb").read()
    events, at = [], 0
    while at < len(data):
        header = data[at:at + 8]
        (size,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[at + 8:at + 12])
        if header_crc != masked(header):
            raise ValueError("%s: record %d: bad length CRC" % (path, len(events)))
        body = data[at + 12:at + 12 + size]
        (body_crc,) = struct.unpack("<I", data[at + 12 + size:at + 16 + size])
        if len(body) != size or body_crc != masked(body):
            raise ValueError("%s: record %d: bad data CRC or cut short" % (path, len(events)))
        events.append(body)
        at += 16 + size
    return events


def as_float32(value):
    return struct.unpack("<f", struct.pack("<f", value))[0]


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_run(db, logdir, run):
    run_id, experiment, experiment_id, task, loss_name, protocol, seed, best_epoch = run
    group = "/".join(["%s#%d" % (experiment, experiment_id), task, loss_name, protocol])
    folder = os.path.join(logdir, group, "seed%d" % seed)
    files = [f for f in os.listdir(folder) if "tfevents" in f]
    if len(files) != 1:
        raise ValueError("%s: %d event files (%s), expected 1" % (folder, len(files), ", ".join(files)))
    events = read_events(os.path.join(folder, files[0]))
    if field(events[0], 3) != b"brain.Event:2":
        raise ValueError("%s: the first event does not name the file version" % folder)
    scalars, texts, hparams = {}, {}, {}
    for event in events[1:]:
        step = dict((n, v) for n, _, v in fields(event)).get(2, 0)
        value = field(field(event, 5), 1)
        tag = field(value, 1).decode()
        simple = [v for n, _, v in fields(value) if n == 2]
        if simple:
            scalars[(tag, step)] = struct.unpack("<f", simple[0])[0]
        elif field(field(field(value, 9), 1), 1) == b"hparams":
            info = field(field(field(field(value, 9), 1), 2), 3)
            for number, _, entry in fields(info):
                if number == 1:
                    text = [v for n, _, v in fields(field(entry, 2)) if n == 3]
                    hparams[field(entry, 1).decode()] = text[0].decode() if text else None
            hparams["(group)"] = field(info, 4).decode()
        else:
            texts[tag] = field(field(value, 8), 8).decode()
    expected = {}
    for epoch, split, metric, value in db.execute(
            "SELECT epoch, split, metric, value FROM epoch_metrics WHERE run_id = ?", (run_id,)):
        expected[("%s/%s" % (split, metric), epoch)] = as_float32(float("nan") if value is None else value)
        if epoch == best_epoch:
            expected[("reported/%s/%s" % (split, metric), epoch)] = expected[("%s/%s" % (split, metric), epoch)]
    for step, metric, value in db.execute("SELECT step, metric, value FROM step_metrics WHERE run_id = ?", (run_id,)):
        expected[("step/" + metric, step)] = as_float32(float("nan") if value is None else value)
    if set(scalars) != set(expected):
        raise ValueError("%s: scalars %s, stored %s" % (folder, sorted(set(scalars) ^ set(expected))[:5], len(expected)))
    for key, value in expected.items():
        if not same(scalars[key], value):
            raise ValueError("%s: %s at step %d is %r, stored %r" % (folder, key[0], key[1], scalars[key], value))
    if "| seed | %d |" % seed not in texts.get("run", ""):
        raise ValueError("%s: the text 'run' does not name seed %d" % (folder, seed))
    if hparams.get("loss") != loss_name or hparams.get("(group)") != group or "seed" in hparams:
        raise ValueError("%s: HParams session start %r, expected loss %s and group %s" % (folder, hparams, loss_name, group))
    print("%s: %d scalars" % (os.path.relpath(folder, logdir), len(scalars)))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
    runs = db.execute(
        "SELECT r.id, e.name, e.id, r.task, r.loss_name, r.protocol, r.seed, r.best_epoch FROM runs r "
        "JOIN experiments e ON e.id = r.experiment_id WHERE r.started_at IS NOT NULL ORDER BY r.id").fetchall()
    if not runs:
        sys.exit("no started runs in " + sys.argv[1])
    try:
        for run in runs:
            check_run(db, sys.argv[2], run)
    except (ValueError, OSError, KeyError, struct.error) as error:
        print("check_tfevents: " + str(error), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
