#!/usr/bin/env python3
"""Makes a large LossLab database from a small one for timing the command line over many runs
(docs/benchmarks.md, "The command line over 20,000 stored runs"): every experiment of SRC, with
its runs and their epoch rows, is copied COPIES times into DST (a copy of SRC), each copy with
new ids and uids. depends_on follows the copy; reused_from (runner.reuse_prefix) names the
copied source, or with --dangling-reuse a uid that is not stored, as after `losslab-cli delete`
of the sources. Step rows and ECE bins are not copied.

Usage: bench/copy_runs.py SRC DST COPIES [--dangling-reuse]
"""
import shutil
import sqlite3
import sys
import uuid


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    if len(args) != 3:
        sys.exit(__doc__)
    src, dst, copies = args[0], args[1], int(args[2])
    dangling = '--dangling-reuse' in sys.argv
    shutil.copy(src, dst)
    db = sqlite3.connect(dst)
    db.execute('PRAGMA foreign_keys=OFF')
    cols = [r[1] for r in db.execute('PRAGMA table_info(runs)')]
    ecols = [r[1] for r in db.execute('PRAGMA table_info(experiments)')]
    exps = db.execute(f'SELECT {",".join(ecols)} FROM experiments ORDER BY id').fetchall()
    runs = db.execute(f'SELECT {",".join(cols)} FROM runs ORDER BY id').fetchall()
    metrics = db.execute('SELECT run_id, epoch, split, metric, value FROM epoch_metrics').fetchall()
    at = {c: i for i, c in enumerate(cols)}
    next_e = db.execute('SELECT max(id) FROM experiments').fetchone()[0] + 1
    next_r = db.execute('SELECT max(id) FROM runs').fetchone()[0] + 1
    for _ in range(copies):
        emap = {}
        for e in exps:
            e = list(e)
            emap[e[0]] = e[0] = next_e
            e[ecols.index('uid')] = uuid.uuid4().hex
            next_e += 1
            db.execute(f'INSERT INTO experiments({",".join(ecols)}) VALUES ({",".join("?" * len(ecols))})', e)
        rmap, umap = {}, {}
        for r in runs:
            rmap[r[0]] = next_r
            next_r += 1
            umap[r[at['uid']]] = uuid.uuid4().hex
        rows = []
        for r in runs:
            r = list(r)
            r[0] = rmap[r[0]]
            r[at['experiment_id']] = emap[r[at['experiment_id']]]
            if r[at['depends_on']] is not None:
                r[at['depends_on']] = rmap.get(r[at['depends_on']])
            r[at['uid']] = umap[r[at['uid']]]
            if r[at['reused_from']]:
                r[at['reused_from']] = uuid.uuid4().hex if dangling else umap.get(r[at['reused_from']], r[at['reused_from']])
            rows.append(r)
        db.executemany(f'INSERT INTO runs({",".join(cols)}) VALUES ({",".join("?" * len(cols))})', rows)
        db.executemany('INSERT INTO epoch_metrics VALUES (?,?,?,?,?)', [(rmap[m[0]],) + tuple(m[1:]) for m in metrics])
    db.commit()
    print(db.execute('SELECT count(*) FROM runs').fetchone()[0], 'runs,',
          db.execute('SELECT count(*) FROM experiments').fetchone()[0], 'experiments')


if __name__ == '__main__':
    main()
