"""Render tests: every choice of every question, and every supported answer set.

Each distinct set of effective answers is rendered once per session with
pytest-copie; every check then runs against each case. No project is installed,
so the whole module takes seconds.
"""

from __future__ import annotations

import ast
import configparser
import functools
import json
import re
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from conftest import ANSWER_SETS, TEMPLATE_ROOT, load_answers

COPIER_CONFIG: dict[str, Any] = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
QUESTIONS: dict[str, dict[str, Any]] = {
    name: spec for name, spec in COPIER_CONFIG.items() if not name.startswith("_")
}


def choice_values(spec: dict[str, Any]) -> list[str]:
    """The values (not the labels) a multiple-choice question accepts."""
    choices = spec.get("choices") or []
    return [str(value) for value in (choices.values() if isinstance(choices, dict) else choices)]


CHOICES = {name: choice_values(spec) for name, spec in QUESTIONS.items() if spec.get("choices")}

# Answers nobody would pick by accident, so any place they show up (or fail to) is telling.
DISTINCTIVE: dict[str, str] = {
    "project_name": "Quux Forecaster",
    "project_slug": "zq-forecaster",
    "package_name": "zq_forecast",
    "description": "Forecasts quux demand for the Zelda fleet.",
    "author_name": "Zelda Quux",
    "author_email": "zelda@quux.example",
    "license": "BSD-3-Clause",
    "copyright_year": "2031",
    "python_version": "3.11",
    "problem_type": "regression",
    "ci_provider": "gitlab",
    "container_registry": "registry.zq.example:5000/fleet",
}

CASES: dict[str, dict[str, Any]] = {
    **{
        f"{question}={value}": {question: value}
        for question, values in CHOICES.items()
        for value in values
    },
    **{f"answers-{name}": load_answers(name) for name in ANSWER_SETS},
    "distinctive": DISTINCTIVE,
}

# Strings that would betray the machine or the people the template was built by.
IDENTITY_STRINGS = ("Seed", "maintainers", "f93661cd", "copier-mlops-dev")

JINJA_MARKERS = ("{{", "{%", "{#")
# `${{ expr }}` in GitHub Actions workflows, `{{ expr }}` in just recipe bodies and
# Prometheus/Grafana templating (`{{ $labels.x }}`, `{{model_version}}`) under
# infra/monitoring are the only double braces a generated project may contain.
GITHUB_EXPRESSION = re.compile(r"\$\{\{(?P<expr>.*?)\}\}")
JUST_INTERPOLATION = re.compile(r"\{\{(?P<expr>.*?)\}\}")
QUESTION_REFERENCE = re.compile(r"\b(?:" + "|".join(map(re.escape, QUESTIONS)) + r"|_copier_\w*)\b")

LICENSE_TEXT = {
    "MIT": ("MIT License", "Permission is hereby granted", 'THE SOFTWARE IS PROVIDED "AS IS"'),
    "Apache-2.0": (
        "Apache License",
        "Version 2.0, January 2004",
        "TERMS AND CONDITIONS",
        "Grant of Patent License",
        "END OF TERMS AND CONDITIONS",
    ),
    "BSD-3-Clause": (
        "BSD 3-Clause License",
        "Redistribution and use",
        "Neither the name of the copyright holder",
    ),
    "proprietary": ("All rights reserved", "proprietary and confidential"),
}
# One phrase that only the corresponding license's text contains.
LICENSE_SIGNATURE = {
    "MIT": "Permission is hereby granted",
    "Apache-2.0": "Apache License",
    "BSD-3-Clause": "Redistribution and use",
    "proprietary": "All rights reserved",
}
PYPROJECT_LICENSE = {
    "MIT": "MIT",
    "Apache-2.0": "Apache-2.0",
    "BSD-3-Clause": "BSD-3-Clause",
    "proprietary": "LicenseRef-Proprietary",
}
# PEP 561 marker: empty by definition.
EMPTY_BY_DESIGN = {"py.typed"}


