"""CDK assertions on the booking workflow: the saga's definition (states, Retry, Catch, timeouts), the Booking-<env>
stack around it, and custom booking steps. The definition is read from the template, never from hashed logical ids.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import botocore.session
import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk.assertions import Match, Template

from lambdas.shared.payment_errors import PaymentError
from payment_stack.app_builder import AppStacks, build_stacks
from payment_stack.booking.states import (
    DYNAMODB_RETRYABLE_ERRORS,
    PAYMENT_RETRYABLE_ERRORS,
    SNS_RETRYABLE_ERRORS,
    SQS_RETRYABLE_ERRORS,
)
from payment_stack.booking.workflow import BookingSteps, BookingWorkflow, PaymentFunctions
from payment_stack.config import PaymentConfig, load_config
from tests.support.booking import FORWARD_PATH
from tests.support.cdk import CDK_JSON_CONTEXT, make_app
from tests.support.iam import statements_of_role
from tests.support.templates import regional_arn

ENV = "feature/x"
SANITISED_ENV = "feature-x"
COLLECT_PARAMETER = f"/{SANITISED_ENV}/service/payment/function/collect"
REFUND_PARAMETER = f"/{SANITISED_ENV}/service/payment/function/refund"

FORWARD_TASKS = ["Reserve Flight", "Reserve Booking", "Collect Payment", "Confirm Booking", "Notify Booking Confirmed"]
# (compensation task, where its error goes, its dead-letter state, the state after it)
COMPENSATION_STEPS = [
    ("Refund Payment", "$.refundError", "Send Refund To DLQ", "Booking Reserved?"),
    ("Cancel Booking", "$.cancelBookingError", "Send Cancel Booking To DLQ", "Seat Reserved?"),
    ("Release Flight Seat", "$.releaseSeatError", "Send Release Flight Seat To DLQ", "Notify Booking Failed"),
    ("Notify Booking Failed", "$.notifyFailedError", "Send Notify Booking Failed To DLQ", "Compensation Recorded?"),
]
ALL_STATES = {
    *FORWARD_PATH,
    "Invalid Booking Input",
    "Fare Unavailable",
    "Refund Payment",
    "Send Refund To DLQ",
    "Booking Reserved?",
    "Cancel Booking",
    "Send Cancel Booking To DLQ",
    "Seat Reserved?",
    "Release Flight Seat",
    "Send Release Flight Seat To DLQ",
    "Notify Booking Failed",
    "Send Notify Booking Failed To DLQ",
    "Compensation Recorded?",
    "Booking Failed",
    "Compensation Not Recorded",
}

# Per service: the workflow's list of its retryable errors, the codes of the service's API model that list retries
# (throttling and server errors), and the names of the Java SDK's own exceptions that Step Functions reports the same
# way ("<Service>.<name>": a client-side failure, a catch-all class), which no API model declares.
RETRYABLE_ERRORS = {
    "Lambda": (
        PAYMENT_RETRYABLE_ERRORS,
        {"ServiceException", "TooManyRequestsException"},
        {"AWSLambdaException", "SdkClientException"},
    ),
    "DynamoDB": (
        DYNAMODB_RETRYABLE_ERRORS,
        {
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
            "InternalServerError",
        },
        {"InternalServerErrorException", "SdkClientException"},
    ),
    "SNS": (
        SNS_RETRYABLE_ERRORS,
        {"ThrottledException", "KMSThrottlingException", "InternalErrorException"},
        {"SdkClientException"},
    ),
    "SQS": (SQS_RETRYABLE_ERRORS, set(), {"AmazonSQSException", "SdkClientException"}),
}
BOTOCORE_MODEL_NAMES = {"Lambda": "lambda", "DynamoDB": "dynamodb", "SNS": "sns", "SQS": "sqs"}
# (states, the errors they retry, MaxAttempts): the table of docs/workflow.md, "Retries"
RETRY_GROUPS = [
    (("Collect Payment",), PAYMENT_RETRYABLE_ERRORS, 3),
    (("Refund Payment",), PAYMENT_RETRYABLE_ERRORS, 6),
    (("Reserve Flight", "Reserve Booking", "Confirm Booking"), DYNAMODB_RETRYABLE_ERRORS, 3),
    (("Cancel Booking", "Release Flight Seat"), DYNAMODB_RETRYABLE_ERRORS, 6),
    (("Notify Booking Confirmed",), SNS_RETRYABLE_ERRORS, 3),
    (("Notify Booking Failed",), SNS_RETRYABLE_ERRORS, 6),
    (tuple(dead_letter for _, _, dead_letter, _ in COMPENSATION_STEPS), SQS_RETRYABLE_ERRORS, 6),
]
# (state, retried errors, MaxAttempts)
RETRIES = [(name, errors, max_attempts) for names, errors, max_attempts in RETRY_GROUPS for name in names]
FINAL_ERRORS = {
    "PaymentDeclined",
    "InvalidPaymentRequest",
    "PaymentConflict",
    "PaymentNotFound",
    "PaymentForbidden",
    "UnexpectedPaymentResponse",
    "DynamoDB.ConditionalCheckFailedException",
    "States.ALL",
    "States.TaskFailed",
}


def stacks_for(env: str = ENV, **context: Any) -> AppStacks:
    return build_stacks(make_app(env=env, **context), environ={})


@pytest.fixture(scope="module")
def stacks() -> AppStacks:
    return stacks_for()


@pytest.fixture(scope="module")
def template(stacks: AppStacks) -> Template:
    return Template.from_stack(stacks.booking)


@pytest.fixture(scope="module")
def states(template: Template) -> dict[str, Any]:
    result: dict[str, Any] = definition_of(template)["States"]
    return result


def only_resource(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {
        key: dict(value) for key, value in template.find_resources(resource_type).items()
    }
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def logical_ids(template: Template, resource_type: str) -> set[str]:
    return set(template.find_resources(resource_type))


def render(value: Any) -> str:
    """A DefinitionString part as text: literal strings as they are, a Ref as ``${Id}``, a GetAtt as ``${Id.Attr}``."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return "${" + str(value["Ref"]) + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    raise AssertionError(f"unexpected token in the definition: {value!r}")


def definition_of(template: Template) -> dict[str, Any]:
    """The state machine's definition: its ``Fn::Join`` with every token replaced by a placeholder, parsed."""
    _, state_machine = only_resource(template, "AWS::StepFunctions::StateMachine")
    separator, parts = state_machine["Properties"]["DefinitionString"]["Fn::Join"]
    result: dict[str, Any] = json.loads(str(separator).join(render(part) for part in parts))
    return result


def ssm_parameter_id(template: Template, name: str) -> str:
    found = [
        parameter_id
        for parameter_id, parameter in template.to_json()["Parameters"].items()
        if parameter.get("Default") == name
    ]
    assert len(found) == 1, f"expected one template parameter for {name}, found {found}"
    return str(found[0])


def role_statements(template: Template) -> list[dict[str, Any]]:
    _, state_machine = only_resource(template, "AWS::StepFunctions::StateMachine")
    return statements_of_role(template, state_machine["Properties"]["RoleArn"]["Fn::GetAtt"][0])


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def statements_with(statements: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [s for s in statements if any(str(action).startswith(prefix) for action in as_list(s["Action"]))]


def table_arn(table_id: str) -> dict[str, Any]:
    """How the DynamoDB tasks' policy names a table (from its name, not its Arn attribute)."""
    return regional_arn("dynamodb", ":table/", {"Ref": table_id})


def walk(value: Any) -> list[Any]:
    """Every dict and list inside ``value`` (itself included)."""
    found = [value]
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    for child in children:
        found.extend(walk(child))
    return found


# --- the state machine ------------------------------------------------------------------------------------------------


def test_state_machine_is_standard_traced_and_logs_events_without_execution_data(template: Template) -> None:
    # Given the default Booking-feature-x stack
    log_group_id, log_group = only_resource(template, "AWS::Logs::LogGroup")
    # Then its one state machine is a Standard workflow with X-Ray, logging everything but the execution data
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": {
                "Level": "ALL",
                "IncludeExecutionData": False,
                "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group_id, "Arn"]}}}],
            },
        },
    )
    # And the log group is a vended-logs group named after the environment, kept and removed as configured
    name = log_group["Properties"]["LogGroupName"]
    assert name.startswith("/aws/vendedlogs/states/Booking-feature-x-")
    assert log_group["Properties"]["RetentionInDays"] == 14
    assert log_group["DeletionPolicy"] == "Delete"


