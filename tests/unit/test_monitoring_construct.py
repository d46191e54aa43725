"""CDK assertions on the dashboards and alarms of ``PaymentMonitoring`` and ``BookingMonitoring``.

The constructs are built in a small test stack (a REST API with stage Prod, four inline functions, a state machine
and a queue); alarms are found by namespace, metric and dimensions, never by hashed logical ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, PCIDSS321Checks

from lambdas.payment_api.service import ABANDONED_HOLD_REASON
from lambdas.shared.payment_task import COLLECT, REFUND
from payment_stack.alarms import MonitoringThresholds, import_payment_alarm_topic
from payment_stack.booking.monitoring import BookingMonitoring
from payment_stack.payment.monitoring import ABANDONED, OPERATIONS, PaymentMonitoring
from payment_stack.payment_function import RUNTIME
from tests.support.docs import RUNBOOK, runbook_anchors
from tests.support.templates import only_logical_id, resources_of

ENV = "feature-x"
API_NAME = f"payment-{ENV}"
FUNCTIONS = ("ApiFunction", "Collect", "Refund")
SWEEPER = "HoldSweeper"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PAYMENT_ALARM_KEYS = {
    "FailedPaymentRateCollect",
    "FailedPaymentRateRefund",
    "InvalidPaymentRequestCollect",
    "InvalidPaymentRequestRefund",
    "Api5xx",
    "ApiLatencyP99",
    "ProviderError",
    *(f"{function}{kind}" for function in FUNCTIONS for kind in ("Errors", "Throttles")),
    "HoldSweeperErrors",
}
BOOKING_ALARM_KEYS = {"ExecutionsFailed", "ExecutionsTimedOut", "DeadLetterQueueDepth"}


@dataclass
class Built:
    template: Template
    payment: PaymentMonitoring
    booking: BookingMonitoring


def build(
    *,
    thresholds: MonitoringThresholds | None = None,
    given_topic: bool = False,
    given_key: bool = False,
) -> Built:
    """The test stack: the resources to watch, both constructs, optionally given one topic (or one key) for both."""
    stack = Stack(App(), "MonitoringTest")
    api = apigw.RestApi(stack, "RestApi", rest_api_name=API_NAME, deploy_options=apigw.StageOptions(stage_name="Prod"))
    api.root.add_method("GET", apigw.MockIntegration())
    functions = {
        name: lambda_.Function(
            stack,
            name,
            description=name,
            runtime=RUNTIME,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(e, c): pass"),
        )
        for name in (*FUNCTIONS, SWEEPER)
    }
    state_machine = sfn.StateMachine(
        stack, "StateMachine", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "Pass"))
    )
    queue = sqs.Queue(stack, "DeadLetterQueue")
    topic = sns.Topic(stack, "GivenTopic", topic_name="given-topic") if given_topic else None
    key = kms.Key(stack, "GivenKey", enable_key_rotation=True) if given_key else None
    payment = PaymentMonitoring(
        stack,
        "PaymentMonitoring",
        env_name=ENV,
        api=api,
        api_function=functions["ApiFunction"],
        collect=functions["Collect"],
        refund=functions["Refund"],
        hold_sweeper=functions[SWEEPER],
        alarm_topic=topic,
        encryption_key=key,
        thresholds=thresholds,
    )
    booking = BookingMonitoring(
        stack,
        "BookingMonitoring",
        env_name=ENV,
        state_machine=state_machine,
        dead_letter_queue=queue,
        alarm_topic=topic,
        encryption_key=key,
        thresholds=thresholds,
    )
    return Built(template=Template.from_stack(stack), payment=payment, booking=booking)


@pytest.fixture(scope="module")
def built() -> Built:
    return build()


@pytest.fixture(scope="module")
def template(built: Built) -> Template:
    return built.template


# --- helpers ---------------------------------------------------------------------------------------------------------


def logical_id_where(template: Template, resource_type: str, **properties: Any) -> str:
    found = [
        logical_id
        for logical_id, resource in resources_of(template, resource_type).items()
        if all(resource["Properties"].get(key) == value for key, value in properties.items())
    ]
    assert len(found) == 1, f"expected one {resource_type} with {properties}, found {found}"
    return found[0]


def alarms_of(template: Template) -> dict[str, dict[str, Any]]:
    return {logical_id: r["Properties"] for logical_id, r in resources_of(template, "AWS::CloudWatch::Alarm").items()}


def dimensions_of(entry: dict[str, Any]) -> dict[str, Any]:
    return {dimension["Name"]: dimension["Value"] for dimension in entry["Dimensions"]}


def alarm_on(template: Template, namespace: str, metric_name: str, dimensions: dict[str, Any]) -> dict[str, Any]:
    """The one single-metric alarm on ``namespace``/``metric_name`` with exactly these dimensions."""
    found = [
        alarm
        for alarm in alarms_of(template).values()
        if alarm.get("Namespace") == namespace
        and alarm.get("MetricName") == metric_name
        and dimensions_of(alarm) == dimensions
    ]
    assert len(found) == 1, f"expected one alarm on {namespace}/{metric_name} {dimensions}, found {len(found)}"
    return found[0]


def math_alarm_with_ids(template: Template, *metric_ids: str) -> dict[str, Any]:
    found = [
        alarm
        for alarm in alarms_of(template).values()
        if {entry["Id"] for entry in alarm.get("Metrics", [])} >= set(metric_ids)
    ]
    assert len(found) == 1, f"expected one metric-math alarm using {metric_ids}, found {len(found)}"
    return found[0]


def function_ref(template: Template, name: str) -> dict[str, str]:
    return {"Ref": logical_id_where(template, "AWS::Lambda::Function", Description=name)}


def stage_ref(template: Template) -> dict[str, str]:
    return {"Ref": logical_id_where(template, "AWS::ApiGateway::Stage", StageName="Prod")}


def topic_ref(template: Template, topic_name: str) -> dict[str, str]:
    return {"Ref": logical_id_where(template, "AWS::SNS::Topic", TopicName=topic_name)}


def topic_policy_statements(template: Template, topic: dict[str, str]) -> list[dict[str, Any]]:
    (policy,) = [
        r["Properties"]["PolicyDocument"]
        for r in resources_of(template, "AWS::SNS::TopicPolicy").values()
        if topic in r["Properties"]["Topics"]
    ]
    return list(policy["Statement"])


def render(value: Any) -> str:
    """A string or ``Fn::Join`` as text, every ``Ref`` as ``${Name}``."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return "${" + str(value["Ref"]) + "}"
    separator, parts = value["Fn::Join"]
    return str(separator).join(render(part) for part in parts)