def slugify(name: str) -> str:
    """The template's default slug, re-implemented to check the derivation."""
    return re.sub(r"^-+|-+$", "", re.sub(r"[^a-z0-9]+", "-", name.lower().strip()))


def effective_answers(answers: dict[str, Any]) -> dict[str, str]:
    """Every question's answer after defaults and derived defaults are applied."""
    result: dict[str, str] = {}
    for name, spec in QUESTIONS.items():
        default = str(spec.get("default", ""))
        if name in answers:
            result[name] = str(answers[name])
        elif name == "project_slug":
            result[name] = slugify(result["project_name"])
        elif name == "package_name":
            result[name] = result["project_slug"].replace("-", "_")
        else:
            assert "{{" not in default, f"update effective_answers for the derived {name!r}"
            result[name] = default
    return result


def is_workflow(rel: PurePosixPath) -> bool:
    return rel.parts[:2] == (".github", "workflows") and rel.suffix in {".yml", ".yaml"}


def is_monitoring_config(rel: PurePosixPath) -> bool:
    return rel.parts[:2] == ("infra", "monitoring")


def is_just_file(rel: PurePosixPath) -> bool:
    return str(rel) == "justfile" or (
        rel.parent == PurePosixPath("tasks") and rel.suffix == ".just"
    )


@functools.cache
def machine_identity() -> frozenset[str]:
    """This machine's git identity: it must never end up in a generated project."""
    found = set()
    for key in ("user.name", "user.email"):
        result = subprocess.run(
            ["git", "config", key], cwd=TEMPLATE_ROOT, capture_output=True, text=True, check=False
        )
        if value := result.stdout.strip():
            found.add(value)
    return frozenset(found)


@dataclass(frozen=True)
class Project:
    """One rendered case: what was answered, what every answer should be, what came out."""

    case: str
    answers: dict[str, Any]
    expected: dict[str, str]
    path: Path
    texts: dict[PurePosixPath, str] = field(repr=False)
    dirs: tuple[PurePosixPath, ...] = field(repr=False)

    @property
    def package(self) -> str:
        return self.expected["package_name"]

    def text(self, rel: str) -> str:
        return self.texts[PurePosixPath(rel)]

    def exists(self, rel: str) -> bool:
        return PurePosixPath(rel) in self.texts

    def pyproject(self) -> dict[str, Any]:
        return tomllib.loads(self.text("pyproject.toml"))


def snapshot(case: str, answers: dict[str, Any], path: Path) -> Project:
    texts: dict[PurePosixPath, str] = {}
    dirs: list[PurePosixPath] = []
    for item in sorted(path.rglob("*")):
        rel = PurePosixPath(item.relative_to(path).as_posix())
        if item.is_dir():
            dirs.append(rel)
        else:
            texts[rel] = item.read_bytes().decode("utf-8")
    return Project(case, answers, effective_answers(answers), path, texts, tuple(dirs))


@pytest.fixture(scope="session")
def render_case(copie_session: Any) -> Callable[[str], Project]:
    """Render a case once per distinct set of effective answers."""
    renders: dict[tuple[tuple[str, str], ...], Path] = {}
    projects: dict[str, Project] = {}

    def get(case: str) -> Project:
        if case not in projects:
            answers = CASES[case]
            key = tuple(sorted(effective_answers(answers).items()))
            if key not in renders:
                result = copie_session.copy(extra_answers=dict(answers))
                assert result.exit_code == 0, f"{case}: copier failed: {result.exception!r}"
                assert result.exception is None
                renders[key] = Path(result.project_dir)
            projects[case] = snapshot(case, answers, renders[key])
        return projects[case]

    return get


@pytest.fixture(params=sorted(CASES))
def project(request: pytest.FixtureRequest, render_case: Callable[[str], Project]) -> Project:
    return render_case(str(request.param))


