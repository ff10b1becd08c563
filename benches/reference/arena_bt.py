"""Chatbot Arena's current rating method, in Python, as the baseline for `benches/rate_1m.rs`.

Bradley-Terry on the unique (model A, model B, outcome) rows weighted by their counts, fitted
with scipy's L-BFGS-B (tolerance 1e-6), and a multinomial bootstrap over those rows, one worker
process per CPU; 95% percentile intervals. Usage: python arena_bt.py BATTLES.json ROUNDS
"""

import json
import math
import multiprocessing as mp
import os
import sys
import time
from functools import partial

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit


def unique_rows(battles):
    n = len(battles)
    codes, models = pd.factorize(pd.concat([battles["model_a"], battles["model_b"]]))
    outcome = np.full(n, 1, dtype=np.int64)  # twice model A's score: 2 win, 1 tie, 0 loss
    outcome[battles["winner"].to_numpy() == "model_a"] = 2
    outcome[battles["winner"].to_numpy() == "model_b"] = 0
    table = np.column_stack([codes[:n], codes[n:], outcome])
    rows, counts = np.unique(table, axis=0, return_counts=True)
    return rows[:, :2], rows[:, 2] / 2.0, counts.astype(np.float64), list(models)


def loss_and_gradient(strengths, pairs, outcomes, weights, alpha):
    logits = alpha * (strengths[pairs[:, 0]] - strengths[pairs[:, 1]])
    p = expit(logits)
    loss = -(weights * (outcomes * np.log(p) + (1.0 - outcomes) * np.log1p(-p))).sum()
    per_row = -alpha * weights * (outcomes - p)
    gradient = np.zeros_like(strengths)
    np.add.at(gradient, pairs[:, 0], per_row)
    np.add.at(gradient, pairs[:, 1], -per_row)
    return loss, gradient


def fit(pairs, outcomes, n_models, alpha, weights):
    result = minimize(
        loss_and_gradient,
        np.zeros(n_models),
        args=(pairs, outcomes, weights, alpha),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 100, "gtol": 1e-6},
    )
    return result.x


def main():
    path, rounds = sys.argv[1], int(sys.argv[2])
    started = time.perf_counter()
    with open(path) as f:
        battles = pd.DataFrame(json.load(f))
    loaded = time.perf_counter()
    pairs, outcomes, counts, models = unique_rows(battles)
    alpha = math.log(10.0)
    point = fit(pairs, outcomes, len(models), alpha, counts)
    rng = np.random.default_rng(42)
    draws = rng.multinomial(len(battles), counts / counts.sum(), size=rounds).astype(np.float64)
    with mp.Pool(os.cpu_count()) as pool:
        samples = np.array(pool.map(partial(fit, pairs, outcomes, len(models), alpha), list(draws)))
    ratings = 400.0 * (point - point.mean()) + 1000.0
    samples = 400.0 * (samples - samples.mean(axis=1, keepdims=True)) + 1000.0
    lower, upper = np.percentile(samples, 2.5, axis=0), np.percentile(samples, 97.5, axis=0)
    finished = time.perf_counter()
    top = int(np.argmax(ratings))
    print(json.dumps({
        "models": len(models),
        "battles": len(battles),
        "seconds": finished - started,
        "load_seconds": loaded - started,
        "top": {"model": models[top], "rating": ratings[top], "ci_lower": lower[top], "ci_upper": upper[top]},
    }))


if __name__ == "__main__":
    main()