def cloudwatch_key_statements(template: Template, key_logical_id: str) -> list[dict[str, Any]]:
    key = resources_of(template, "AWS::KMS::Key")[key_logical_id]["Properties"]
    return [s for s in key["KeyPolicy"]["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]


def dashboard_named(template: Template, name: str) -> str:
    """The body of the dashboard ``name``, as text (tokens rendered as their JSON)."""
    found = [
        r["Properties"]["DashboardBody"]
        for r in resources_of(template, "AWS::CloudWatch::Dashboard").values()
        if r["Properties"].get("DashboardName") == name
    ]
    assert len(found) == 1, f"expected one dashboard named {name}, found {len(found)}"
    body = found[0]
    if isinstance(body, str):
        return body
    _, parts = body["Fn::Join"]
    return "".join(part if isinstance(part, str) else json.dumps(part) for part in parts)


def assert_alarms_above(alarm: dict[str, Any], threshold: float, *, evaluation_periods: int = 1) -> None:
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == threshold
    assert alarm["EvaluationPeriods"] == evaluation_periods
    assert alarm["DatapointsToAlarm"] == evaluation_periods
    assert alarm["TreatMissingData"] == "notBreaching"


# --- dashboards ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected_metrics"),
    [
        (f"payment-{ENV}", ["FailedPayment", "SuccessfulPayment", "InvalidPaymentRequest", "5XXError", "Throttles"]),
        (f"booking-{ENV}", ["ExecutionsFailed", "ExecutionsTimedOut", "ApproximateNumberOfMessagesVisible"]),
    ],
)
def test_dashboard_is_named_after_the_environment_and_shows_the_alarmed_metrics(
    template: Template, name: str, expected_metrics: list[str]
) -> None:
    # Given the default test stack
    # When the dashboard named after the environment is found
    body = dashboard_named(template, name)
    # Then it graphs the metrics its alarms watch and shows the alarms' states
    for metric in expected_metrics:
        assert f'"{metric}"' in body, metric
    assert '"type":"alarm"' in body


def test_constructs_expose_their_dashboards_and_all_alarms(built: Built) -> None:
    # Given the default constructs
    # Then the alarms are exposed under their documented keys, and the dashboards too
    assert set(built.payment.alarms) == PAYMENT_ALARM_KEYS
    assert set(built.booking.alarms) == BOOKING_ALARM_KEYS
    assert all(isinstance(alarm, cloudwatch.Alarm) for alarm in built.payment.alarms.values())
    assert isinstance(built.payment.dashboard, cloudwatch.Dashboard)
    assert isinstance(built.booking.dashboard, cloudwatch.Dashboard)
    # And the template holds exactly these alarms
    template = built.template
    template.resource_count_is("AWS::CloudWatch::Alarm", len(PAYMENT_ALARM_KEYS) + len(BOOKING_ALARM_KEYS))


def test_alarms_are_named_after_component_environment_and_key(built: Built) -> None:
    # Given the default stack
    names = {alarm["AlarmName"] for alarm in alarms_of(built.template).values()}
    # Then every alarm has a readable name, unique per environment, that notifications and the runbook use
    assert names == {f"payment-{ENV}-{key}" for key in PAYMENT_ALARM_KEYS} | {
        f"booking-{ENV}-{key}" for key in BOOKING_ALARM_KEYS
    }


def test_dashboards_refer_to_alarms_by_name_never_by_resource_reference(template: Template) -> None:
    # Given the default stack (moto's CloudFormation, used by local mode, creates no alarm: a GetAtt of one fails)
    alarm_logical_ids = set(alarms_of(template))
    for name, keys in ((f"payment-{ENV}", PAYMENT_ALARM_KEYS), (f"booking-{ENV}", BOOKING_ALARM_KEYS)):
        body = dashboard_named(template, name)
        # Then the alarm status widget lists each alarm by the ARN built from its name
        for key in keys:
            assert f":alarm:{name}-{key}" in body, key
        # And no alarm resource is referenced
        assert not any(logical_id in body for logical_id in alarm_logical_ids)


# --- payment alarms --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS)
def test_failed_payment_rate_is_metric_math_over_failed_and_successful_payments(
    template: Template, operation: str
) -> None:
    # Given the default stack
    failed_id, successful_id = f"failed_{operation}", f"successful_{operation}"
    # When the metric-math alarm using this operation's two metrics is found
    alarm = math_alarm_with_ids(template, failed_id, successful_id)
    # Then it returns only the expression: the failed share in percent, once at least 10 payments were attempted
    (expression,) = [entry for entry in alarm["Metrics"] if "Expression" in entry]
    assert expression["ReturnData"] is True
    total = f"(FILL({failed_id}, 0) + FILL({successful_id}, 0))"
    assert expression["Expression"] == f"IF({total} >= 10, 100 * FILL({failed_id}, 0) / {total}, 0)"
    # And its two inputs are 5-minute sums of the Powertools metrics of this operation (not returned themselves)
    inputs = {entry["Id"]: entry for entry in alarm["Metrics"] if "MetricStat" in entry}
    assert set(inputs) == {failed_id, successful_id}
    for metric_id, metric_name in ((failed_id, "FailedPayment"), (successful_id, "SuccessfulPayment")):
        stat = inputs[metric_id]["MetricStat"]
        assert inputs[metric_id]["ReturnData"] is False
        assert stat["Metric"]["Namespace"] == "ServerlessAirline"
        assert stat["Metric"]["MetricName"] == metric_name
        assert dimensions_of(stat["Metric"]) == {"service": "payment", "operation": operation}
        assert stat["Stat"] == "Sum"
        assert stat["Period"] == 300
    # And it fires above 5 %
    assert_alarms_above(alarm, 5)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_invalid_payment_request_spike_alarm_per_operation(template: Template, operation: str) -> None:
    # Given the default stack
    # When the alarm on InvalidPaymentRequest of this operation is found
    alarm = alarm_on(
        template, "ServerlessAirline", "InvalidPaymentRequest", {"service": "payment", "operation": operation}
    )
    # Then it fires on more than 5 in 5 minutes
    assert alarm["Statistic"] == "Sum"
    assert alarm["Period"] == 300
    assert_alarms_above(alarm, 5)


def test_api_5xx_alarm_is_on_the_apis_prod_stage(template: Template) -> None:
    # Given the default stack
    # When the alarm on 5XXError of this API's stage Prod is found
    alarm = alarm_on(template, "AWS/ApiGateway", "5XXError", {"ApiName": API_NAME, "Stage": stage_ref(template)})
    # Then it fires on more than 5 in 5 minutes
    assert alarm["Statistic"] == "Sum"
    assert alarm["Period"] == 300
    assert_alarms_above(alarm, 5)


def test_api_p99_latency_alarm_needs_three_slow_periods(template: Template) -> None:
    # Given the default stack
    # When the alarm on Latency of this API's stage Prod is found
    alarm = alarm_on(template, "AWS/ApiGateway", "Latency", {"ApiName": API_NAME, "Stage": stage_ref(template)})
    # Then it looks at p99 and fires above 5 s for three consecutive 5-minute periods
    assert alarm["ExtendedStatistic"] == "p99"
    assert alarm["Period"] == 300
    assert_alarms_above(alarm, 5000, evaluation_periods=3)


def test_provider_error_alarm_is_on_the_apis_own_metric(template: Template) -> None:
    # Given the default stack
    # When the alarm on ProviderError (dimension service only: the API publishes no operation) is found
    alarm = alarm_on(template, "ServerlessAirline", "ProviderError", {"service": "payment"})
    # Then it fires on more than 5 in 5 minutes
    assert alarm["Statistic"] == "Sum"
    assert_alarms_above(alarm, 5)


@pytest.mark.parametrize(
    ("function", "metric_name", "threshold"),
    [
        ("ApiFunction", "Errors", 0),
        ("Collect", "Errors", 5),
        ("Refund", "Errors", 5),
        ("ApiFunction", "Throttles", 0),
        ("Collect", "Throttles", 0),
        ("Refund", "Throttles", 0),
    ],
)
def test_lambda_errors_and_throttles_alarm_per_function(
    template: Template, function: str, metric_name: str, threshold: float
) -> None:
    # Given the default stack
    # When the alarm on this function's metric is found
    alarm = alarm_on(template, "AWS/Lambda", metric_name, {"FunctionName": function_ref(template, function)})
    # Then it sums 5 minutes and fires above its threshold
    assert alarm["Statistic"] == "Sum"
    assert alarm["Period"] == 300
    assert_alarms_above(alarm, threshold)


def test_hold_sweeper_alarm_adds_its_errors_and_the_holds_it_could_not_release(template: Template) -> None:
    # Given the default stack
    # When the metric-math alarm over the sweeper's two failure metrics is found
    alarm = math_alarm_with_ids(template, "sweeper_errors", "release_failed")
    # Then it returns only their sum, each missing datapoint counted as 0
    (expression,) = [entry for entry in alarm["Metrics"] if "Expression" in entry]
    assert expression["ReturnData"] is True
    assert expression["Expression"] == "FILL(sweeper_errors, 0) + FILL(release_failed, 0)"
    inputs = {entry["Id"]: entry["MetricStat"] for entry in alarm["Metrics"] if "MetricStat" in entry}
    assert {entry["ReturnData"] for entry in alarm["Metrics"] if "MetricStat" in entry} == {False}
    # And its inputs are the sweeper function's Lambda Errors and the sweeper's HoldReleaseFailed (service only),
    # summed over 15 minutes
    errors, release_failed = inputs["sweeper_errors"], inputs["release_failed"]
    assert (errors["Metric"]["Namespace"], errors["Metric"]["MetricName"]) == ("AWS/Lambda", "Errors")
    assert dimensions_of(errors["Metric"]) == {"FunctionName": function_ref(template, SWEEPER)}
    assert (release_failed["Metric"]["Namespace"], release_failed["Metric"]["MetricName"]) == (
        "ServerlessAirline",
        "HoldReleaseFailed",
    )
    assert dimensions_of(release_failed["Metric"]) == {"service": "payment"}
    assert {(stat["Stat"], stat["Period"]) for stat in inputs.values()} == {("Sum", 900)}
    # And it fires on the first failure
    assert_alarms_above(alarm, 0)
    assert alarm["AlarmName"] == f"payment-{ENV}-HoldSweeperErrors"


def test_payment_dashboard_graphs_the_holds_the_sweeper_released_and_could_not(template: Template) -> None:
    # Given the payment dashboard's body
    body = dashboard_named(template, f"payment-{ENV}")
    # When its "Holds released" graph is cut out of it
    graph = body[body.index('"title":"Holds released"') :].split("]]", 1)[0]
    # Then it shows HoldsReleased of reason abandoned and HoldReleaseFailed, both of the payment service
    assert '["ServerlessAirline","HoldsReleased","reason","abandoned","service","payment",' in graph
    assert '["ServerlessAirline","HoldReleaseFailed","service","payment",' in graph
    # And the Lambda graphs include the sweeper
    assert body.count(f'"label":"{SWEEPER}"') == 3


# --- booking alarms --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric_name", ["ExecutionsFailed", "ExecutionsTimedOut"])
def test_failed_and_timed_out_executions_alarm_on_the_first(template: Template, metric_name: str) -> None:
    # Given the default stack and its state machine
    state_machine = {"Ref": logical_id_where(template, "AWS::StepFunctions::StateMachine")}
    # When the alarm on this metric of the state machine is found
    alarm = alarm_on(template, "AWS/States", metric_name, {"StateMachineArn": state_machine})
    # Then it fires on the first in 5 minutes
    assert alarm["Statistic"] == "Sum"
    assert alarm["Period"] == 300
    assert_alarms_above(alarm, 0)


def test_dead_letter_queue_alarm_fires_on_the_first_message(template: Template) -> None:
    # Given the default stack and its queue
    queue_name = {"Fn::GetAtt": [logical_id_where(template, "AWS::SQS::Queue"), "QueueName"]}
    # When the alarm on the queue's visible messages is found
    alarm = alarm_on(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue_name})
    # Then it looks at the maximum of each minute and fires as soon as one message is there
    assert alarm["Statistic"] == "Maximum"
    assert alarm["Period"] == 60
    assert_alarms_above(alarm, 0)


