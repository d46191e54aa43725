"""The local console: flights, a Stripe.js checkout, bookings followed live and each payment's story, on one page.

``server.ConsoleServer`` serves ``static/`` and a small JSON API over the running local mode (``reads``), plus a
stand-in for the old Booking service's API (``booking_api``) that starts booking executions as it did.
"""
