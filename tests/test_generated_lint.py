"""Generated code is lint- and format-clean whatever the package name's length.

Test files import the generated package by name, so a long name could push a
line past the limit and break `just check` for that user only. This renders
the extremes and each supported answer set and runs ruff with the generated
project's own configuration (no install needed, so it is fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import ANSWER_SETS, load_answers, render, run

NAME_EXTREMES = {
    "shortest": {"project_name": "Ab"},
    "longest": {"project_name": "Abcdefghij Abcdefghij Abcdefghi"},  # 31-character package
    "longest-regression": {
        "project_name": "Abcdefghij Abcdefghij Abcdefghi",
        "problem_type": "regression",
    },
}
CASES: dict[str, dict[str, Any]] = {
    **NAME_EXTREMES,
    **{name: load_answers(name) for name in ANSWER_SETS},
}


@pytest.fixture(scope="module", params=sorted(CASES))
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp(request.param) / "project", CASES[request.param])


def test_ruff_lint_passes(rendered: Path) -> None:
    run(["ruff", "check", "--no-cache", "src", "tests"], rendered)


def test_ruff_format_is_stable(rendered: Path) -> None:
    run(["ruff", "format", "--check", "--no-cache", "src", "tests"], rendered)
