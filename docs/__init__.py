"""The documentation's code examples live in ``docs.examples`` (a package, so mypy and the tests see one name)."""
