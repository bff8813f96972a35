"""LightGBM side of `npm run bench:gbdt`: train on one Parquet file, predict another.

Reads the same files the TypeScript trainer reads (the model's feature SQL output), trains
with the parameters given as JSON, writes raw predictions (float64, row-major) for the
benchmark to score with the same metric code as the TypeScript side, and prints one JSON
line: wall time of training (Dataset construction included, as binning is included on the
TypeScript side), peak resident memory, rounds.
"""
import json
import resource
import sys
import time

import lightgbm as lgb
import numpy as np
import pandas as pd


def main() -> None:
    job = json.loads(sys.argv[1])
    label = "__label"
    train = pd.read_parquet(job["train"])
    test = pd.read_parquet(job["test"])
    categorical = job["categorical"]
    for c in categorical:
        train[c] = train[c].astype("category")
        # Test categories mapped onto the training ones; unseen become NaN, as in the ONNX graph.
        test[c] = pd.Categorical(test[c].where(test[c].isin(train[c].cat.categories)), categories=train[c].cat.categories)
    features = job["features"]
    params = dict(job["params"])
    params.update({"verbose": -1, "deterministic": True})
    started = time.perf_counter()
    dataset = lgb.Dataset(train[features], train[label], categorical_feature=categorical, params={"max_bin": params["max_bin"]})
    booster = lgb.train(params, dataset, num_boost_round=job["rounds"])
    seconds = time.perf_counter() - started
    predictions = np.asarray(booster.predict(test[features]), dtype=np.float64)
    predictions.tofile(job["predictions"])
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peakMB": peak_kb / 1024, "rounds": booster.current_iteration(), "version": lgb.__version__}))


if __name__ == "__main__":
    main()