def test_production_like_environment_retains_logs_tables_and_queue() -> None:
    # Given main
    template = Template.from_stack(stacks_for("main").booking)
    # Then logs, both tables and the dead-letter queue survive a stack deletion; logs are kept 90 days
    for resource_type in ("AWS::Logs::LogGroup", "AWS::DynamoDB::Table", "AWS::SQS::Queue"):
        for resource in template.find_resources(resource_type).values():
            assert resource["DeletionPolicy"] == "Retain", resource_type
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 90})


def test_definition_is_jsonpath_and_starts_by_validating(template: Template) -> None:
    # Given the definition
    definition = definition_of(template)
    # Then it starts with the input check and nothing in it is JSONata (moto's interpreter cannot run JSONata)
    assert definition["StartAt"] == "Validate Input"
    assert definition.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert all(
        node.get("QueryLanguage", "JSONPath") == "JSONPath" for node in walk(definition) if isinstance(node, dict)
    )
    assert "{%" not in json.dumps(definition)


def test_state_names_are_exactly_the_saga(states: dict[str, Any]) -> None:
    assert set(states) == ALL_STATES


# --- forward path -----------------------------------------------------------------------------------------------------


def test_forward_path_runs_in_the_old_order_with_the_fare_read_after_the_seat(states: dict[str, Any]) -> None:
    # Given the forward path (a choice's first rule is the way forward)
    # Then each state leads to the next and the last one succeeds
    for current, following in itertools.pairwise(FORWARD_PATH):
        state = states[current]
        assert (state["Choices"][0]["Next"] if state["Type"] == "Choice" else state["Next"]) == following, current
    assert states["Booking Confirmed"] == {"Type": "Succeed"}


def test_invalid_input_fails_fast_without_side_effect(states: dict[str, Any]) -> None:
    # Given the first state
    validate = states["Validate Input"]
    # When its one rule is read
    assert validate["Type"] == "Choice"
    (rule,) = validate["Choices"]
    conditions = rule["And"]
    # Then every input field must be present and a string (presence tested first) ...
    for field in ("outboundFlightId", "customerId", "chargeId", "name", "createdAt"):
        present = conditions.index({"Variable": f"$.{field}", "IsPresent": True})
        assert conditions[present + 1] == {"Variable": f"$.{field}", "IsString": True}
    # ... and the charge id a ch_ or pi_ id
    assert {
        "Or": [
            {"Variable": "$.chargeId", "StringMatches": "ch_*"},
            {"Variable": "$.chargeId", "StringMatches": "pi_*"},
        ]
    } in conditions
    # And anything else ends at once in a Fail with a clear error
    assert validate["Default"] == "Invalid Booking Input"
    failure = states["Invalid Booking Input"]
    assert failure["Type"] == "Fail"
    assert failure["Error"] == "InvalidBookingInput"
    assert "chargeId" in failure["Cause"]


