#!/usr/bin/python3
"""scikit-learn on the rows CIDP's warehouse holds (docs/BENCHMARKS.md, issue 13).

Reads `fact_telemetry_features` of a warehouse CIDP wrote (python's sqlite3, key order: pump_id,
timestamp — the order the trainer reads), reproduces the trainer's stratified 80/20 split
(`ClassificationMetrics.stratifiedSplit`, the same SplitMix64 shuffle, from `sklearn_forest.py`),
fits the models asked for on the 80 % and prints one JSON line: per model the fit seconds and the
holdout ROC-AUC, F1 at 0.5 (`f1`: scores > 0.5, scikit-learn's `predict`; `f1_at_least_half`:
scores >= 0.5, the trainer's rule) and Brier score, plus the row and positive counts so the Swift side can
check it saw the same rows and split.

Models: `rf` is RandomForestClassifier(n_estimators=100, class_weight='balanced',
random_state=42, n_jobs=N), the original's model; `hgb` is HistGradientBoostingClassifier() with
its defaults (random_state=42 for its early-stopping split).

Usage: /usr/bin/python3 benchmarks/warehouse_models.py --db PATH [--seed 42] [--models rf,hgb] [--n-jobs 2]
Needs numpy and scikit-learn (Debian: python3-sklearn; scripts/ensure-deps installs it).
"""
import argparse
import json
import sqlite3
import sys
import time

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from sklearn_forest import stratified_split  # noqa: E402

FEATURES = ["flow_rate", "pressure", "vibration", "temperature", "vibration_rolling_mean", "pressure_rolling_mean"]


def read_warehouse(path):
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT " + ", ".join(FEATURES) + ", failure FROM fact_telemetry_features ORDER BY pump_id, timestamp"
        ).fetchall()
    finally:
        connection.close()
    data = np.array(rows, dtype=np.float64).reshape(-1, len(FEATURES) + 1)
    return data[:, :-1], data[:, -1].astype(np.uint8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--models", default="rf,hgb")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--model-random-state", type=int, default=42,
                        help="random_state of both models (HGB: its early-stopping split), to see their own spread")
    args = parser.parse_args()
    try:
        x, y = read_warehouse(args.db)
    except sqlite3.Error as error:
        print(f"warehouse_models.py: cannot read {args.db}: {error}", file=sys.stderr)
        sys.exit(2)
    if len(y) == 0:
        print(f"warehouse_models.py: {args.db} holds no fact rows", file=sys.stderr)
        sys.exit(2)
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.metrics import brier_score_loss, f1_score, roc_auc_score

    train, test = stratified_split(y, 0.2, args.seed)
    result = {
        "implementation": "scikit-learn " + __import__("sklearn").__version__,
        "rows": int(y.size), "positives": int(y.sum()), "train_rows": int(train.size), "test_rows": int(test.size),
        "test_positives": int(y[test].sum()), "models": {},
    }
    for name in [m for m in args.models.split(",") if m]:
        if name == "rf":
            model = RandomForestClassifier(n_estimators=100, class_weight="balanced", random_state=args.model_random_state, n_jobs=args.n_jobs)
        elif name == "hgb":
            model = HistGradientBoostingClassifier(random_state=args.model_random_state)
        else:
            print(f"warehouse_models.py: unknown model '{name}', expected rf or hgb", file=sys.stderr)
            sys.exit(2)
        start = time.perf_counter()
        model.fit(x[train], y[train])
        seconds = time.perf_counter() - start
        scores = model.predict_proba(x[test])[:, 1]
        result["models"][name] = {
            "fit_seconds": round(seconds, 3),
            "roc_auc": float(roc_auc_score(y[test], scores)),
            "f1": float(f1_score(y[test], scores > 0.5)),
            # The trainer's rule (ai_predicted_failure: probability >= 0.5). A forest's scores are
            # vote fractions, so exactly 0.5 is common, and predict's argmax gives ties to class 0.
            "f1_at_least_half": float(f1_score(y[test], scores >= 0.5)),
            "brier": float(brier_score_loss(y[test], scores)),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