def test_every_choice_is_covered() -> None:
    """The parametrization really does come from copier.yml's choices."""
    assert CHOICES == {
        "license": ["MIT", "Apache-2.0", "BSD-3-Clause", "proprietary"],
        "python_version": ["3.11", "3.12", "3.13"],
        "problem_type": ["classification", "regression"],
        "ci_provider": ["github", "gitlab", "none"],
    }
    assert ANSWER_SETS, "tests/answers/*.yml holds the supported matrix"
    assert set(DISTINCTIVE) == set(QUESTIONS), "the distinctive case answers every question"


def test_no_jinja_in_paths(project: Project) -> None:
    for rel in [*project.texts, *project.dirs]:
        for marker in (*JINJA_MARKERS, "}}", "%}"):
            assert marker not in str(rel), f"{project.case}: unrendered path {rel}"


def test_no_jinja_suffix_left(project: Project) -> None:
    leftovers = [rel for rel in [*project.texts, *project.dirs] if ".jinja" in rel.name]
    assert not leftovers, f"{project.case}: {leftovers}"


def test_no_unrendered_jinja_in_contents(project: Project) -> None:
    problems: list[str] = []
    for rel, text in project.texts.items():
        for number, line in enumerate(text.splitlines(), start=1):
            where = f"{rel}:{number}: {line.strip()}"
            if is_workflow(rel):
                for match in GITHUB_EXPRESSION.finditer(line):
                    if QUESTION_REFERENCE.search(match["expr"]):
                        problems.append(f"{where} (a copier answer inside ${{{{ }}}})")
                line = GITHUB_EXPRESSION.sub("", line)
            elif is_monitoring_config(rel):
                for match in JUST_INTERPOLATION.finditer(line):
                    if QUESTION_REFERENCE.search(match["expr"]):
                        problems.append(f"{where} (a copier answer inside {{{{ }}}})")
                line = JUST_INTERPOLATION.sub("", line)
            elif is_just_file(rel) and "{{" in line:
                if not line[:1].isspace():
                    problems.append(f"{where} (just interpolates only in recipe bodies)")
                for match in JUST_INTERPOLATION.finditer(line):
                    if QUESTION_REFERENCE.search(match["expr"]):
                        problems.append(f"{where} (a copier answer inside {{{{ }}}})")
                line = JUST_INTERPOLATION.sub("", line)
            if any(marker in line for marker in JINJA_MARKERS):
                problems.append(where)
    assert not problems, f"{project.case}: unrendered Jinja:\n" + "\n".join(problems)


def test_structured_files_parse(project: Project) -> None:
    parsed = set()
    for rel, text in project.texts.items():
        try:
            if rel.suffix in {".yml", ".yaml"}:
                list(yaml.safe_load_all(text))
            elif rel.suffix == ".toml":
                tomllib.loads(text)
            elif rel.suffix == ".json":
                json.loads(text)
            elif str(rel) == ".dvc/config":
                configparser.ConfigParser().read_string(text)
            else:
                continue
        except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError, configparser.Error) as error:
            pytest.fail(f"{project.case}: {rel} does not parse: {error}")
        parsed.add(str(rel))
    assert {"pyproject.toml", ".copier-answers.yml", "params.yaml", "dvc.yaml"} <= parsed


def test_pyproject_matches_answers(project: Project) -> None:
    expected = project.expected
    data = project.pyproject()
    meta = data["project"]
    assert meta["name"] == expected["project_slug"]
    assert meta["description"] == expected["description"]
    assert meta["authors"] == [{"name": expected["author_name"], "email": expected["author_email"]}]
    assert meta["license"] == PYPROJECT_LICENSE[expected["license"]]
    assert meta["license-files"] == ["LICENSE"]
    assert meta["requires-python"] == f">={expected['python_version']}"
    assert meta["scripts"] == {project.package: f"{project.package}.cli:main"}
    assert data["tool"]["uv"]["build-backend"]["module-name"] == project.package
    assert data["tool"]["mypy"]["python_version"] == expected["python_version"]
    assert data["tool"]["ruff"]["target-version"] == "py" + expected["python_version"].replace(
        ".", ""
    )
    assert data["tool"]["coverage"]["run"]["source"] == [project.package]
    assert project.exists(f"src/{project.package}/__init__.py")
    assert {rel.parts[1] for rel in project.texts if rel.parts[0] == "src"} == {project.package}


