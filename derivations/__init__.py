"""The bundled derivations, installed as the package ``symderive.derivations``.

This folder stays the source of the bundled specs (``*.toml``); pyproject.toml maps
the package ``symderive.derivations`` here so that wheels, sdists and editable
installs carry them, and ``symderive.sources`` finds them with
importlib.resources.  (This file makes the folder a regular package: editable
installs cannot map a nested namespace package.)
"""
