"""The layers keep to their side: rules and use cases know nothing of HTTP, and ``shared/`` never
reaches up into a service.

Every ``domain/`` and ``service/`` module of every service, and the whole ILR engine (pure
domain), is read as source: none may import FastAPI or Starlette (or the platform's HTTP error
module), name ``ApiError``, ``HTTPException`` or ``HTTPStatus``, or raise with a status code. They
raise the domain errors of ``ilrflow.contracts.errors``; the platform maps those to statuses once.
Nothing under ``shared/contracts`` or ``shared/platform`` imports a service package or the CLI.
The benchmarks (``bench/``) and the local tooling (``deploy/local/``) never import ``tests/``: the
tests may use them, not the other way round.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"
ENGINE = SERVICES / "ilr" / "engine" / "src" / "ilrflow" / "ilr_engine"

# platform.auth is the FastAPI dependency that reads bearer tokens; the principal itself is a
# contract (ilrflow.contracts.identity).
HTTP_MODULES = ("fastapi", "starlette", "ilrflow.platform.http_errors", "ilrflow.platform.auth")
HTTP_NAMES = frozenset({"ApiError", "HTTPException", "HTTPStatus"})
STATUS_KEYWORDS = frozenset({"status", "status_code", "http_status"})
# A tracker's ``status`` (raised, allocated, ...) is domain language; a status *code* is HTTP's.
STATUS_NAMES = frozenset({"status_code", "http_status"})


def domain_and_service_modules() -> list[Path]:
    layered = [
        path
        for package in sorted(SERVICES.glob("*/src/ilrflow/*"))
        for layer in ("domain", "service")
        for path in sorted((package / layer).rglob("*.py"))
    ]
    return layered + sorted(ENGINE.rglob("*.py"))


def service_packages() -> set[str]:
    """``ilrflow.<name>`` of every service and of the ILR engine, and the CLI."""
    names = {package.name for package in SERVICES.glob("*/src/ilrflow/*") if package.is_dir()}
    return {f"ilrflow.{name}" for name in names | {ENGINE.name, "ops"}}


def imported_modules(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _is_within(module: str, packages: tuple[str, ...] | set[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _http_status_in_raise(node: ast.Raise) -> list[str]:
    found = []
    for part in ast.walk(node):
        if isinstance(part, ast.keyword) and part.arg in STATUS_KEYWORDS:
            found.append(f"raises with {part.arg}=")
        if isinstance(part, ast.Name | ast.Attribute):
            name = part.id if isinstance(part, ast.Name) else part.attr
            if name in STATUS_NAMES:
                found.append(f"raises with {name}")
        if isinstance(part, ast.Call):
            for argument in part.args:
                value = argument.value if isinstance(argument, ast.Constant) else None
                if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
                    found.append(f"raises with the HTTP status {value}")
    return found


def http_leaks(source: str) -> list[str]:
    """What in ``source`` knows about HTTP: imports, names and statuses in raises."""
    tree = ast.parse(source)
    leaks = [
        f"imports {module}" for module in imported_modules(tree) if _is_within(module, HTTP_MODULES)
    ]
    for node in ast.walk(tree):
        name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
        if isinstance(node, ast.Name | ast.Attribute) and name in HTTP_NAMES:
            leaks.append(f"names {name} (line {node.lineno})")
        if isinstance(node, ast.Raise):
            leaks.extend(f"{leak} (line {node.lineno})" for leak in _http_status_in_raise(node))
    return leaks


def test_the_walk_finds_every_layer_of_every_service() -> None:
    modules = domain_and_service_modules()
    owners = {path.relative_to(SERVICES).parts[0] for path in modules}
    assert owners == {"audit", "ilr", "learner", "notify", "tracker", "web"}
    assert any(path.is_relative_to(ENGINE) for path in modules)
    assert len(modules) > 40


@pytest.mark.parametrize(
    "source",
    [
        "from fastapi import HTTPException",
        "import starlette.status",
        "from ilrflow.platform.http_errors import ApiError",
        "from ilrflow.platform import http_errors",
        "raise ApiError(409, 'conflict', 'x')",
        "raise Refused('x', status_code=403)",
        "raise Refused(404)",
        "raise Problem('x', status=error.status_code)",
        "raise Problem('x', http_status)",
    ],
)
def test_the_check_sees_http_in_a_layer(source: str) -> None:
    assert http_leaks(source)


def test_the_check_lets_domain_errors_and_ilr_codes_through() -> None:
    source = (
        "from ilrflow.contracts.errors import Conflict\n"
        "status_code = employment_status(10)\n"
        "raise Conflict('The ILR changed meanwhile; try again.', code='conflict')\n"
        "raise IllegalTransition(self.status, 'process')\n"
        "raise ChangeRejectedError(f'EmpStat {status_code} is not paid employment')\n"
    )
    assert http_leaks(source) == ["raises with status_code (line 5)"]
    assert http_leaks(source.replace("{status_code}", "{code}")) == []


def test_no_domain_or_service_module_knows_about_http() -> None:
    leaks = {
        str(path.relative_to(ROOT)): found
        for path in domain_and_service_modules()
        if (found := http_leaks(path.read_text()))
    }
    assert leaks == {}


@pytest.mark.parametrize("package", ["contracts", "platform"])
def test_shared_packages_never_import_a_service_or_the_cli(package: str) -> None:
    upward = service_packages()
    modules = sorted((ROOT / "shared" / package / "src").rglob("*.py"))
    assert modules
    found = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(ast.parse(path.read_text())) if _is_within(m, upward)
        )
        for path in modules
    }
    assert {path: imports for path, imports in found.items() if imports} == {}


def imports_of_tests(source: str) -> list[str]:
    return sorted(m for m in imported_modules(ast.parse(source)) if _is_within(m, ("tests",)))


@pytest.mark.parametrize(
    "source",
    [
        "from tests.faults.harness import call",
        "from tests.e2e import helpers",
        "import tests.e2e.test_audit_scale",
        "from tests import conftest",
    ],
)
def test_the_check_sees_an_import_of_tests(source: str) -> None:
    assert imports_of_tests(source)


def test_the_check_lets_a_module_named_like_tests_through() -> None:
    assert imports_of_tests("import testsuite\nfrom bench.tests_like import x\n") == []


@pytest.mark.parametrize("folder", ["bench", "deploy/local"])
def test_tooling_never_imports_the_tests(folder: str) -> None:
    modules = sorted((ROOT / folder).rglob("*.py"))
    assert modules
    found = {
        str(path.relative_to(ROOT)): imports_of_tests(path.read_text())
        for path in modules
        if ".stack" not in path.parts
    }
    assert {path: imports for path, imports in found.items() if imports} == {}
