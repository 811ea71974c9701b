"""scikit-learn's IsolationForest on given splits of labelled CSVs: the classic detector MLNetVae is compared with
(ML.NET has none). Used by the evaluation (eval/MLNetVae.Evaluation, Anchors.cs: exactly the VAE's splits) and by
`mlnetvae demo` (one split: every row trains and is scored, as the demo's VAE and PCA are).

Usage: /usr/bin/python3 scripts/isolation_forest.py JOBS.json OUT.json
JOBS.json: {"data": {set: csv path}, "splits": [{"set", "seed", "train": [row indices], "test": [row indices],
            "scores": optional bool}]}; a CSV has a header, the label first (> 0 = anomaly), then the features.
Each split is standardized as the C# side does it (the training split's mean and population standard deviation,
1 where it is 0), IsolationForest (scikit-learn defaults, random_state = seed) is fitted on the training split
(anomalies included, labels unused) and scored on the test split (higher = more anomalous).
OUT.json: {"auc": [{"set", "seed", "IForest", "fit_seconds", "score_seconds", "scores" (when asked: one per test row)}]}.
"""
import json, sys, time
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

jobs = json.load(open(sys.argv[1]))
cache, out, start = {}, [], time.time()
for split in jobs["splits"]:
    name = split["set"]
    if name not in cache:
        a = np.loadtxt(jobs["data"][name], delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
        cache[name] = (a[:, 1:], (a[:, 0] > 0).astype(int))
    X, y = cache[name]
    train, test = np.array(split["train"]), np.array(split["test"])
    tr, te = X[train], X[test]
    mean, sd = tr.mean(0), tr.std(0)
    sd[~(sd > 1e-12)] = 1
    tr, te = (tr - mean) / sd, (te - mean) / sd
    clock = time.time()
    forest = IsolationForest(random_state=split["seed"]).fit(tr)
    fitted = time.time()
    score = -forest.score_samples(te)
    result = {"set": name, "seed": split["seed"], "IForest": float(roc_auc_score(y[test], score)),
              "fit_seconds": fitted - clock, "score_seconds": time.time() - fitted}
    if split.get("scores"):
        result["scores"] = score.tolist()
    out.append(result)
json.dump({"auc": out}, open(sys.argv[2], "w"))
print(f"IsolationForest on {len(out)} splits of {len(cache)} sets in {time.time() - start:.0f} s")