def test_prepare_booking_adds_the_booking_id_from_the_execution_name(states: dict[str, Any]) -> None:
    prepare = states["Prepare Booking"]
    assert prepare["Type"] == "Pass"
    assert prepare["Parameters"] == {
        "outboundFlightId.$": "$.outboundFlightId",
        "customerId.$": "$.customerId",
        "chargeId.$": "$.chargeId",
        "name.$": "$.name",
        "createdAt.$": "$.createdAt",
        "bookingId.$": "$$.Execution.Name",
    }
    assert "ResultPath" not in prepare


def test_reserve_flight_takes_a_seat_only_while_one_is_left(template: Template, states: dict[str, Any]) -> None:
    flights_id = template.find_outputs("FlightsTableName")["FlightsTableName"]["Value"]["Ref"]
    task = states["Reserve Flight"]
    assert task["Resource"] == "arn:${AWS::Partition}:states:::dynamodb:updateItem"
    assert task["Parameters"] == {
        "TableName": "${" + flights_id + "}",
        "Key": {"id": {"S.$": "$.outboundFlightId"}},
        "UpdateExpression": "SET seatCapacity = seatCapacity - :one",
        "ConditionExpression": "seatCapacity > :zero",
        "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}},
        # The flight's fare comes back with the seat, in the same call
        "ReturnValues": "ALL_NEW",
    }
    # The marker the compensation reads to know a seat was taken, and the flight's whole attribute map: a path to a
    # missing attribute here would be an uncatchable States.Runtime error, leaving the seat and the hold taken
    assert task["ResultSelector"] == {"taken": True, "flight.$": "$.Attributes"}
    assert task["ResultPath"] == "$.seatReservation"


PRICE = "$.seatReservation.flight.ticketPrice.N"
CURRENCY = "$.seatReservation.flight.ticketCurrency.S"


def test_only_a_positive_whole_fare_with_a_currency_goes_on(states: dict[str, Any]) -> None:
    # Given the choice after Reserve Flight
    check = states["Fare Valid?"]
    assert check["Type"] == "Choice"
    (rule,) = check["Choices"]
    # Then the price must be present and a DynamoDB number (text) without fraction, sign, exponent, and not zero,
    # and the currency present and a string; presence is tested before anything else on a path
    assert rule["And"] == [
        {"Variable": PRICE, "IsPresent": True},
        {"Variable": PRICE, "IsString": True},
        {"Not": {"Variable": PRICE, "StringMatches": "*.*"}},
        {"Not": {"Variable": PRICE, "StringMatches": "-*"}},
        {"Not": {"Variable": PRICE, "StringEquals": "0"}},
        {"Not": {"Variable": PRICE, "StringMatches": "*e*"}},
        {"Not": {"Variable": PRICE, "StringMatches": "*E*"}},
        {"Variable": CURRENCY, "IsPresent": True},
        {"Variable": CURRENCY, "IsString": True},
    ]
    assert rule["Next"] == "Read Fare"
    assert check["Default"] == "Fare Unavailable"


def test_read_fare_puts_the_price_as_a_number_at_fare(states: dict[str, Any]) -> None:
    read = states["Read Fare"]
    assert read["Type"] == "Pass"
    assert read["Parameters"] == {"amount.$": f"States.StringToJson({PRICE})", "currency.$": CURRENCY}
    assert read["ResultPath"] == "$.fare"
    assert read["Next"] == "Reserve Booking"


def test_a_flight_without_a_fare_is_compensated_like_a_failed_task(states: dict[str, Any]) -> None:
    # Given the state a flight without a valid fare reaches
    unavailable = states["Fare Unavailable"]
    # Then it records the failure where and as a Catch does (Cancel Booking and the notice read $.error.Error) ...
    assert unavailable["Type"] == "Pass"
    assert unavailable["ResultPath"] == "$.error"
    assert set(unavailable["Parameters"]) == {"Error", "Cause"}
    assert unavailable["Parameters"]["Error"] == "FareUnavailable"
    assert "fare" in unavailable["Parameters"]["Cause"]
    # ... and starts the compensation: the hold is released and, the seat being taken, given back
    assert unavailable["Next"] == "Refund Payment"


def test_the_fare_is_checked_without_side_effects(states: dict[str, Any]) -> None:
    for name in ("Fare Valid?", "Read Fare", "Fare Unavailable"):
        assert states[name]["Type"] in ("Choice", "Pass"), name


def test_reserve_booking_creates_a_pending_booking_once(template: Template, states: dict[str, Any]) -> None:
    bookings_id = template.find_outputs("BookingsTableName")["BookingsTableName"]["Value"]["Ref"]
    task = states["Reserve Booking"]
    assert task["Resource"] == "arn:${AWS::Partition}:states:::dynamodb:putItem"
    parameters = task["Parameters"]
    assert parameters["TableName"] == "${" + bookings_id + "}"
    assert parameters["Item"] == {
        "id": {"S.$": "$.bookingId"},
        "status": {"S": "PENDING"},
        "chargeId": {"S.$": "$.chargeId"},
        "customerId": {"S.$": "$.customerId"},
        "outboundFlightId": {"S.$": "$.outboundFlightId"},
        "stateMachineExecutionId": {"S.$": "$$.Execution.Id"},
        "createdAt": {"S.$": "$.createdAt"},
    }
    # A new booking, or this execution's own (a retry after a lost answer)
    assert parameters["ConditionExpression"] == "attribute_not_exists(#id) OR stateMachineExecutionId = :executionId"
    assert parameters["ExpressionAttributeNames"] == {"#id": "id"}
    assert parameters["ExpressionAttributeValues"] == {":executionId": {"S.$": "$$.Execution.Id"}}
    assert task["ResultSelector"] == {"created": True}
    assert task["ResultPath"] == "$.bookingReservation"


