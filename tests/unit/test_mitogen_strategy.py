"""Unit tests for strategy_plugins/mitogen_linear.py's CPU placement."""

from __future__ import annotations

import importlib.util
import os
from types import SimpleNamespace

import ansible_mitogen.affinity
import pytest

from conftest import PROJECT_ROOT


def load_strategy_module():
    path = PROJECT_ROOT / "strategy_plugins" / "mitogen_linear.py"
    spec = importlib.util.spec_from_file_location("tier_mitogen_linear", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STRATEGY = load_strategy_module()


def fake_affinity(cpu_count):
    """Return a stand-in for ansible_mitogen.affinity with a pinning policy for cpu_count CPUs."""
    pinning = ansible_mitogen.affinity.LinuxPolicy(cpu_count=cpu_count)
    return SimpleNamespace(policy=pinning, Policy=ansible_mitogen.affinity.Policy)


@pytest.mark.parametrize("cpu_count", [1, 2, 3])
def test_small_machine_is_unpinned(cpu_count):
    affinity = fake_affinity(cpu_count)

    STRATEGY.unpin_small_machines(affinity)

    assert type(affinity.policy) is ansible_mitogen.affinity.Policy


@pytest.mark.parametrize("cpu_count", [4, 16])
def test_large_machine_keeps_pinning(cpu_count):
    affinity = fake_affinity(cpu_count)
    pinning = affinity.policy

    STRATEGY.unpin_small_machines(affinity)

    assert affinity.policy is pinning


def test_policy_without_cpu_count_is_kept():
    # Mitogen's base Policy, used where sched_setaffinity is missing, pins nothing.
    affinity = SimpleNamespace(policy=ansible_mitogen.affinity.Policy(), Policy=ansible_mitogen.affinity.Policy)
    policy = affinity.policy

    STRATEGY.unpin_small_machines(affinity)

    assert affinity.policy is policy


def test_unpinned_worker_keeps_cpu_mask():
    affinity = fake_affinity(2)
    STRATEGY.unpin_small_machines(affinity)
    mask = os.sched_getaffinity(0)

    affinity.policy.assign_worker()
    affinity.policy.assign_muxprocess(0)

    assert os.sched_getaffinity(0) == mask


def test_strategy_module_is_mitogens():
    from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

    assert STRATEGY.StrategyModule is StrategyModule