def test_answers_reach_their_files(project: Project) -> None:
    expected = project.expected
    assert project.text("README.md").startswith(f"# {expected['project_name']}\n")
    assert expected["description"] in project.text("README.md")
    assert expected["project_name"] in project.text("CHANGELOG.md")
    init = project.text(f"src/{project.package}/__init__.py")
    assert init.startswith(f'"""{expected["description"]}"""\n')
    assert f'DISTRIBUTION = "{expected["project_slug"]}"' in init
    assert f'PACKAGE := "{project.package}"' in project.text("tasks/project.just")
    params = yaml.safe_load(project.text("params.yaml"))
    assert params["task"] == expected["problem_type"]
    assert params["registry"]["model_name"] == expected["project_slug"]
    assert params["tracking"]["experiment"] == expected["project_slug"]
    dataset = {"classification": "breast_cancer", "regression": "diabetes"}
    assert params["data"]["dataset"] == dataset[expected["problem_type"]]
    stages = yaml.safe_load(project.text("dvc.yaml"))["stages"]
    for name, stage in stages.items():
        command = f"uv run --frozen --no-dev --extra lifecycle {project.package} {name}"
        assert stage["cmd"] == command


def test_license_text(project: Project) -> None:
    expected = project.expected
    license_id = expected["license"]
    text = project.text("LICENSE")
    for phrase in LICENSE_TEXT[license_id]:
        assert phrase in text, f"{project.case}: LICENSE lacks {phrase!r}"
    for other, signature in LICENSE_SIGNATURE.items():
        if other != license_id:
            assert signature not in text, f"{project.case}: {license_id} LICENSE has {other} text"
    author, year = re.escape(expected["author_name"]), re.escape(expected["copyright_year"])
    assert re.search(rf"Copyright (?:\(c\) )?{year},? {author}\b", text), text[:400]
    assert not text.startswith("\n")
    assert text.endswith("\n")
    assert not text.endswith("\n\n")


def test_ci_files_follow_ci_provider(project: Project) -> None:
    provider = project.expected["ci_provider"]
    assert project.exists(".github/workflows/ci.yml") == (provider == "github")
    assert project.exists(".gitlab-ci.yml") == (provider == "gitlab")
    if provider != "github":
        assert not any(rel.parts[0] == ".github" for rel in [*project.texts, *project.dirs])


def test_model_module_follows_problem_type(project: Project) -> None:
    problem_type = project.expected["problem_type"]
    models = f"src/{project.package}/models"
    for kind in ("classification", "regression"):
        assert project.exists(f"{models}/{kind}.py") == (kind == problem_type)


def test_no_empty_files_or_directories(project: Project) -> None:
    empty_files = [
        rel for rel, text in project.texts.items() if not text and rel.name not in EMPTY_BY_DESIGN
    ]
    assert not empty_files, f"{project.case}: empty files {empty_files}"
    empty_dirs = [rel for rel in project.dirs if not any((project.path / rel).iterdir())]
    assert not empty_dirs, f"{project.case}: empty directories {empty_dirs}"
    # The marker that is empty on purpose really is the PEP 561 marker, where it belongs.
    assert project.text(f"src/{project.package}/py.typed") == ""


def test_python_files_compile(project: Project) -> None:
    sources = {rel: text for rel, text in project.texts.items() if rel.suffix == ".py"}
    assert any(rel.parts[:2] == ("src", project.package) for rel in sources)
    assert any(rel.parts[0] == "tests" for rel in sources)
    for rel, text in sources.items():
        try:
            compile(text, str(rel), "exec", dont_inherit=True)
        except SyntaxError as error:
            pytest.fail(f"{project.case}: {rel} does not compile: {error}")


