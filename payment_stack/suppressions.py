"""The one table of accepted cdk-nag findings: each ``Suppression`` is one rule on one resource, with its reason.

``payment_stack.compliance`` acknowledges the suppressions that apply to the configuration on every synth; any
other finding fails it. To accept a new finding, add one ``Suppression`` to ``SUPPRESSIONS`` and the same row to
``SECURITY.md`` (a unit test keeps the two equal, and fails for a suppression no finding uses).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from payment_stack.config import PaymentConfig

ALWAYS = "always"
WAF_OFF = "wafEnabled=false"
CLOUD_WATCH_ROLE_ON = "apiGatewayCloudWatchRole=true"
CLOUD_WATCH_ROLE_OFF = "apiGatewayCloudWatchRole=false"
# When a suppression applies, by configuration.
CONDITIONS: Mapping[str, Callable[[PaymentConfig], bool]] = {
    ALWAYS: lambda _config: True,
    WAF_OFF: lambda config: not config.waf_enabled,
    CLOUD_WATCH_ROLE_ON: lambda config: config.api_gateway_cloud_watch_role,
    CLOUD_WATCH_ROLE_OFF: lambda config: not config.api_gateway_cloud_watch_role,
}

PAYMENT = "Payment"
BOOKING = "Booking"


@dataclass(frozen=True, kw_only=True)
class Suppression:
    """One accepted finding: ``rule`` on the one CloudFormation resource at ``path`` below ``stack``.

    ``applies_to`` narrows a rule that reports one finding per policy or wildcard (IAM4, IAM5) to that one finding,
    e.g. ``Resource::*``; ``when`` names the configuration the suppression is for (a key of ``CONDITIONS``).
    """

    stack: str
    path: str
    rule: str
    reason: str
    applies_to: str | None = None
    when: str = ALWAYS

    @property
    def rule_id(self) -> str:
        """The id cdk-nag reports, e.g. ``AwsSolutions-IAM5[Resource::*]`` (placeholders not yet replaced: see
        ``payment_stack.compliance.resolve_rule_id``)."""
        return f"{self.rule}[{self.applies_to}]" if self.applies_to else self.rule

    def active_for(self, config: PaymentConfig) -> bool:
        return CONDITIONS[self.when](config)


_XRAY_REASON = (
    "X-Ray: Lambda active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no "
    "resource-level permissions (AWS documents Resource *); no other action in the policy has Resource *"
)
_LAMBDA_OUTSIDE_VPC_REASON = (
    "No card data reaches this function (Stripe.js tokenises cards in the browser; the function sees token and "
    "charge ids only), it has no inbound network path (invoked only through the Lambda API), and it reaches only "
    "public HTTPS endpoints (Stripe, AWS APIs). A VPC would add NAT gateways per environment and no isolation "
    "for data that is not there."
)

_OLDER_RUNTIME_REASON = (
    "python3.13 on purpose, one minor version behind the newest runtime: the bundle's compiled bytecode is only "
    "valid for the version that compiled it, and the tests, local mode and the benchmarks run on that same 3.13 "
    "(the Python every development and CI machine of this project carries), so what is tested is what runs. It is "
    "a supported Lambda runtime, patched by AWS; moving on is payment_function.RUNTIME and the Makefile's "
    "PYTHON_VERSION together."
)
# A function's dead-letter queue (Serverless-LambdaDLQ) receives only events of asynchronous invocations that failed.
_NO_ASYNC_INVOCATION = (
    "a function's dead-letter queue only ever receives events of asynchronous invocations that failed, so it would "
    "stay empty."
)
# Every Python function of the payment stack (their Lambda::Function resources are "<path>/Function/Resource").
_PAYMENT_FUNCTIONS = (
    "PaymentApi/Handler",
    "BookingFunctions/Collect",
    "BookingFunctions/Refund",
    "HoldSweeper/Handler",
    "PaymentEvents/Publisher",
)

SUPPRESSIONS: tuple[Suppression, ...] = (
    # --- Payment-<env>: the API --------------------------------------------------------------------------------------
    Suppression(
        stack=PAYMENT,
        path="PaymentApi/RestApi/Default/charge/POST/Resource",
        rule="AwsSolutions-APIG4",
        reason="POST /charge is the public checkout endpoint: the browser calls it before the customer has any "
        "identity. It only pre-authorises (a hold, never a capture) with a Stripe.js token, and is bounded by "
        "stricter per-method throttling, request validation, CORS for configured origins, per-currency maximum "
        "amounts and, in production, AWS WAF with a per-IP rate limit. Moving money (/capture, /refund) needs AWS_IAM.",
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentApi/RestApi/Default/charge/POST/Resource",
        rule="AwsSolutions-COG4",
        reason="Public checkout endpoint, see AwsSolutions-APIG4 on the same method: there is no user pool to "
        "authorise against before the customer pays.",
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentApi/RestApi/Default/webhooks/stripe/POST/Resource",
        rule="AwsSolutions-APIG4",
        reason="POST /webhooks/stripe is where Stripe delivers its webhook events, and Stripe cannot sign requests "
        "with SigV4 or present a user token. The function authenticates every call before it reads the event: it "
        "verifies the Stripe-Signature header (HMAC-SHA256 of the raw body with the endpoint's signing secret, read "
        "from SSM) and refuses stale timestamps, so an unsigned or forged call changes nothing. Stage throttling "
        "and, in production, AWS WAF apply, and an alarm fires on repeated signature rejections.",
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentApi/RestApi/Default/webhooks/stripe/POST/Resource",
        rule="AwsSolutions-COG4",
        reason="Stripe's webhook endpoint, see AwsSolutions-APIG4 on the same method: the caller is Stripe, "
        "authenticated by its signature of the body, not a person of a Cognito user pool.",
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentApi/RestApi/Default/capture/POST/Resource",
        rule="AwsSolutions-COG4",
        reason="Authorised with AWS_IAM (SigV4): the only caller is the Collect function, a service principal "
        "granted execute-api:Invoke on this one method; a Cognito user pool authenticates people, not services.",
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentApi/RestApi/Default/refund/POST/Resource",
        rule="AwsSolutions-COG4",
        reason="Authorised with AWS_IAM (SigV4): the only caller is the Refund function, a service principal "
        "granted execute-api:Invoke on this one method; a Cognito user pool authenticates people, not services.",
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentApi/RestApi/Default/payments/{id}/GET/Resource",
        rule="AwsSolutions-COG4",
        reason="Authorised with AWS_IAM (SigV4): it reads a payment's ledger record for services and operators "
        "granted execute-api:Invoke on this one method (grant_read_payments); a Cognito user pool authenticates "
        "people, not services.",
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentApi/RestApi/DeploymentStage.Prod/Resource",
        rule="AwsSolutions-APIG3",
        when=WAF_OFF,
        reason="Branch and test environments run without AWS WAF (cost, no public traffic); production sets "
        "wafEnabled and gets the web ACL on this stage. Stage and per-method throttling apply everywhere.",
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentApi/RestApi/DeploymentStage.Prod/Resource",
        rule="PCI.DSS.321-APIGWAssociatedWithWAF",
        when=WAF_OFF,
        reason="Branch and test environments run without AWS WAF and hold no production cardholder traffic; "
        "production sets wafEnabled and gets the web ACL on this stage.",
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentApi/RestApi/DeploymentStage.Prod/Resource",
        rule="PCI.DSS.321-APIGWCacheEnabledAndEncrypted",
        reason="Response caching is deliberately off: every route moves money (POST) or reads live payment state "
        "(GET /payments/{id}), so a cached answer would be wrong, and a cache would store payment data at rest. "
        "With no cache there is nothing to encrypt.",
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentApi/RestApi/DeploymentStage.Prod/Resource",
        rule="PCI.DSS.321-APIGWSSLEnabled",
        reason="Client certificates let an HTTP backend verify that calls come from API Gateway. The only backend "
        "is a Lambda proxy integration, invoked through the Lambda API and allowed by a resource policy naming this "
        "API's stage and methods; there is no HTTP backend to present a certificate to. Clients use TLS only.",
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentApi/RestApi/DeploymentStage.Prod/Resource",
        rule="AwsSolutions-APIG6",
        when=CLOUD_WATCH_ROLE_OFF,
        reason="Execution logging needs the account-level API Gateway CloudWatch role, which this configuration "
        "does not create (local mode: the AWS emulator has no AWS::ApiGateway::Account). Every AWS environment "
        "keeps the default (true) and logs errors; access logs are on everywhere.",
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentApi/RestApi/DeploymentStage.Prod/Resource",
        rule="PCI.DSS.321-APIGWExecutionLoggingEnabled",
        when=CLOUD_WATCH_ROLE_OFF,
        reason="Execution logging needs the account-level API Gateway CloudWatch role, which this configuration "
        "does not create (local mode only); AWS environments log errors. Access logs are on everywhere.",
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentApi/RestApi/CloudWatchRole/Resource",
        rule="AwsSolutions-IAM4",
        applies_to="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
        when=CLOUD_WATCH_ROLE_ON,
        reason="The account-level role API Gateway writes access and execution logs with: AWS documents this AWS "
        "managed policy for it and maintains it as API Gateway's logging needs change. Only "
        "apigateway.amazonaws.com can assume the role, and it is shared by every REST API in the account and "
        "region, so it cannot be scoped to this API's log groups.",
    ),
    # --- Payment-<env>: the functions --------------------------------------------------------------------------------
    *(
        Suppression(
            stack=PAYMENT, path=f"{function}/Function/Resource", rule="AwsSolutions-L1", reason=_OLDER_RUNTIME_REASON
        )
        for function in _PAYMENT_FUNCTIONS
    ),
    *(
        Suppression(
            stack=PAYMENT,
            path=f"{function}/Function/Resource",
            rule="Serverless-LambdaLatestVersion",
            reason=_OLDER_RUNTIME_REASON,
        )
        for function in _PAYMENT_FUNCTIONS
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentApi/Handler/Function/Resource",
        rule="Serverless-LambdaDLQ",
        reason="API Gateway invokes this function synchronously (Lambda proxy integration, every route) and nothing "
        f"invokes it asynchronously: {_NO_ASYNC_INVOCATION} A failed call is answered to its caller (5xx), logged, and "
        "counted by the Api5xx and ApiFunctionErrors alarms.",
    ),
    Suppression(
        stack=PAYMENT,
        path="BookingFunctions/Collect/Function/Resource",
        rule="Serverless-LambdaDLQ",
        reason="Its only caller, the booking state machine, invokes it synchronously (Step Functions LambdaInvoke, "
        f"RequestResponse): {_NO_ASYNC_INVOCATION} The workflow retries a failed collect itself, then fails the "
        "booking and runs the compensation; a compensation step that still fails goes to the workflow's dead-letter "
        "queue, alarmed on its first message.",
    ),
    Suppression(
        stack=PAYMENT,
        path="BookingFunctions/Refund/Function/Resource",
        rule="Serverless-LambdaDLQ",
        reason="Its only caller, the booking state machine, invokes it synchronously (Step Functions LambdaInvoke, "
        f"RequestResponse): {_NO_ASYNC_INVOCATION} The workflow retries a failed refund itself, then sends the charge "
        "id and the error to its dead-letter queue, alarmed on its first message.",
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentEvents/Publisher/Function/Resource",
        rule="Serverless-LambdaDLQ",
        reason="Only Lambda's event source mapping on the ledger's stream invokes this function, synchronously: "
        f"{_NO_ASYNC_INVOCATION} The mapping has its own on-failure destination, PaymentEvents/DeadLetterQueue, which "
        "receives the description of stream records the function could not publish after its retries and is alarmed "
        "on its first message.",
    ),
    Suppression(
        stack=PAYMENT,
        path="HoldSweeper/Handler/Function/Resource",
        rule="Serverless-LambdaDLQ",
        reason="EventBridge Scheduler invokes this function asynchronously, and what Lambda gives up on (a failed run, "
        "or one dropped as too old) already goes to the on-failure destination of its asynchronous invocation "
        "configuration, the queue HoldSweeper/FailedRuns (Serverless-LambdaAsyncFailureDestination, fixed), with the "
        "error, its stack trace and why Lambda gave up. A dead-letter queue is the older alternative for the same "
        "events: it would only keep a second copy of each failed run, with less context.",
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentApi/Handler/Function/Resource",
        rule="PCI.DSS.321-LambdaInsideVPC",
        reason=_LAMBDA_OUTSIDE_VPC_REASON,
    ),
    Suppression(
        stack=PAYMENT,
        path="BookingFunctions/Collect/Function/Resource",
        rule="PCI.DSS.321-LambdaInsideVPC",
        reason=_LAMBDA_OUTSIDE_VPC_REASON,
    ),
    Suppression(
        stack=PAYMENT,
        path="BookingFunctions/Refund/Function/Resource",
        rule="PCI.DSS.321-LambdaInsideVPC",
        reason=_LAMBDA_OUTSIDE_VPC_REASON,
    ),
    Suppression(
        stack=PAYMENT,
        path="HoldSweeper/Handler/Function/Resource",
        rule="PCI.DSS.321-LambdaInsideVPC",
        reason=_LAMBDA_OUTSIDE_VPC_REASON,
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentEvents/Publisher/Function/Resource",
        rule="PCI.DSS.321-LambdaInsideVPC",
        reason="No card data reaches this function (it reads ledger records: payment, booking and customer ids, "
        "amounts and statuses; Stripe.js tokenises cards in the browser), it has no inbound network path (only "
        "Lambda's event source mapping invokes it) and it reaches only the EventBridge API over HTTPS. A VPC would "
        "add NAT gateways or VPC endpoints per environment and no isolation for data that is not there.",
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentApi/Handler/Role/Policy/Resource",
        rule="AwsSolutions-IAM5",
        applies_to="Resource::*",
        reason=_XRAY_REASON,
    ),
    Suppression(
        stack=PAYMENT,
        path="BookingFunctions/Collect/Role/Policy/Resource",
        rule="AwsSolutions-IAM5",
        applies_to="Resource::*",
        reason=_XRAY_REASON,
    ),
    Suppression(
        stack=PAYMENT,
        path="BookingFunctions/Refund/Role/Policy/Resource",
        rule="AwsSolutions-IAM5",
        applies_to="Resource::*",
        reason=_XRAY_REASON,
    ),
    Suppression(
        stack=PAYMENT,
        path="HoldSweeper/Handler/Role/Policy/Resource",
        rule="AwsSolutions-IAM5",
        applies_to="Resource::*",
        reason=_XRAY_REASON,
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentEvents/Publisher/Role/Policy/Resource",
        rule="AwsSolutions-IAM5",
        applies_to="Resource::*",
        reason="X-Ray (xray:PutTraceSegments, xray:PutTelemetryRecords) for Lambda active tracing, and "
        "dynamodb:ListStreams, which Lambda's event source mapping calls to find the ledger's stream: none of these "
        "actions supports resource-level permissions (AWS documents Resource *). Reading the stream "
        "(DescribeStream, GetRecords, GetShardIterator) is allowed on the ledger's stream ARN only, putting events on "
        "the payment bus only.",
    ),
    Suppression(
        stack=PAYMENT,
        path="HoldSweeper/ScheduleRole/Policy/Resource",
        rule="AwsSolutions-IAM5",
        applies_to="Resource::<SWEEPER_FUNCTION_ARN>:*",
        reason="lambda:InvokeFunction on the hold sweeper's versions and aliases (its ARN followed by :*), which "
        "CDK's EventBridge Scheduler LambdaInvoke target grants with the function itself; it names that one "
        "function only, which publishes no versions.",
    ),
    # --- Payment-<env>: the hold sweeper's failed runs ---------------------------------------------------------------
    Suppression(
        stack=PAYMENT,
        path="HoldSweeper/FailedRuns/Resource",
        rule="AwsSolutions-SQS3",
        reason="This queue is itself where failures go: the on-failure destination of the hold sweeper's asynchronous "
        "invocations, where Lambda records each run that failed or that it dropped. Nothing consumes it (operators "
        "read the records; there is nothing to replay, the next run sweeps the same holds), so a dead-letter queue of "
        "its own would never receive anything. The HoldSweeperErrors alarm fires on the failed run itself.",
    ),
    Suppression(
        stack=PAYMENT,
        path="HoldSweeper/FailedRuns/Resource",
        rule="Serverless-SQSRedrivePolicy",
        reason="A redrive policy moves messages its consumers keep failing on to a dead-letter queue. This queue is "
        "itself the hold sweeper's on-failure destination (see AwsSolutions-SQS3 on the same queue) and has no "
        "consumer to fail: operators read its records, so a redrive policy would never move one.",
    ),
    # --- Payment-<env>: the payment events ---------------------------------------------------------------------------
    Suppression(
        stack=PAYMENT,
        path="PaymentEvents/DeadLetterQueue/Resource",
        rule="AwsSolutions-SQS3",
        reason="This queue is itself the dead-letter queue: Lambda's event source mapping sends it the description "
        "of ledger stream records the event publisher could not publish after its retries, and an alarm fires on its "
        "first message. A dead-letter queue of its own would only move the same messages one queue further from the "
        "alarm.",
    ),
    Suppression(
        stack=PAYMENT,
        path="PaymentEvents/DeadLetterQueue/Resource",
        rule="Serverless-SQSRedrivePolicy",
        reason="A redrive policy moves messages its consumers keep failing on to a dead-letter queue. This queue is "
        "itself the dead-letter queue of the event publisher's event source mapping (see AwsSolutions-SQS3 on the "
        "same queue) and has no consumer: a human republishes the ledger changes its messages name, after an alarm "
        "on the first message.",
    ),
    # --- Booking-<env> -----------------------------------------------------------------------------------------------
    Suppression(
        stack=BOOKING,
        path="BookingWorkflow/DeadLetterQueue/Resource",
        rule="AwsSolutions-SQS3",
        reason="This queue is itself the dead-letter queue: the workflow sends compensations that failed after "
        "their retries to it, and an alarm fires on its first message. A dead-letter queue of its own would only "
        "move the same messages one queue further from the alarm.",
    ),
    Suppression(
        stack=BOOKING,
        path="BookingWorkflow/DeadLetterQueue/Resource",
        rule="Serverless-SQSRedrivePolicy",
        reason="A redrive policy moves messages its consumers keep failing on to a dead-letter queue. This queue is "
        "itself the booking workflow's dead-letter queue (see AwsSolutions-SQS3 on the same queue) and has no "
        "consumer: a human finishes each failed compensation it holds by hand, after an alarm on the first message.",
    ),
    Suppression(
        stack=BOOKING,
        path="BookingWorkflow/StateMachineRole/Policy/Resource",
        rule="AwsSolutions-IAM5",
        applies_to="Resource::*",
        reason="Two statements CDK adds for the state machine, whose actions support no resource-level "
        "permissions: X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, "
        "GetSamplingTargets) and CloudWatch Logs delivery for execution logging (logs:CreateLogDelivery, "
        "GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, "
        "DescribeResourcePolicies, DescribeLogGroups); AWS documents Resource * for both.",
    ),
    Suppression(
        stack=BOOKING,
        path="BookingWorkflow/StateMachineRole/Policy/Resource",
        rule="AwsSolutions-IAM5",
        applies_to="Resource::<COLLECT_FUNCTION_ARN>:*",
        reason="lambda:InvokeFunction on the Collect function's versions and aliases (its ARN followed by :*), "
        "which CDK's LambdaInvoke task grants with the function itself; it names that one function only.",
    ),
    Suppression(
        stack=BOOKING,
        path="BookingWorkflow/StateMachineRole/Policy/Resource",
        rule="AwsSolutions-IAM5",
        applies_to="Resource::<REFUND_FUNCTION_ARN>:*",
        reason="lambda:InvokeFunction on the Refund function's versions and aliases (its ARN followed by :*), "
        "which CDK's LambdaInvoke task grants with the function itself; it names that one function only.",
    ),
)