def test_collect_payment_invokes_the_collect_function_from_ssm(template: Template, states: dict[str, Any]) -> None:
    task = states["Collect Payment"]
    # The function's ARN comes from the SSM parameter; it gets the whole state and its answer lands at $.payment
    assert task["Resource"] == "${" + ssm_parameter_id(template, COLLECT_PARAMETER) + "}"
    assert "Parameters" not in task
    assert "InputPath" not in task
    assert task["ResultPath"] == "$.payment"


def test_booking_reference_is_made_with_jsonpath_intrinsics(states: dict[str, Any]) -> None:
    reference = states["Create Booking Reference"]
    assert reference["Type"] == "Pass"
    assert reference["Parameters"] == {
        "bookingReference.$": "States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 0)"
    }
    assert reference["ResultPath"] == "$.confirmation"


def test_confirm_booking_confirms_only_a_pending_booking(states: dict[str, Any]) -> None:
    parameters = states["Confirm Booking"]["Parameters"]
    assert states["Confirm Booking"]["Resource"] == "arn:${AWS::Partition}:states:::dynamodb:updateItem"
    assert parameters["Key"] == {"id": {"S.$": "$.bookingId"}}
    assert parameters["UpdateExpression"] == "SET #status = :confirmed, bookingReference = :reference"
    assert parameters["ConditionExpression"].startswith("#status = :pending OR ")
    assert parameters["ExpressionAttributeNames"] == {"#status": "status"}
    assert parameters["ExpressionAttributeValues"] == {
        ":confirmed": {"S": "CONFIRMED"},
        ":pending": {"S": "PENDING"},
        ":reference": {"S.$": "$.confirmation.bookingReference"},
    }
    assert states["Confirm Booking"]["ResultPath"] is None


def test_notify_booking_confirmed_publishes_the_confirmation(template: Template, states: dict[str, Any]) -> None:
    topic_id = template.find_outputs("NotificationsTopicArn")["NotificationsTopicArn"]["Value"]["Ref"]
    task = states["Notify Booking Confirmed"]
    assert task["Resource"] == "arn:${AWS::Partition}:states:::sns:publish"
    assert task["Parameters"]["TopicArn"] == "${" + topic_id + "}"
    assert task["Parameters"]["Message"] == {
        "bookingId.$": "$.bookingId",
        "customerId.$": "$.customerId",
        "outboundFlightId.$": "$.outboundFlightId",
        "bookingReference.$": "$.confirmation.bookingReference",
        "status": "CONFIRMED",
    }
    assert task["Parameters"]["MessageAttributes"] == {"status": {"DataType": "String", "StringValue": "CONFIRMED"}}
    assert task["ResultPath"] is None


@pytest.mark.parametrize("name", FORWARD_TASKS)
def test_every_forward_task_is_compensated_on_any_error(states: dict[str, Any], name: str) -> None:
    # Given a forward task (before, during or after Collect)
    # Then any error left after its retries goes to the refund with the failure at $.error
    assert states[name]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Refund Payment"}]


def test_no_state_before_reserve_flight_has_a_side_effect(states: dict[str, Any]) -> None:
    for name in ("Validate Input", "Prepare Booking"):
        assert states[name]["Type"] in ("Choice", "Pass")


# --- compensation -----------------------------------------------------------------------------------------------------


def test_refund_always_runs_and_treats_money_already_back_as_done(template: Template, states: dict[str, Any]) -> None:
    refund = states["Refund Payment"]
    assert refund["Resource"] == "${" + ssm_parameter_id(template, REFUND_PARAMETER) + "}"
    assert "Parameters" not in refund
    assert refund["ResultPath"] == "$.refund"
    assert refund["Next"] == "Booking Reserved?"
    # Already refunded or released: nothing owed, carry on; anything else (after retries): the dead-letter queue,
    # keeping the original failure at $.error
    assert refund["Catch"] == [
        {"ErrorEquals": ["PaymentConflict"], "ResultPath": "$.refundConflict", "Next": "Booking Reserved?"},
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.refundError", "Next": "Send Refund To DLQ"},
    ]


@pytest.mark.parametrize(
    ("choice", "marker", "undo", "otherwise"),
    [
        ("Booking Reserved?", "$.bookingReservation", "Cancel Booking", "Seat Reserved?"),
        ("Seat Reserved?", "$.seatReservation", "Release Flight Seat", "Notify Booking Failed"),
    ],
)
def test_only_what_was_reserved_is_undone(
    states: dict[str, Any], choice: str, marker: str, undo: str, otherwise: str
) -> None:
    assert states[choice]["Type"] == "Choice"
    assert states[choice]["Choices"] == [{"Variable": marker, "IsPresent": True, "Next": undo}]
    assert states[choice]["Default"] == otherwise


@pytest.mark.parametrize(("name", "error_path", "dead_letter", "following"), COMPENSATION_STEPS[1:])
def test_a_failing_compensation_step_goes_to_the_dead_letter_queue_and_on(
    states: dict[str, Any], name: str, error_path: str, dead_letter: str, following: str
) -> None:
    # Given a compensation step after the refund
    task = states[name]
    # Then it goes on to the next step, or, failing after its retries, to its dead-letter state (own error path)
    assert task["Next"] == following
    assert task["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": error_path, "Next": dead_letter}]


