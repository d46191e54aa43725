"""Test helpers, one module per topic, named by what they help with (imported as ``tests.support.<topic>``).

Fixtures shared across tiers live in ``tests/fixtures`` (registered by ``tests/conftest.py``); everything else a test
imports besides the code under test is here.
"""
