"""Mitogen's linear strategy, loadable by name from this project.

Opt in per run with ``ANSIBLE_STRATEGY=mitogen_linear``. Mitogen keeps one
Python interpreter per host and sends modules to it, in place of a new
process for every task. It takes over only connections set by their short
names (``ssh``, ``docker``, ``local`` and a few more), so a connection
written out in full, like ``community.docker.docker``, runs without it.

The plugin itself ships in the ``mitogen`` package (requirements.txt). Its
path under site-packages depends on the Python version, so this module
imports it, and ansible.cfg's ``strategy_plugins`` points here.

NOTE: ansible-core 2.19 warns that strategy plugins from outside
ansible.builtin are deprecated and may stop loading in a later release. The
toolkit therefore keeps the builtin linear strategy as its default.
"""

import ansible_mitogen.affinity
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]

# Below this many CPUs, Mitogen 0.3.54 gives the controller no CPU of its own.
PINNING_MIN_CPUS = 4


def unpin_small_machines(affinity=ansible_mitogen.affinity):
    """Turn off Mitogen's CPU pinning on machines with fewer than 4 CPUs.

    Mitogen 0.3.54 pins its connection process to CPU 0 and, with fewer than
    4 CPUs, the controller and every worker to the CPUs left over. On 2 CPUs
    that is one CPU for all of Ansible's own processes, and lab re-runs of
    site.yml took about 30 % longer (docs/benchmarks.md). Mitogen looks
    up ``affinity.policy`` at each call, so the replacement applies to every
    process it starts later.

    NOTE: measured on 2 CPUs only. Like Mitogen, this counts every CPU of
    the machine, also where a cpuset lets Ansible use fewer.
    """
    cpu_count = getattr(affinity.policy, "cpu_count", None)
    if cpu_count is not None and cpu_count < PINNING_MIN_CPUS:
        affinity.policy = affinity.Policy()


unpin_small_machines()