@pytest.mark.parametrize("step", COMPENSATION_STEPS, ids=[step[0] for step in COMPENSATION_STEPS])
def test_dead_letter_message_has_what_a_human_needs(
    template: Template, states: dict[str, Any], step: tuple[str, str, str, str]
) -> None:
    name, error_path, dead_letter, following = step
    queue_id = template.find_outputs("DeadLetterQueueUrl")["DeadLetterQueueUrl"]["Value"]["Ref"]
    task = states[dead_letter]
    assert task["Resource"] == "arn:${AWS::Partition}:states:::sqs:sendMessage"
    assert task["Parameters"]["QueueUrl"] == "${" + queue_id + "}"
    assert task["Parameters"]["MessageBody"] == {
        "step": name,
        "bookingId.$": "$.bookingId",
        "chargeId.$": "$.chargeId",
        "outboundFlightId.$": "$.outboundFlightId",
        "execution.$": "$$.Execution.Id",
        "error.$": error_path,
        "bookingError.$": "$.error",
    }
    assert task["ResultPath"] is None
    # Even a failing queue does not stop the compensation; it is remembered for the final state
    assert task["Next"] == following
    assert task["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.deadLetterError", "Next": following}]


def test_cancel_and_release_update_existing_items_only(template: Template, states: dict[str, Any]) -> None:
    cancel = states["Cancel Booking"]["Parameters"]
    assert cancel["Key"] == {"id": {"S.$": "$.bookingId"}}
    assert cancel["UpdateExpression"] == "SET #status = :cancelled, cancellationReason = :reason"
    assert cancel["ConditionExpression"] == "attribute_exists(#id)"
    assert cancel["ExpressionAttributeValues"] == {
        ":cancelled": {"S": "CANCELLED"},
        ":reason": {"S.$": "$.error.Error"},
    }
    release = states["Release Flight Seat"]["Parameters"]
    flights_id = template.find_outputs("FlightsTableName")["FlightsTableName"]["Value"]["Ref"]
    assert release["TableName"] == "${" + flights_id + "}"
    assert release["Key"] == {"id": {"S.$": "$.outboundFlightId"}}
    assert release["UpdateExpression"] == "SET seatCapacity = seatCapacity + :one"
    assert release["ConditionExpression"] == "attribute_exists(#id)"


def test_notify_booking_failed_publishes_the_cancellation(states: dict[str, Any]) -> None:
    message = states["Notify Booking Failed"]["Parameters"]["Message"]
    assert message == {
        "bookingId.$": "$.bookingId",
        "customerId.$": "$.customerId",
        "chargeId.$": "$.chargeId",
        "outboundFlightId.$": "$.outboundFlightId",
        "error.$": "$.error.Error",
        "status": "CANCELLED",
    }


def test_compensation_ends_in_a_fail_state_that_says_whether_everything_was_recorded(states: dict[str, Any]) -> None:
    check = states["Compensation Recorded?"]
    assert check["Choices"] == [
        {"Variable": "$.deadLetterError", "IsPresent": True, "Next": "Compensation Not Recorded"}
    ]
    assert check["Default"] == "Booking Failed"
    assert states["Booking Failed"]["Type"] == "Fail"
    assert states["Booking Failed"]["Error"] == "BookingFailed"
    assert "compensated" in states["Booking Failed"]["Cause"]
    assert states["Compensation Not Recorded"]["Error"] == "CompensationNotRecorded"


# --- Retry and timeouts -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "errors", "max_attempts"), RETRIES)
def test_each_task_retries_only_retryable_errors_with_jittered_backoff(
    states: dict[str, Any], name: str, errors: tuple[str, ...], max_attempts: int
) -> None:
    assert states[name]["Retry"] == [
        {
            "ErrorEquals": list(errors),
            "IntervalSeconds": 2,
            "MaxDelaySeconds": 60,
            "BackoffRate": 2,
            "JitterStrategy": "FULL",
            "MaxAttempts": max_attempts,
        }
    ]


@pytest.mark.parametrize("service", RETRYABLE_ERRORS)
def test_each_retryable_list_is_its_services_throttling_and_server_errors(service: str) -> None:
    errors, model_codes, sdk_names = RETRYABLE_ERRORS[service]
    # Given the errors the service's API model declares (botocore's copy)
    model = botocore.session.get_session().get_service_model(BOTOCORE_MODEL_NAMES[service])
    declared = {shape.name for shape in model.error_shapes}
    assert model_codes <= declared
    assert sdk_names.isdisjoint(declared)
    service_codes = {error.removeprefix(f"{service}.") for error in errors if error.startswith(f"{service}.")}
    own_errors = {error for error in errors if "." not in error}
    # Then the list retries exactly those and the SDK's names ...
    assert service_codes == model_codes | sdk_names
    # ... and, for Collect and Refund, the payment errors that say a retry can succeed
    retryable_payment_errors = {error.__name__ for error in PaymentError.__subclasses__() if error.retryable}
    assert own_errors == (retryable_payment_errors if service == "Lambda" else set())
    # ... nothing else, nothing twice
    assert len(service_codes) + len(own_errors) == len(errors)


def test_every_task_has_a_retry(states: dict[str, Any]) -> None:
    task_names = {name for name, state in states.items() if state["Type"] == "Task"}
    assert task_names == {name for name, _, _ in RETRIES}


def test_refund_is_retried_harder_than_collect(states: dict[str, Any]) -> None:
    assert states["Refund Payment"]["Retry"][0]["MaxAttempts"] > states["Collect Payment"]["Retry"][0]["MaxAttempts"]


def test_final_errors_are_never_retried(states: dict[str, Any]) -> None:
    retried = {error for state in states.values() for retry in state.get("Retry", []) for error in retry["ErrorEquals"]}
    assert retried.isdisjoint(FINAL_ERRORS)


