"""The payment service's CDK app, laid out by component.

- ``payment/``: the ``Payment-<env>`` stack, its constructs and monitoring;
- ``booking/``: the booking saga (``BookingWorkflow``), the ``Booking-<env>`` stack and its monitoring;
- shared building blocks here: ``app_builder`` (both stacks of an environment), ``environment`` (which environment),
  ``config`` (its settings), ``names`` (names other components rely on; standard library only), ``alarms`` (what
  every dashboard and alarm shares), ``payment_function`` (one Python Lambda function) with ``bundling``,
  ``bundle_bytecode`` (run as a script, standard library only) and ``powertools_layer``, ``encryption`` (the log
  groups' KMS key), ``roles`` (roles with managed policies), ``compliance`` (cdk-nag on every synth) and
  ``suppressions`` (the accepted findings).
"""
