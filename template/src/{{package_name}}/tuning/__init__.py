"""Hyper-parameter search: candidates x folds fanned out on the compute backend.

:mod:`.space` turns ``search.space`` into candidates (a grid, seeded random
draws, or Optuna's proposals); :mod:`.folds` scores one candidate on one fold
(the task that runs on a worker); :mod:`.search` runs the search and picks the
best candidate; :mod:`.runs` logs it to MLflow from this process only.
"""