def test_retry_timing_comes_from_the_configuration() -> None:
    # Given local-mode timing on the command line
    template = Template.from_stack(
        stacks_for(**{"payment:workflowRetryIntervalSeconds": "1", "payment:workflowRetryMaxDelaySeconds": "5"}).booking
    )
    # Then every Retry uses it
    retries = [retry for state in definition_of(template)["States"].values() for retry in state.get("Retry", [])]
    assert len(retries) == len(RETRIES)
    assert {(retry["IntervalSeconds"], retry["MaxDelaySeconds"]) for retry in retries} == {(1, 5)}


def test_every_task_has_a_timeout(states: dict[str, Any]) -> None:
    for name, state in states.items():
        if state["Type"] != "Task":
            continue
        expected = 40 if name in ("Collect Payment", "Refund Payment") else 10
        assert state.get("TimeoutSeconds") == expected, name


# --- the Booking-<env> stack ------------------------------------------------------------------------------------------


def test_booking_stack_is_named_tagged_and_deployed_after_payment(stacks: AppStacks) -> None:
    assert stacks.booking.stack_name == "Booking-feature-x"
    assert stacks.booking.tags.tag_values() == {"service": "payment", "env": SANITISED_ENV, "component": "booking"}
    assert stacks.payment in stacks.booking.dependencies


def test_booking_stack_reads_the_function_arns_from_the_payment_stacks_parameters(
    stacks: AppStacks, template: Template
) -> None:
    # Given the parameters Payment-<env> creates
    created = {
        resource["Properties"]["Name"]
        for resource in Template.from_stack(stacks.payment).find_resources("AWS::SSM::Parameter").values()
    }
    # When the Booking stack's template parameters are read
    parameters = {
        parameter["Default"]: parameter["Type"]
        for parameter_id, parameter in template.to_json()["Parameters"].items()
        if parameter_id != "BootstrapVersion"
    }
    # Then they are exactly Collect's and Refund's ARN parameters, resolved by CloudFormation at deploy time
    assert parameters == {
        COLLECT_PARAMETER: "AWS::SSM::Parameter::Value<String>",
        REFUND_PARAMETER: "AWS::SSM::Parameter::Value<String>",
    }
    assert set(parameters) <= created
    # And nothing of the payment stack is referenced directly
    assert "Fn::ImportValue" not in json.dumps(template.to_json())


def test_booking_stack_outputs(template: Template) -> None:
    outputs = template.find_outputs("*")
    state_machine_id, _ = only_resource(template, "AWS::StepFunctions::StateMachine")
    assert outputs["StateMachineArn"]["Value"] == {"Ref": state_machine_id}
    assert outputs["FlightsTableName"]["Value"]["Ref"] in logical_ids(template, "AWS::DynamoDB::Table")
    assert outputs["BookingsTableName"]["Value"]["Ref"] in logical_ids(template, "AWS::DynamoDB::Table")
    assert outputs["FlightsTableName"] != outputs["BookingsTableName"]
    assert outputs["NotificationsTopicArn"]["Value"]["Ref"] in logical_ids(template, "AWS::SNS::Topic")
    assert outputs["DeadLetterQueueUrl"]["Value"]["Ref"] in logical_ids(template, "AWS::SQS::Queue")


