"""CDK assertions on the abandoned-hold sweeper and its schedule in ``Payment-<env>`` (asset bundling skipped)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from payment_stack.payment.stack import PaymentStack
from tests.support.cdk import logical_id, payment_stack_for
from tests.support.iam import actions_of, resources_in, statements_of_role
from tests.support.templates import function_by_handler, ledger_id, only_logical_id, resources_of

ENV = "feature-x"
SWEEPER_HANDLER = "lambdas.payment_api.sweeper.handler"
API_HANDLER = "lambdas.payment_api.handler.handler"
POWERTOOLS_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
FOURTEEN_DAYS = 14 * 24 * 3600


def template_for(env: str = ENV, **context: Any) -> Template:
    return Template.from_stack(payment_stack_for(env, **context))


def role_statements(template: Template, role: dict[str, Any]) -> list[dict[str, Any]]:
    return statements_of_role(template, role["Fn::GetAtt"][0])


def the_schedule(template: Template) -> dict[str, Any]:
    schedule_id = only_logical_id(template, "AWS::Scheduler::Schedule")
    return dict(resources_of(template, "AWS::Scheduler::Schedule")[schedule_id]["Properties"])


# --- the function ----------------------------------------------------------------------------------------------------


def test_sweeper_runs_the_runtime_handler_well_inside_the_shortest_sweep_period(template: Template) -> None:
    # Given the default stack
    _, sweeper = function_by_handler(template, SWEEPER_HANDLER)
    properties = sweeper["Properties"]
    # Then it stops before the next run can start (55 s < 1 minute), with the API function's memory, traced
    assert properties["Timeout"] == 55
    assert properties["MemorySize"] == 512
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert ENV in properties["Description"]
    # And no SnapStart (a scheduled run's cold start delays nobody)
    assert "SnapStart" not in properties


def test_sweeper_environment_is_the_ledger_the_stripe_key_name_and_the_age_limit(template: Template) -> None:
    # Given the default stack (abandonedHoldMinutes 30)
    _, sweeper = function_by_handler(template, SWEEPER_HANDLER)
    variables = sweeper["Properties"]["Environment"]["Variables"]
    # Then it holds exactly what the runtime reads, plus Powertools' own, and nothing local-only
    assert set(variables) - POWERTOOLS_VARIABLES == {
        "LEDGER_TABLE_NAME",
        "LEDGER_HOLDS_INDEX_NAME",
        "STRIPE_SECRET_KEY_PARAMETER",
        "ABANDONED_HOLD_MINUTES",
    }
    assert variables["LEDGER_TABLE_NAME"] == {"Ref": ledger_id(template)}
    assert variables["LEDGER_HOLDS_INDEX_NAME"] == "holds-by-age"
    assert variables["STRIPE_SECRET_KEY_PARAMETER"] == f"/{ENV}/service/payment/stripe/secretKey"
    assert variables["ABANDONED_HOLD_MINUTES"] == "30"


def test_abandoned_hold_minutes_follow_the_configuration() -> None:
    # Given a longer age limit on the command line
    _, sweeper = function_by_handler(template_for(**{"payment:abandonedHoldMinutes": "120"}), SWEEPER_HANDLER)
    # Then the sweeper gets it
    assert sweeper["Properties"]["Environment"]["Variables"]["ABANDONED_HOLD_MINUTES"] == "120"


@pytest.mark.parametrize("env", [ENV, "prod"])
def test_sweeper_runs_from_the_api_functions_asset(env: str) -> None:
    # Given a branch, or prod (SnapStart on for the API function)
    template = template_for(env)
    _, sweeper = function_by_handler(template, SWEEPER_HANDLER)
    _, api = function_by_handler(template, API_HANDLER)
    # Then both functions use the one asset of lambdas/payment_api (same content hash, same S3 object)
    assert sweeper["Properties"]["Code"] == api["Properties"]["Code"]
    assert sweeper["Properties"]["Runtime"] == api["Properties"]["Runtime"]
    # And the same Powertools layer, which that asset leaves out (one layer, resolved from one SSM parameter)
    assert len(sweeper["Properties"]["Layers"]) == 1
    assert sweeper["Properties"]["Layers"] == api["Properties"]["Layers"]
    assert "SnapStart" not in sweeper["Properties"]


def test_a_failed_run_is_not_retried_by_lambda(template: Template) -> None:
    # Given the default stack (EventBridge Scheduler invokes Lambda asynchronously)
    sweeper_id, _ = function_by_handler(template, SWEEPER_HANDLER)
    # Then Lambda's asynchronous retries of the sweeper are off
    (config,) = resources_of(template, "AWS::Lambda::EventInvokeConfig").values()
    assert config["Properties"]["FunctionName"] == {"Ref": sweeper_id}
    assert config["Properties"]["MaximumRetryAttempts"] == 0


def test_a_run_lambda_gives_up_on_is_recorded_in_the_failed_runs_queue(stack: PaymentStack, template: Template) -> None:
    # Given the sweeper's asynchronous invocation configuration (Serverless-LambdaAsyncFailureDestination)
    sweeper_id, _ = function_by_handler(template, SWEEPER_HANDLER)
    queue_arn = {"Fn::GetAtt": [logical_id(stack.hold_sweeper.failed_runs), "Arn"]}
    # Then a failed run (or one Lambda drops unrun) goes to the failed-runs queue, still without a retry
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": sweeper_id},
            "MaximumRetryAttempts": 0,
            "DestinationConfig": {"OnFailure": {"Destination": queue_arn}},
        },
    )
    # And nothing is sent anywhere on success
    (config,) = resources_of(template, "AWS::Lambda::EventInvokeConfig").values()
    assert "OnSuccess" not in config["Properties"]["DestinationConfig"]


@pytest.mark.parametrize(("env", "deletion_policy"), [(ENV, "Delete"), ("prod", "Retain")])
def test_failed_runs_queue_is_encrypted_ssl_only_and_keeps_records_14_days(env: str, deletion_policy: str) -> None:
    # Given a branch or prod
    stack = payment_stack_for(env)
    template = Template.from_stack(stack)
    queue_id = logical_id(stack.hold_sweeper.failed_runs)
    queue = resources_of(template, "AWS::SQS::Queue")[queue_id]
    # Then the queue is encrypted by SQS, keeps a record 14 days and follows the environment's removal policy
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == FOURTEEN_DAYS
    assert queue["DeletionPolicy"] == deletion_policy
    # And its policy refuses every request without SSL
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": queue_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            },
        },
    )


# --- permissions -----------------------------------------------------------------------------------------------------


def test_sweeper_queries_the_holds_index_and_updates_records_of_the_ledger_only(template: Template) -> None:
    # Given the sweeper's IAM statements
    _, sweeper = function_by_handler(template, SWEEPER_HANDLER)
    statements = role_statements(template, sweeper["Properties"]["Role"])
    table_arn = {"Fn::GetAtt": [ledger_id(template), "Arn"]}
    index_arn = {"Fn::Join": ["", [table_arn, "/index/holds-by-age"]]}
    # When its DynamoDB actions are listed by resource
    allowed: dict[str, set[str]] = {}
    for statement in statements:
        for resource in resources_in(statement):
            actions = {a for a in actions_of(statement) if a.startswith("dynamodb:")}
            if actions:
                allowed.setdefault(json.dumps(resource, sort_keys=True), set()).update(actions)
    # Then Query is allowed on the holds index only, and GetItem/UpdateItem on the table: no Scan, no PutItem, no
    # DeleteItem, no other table or index
    assert allowed == {
        json.dumps(index_arn, sort_keys=True): {"dynamodb:Query"},
        json.dumps(table_arn, sort_keys=True): {"dynamodb:GetItem", "dynamodb:UpdateItem"},
    }


def test_sweeper_may_send_to_its_failed_runs_queue_only(stack: PaymentStack, template: Template) -> None:
    # Given the sweeper's IAM statements
    _, sweeper = function_by_handler(template, SWEEPER_HANDLER)
    statements = role_statements(template, sweeper["Properties"]["Role"])
    # Then its only SQS rights are the ones Lambda sends a failed run's record with, on the failed-runs queue
    (sqs_statement,) = [s for s in statements if any(a.startswith("sqs:") for a in actions_of(s))]
    assert set(actions_of(sqs_statement)) == {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    assert resources_in(sqs_statement) == [{"Fn::GetAtt": [logical_id(stack.hold_sweeper.failed_runs), "Arn"]}]


def test_sweeper_reads_the_stripe_key_parameter_only(template: Template) -> None:
    # Given the sweeper's IAM statements
    _, sweeper = function_by_handler(template, SWEEPER_HANDLER)
    statements = role_statements(template, sweeper["Properties"]["Role"])
    # Then its only SSM right is GetParameter on the Stripe key's one parameter, as the API function's
    (ssm,) = [s for s in statements if any(a.startswith("ssm:") for a in actions_of(s))]
    assert actions_of(ssm) == ["ssm:GetParameter"]
    (resource,) = resources_in(ssm)
    assert resource["Fn::Join"][1][-1] == f":parameter/{ENV}/service/payment/stripe/secretKey"
    # And nothing else: its log group, X-Ray, the ledger, the key and its failed-runs queue
    services = {a.split(":", 1)[0] for s in statements for a in actions_of(s)}
    assert services == {"logs", "xray", "dynamodb", "ssm", "sqs"}


# --- the schedule ----------------------------------------------------------------------------------------------------


def test_schedule_invokes_the_sweeper_every_few_minutes_without_retries(template: Template) -> None:
    # Given the default stack (holdSweepMinutes 5)
    sweeper_id, _ = function_by_handler(template, SWEEPER_HANDLER)
    schedule = the_schedule(template)
    # Then EventBridge Scheduler invokes the sweeper every 5 minutes, on time, and never retries a failed delivery
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["State"] == "ENABLED"
    assert schedule["Description"]
    target = schedule["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [sweeper_id, "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 0
    # And the schedule has no physical name (environments never collide)
    assert "Name" not in schedule


@pytest.mark.parametrize(("minutes", "expression"), [("1", "rate(1 minute)"), ("90", "rate(90 minutes)")])
def test_sweep_period_follows_the_configuration(minutes: str, expression: str) -> None:
    # Given another period on the command line
    schedule = the_schedule(template_for(**{"payment:holdSweepMinutes": minutes}))
    # Then the schedule's rate follows it (CDK writes the singular for one minute, as Scheduler requires)
    assert schedule["ScheduleExpression"] == expression


def test_schedule_role_may_be_assumed_by_scheduler_only_and_invoke_the_sweeper_only(template: Template) -> None:
    # Given the role the schedule invokes with
    sweeper_id, _ = function_by_handler(template, SWEEPER_HANDLER)
    role_id = the_schedule(template)["Target"]["RoleArn"]["Fn::GetAtt"][0]
    role = resources_of(template, "AWS::IAM::Role")[role_id]["Properties"]
    # Then only EventBridge Scheduler may assume it, for schedules of this account's default group
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    conditions = trust["Condition"]["StringEquals"]
    assert conditions["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert conditions["aws:SourceArn"]["Fn::Join"][1][-1] == ":schedule-group/default"
    # And it may invoke the sweeper (and its versions, as CDK's target grants) and nothing else, from a managed policy
    assert "Policies" not in role
    sweeper_arn = {"Fn::GetAtt": [sweeper_id, "Arn"]}
    assert statements_of_role(template, role_id) == [
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": [sweeper_arn, {"Fn::Join": ["", [sweeper_arn, ":*"]]}],
        }
    ]
