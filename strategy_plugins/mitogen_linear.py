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

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]
