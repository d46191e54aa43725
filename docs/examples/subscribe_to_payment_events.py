"""The Booking service subscribing to disputes of its bookings (docs/api.md, "Payment events for other services")."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs

from payment_stack.payment.stack import PaymentStack


def subscribe_to_disputes(payment_stack: PaymentStack, booking_stack: Stack) -> sqs.Queue:
    """A queue in ``booking_stack`` that receives the payment events of disputes; returns the queue."""
    queue = sqs.Queue(booking_stack, "DisputesQueue", enforce_ssl=True, encryption=sqs.QueueEncryption.SQS_MANAGED)
    payment_stack.payment_events.subscribe(
        booking_stack,
        "BookingDisputes",
        detail_types=["Payment Disputed", "Dispute Closed"],
        targets=[targets.SqsQueue(queue)],
    )
    return queue
