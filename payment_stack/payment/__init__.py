"""The ``Payment-<env>`` component: its stack (``stack``), its constructs and its monitoring.

``api`` (the REST API and its one function; ``api_gateway`` its API Gateway settings, ``waf`` AWS WAF in front,
``stripe_secrets`` the Stripe SecureStrings' read grant), ``ledger`` (the payment table), ``events`` (the payment
event bus and its publisher), ``booking_functions`` (Collect and Refund, published in SSM), ``hold_sweeper`` (the
abandoned-hold sweeper), ``monitoring`` and ``event_monitoring`` (dashboard and alarms).
"""