def test_default_tables_topic_and_queue(template: Template) -> None:
    # Tables keyed by id (string), on demand, with point-in-time recovery and no fixed name
    template.resource_count_is("AWS::DynamoDB::Table", 2)
    for table in template.find_resources("AWS::DynamoDB::Table").values():
        properties = table["Properties"]
        assert properties["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
        assert properties["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert "TableName" not in properties
    # A queue encrypted by SQS keeping messages 14 days; queue and topic refuse non-TLS requests
    template.has_resource_properties(
        "AWS::SQS::Queue", {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 14 * 24 * 3600}
    )
    insecure_denied = Match.object_like(
        {
            "PolicyDocument": Match.object_like(
                {
                    "Statement": Match.array_with(
                        [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                    )
                }
            )
        }
    )
    template.has_resource_properties("AWS::SQS::QueuePolicy", insecure_denied)
    template.has_resource_properties("AWS::SNS::TopicPolicy", insecure_denied)


def test_dead_letter_queue_alarms_on_the_first_message(template: Template) -> None:
    # Given the stack's one alarm on the dead-letter queue (BookingMonitoring's; the workflow makes none of its own)
    queue_id, _ = only_resource(template, "AWS::SQS::Queue")
    dimensions = [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    (alarm,) = [
        resource["Properties"]
        for resource in template.find_resources("AWS::CloudWatch::Alarm").values()
        if resource["Properties"].get("Dimensions") == dimensions
    ]
    # Then it fires as soon as the queue holds one message (a count above 0), every minute
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert (alarm["Statistic"], alarm["Period"]) == ("Maximum", 60)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["TreatMissingData"] == "notBreaching"
    # And it notifies, when it fires and when it recovers
    assert alarm["AlarmActions"]
    assert alarm["OKActions"] == alarm["AlarmActions"]


def test_the_workflow_construct_makes_no_alarm_of_its_own() -> None:
    # Given the construct alone, as another service reuses it
    stack, _, _ = custom_stack()
    BookingWorkflow(stack, "Workflow", **workflow_settings(), payment_functions=functions_in(stack))
    # Then its dead-letter queue is there to be watched (BookingMonitoring or the service's own alarm), unalarmed here
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SQS::Queue", 1)
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)


# Properties that name a resource in the account and region.
ACCOUNT_LEVEL_NAMES = {"LogGroupName", "TableName", "TopicName", "QueueName", "StateMachineName", "AlarmName"}


def test_two_environments_share_no_physical_name() -> None:
    def names(env: str) -> set[str]:
        template = Template.from_stack(stacks_for(env).booking)
        return {
            value
            for resource in template.to_json()["Resources"].values()
            for key, value in resource.get("Properties", {}).items()
            if key in ACCOUNT_LEVEL_NAMES
        }

    first, second = names("feature/one"), names("feature/two")
    assert first
    assert first.isdisjoint(second)


# --- IAM --------------------------------------------------------------------------------------------------------------


def test_state_machine_may_invoke_exactly_collect_and_refund(template: Template) -> None:
    collect = {"Ref": ssm_parameter_id(template, COLLECT_PARAMETER)}
    refund = {"Ref": ssm_parameter_id(template, REFUND_PARAMETER)}
    statements = statements_with(role_statements(template), "lambda:")
    assert {action for s in statements for action in as_list(s["Action"])} == {"lambda:InvokeFunction"}
    resources = [resource for s in statements for resource in as_list(s["Resource"])]
    assert collect in resources
    assert refund in resources
    # Besides the functions themselves, only their versions/aliases (<arn>:*)
    for resource in resources:
        if resource not in (collect, refund):
            assert resource["Fn::Join"][1] in ([collect, ":*"], [refund, ":*"]), resource


def test_state_machine_touches_only_its_tables_topic_and_queue(template: Template) -> None:
    statements = role_statements(template)
    tables = {json.dumps(table_arn(table_id)) for table_id in logical_ids(template, "AWS::DynamoDB::Table")}
    dynamodb_statements = statements_with(statements, "dynamodb:")
    assert {json.dumps(r) for s in dynamodb_statements for r in as_list(s["Resource"])} == tables
    assert {a for s in dynamodb_statements for a in as_list(s["Action"])} == {
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
    }
    (topic_id,) = logical_ids(template, "AWS::SNS::Topic")
    (queue_id,) = logical_ids(template, "AWS::SQS::Queue")
    assert [(s["Action"], s["Resource"]) for s in statements_with(statements, "sns:")] == [
        ("sns:Publish", {"Ref": topic_id})
    ]
    assert [(s["Action"], s["Resource"]) for s in statements_with(statements, "sqs:")] == [
        ("sqs:SendMessage", {"Fn::GetAtt": [queue_id, "Arn"]})
    ]
    # The topic is encrypted: publishing needs a data key from the workflow's key, and nothing else of KMS
    (key_id,) = logical_ids(template, "AWS::KMS::Key")
    assert [(sorted(as_list(s["Action"])), s["Resource"]) for s in statements_with(statements, "kms:")] == [
        (["kms:Decrypt", "kms:GenerateDataKey"], {"Fn::GetAtt": [key_id, "Arn"]})
    ]
    # Everything else is X-Ray and the log delivery Step Functions logging needs
    others = {
        action
        for s in statements
        for action in as_list(s["Action"])
        if not str(action).startswith(("lambda:", "dynamodb:", "sns:", "sqs:", "kms:"))
    }
    assert all(action.startswith(("xray:", "logs:")) for action in others), others


# --- custom steps and function lookup ---------------------------------------------------------------------------------


def feature_config(**overrides: Any) -> PaymentConfig:
    context = {**CDK_JSON_CONTEXT, **{f"payment:{key}": value for key, value in overrides.items()}}
    return load_config(env_name=SANITISED_ENV, context=context.get)


def workflow_settings(**overrides: Any) -> dict[str, Any]:
    """What ``Booking-<env>`` gives ``BookingWorkflow`` from the configuration (``overrides``: cdk.json settings)."""
    config = feature_config(**overrides)
    return {
        "env_name": config.env_name,
        "retry_interval_seconds": config.workflow_retry_interval_seconds,
        "retry_max_delay_seconds": config.workflow_retry_max_delay_seconds,
        "log_retention": config.log_retention,
        "removal_policy": config.removal_policy,
    }


COLLECT_ARN = "arn:aws:lambda:eu-west-1:111111111111:function:collect"
REFUND_ARN = "arn:aws:lambda:eu-west-1:111111111111:function:refund"


def custom_stack() -> tuple[Stack, dynamodb.Table, sns.Topic]:
    stack = Stack(make_app(), "Custom")
    table = dynamodb.Table(
        stack, "SeatsTable", partition_key=dynamodb.Attribute(name="flight", type=dynamodb.AttributeType.STRING)
    )
    return stack, table, sns.Topic(stack, "PartnerTopic")


def functions_in(stack: Stack) -> PaymentFunctions:
    return PaymentFunctions.from_functions(
        collect=lambda_.Function.from_function_arn(stack, "Collect", COLLECT_ARN),
        refund=lambda_.Function.from_function_arn(stack, "Refund", REFUND_ARN),
    )


def test_custom_steps_are_wired_in_with_the_workflows_retry_and_catch() -> None:
    # Given the Booking service's own seat reservation and confirmation notice
    stack, seats, partner_topic = custom_stack()
    reserve_seat = tasks.DynamoUpdateItem(
        stack,
        "Reserve Seat In Inventory",
        table=seats,
        key={"flight": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$.outboundFlightId"))},
        update_expression="SET seats = seats - :one",
        expression_attribute_values={":one": tasks.DynamoAttributeValue.from_number(1)},
        # The flight's attributes (ticketPrice, ticketCurrency) where the workflow reads the fare
        return_values=tasks.DynamoReturnValues.ALL_NEW,
        result_selector={"taken": True, "flight": sfn.JsonPath.object_at("$.Attributes")},
        result_path="$.seatReservation",
        task_timeout=sfn.Timeout.duration(Duration.seconds(5)),
    )
    tell_partner = tasks.SnsPublish(
        stack,
        "Tell Partner",
        topic=partner_topic,
        message=sfn.TaskInput.from_json_path_at("$.bookingId"),
        result_path=sfn.JsonPath.DISCARD,
        task_timeout=sfn.Timeout.duration(Duration.seconds(5)),
    )
    # When the workflow is built with them (and Collect/Refund given as functions)
    BookingWorkflow(
        stack,
        "Workflow",
        **workflow_settings(workflowRetryIntervalSeconds=1, workflowRetryMaxDelaySeconds=1),
        payment_functions=functions_in(stack),
        steps=BookingSteps(reserve_flight=reserve_seat, notify_confirmed=tell_partner),
    )
    template = Template.from_stack(stack)
    states = definition_of(template)["States"]
    # Then they take the built-in steps' places ...
    assert "Reserve Flight" not in states
    assert "Notify Booking Confirmed" not in states
    assert states["Prepare Booking"]["Next"] == "Reserve Seat In Inventory"
    assert states["Reserve Seat In Inventory"]["Next"] == "Fare Valid?"
    assert states["Confirm Booking"]["Next"] == "Tell Partner"
    assert states["Tell Partner"]["Next"] == "Booking Confirmed"
    # ... with the same Retry and Catch as the steps they replace
    for name, errors in (
        ("Reserve Seat In Inventory", DYNAMODB_RETRYABLE_ERRORS),
        ("Tell Partner", SNS_RETRYABLE_ERRORS),
    ):
        assert states[name]["Retry"] == [
            {
                "ErrorEquals": list(errors),
                "IntervalSeconds": 1,
                "MaxDelaySeconds": 1,
                "BackoffRate": 2,
                "JitterStrategy": "FULL",
                "MaxAttempts": 3,
            }
        ]
        assert states[name]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Refund Payment"}
        ]
    # And the functions are invoked by their ARNs
    assert states["Collect Payment"]["Resource"] == COLLECT_ARN
    assert states["Refund Payment"]["Resource"] == REFUND_ARN
    # And the state machine may use the custom tasks' resources
    (seats_id,) = [i for i in logical_ids(template, "AWS::DynamoDB::Table") if i.startswith("SeatsTable")]
    assert table_arn(seats_id) in [
        r for s in statements_with(role_statements(template), "dynamodb:") for r in as_list(s["Resource"])
    ]


def test_given_tables_topic_and_queue_are_used_instead_of_new_ones() -> None:
    stack, _, _ = custom_stack()
    flights = dynamodb.Table.from_table_name(stack, "Flights", "flights")
    bookings = dynamodb.Table.from_table_name(stack, "Bookings", "bookings")
    topic = sns.Topic.from_topic_arn(stack, "Topic", "arn:aws:sns:eu-west-1:111111111111:bookings")
    queue = sqs.Queue.from_queue_arn(stack, "Queue", "arn:aws:sqs:eu-west-1:111111111111:booking-dlq")
    BookingWorkflow(
        stack,
        "Workflow",
        **workflow_settings(),
        payment_functions=functions_in(stack),
        flights_table=flights,
        bookings_table=bookings,
        notifications_topic=topic,
        dead_letter_queue=queue,
    )
    template = Template.from_stack(stack)
    # Only the test's own table and topic exist; no queue is created
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    template.resource_count_is("AWS::SNS::Topic", 1)
    template.resource_count_is("AWS::SQS::Queue", 0)
    states = definition_of(template)["States"]
    assert states["Reserve Flight"]["Parameters"]["TableName"] == "flights"
    assert states["Reserve Booking"]["Parameters"]["TableName"] == "bookings"
    assert states["Notify Booking Failed"]["Parameters"]["TopicArn"] == "arn:aws:sns:eu-west-1:111111111111:bookings"


def _get_seat(stack: Stack, **overrides: Any) -> tasks.DynamoGetItem:
    table = next(child for child in stack.node.children if isinstance(child, dynamodb.Table))
    properties: dict[str, Any] = {
        "table": table,
        "key": {"flight": tasks.DynamoAttributeValue.from_string("x")},
        "result_path": "$.seatReservation",
        "task_timeout": sfn.Timeout.duration(Duration.seconds(5)),
        **overrides,
    }
    return tasks.DynamoGetItem(stack, "Custom Step", **properties)


@pytest.mark.parametrize(
    ("field", "overrides", "message"),
    [
        ("reserve_flight", {"task_timeout": None}, "task_timeout"),
        ("reserve_flight", {"result_path": "$.somewhereElse"}, r"\$\.seatReservation"),
        ("reserve_booking", {}, r"\$\.bookingReservation"),
        ("cancel_booking", {"result_path": None}, "result_path"),
        ("cancel_booking", {"result_path": "$.error"}, "result_path"),
        ("confirm_booking", {"result_path": "$.fare"}, "result_path"),
        ("notify_confirmed", {"result_path": "$.fare.amount"}, "result_path"),
        ("notify_failed", {"result_path": sfn.JsonPath.DISCARD, "output_path": "$.bookingId"}, "output_path"),
    ],
)
def test_a_custom_step_that_would_break_the_saga_is_refused(
    field: str, overrides: dict[str, Any], message: str
) -> None:
    stack, _, _ = custom_stack()
    step = _get_seat(stack, **overrides)
    with pytest.raises(ValueError, match=message):
        BookingWorkflow(
            stack,
            "Workflow",
            **workflow_settings(),
            payment_functions=functions_in(stack),
            steps=BookingSteps(**{field: step}),
        )


def test_a_custom_step_with_its_own_catch_is_refused() -> None:
    stack, _, _ = custom_stack()
    step = _get_seat(stack, result_path=sfn.JsonPath.DISCARD)
    step.add_catch(sfn.Pass(stack, "Elsewhere"))
    with pytest.raises(ValueError, match="Catch"):
        BookingWorkflow(
            stack,
            "Workflow",
            **workflow_settings(),
            payment_functions=functions_in(stack),
            steps=BookingSteps(cancel_booking=step),
        )
