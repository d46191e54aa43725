"""What a service reusing ``BookingWorkflow`` brings: its own booking steps, and where Collect and Refund are.

``BookingSteps`` holds custom tasks that replace built-in ones (checked at synth time by ``check_custom_steps``);
``PaymentFunctions`` finds the Collect and Refund functions, as objects or through the payment stack's SSM
parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from aws_cdk import Token
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from payment_stack.booking.states import BOOKING_RESERVATION_PATH, SEAT_RESERVATION_PATH, WORKFLOW_KEYS
from payment_stack.names import function_parameter_name


@dataclass(frozen=True, kw_only=True)
class BookingSteps:
    """Tasks the Booking service may bring instead of the built-in DynamoDB and SNS ones (``None``: built-in).

    The workflow gives each custom task the Retry of the step it replaces (after any Retry the task already has) and
    the step's Catch, so a custom task must have no Catch of its own. It must set ``task_timeout``, keep the
    state (``result_path=sfn.JsonPath.DISCARD`` or a sub-path of its own, never ``$`` and never a key the workflow
    uses) and use JSONPath. ``reserve_flight`` must write to ``$.seatReservation`` and ``reserve_booking`` to
    ``$.bookingReservation``: the compensation gives back only what these markers say was taken. ``reserve_flight``
    also puts the flight's DynamoDB attribute map at ``$.seatReservation.flight`` (UpdateItem's ``Attributes`` with
    ``ReturnValues=ALL_NEW``), with at least ``ticketPrice`` ``{"N": ...}`` (smallest currency unit) and
    ``ticketCurrency`` ``{"S": ...}``: the fare Collect captures; without it the booking fails with
    ``FareUnavailable``. The state holds ``bookingId`` (the execution name), the input fields, from
    ``reserve_booking`` on ``$.fare`` (``{"amount", "currency"}``), for ``confirm_booking`` the new reference at
    ``$.confirmation.bookingReference``; the compensation steps also see the failure at ``$.error``.
    """

    reserve_flight: sfn.TaskStateBase | None = None
    reserve_booking: sfn.TaskStateBase | None = None
    confirm_booking: sfn.TaskStateBase | None = None
    cancel_booking: sfn.TaskStateBase | None = None
    release_seat: sfn.TaskStateBase | None = None
    notify_confirmed: sfn.TaskStateBase | None = None
    notify_failed: sfn.TaskStateBase | None = None


# Where each step must write its result (None: anywhere that keeps the state).
_REQUIRED_RESULT_PATHS = {"reserve_flight": SEAT_RESERVATION_PATH, "reserve_booking": BOOKING_RESERVATION_PATH}


class PaymentFunctions:
    """How the workflow finds the Collect and Refund functions: as objects, or by environment name through SSM."""

    def __init__(self, resolve: Callable[[Construct], tuple[lambda_.IFunction, lambda_.IFunction]]) -> None:
        """Prefer ``from_functions`` or ``from_ssm``; ``resolve(scope)`` returns ``(collect, refund)``."""
        self._resolve = resolve

    @classmethod
    def from_functions(cls, *, collect: lambda_.IFunction, refund: lambda_.IFunction) -> PaymentFunctions:
        """The functions themselves, e.g. from ``BookingPaymentFunctions`` in the same app."""
        return cls(lambda _scope: (collect, refund))

    @classmethod
    def from_ssm(cls, *, env_name: str) -> PaymentFunctions:
        """The functions whose ARNs ``Payment-<env_name>`` publishes in ``/<env>/service/payment/function/...``.

        The ARNs are resolved by CloudFormation at deploy time (``AWS::SSM::Parameter::Value<String>`` template
        parameters), so the consuming stack has no hard reference to the payment stack.
        """

        def resolve(scope: Construct) -> tuple[lambda_.IFunction, lambda_.IFunction]:
            collect_arn = ssm.StringParameter.value_for_string_parameter(
                scope, function_parameter_name(env_name, "collect")
            )
            refund_arn = ssm.StringParameter.value_for_string_parameter(
                scope, function_parameter_name(env_name, "refund")
            )
            return (
                lambda_.Function.from_function_arn(scope, "CollectFunction", collect_arn),
                lambda_.Function.from_function_arn(scope, "RefundFunction", refund_arn),
            )

        return cls(resolve)

    def resolve(self, scope: Construct) -> tuple[lambda_.IFunction, lambda_.IFunction]:
        """``(collect, refund)``, with any imports created in ``scope``."""
        return self._resolve(scope)


def check_custom_steps(steps: BookingSteps) -> None:
    """Refuse, at synth time, a custom task that would break the saga (see ``BookingSteps``).

    Raises ``ValueError`` naming the step and every problem found.
    """
    for field in fields(steps):
        task = getattr(steps, field.name)
        if task is None:
            continue
        problems = _problems_of(field.name, task.to_state_json())
        if problems:
            raise ValueError(f"BookingSteps.{field.name}: {'; '.join(problems)}")


def _problems_of(step: str, state: Mapping[Any, Any]) -> list[str]:
    problems = []
    if "Catch" in state:
        problems.append("it has a Catch of its own (the workflow adds the compensation's)")
    if "TimeoutSeconds" not in state and "TimeoutSecondsPath" not in state:
        problems.append("it sets no task_timeout")
    if state.get("QueryLanguage", "JSONPath") != "JSONPath":
        problems.append("it is not JSONPath")
    if state.get("OutputPath", "$") != "$":
        problems.append("its output_path drops part of the state")
    result_path = state.get("ResultPath", "$")
    required = _REQUIRED_RESULT_PATHS.get(step)
    if required is not None and result_path != required:
        problems.append(f"its result_path must be {required!r} (the compensation reads it)")
    elif required is None and not _keeps_state(result_path):
        problems.append("its result_path must be sfn.JsonPath.DISCARD or a sub-path not used by the workflow")
    return problems


def _keeps_state(result_path: object) -> bool:
    if result_path is None or (isinstance(result_path, str) and result_path == sfn.JsonPath.DISCARD):
        return True
    if not isinstance(result_path, str) or Token.is_unresolved(result_path) or not result_path.startswith("$."):
        return False
    top_level = result_path[2:].split(".", 1)[0].split("[", 1)[0]
    return top_level not in WORKFLOW_KEYS
