"""What the booking saga is expected to look like, shared by the tests of its definition and of its timeline."""

from __future__ import annotations

# The states of a confirmed booking, in the order the execution visits them (the old saga's order, the fare read
# right after the seat).
FORWARD_PATH = (
    "Validate Input",
    "Prepare Booking",
    "Reserve Flight",
    "Fare Valid?",
    "Read Fare",
    "Reserve Booking",
    "Collect Payment",
    "Create Booking Reference",
    "Confirm Booking",
    "Notify Booking Confirmed",
    "Booking Confirmed",
)
