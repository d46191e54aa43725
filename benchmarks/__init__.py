"""Performance harness of the payment service: cold start, first and warm invocation, SSM reads, connections, bundles.

``python -m benchmarks.run [--quick]`` (``make bench`` / ``make bench-quick``) measures on this machine and writes
``benchmarks/results.json``. Everything runs on 127.0.0.1: local stub servers stand in for Stripe, the payment API
and AWS (moto), and their time is subtracted from what the handlers are charged with.
"""
