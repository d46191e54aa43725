"""Code examples the docs show: real modules that ruff and mypy check and ``tests/unit/test_docs_examples.py`` builds.

Each Markdown excerpt of an example names its file; the test keeps the excerpt equal to the file's lines. Importing
an example creates nothing: each one is a function or a class to call.
"""
