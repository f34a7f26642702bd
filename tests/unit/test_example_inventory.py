"""The example inventory shows the roles' defaults, apart from deliberate examples.

Operators copy inventory/example/ as a starting point, so a value there that
silently differs from a role default becomes a production setting that
the operator never chose.
"""

from pathlib import Path

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_VARS = sorted((PROJECT_ROOT / "inventory" / "example").glob("**/group_vars/*.yml"))

# Variables that the example sets to sample values on purpose, because their
# defaults fit no real site: the vhost names and extra php.ini settings.
DELIBERATE_EXAMPLES = {"apache_vhosts", "php_extra_ini"}


def role_defaults():
    """Map every variable in roles/*/defaults/main.yml to its default value."""
    defaults = {}
    for path in sorted((PROJECT_ROOT / "roles").glob("*/defaults/main.yml")):
        defaults.update(yaml.safe_load(path.read_text()) or {})
    return defaults


def test_example_vars_found():
    assert EXAMPLE_VARS


@pytest.mark.parametrize("path", EXAMPLE_VARS, ids=lambda path: path.name)
def test_example_matches_defaults(path):
    defaults = role_defaults()
    example = yaml.safe_load(path.read_text()) or {}
    differing = {
        name: (value, defaults[name])
        for name, value in example.items()
        if name in defaults and name not in DELIBERATE_EXAMPLES and value != defaults[name]
    }
    assert differing == {}, "example value, role default: " + repr(differing)