# --- notifications ---------------------------------------------------------------------------------------------------


def test_every_alarm_notifies_its_environments_topic_on_alarm_and_on_ok(template: Template) -> None:
    # Given the default stack: no topic given, so each construct creates one named after the environment
    payment_topic = topic_ref(template, f"payment-alarms-{ENV}")
    booking_topic = topic_ref(template, f"booking-alarms-{ENV}")
    alarms = list(alarms_of(template).values())
    # Then every alarm notifies exactly one of them when it fires and when it recovers
    for alarm in alarms:
        assert alarm["AlarmActions"] in ([payment_topic], [booking_topic]), alarm["AlarmDescription"]
        assert alarm["OKActions"] == alarm["AlarmActions"]
        assert alarm["TreatMissingData"] == "notBreaching"
        # With the runbook entry of the alarm: a heading of docs/operations.md (which the link test resolves)
        runbook = render(alarm["AlarmDescription"]).rsplit("Runbook: ", 1)[1]
        path, anchor = runbook.split("#")
        assert (path, anchor) == (RUNBOOK, anchor.lower())
        assert anchor in runbook_anchors(), f"{RUNBOOK} has no heading for #{anchor}"
    # And the booking topic is used by the three booking alarms only
    assert sum(alarm["AlarmActions"] == [booking_topic] for alarm in alarms) == len(BOOKING_ALARM_KEYS)


