"""The application layer: the ``culto`` command line and its roles, the composition root.

The only package that builds and wires components; nothing below it imports it (the layer
contract in ``pyproject.toml``, checked by ``lint-imports``).
"""
