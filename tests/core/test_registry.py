"""The module registry: demo step ordering, and every scenario package is registered."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest

import xingcheng
from xingcheng.core.registry import DemoStep, Module, order_demo_steps
from xingcheng.modules import MODULES


def _noop(session, ctx):  # type: ignore[no-untyped-def]
    return None


def test_steps_run_after_their_dependencies_in_declaration_order():
    a = Module("a", demo_steps=[DemoStep("people", _noop, depends_on=("divisions",))])
    b = Module("b", demo_steps=[DemoStep("divisions", _noop), DemoStep("firms", _noop, depends_on=("people",))])
    assert [s.name for s in order_demo_steps([a, b])] == ["divisions", "people", "firms"]


def test_cycles_and_unknown_dependencies_are_reported():
    cyclic = Module("c", demo_steps=[DemoStep("x", _noop, depends_on=("y",)), DemoStep("y", _noop, depends_on=("x",))])
    with pytest.raises(ValueError, match="cycle"):
        order_demo_steps([cyclic])
    with pytest.raises(ValueError, match="which no module declares"):
        order_demo_steps([Module("d", demo_steps=[DemoStep("x", _noop, depends_on=("nowhere",))])])


def test_every_package_with_a_module_declaration_is_registered():
    root = Path(xingcheng.__file__).parent
    declared = {
        ".".join(path.relative_to(root).with_suffix("").parts[:-1])
        for path in root.rglob("module.py")
    }
    registered = {m.__class__.__module__ for m in MODULES}  # Module instances are dataclasses from core
    names = {m.name for m in MODULES}
    assert len(names) == len(MODULES), "module names must be unique"
    # Each package's module.py must be imported by xingcheng.modules.
    import xingcheng.modules as modules_file

    source = Path(modules_file.__file__).read_text()
    for package in declared:
        assert f"xingcheng.{package}.module import" in source, f"xingcheng.{package} declares a module but is not registered"
    assert registered == {"xingcheng.core.registry"}


def test_every_package_with_an_api_declares_a_module():
    root = Path(xingcheng.__file__).parent
    for info in pkgutil.walk_packages([str(root)], prefix="xingcheng."):
        package_dir = root.joinpath(*info.name.split(".")[1:])
        if info.ispkg and (package_dir / "api.py").exists() and info.name not in {"xingcheng.core.identity", "xingcheng.core.notifications", "xingcheng.core.audit", "xingcheng.core.grants"}:
            assert (package_dir / "module.py").exists(), f"{info.name} has api.py but no module.py"


def test_demo_steps_of_the_registered_modules_resolve():
    names = [s.name for s in order_demo_steps(MODULES)]
    assert names.index("divisions") < names.index("departments") < names.index("persons")
