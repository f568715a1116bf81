"""Every recipe of a generated project passes its arguments as data, never as shell code.

A recipe that interpolates a parameter (``{{ reason }}``) pastes the user's
text into the shell line: ``$(...)`` and backticks run, ``$5`` expands, an
apostrophe is a syntax error. Recipes must instead use just's positional
arguments and quote them (``"$1"``, ``"$@"``). The static test reads every
recipe of every module from ``just --dump`` for each supported answer set;
the end-to-end test feeds hostile strings through the recipes a user types
most and checks that they arrive verbatim and run nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ANSWER_SETS, InstalledProject, load_answers, render, run

HOSTILE = 'it\'s $(touch PWNED-subshell) `touch PWNED-backtick` $5 "quoted"; touch PWNED-chain'


def _recipes(
    dump: dict[str, Any], inherited: bool = False
) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(name, recipe, positional) for every recipe of a dumped justfile and its modules."""
    positional = bool(dump["settings"]["positional_arguments"]) or inherited
    for name, recipe in dump["recipes"].items():
        yield name, recipe, positional
    for module_name, module in dump["modules"].items():
        for name, recipe, module_positional in _recipes(module):
            yield f"{module_name}::{name}", recipe, module_positional


def _interpolated(body: Any) -> set[str]:
    """Names used inside ``{{ }}`` in a recipe body (just's JSON dump)."""
    found: set[str] = set()
    if isinstance(body, list):
        if len(body) == 2 and body[0] == "variable" and isinstance(body[1], str):
            found.add(body[1])
        for item in body:
            found |= _interpolated(item)
    return found


@pytest.mark.parametrize("answers", ANSWER_SETS)
def test_no_recipe_pastes_an_argument_into_the_shell(answers: str, tmp_path: Path) -> None:
    project = render(tmp_path / "project", load_answers(answers))
    dump = json.loads(run(["just", "--dump", "--dump-format", "json"], project).stdout)
    checked = 0
    for name, recipe, module_positional in _recipes(dump):
        parameters = {parameter["name"] for parameter in recipe["parameters"]}
        if not parameters:
            continue
        checked += 1
        positional = module_positional or "positional-arguments" in recipe["attributes"]
        assert positional, f"recipe {name} takes arguments without [positional-arguments]"
        pasted = _interpolated(recipe["body"]) & parameters
        assert not pasted, f"recipe {name} interpolates {sorted(pasted)} into its shell line"
    assert checked >= 10, "expected the registry and pipeline recipes to take arguments"


@pytest.mark.e2e
def test_hostile_arguments_arrive_verbatim_and_run_nothing(installed_project: Any) -> None:
    project: InstalledProject = installed_project("defaults", "recipes")
    project.just("pipeline")
    promoted = project.just("models", "promote", "1.0.0", "staging", HOSTILE, HOSTILE, check=False)
    assert promoted.returncode == 2, promoted.stderr  # already in staging: refused, not run
    project.just("models", "promote", "1.0.0", "production", HOSTILE, HOSTILE)
    history = project.just("models", "history").stdout
    assert HOSTILE in history
    project.just("models", "drift", "1.0.0", "passed", HOSTILE)
    assert project.just("models", "history").stdout.count(HOSTILE) == 3  # who and why, why
    refused = {
        ("models", "info", HOSTILE): "not a semantic version",
        ("models", "promote", HOSTILE, "staging"): "not a semantic version",
        ("models", "promote", "1.0.0", HOSTILE): "invalid choice",
        ("models", "demote", HOSTILE, HOSTILE): "not a semantic version",
        ("models", "rollback", HOSTILE): "not a semantic version",
        ("models", "archive", "1.0.0", HOSTILE): "would leave production empty",
        ("models", "archive", "1.0.0", HOSTILE, HOSTILE): "unrecognized arguments",
        ("models", "compare", HOSTILE, HOSTILE): "not a semantic version",
        ("models", "drift", HOSTILE, "passed"): "not a semantic version",
        ("models", "gates", "1.0.0", HOSTILE): "invalid choice",
        ("predict", HOSTILE): "file not found",
        ("predict", "data/prepared/test.parquet", HOSTILE): "not a semantic version",
        ("rollback", HOSTILE, HOSTILE): "not a semantic version",
        ("register", HOSTILE): "not a semantic version",
    }
    for args, expected in refused.items():
        result = project.just(*args, check=False)
        assert result.returncode != 0, args
        assert expected in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr, (args, result.stderr)
    assert not list(project.path.glob("PWNED*")), "a recipe ran text from an argument"
