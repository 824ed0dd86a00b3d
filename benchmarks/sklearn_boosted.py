#!/usr/bin/env python3
"""scikit-learn side of the boosted-trees comparison (docs/BENCHMARKS.md, "Boosted trees").

Reads a CSV that CIDP wrote (`BoostedTrees.writeComparisonCSV`): a header, then one row per
record with the feature columns, `label` (0/1) and `split` (0 train, 1 test), so that both
sides use exactly the same rows. For each random state, fits HistGradientBoostingClassifier()
with its defaults on the train rows and prints one JSON line about the test rows: ROC-AUC,
F1 at threshold 0.5 (`predict`), Brier score, fit seconds, the iterations grown, and the row
and positive counts (for the caller to check).

`random_state` only seeds the early-stopping split and the binning subsample (it is no
hyperparameter); 42 by default so that runs repeat, a comma-separated list for several fits
(the seed-to-seed spread), `none` for sklearn's own. The fit uses OpenMP's threads
(`OMP_NUM_THREADS`, by default one per core); the scores do not depend on them.

Usage: /usr/bin/python3 benchmarks/sklearn_boosted.py --csv rows.csv [--random-state 42[,43...]]
"""
import argparse
import json
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import brier_score_loss, f1_score, roc_auc_score


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True, help="features..., label, split (0 train, 1 test)")
    parser.add_argument("--random-state", default="42", help="an integer, a comma-separated list of them, or 'none'")
    args = parser.parse_args()
    random_states = [None if state.strip().lower() == "none" else int(state) for state in args.random_state.split(",")]

    with open(args.csv) as handle:
        header = handle.readline().strip().split(",")
    data = np.loadtxt(args.csv, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    label_column, split_column = header.index("label"), header.index("split")
    feature_columns = [k for k in range(len(header)) if k not in (label_column, split_column)]
    x = data[:, feature_columns]
    y = data[:, label_column].astype(np.int64)
    is_test = data[:, split_column] == 1

    for random_state in random_states:
        report(x[~is_test], y[~is_test], x[is_test], y[is_test], random_state)


def report(x_train, y_train, x_test, y_test, random_state):
    """Fits on the train rows, scores the test rows, prints one JSON line."""
    model = HistGradientBoostingClassifier(random_state=random_state)
    start = time.perf_counter()
    model.fit(x_train, y_train)
    fit_seconds = time.perf_counter() - start
    probability = model.predict_proba(x_test)[:, 1]
    print(json.dumps({
        "model": "HistGradientBoostingClassifier()",
        "random_state": random_state,
        "auc": roc_auc_score(y_test, probability),
        "f1": f1_score(y_test, (probability >= 0.5).astype(np.int64), zero_division=0),
        "brier": brier_score_loss(y_test, probability),
        "fit_seconds": fit_seconds,
        "iterations": int(model.n_iter_),
        "train_rows": int(len(y_train)),
        "test_rows": int(len(y_test)),
        "test_positives": int(y_test.sum()),
    }), flush=True)


if __name__ == "__main__":
    main()