def test_answers_file_records_every_answer(project: Project) -> None:
    recorded = yaml.safe_load(project.text(".copier-answers.yml"))
    assert {key for key in recorded if not key.startswith("_")} == set(QUESTIONS)
    assert {key: str(recorded[key]) for key in QUESTIONS} == project.expected
    assert recorded["_src_path"]
    assert recorded["_commit"]


def test_python_version_file(project: Project) -> None:
    assert project.text(".python-version") == f"{project.expected['python_version']}\n"


def test_no_identity_leaks(project: Project) -> None:
    answered = " ".join(project.expected.values())
    forbidden = {s for s in (*IDENTITY_STRINGS, *machine_identity()) if s not in answered}
    leaks = [
        f"{rel}: {needle!r}"
        for rel, text in project.texts.items()
        for needle in forbidden
        if needle in text or needle in str(rel)
    ]
    assert not leaks, f"{project.case}: identity leaked into the project:\n" + "\n".join(leaks)


def test_distinctive_answers_appear_where_expected(render_case: Callable[[str], Project]) -> None:
    project = render_case("distinctive")
    meta = project.pyproject()["project"]
    assert meta["authors"] == [{"name": "Zelda Quux", "email": "zelda@quux.example"}]
    assert meta["name"] == "zq-forecaster"
    assert meta["description"] == "Forecasts quux demand for the Zelda fleet."
    assert "Copyright (c) 2031, Zelda Quux" in project.text("LICENSE")
    readme = project.text("README.md")
    assert readme.startswith("# Quux Forecaster\n\nForecasts quux demand for the Zelda fleet.\n")
    assert "src/zq_forecast/models/regression.py" in readme
    assert project.exists("src/zq_forecast/models/regression.py")
    assert project.exists(".gitlab-ci.yml")
    # Default identities of the template never replace a given answer.
    everything = "\n".join(project.texts.values())
    for default in ("ML Team", "ml-team@example.com", "My Model", "my_model", "my-model"):
        assert default not in everything, default


#: The most lines a generated class may span; past it, split it by concern.
MAX_CLASS_LINES = 300


def _module_name(rel: PurePosixPath) -> str:
    parts = list(rel.relative_to("src").with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_at_load(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """What ``module`` imports when it is loaded: its top-level imports, not lazy ones.

    Imports under ``if TYPE_CHECKING:`` never run and imports inside functions run
    after every module is loaded, so neither can close a circle.
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    imported: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            source = ".".join([*base, *([node.module] if node.module else [])])
            imported.add(source)
            imported.update(f"{source}.{alias.name}" for alias in node.names)
    return imported


def _circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle in ``graph`` (module -> the modules it imports), if any."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for target in sorted(graph[module]):
            found = visit(target, [*path, module])
            if found:
                return found
        done.add(module)
        return None

    for module in sorted(graph):
        found = visit(module, [])
        if found:
            return found
    return None


def test_the_package_has_no_import_circle_and_no_oversized_class(project: Project) -> None:
    trees = {
        rel: ast.parse(text)
        for rel, text in project.texts.items()
        if rel.suffix == ".py" and rel.parts[:2] == ("src", project.package)
    }
    modules = {_module_name(rel): rel for rel in trees}
    graph = {
        name: _imported_at_load(trees[rel], name, rel.name == "__init__.py") & modules.keys()
        for name, rel in modules.items()
    }
    for name in graph:
        graph[name].discard(name)
    circle = _circle(graph)
    assert circle is None, f"{project.case}: import circle: {' -> '.join(circle or [])}"
    oversized = [
        f"{rel}: {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for rel, tree in trees.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES
    ]
    assert not oversized, f"{project.case}: classes over {MAX_CLASS_LINES} lines: {oversized}"
