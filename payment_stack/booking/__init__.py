"""The ``Booking-<env>`` component: the booking saga other services may reuse, its stack and its monitoring.

``workflow`` (the ``BookingWorkflow`` construct: its resources and public API, ``BookingSteps`` and
``PaymentFunctions`` included), ``extension`` (what a reusing service brings: custom steps, where Collect and Refund
are), ``saga`` (the state graph), ``tasks`` (the built-in tasks), ``states`` (state and error names, where things
live in the state), ``timing`` (timeouts, retry budgets and what they add up to), ``monitoring`` (dashboard and
alarms, the dead-letter queue's included) and ``stack`` (``Booking-<env>``).
"""
