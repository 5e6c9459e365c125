"""The suite's root conftest. What the tests share (fixtures, builders, layers, reliability figures) lives in the
``tests.support`` package, registered here as a plugin; see tests/support/__init__.py."""

pytest_plugins = ["tests.support.plugin"]
