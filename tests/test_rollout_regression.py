"""`just rollout` of a regressor, judged on the values it serves, against a real Prometheus.

A classifier's canary is compared with the stable version on class counts
(tests/test_rollout.py); a regressor's on its served values, which the app
counts in a histogram bucketed at the training target's deciles and which
Prometheus sums by ``le``. Two ridge models of the regression answers are
served and scraped as tests/rollout_rig.py describes (kubectl is the only
stand-in: no cluster can exist here).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rollout_rig import ROLLOUT, Rig, edit_params, serving_rig, train, train_model

from conftest import InstalledProject

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def rig(installed_project: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """The shipped ridge in production; another alpha as the canary."""
    project: InstalledProject = installed_project("regression-gitlab", "rollout")
    # A 10 % step sees about 60 of the canary's predictions over ten buckets: the PSI of
    # two samples of one distribution is then about chi-square(9) * (1/60 + 1/540), above
    # 0.5 once a run in a hundred. The limit here leaves chance out of the verdict.
    objectives = ROLLOUT["objectives"] | {"max_psi": 1.0}
    edit_params(project, rollout=ROLLOUT | {"objectives": objectives})
    stable = train(project, "chore: first model, short rollout steps")
    project.just("models", "promote", stable, "production", "launch")
    canary = train_model(project, {"kind": "ridge", "params": {"alpha": 0.9}}, search=True)
    with serving_rig(
        project, tmp_path_factory.mktemp("rollout"), stable, {"healthy": canary}
    ) as served:
        yield served


def test_a_regressor_canary_is_judged_on_its_served_values_and_promoted(rig: Rig) -> None:
    canary = rig.canaries["healthy"]
    rig.challenger(canary)
    result = rig.rollout_under_traffic(canary)
    assert result.returncode == 0, result.stdout + result.stderr
    events = rig.events(canary)
    judged = [e["detail"] for e in events if e["action"] == "rollout-verdict"]
    assert len(judged) == 2, judged
    assert all(": pass: every objective met" in detail for detail in judged), judged
    # Passing needs every objective measured: the PSI of the served values was computed,
    # from the value histogram summed by bucket for each version.
    assert "psi" in judged[-1]
    assert "serving_predicted_value_bucket" in judged[-1]
    assert events[-1]["action"] == "rollout-promoted"
    record = rig.deployed()
    assert (record["version"], record["traffic_percent"]) == (canary, 100)
    assert rig.champion() == canary
