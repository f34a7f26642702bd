"""Unit tests for strategy_plugins/mitogen_linear.py's CPU placement."""

from __future__ import annotations

import importlib.util
from types import ModuleType, SimpleNamespace

import ansible_mitogen.affinity
import ansible_mitogen.strategy
import pytest

from conftest import PROJECT_ROOT


def load_strategy_module() -> ModuleType:
    path = PROJECT_ROOT / "strategy_plugins" / "mitogen_linear.py"
    spec = importlib.util.spec_from_file_location("tier_mitogen_linear", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def pinning_policy(monkeypatch):
    """Give Mitogen a 2-CPU pinning policy for one test, and restore its own afterwards."""
    policy = ansible_mitogen.affinity.LinuxPolicy(cpu_count=2)
    monkeypatch.setattr(ansible_mitogen.affinity, "policy", policy)
    return policy


def fake_affinity(cpu_count: int) -> SimpleNamespace:
    """Return a stand-in for ansible_mitogen.affinity with a pinning policy for cpu_count CPUs."""
    pinning = ansible_mitogen.affinity.LinuxPolicy(cpu_count=cpu_count)
    return SimpleNamespace(policy=pinning, Policy=ansible_mitogen.affinity.Policy)


def test_loading_plugin_unpins_mitogen(pinning_policy):
    load_strategy_module()

    assert type(ansible_mitogen.affinity.policy) is ansible_mitogen.affinity.Policy
    # Mitogen's worker start-up reads the policy through this module.
    assert ansible_mitogen.strategy.ansible_mitogen.affinity.policy is ansible_mitogen.affinity.policy


@pytest.mark.parametrize("cpu_count", [1, 2, 3])
def test_small_machine_is_unpinned(pinning_policy, cpu_count):
    strategy = load_strategy_module()
    affinity = fake_affinity(cpu_count)

    strategy.unpin_small_machines(affinity)

    assert type(affinity.policy) is ansible_mitogen.affinity.Policy


@pytest.mark.parametrize("cpu_count", [4, 16])
def test_large_machine_keeps_pinning(pinning_policy, cpu_count):
    strategy = load_strategy_module()
    affinity = fake_affinity(cpu_count)
    pinning = affinity.policy

    strategy.unpin_small_machines(affinity)

    assert affinity.policy is pinning


def test_policy_without_cpu_count_is_kept(pinning_policy):
    # Mitogen's base Policy, used where sched_setaffinity is missing, pins nothing.
    strategy = load_strategy_module()
    policy = ansible_mitogen.affinity.Policy()
    affinity = SimpleNamespace(policy=policy, Policy=ansible_mitogen.affinity.Policy)

    strategy.unpin_small_machines(affinity)

    assert affinity.policy is policy


def test_strategy_module_is_mitogens(pinning_policy):
    from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

    assert load_strategy_module().StrategyModule is StrategyModule