def test_created_topics_refuse_requests_without_ssl(template: Template) -> None:
    # Given the default stack
    for topic_name in (f"payment-alarms-{ENV}", f"booking-alarms-{ENV}"):
        # When the topic's policy is read
        statements = topic_policy_statements(template, topic_ref(template, topic_name))
        # Then it denies every request not made over SSL
        assert any(
            statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for statement in statements
        )


@pytest.mark.parametrize(
    ("topic_name", "components"),
    [(f"payment-alarms-{ENV}", ["payment", "booking"]), (f"booking-alarms-{ENV}", ["booking"])],
)
def test_topic_policy_lets_exactly_the_environments_alarms_publish(
    template: Template, topic_name: str, components: list[str]
) -> None:
    # Given the default stack (the topic policy replaces SNS's default one, which let the account's alarms publish)
    statements = topic_policy_statements(template, topic_ref(template, topic_name))
    # When the one Allow of the policy is read
    (allow,) = [statement for statement in statements if statement["Effect"] == "Allow"]
    # Then CloudWatch may publish for alarms named after the environment, in this account and region only (the
    # payment topic also for the booking alarms, which find it with import_payment_alarm_topic)
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert [render(arn) for arn in allow["Condition"]["ArnLike"]["aws:SourceArn"]] == [
        f"arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:{component}-{ENV}-*"
        for component in components
    ]
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_created_topics_are_encrypted_with_a_rotated_key_cloudwatch_may_use(template: Template) -> None:
    # Given the default stack (no key given: each topic gets a key of its own)
    template.resource_count_is("AWS::KMS::Key", 2)
    for topic_name in (f"payment-alarms-{ENV}", f"booking-alarms-{ENV}"):
        topic_id = logical_id_where(template, "AWS::SNS::Topic", TopicName=topic_name)
        # When the topic's key is followed
        key_id = resources_of(template, "AWS::SNS::Topic")[topic_id]["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
        key = resources_of(template, "AWS::KMS::Key")[key_id]
        # Then it rotates, and its policy lets CloudWatch alarms publish to the encrypted topic (the AWS managed
        # alias/aws/sns would not)
        assert key["Properties"]["EnableKeyRotation"] is True
        (statement,) = cloudwatch_key_statements(template, key_id)
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_a_given_encryption_key_encrypts_both_topics() -> None:
    # Given one key passed to both constructs
    template = build(given_key=True).template
    # Then no other key is created, and both topics are encrypted with it
    key_id = only_logical_id(template, "AWS::KMS::Key")
    for topic in resources_of(template, "AWS::SNS::Topic").values():
        assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    # And its policy lets CloudWatch use it, once
    assert len(cloudwatch_key_statements(template, key_id)) == 1


def test_a_given_topic_is_used_instead_of_a_new_one() -> None:
    # Given a topic passed to both constructs
    built = build(given_topic=True)
    template = built.template
    given = topic_ref(template, "given-topic")
    # Then no other topic is created
    template.resource_count_is("AWS::SNS::Topic", 1)
    # And every alarm notifies the given topic on ALARM and on OK
    for alarm in alarms_of(template).values():
        assert alarm["AlarmActions"] == [given]
        assert alarm["OKActions"] == [given]
    # And both constructs expose it
    assert built.payment.alarm_topic is built.booking.alarm_topic
    # And its policy lets each construct's alarms publish (it is no topic of theirs: no key is created for it)
    allowed = {
        render(arn).rsplit(":alarm:", 1)[1]
        for statement in topic_policy_statements(template, given)
        if statement["Effect"] == "Allow"
        for arn in statement["Condition"]["ArnLike"]["aws:SourceArn"]
    }
    assert allowed == {f"payment-{ENV}-*", f"booking-{ENV}-*"}
    template.resource_count_is("AWS::KMS::Key", 0)


def test_payment_topic_can_be_imported_by_name_in_another_stack() -> None:
    # Given a second stack importing the environment's payment topic
    stack = Stack(App(), "Other")
    topic = import_payment_alarm_topic(stack, "PaymentAlarmTopic", env_name=ENV)
    # Then its ARN names payment-alarms-<env> in the stack's own account and region
    arn = stack.resolve(topic.topic_arn)
    _, parts = arn["Fn::Join"]
    assert parts[-1].endswith(f":payment-alarms-{ENV}")
    assert {"Ref": "AWS::Region"} in parts
    assert {"Ref": "AWS::AccountId"} in parts


def test_constructs_pass_the_compliance_packs_every_synth_runs() -> None:
    # Given only the two constructs in a stack (everything they watch is imported, so creates no resource)
    app = App()
    stack = Stack(app, "Compliance")
    function = lambda_.Function.from_function_arn(
        stack, "Function", "arn:aws:lambda:eu-west-1:123456789012:function:payment"
    )
    PaymentMonitoring(
        stack,
        "PaymentMonitoring",
        env_name=ENV,
        api=apigw.RestApi.from_rest_api_id(stack, "Api", "abc123"),
        stage_name="Prod",
        api_function=function,
        collect=function,
        refund=function,
        hold_sweeper=function,
    )
    BookingMonitoring(
        stack,
        "BookingMonitoring",
        env_name=ENV,
        state_machine=sfn.StateMachine.from_state_machine_arn(
            stack, "StateMachine", "arn:aws:states:eu-west-1:123456789012:stateMachine:booking"
        ),
        dead_letter_queue=sqs.Queue.from_queue_arn(stack, "Queue", "arn:aws:sqs:eu-west-1:123456789012:dlq"),
    )
    # When the app is synthesized with the cdk-nag packs the payment app runs on every synth
    Validations.of(app).add_plugins(AwsSolutionsChecks(), PCIDSS321Checks())
    # Then there is no finding (a finding makes synth raise)
    app.synth()


# --- thresholds ------------------------------------------------------------------------------------------------------


def test_threshold_overrides_flow_into_the_alarms() -> None:
    # Given every threshold changed
    thresholds = MonitoringThresholds(
        failed_payment_rate_percent=2.5,
        failed_payment_min_payments=50,
        invalid_payment_requests=11,
        api_5xx_errors=12,
        api_p99_latency_ms=800,
        api_latency_evaluation_periods=2,
        provider_errors=13,
        api_function_errors=3,
        task_function_errors=14,
        lambda_throttles=4,
        hold_sweeper_failures=8,
        failed_executions=15,
        timed_out_executions=6,
        dead_letter_messages=7,
    )
    template = build(thresholds=thresholds).template
    stage = stage_ref(template)
    # Then each alarm uses its new threshold
    rate = math_alarm_with_ids(template, "failed_collect", "successful_collect")
    assert rate["Threshold"] == 2.5
    assert any(">= 50," in entry.get("Expression", "") for entry in rate["Metrics"])
    dimensions = {"service": "payment", "operation": "refund"}
    assert alarm_on(template, "ServerlessAirline", "InvalidPaymentRequest", dimensions)["Threshold"] == 11
    api = {"ApiName": API_NAME, "Stage": stage}
    assert alarm_on(template, "AWS/ApiGateway", "5XXError", api)["Threshold"] == 12
    latency = alarm_on(template, "AWS/ApiGateway", "Latency", api)
    assert_alarms_above(latency, 800, evaluation_periods=2)
    assert alarm_on(template, "ServerlessAirline", "ProviderError", {"service": "payment"})["Threshold"] == 13
    for function, errors in (("ApiFunction", 3), ("Collect", 14), ("Refund", 14)):
        function_dimensions = {"FunctionName": function_ref(template, function)}
        assert alarm_on(template, "AWS/Lambda", "Errors", function_dimensions)["Threshold"] == errors
        assert alarm_on(template, "AWS/Lambda", "Throttles", function_dimensions)["Threshold"] == 4
    assert math_alarm_with_ids(template, "sweeper_errors", "release_failed")["Threshold"] == 8
    state_machine = {"StateMachineArn": {"Ref": logical_id_where(template, "AWS::StepFunctions::StateMachine")}}
    assert alarm_on(template, "AWS/States", "ExecutionsFailed", state_machine)["Threshold"] == 15
    assert alarm_on(template, "AWS/States", "ExecutionsTimedOut", state_machine)["Threshold"] == 6
    queue = {"QueueName": {"Fn::GetAtt": [logical_id_where(template, "AWS::SQS::Queue"), "QueueName"]}}
    assert alarm_on(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue)["Threshold"] == 7


@pytest.mark.parametrize(
    "changes",
    [
        {"api_5xx_errors": -1},
        {"failed_payment_rate_percent": 101},
        {"failed_payment_min_payments": 0},
        {"api_latency_evaluation_periods": 1.5},
        {"lambda_throttles": True},
    ],
)
def test_invalid_thresholds_are_refused(changes: dict[str, Any]) -> None:
    # Given a threshold that makes no sense, then the dataclass refuses it
    with pytest.raises(ValueError, match="MonitoringThresholds"):
        MonitoringThresholds(**changes)


def test_stage_name_is_required_for_an_imported_api() -> None:
    # Given an API imported by id (no deployment stage known)
    stack = Stack(App(), "Imported")
    api = apigw.RestApi.from_rest_api_id(stack, "Api", "abc123")
    function = lambda_.Function.from_function_arn(
        stack, "Function", "arn:aws:lambda:eu-west-1:123456789012:function:payment"
    )

    def monitoring(construct_id: str, stage_name: str | None) -> PaymentMonitoring:
        return PaymentMonitoring(
            stack,
            construct_id,
            env_name=ENV,
            api=api,
            api_function=function,
            collect=function,
            refund=function,
            hold_sweeper=function,
            stage_name=stage_name,
        )

    # Then without a stage name it is refused, and with one it is built
    with pytest.raises(ValueError, match="stage_name"):
        monitoring("Without", None)
    assert set(monitoring("With", "Prod").alarms) == PAYMENT_ALARM_KEYS


# --- the contract with the runtime code -------------------------------------------------------------------------------


def test_operation_dimensions_are_the_ones_collect_and_refund_publish() -> None:
    # Given the runtime's task names (the `operation` dimension they add)
    # Then the alarms watch exactly those operations
    assert (COLLECT.name, REFUND.name) == OPERATIONS


@pytest.mark.parametrize(
    ("source", "metric_name"),
    [
        ("lambdas/shared/payment_task.py", "FailedPayment"),
        ("lambdas/shared/payment_task.py", "SuccessfulPayment"),
        ("lambdas/shared/payment_task.py", "InvalidPaymentRequest"),
        ("lambdas/payment_api/handler.py", "ProviderError"),
        ("lambdas/payment_api/sweeper.py", "HoldsReleased"),
        ("lambdas/payment_api/sweeper.py", "HoldReleaseFailed"),
        ("lambdas/payment_api/event_publisher.py", "DisputeOpened"),
        ("lambdas/payment_api/event_publisher.py", "RefundFailed"),
        ("lambdas/payment_api/event_publisher.py", "HoldExpiredForBooking"),
        ("lambdas/payment_api/event_publisher.py", "PaymentEventPublished"),
        ("lambdas/payment_api/handler.py", "WebhookSignatureRejected"),
        ("lambdas/payment_api/handler.py", "WebhookEventApplied"),
        ("lambdas/payment_api/handler.py", "WebhookEventIgnored"),
        ("lambdas/payment_api/handler.py", "WebhookRejected"),
    ],
)
def test_alarmed_metric_names_are_published_by_the_runtime_code(source: str, metric_name: str) -> None:
    # Given the runtime module that should publish the metric
    text = (PROJECT_ROOT / source).read_text()
    # Then it names a metric exactly so (as add_metric's name or the value it picks the name from)
    assert f'"{metric_name}"' in text
    assert "add_metric(name=" in text


def test_released_holds_are_graphed_by_the_reason_the_sweeper_publishes() -> None:
    # Given the sweeper's runtime module, which adds the dimension reason to HoldsReleased
    text = (PROJECT_ROOT / "lambdas/payment_api/sweeper.py").read_text()
    assert 'add_dimension(name="reason", value=ABANDONED_HOLD_REASON)' in text
    # Then the value it publishes is the one the dashboard and the alarm read
    assert ABANDONED_HOLD_REASON == ABANDONED
