"""The Collect and Refund functions the booking workflow calls, and the SSM parameters other services find them by."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from payment_stack.log_settings import LogSettings
from payment_stack.names import (
    API_ROUTES,
    api_route_url_parameter_name,
    api_url_parameter_name,
    function_parameter_name,
)
from payment_stack.payment.api import PaymentApi
from payment_stack.payment_function import LIVE_ALIAS_NAME, PaymentFunction

# The HTTP call to the payment API uses connect 3 s + read 20 s (the API's own function times out after 12 s, inside
# API Gateway's 29 s integration timeout), so the function always answers with a typed error before Lambda kills it.
FUNCTION_TIMEOUT = Duration.seconds(30)
# I/O bound (one signed HTTP call); Lambda allots CPU in proportion to memory, and 256 MB is enough for a fast cold
# start (Powertools imports; the HTTP client is botocore's, which the runtime ships).
FUNCTION_MEMORY_MB = 256


class BookingPaymentFunctions(Construct):
    """The Collect and Refund functions of one environment and the SSM parameters that publish them.

    In: ``env_name`` (names the SSM parameters, describes the functions), ``snap_start``, ``log_settings`` (the
    functions' Powertools log level and log groups) and ``payment_api`` (its base URL, the only business setting of
    both functions, and its ``grant_capture`` / ``grant_refund``).

    Creates Collect (``POST /capture``) and Refund (``POST /refund``), each allowed to invoke exactly its own route,
    and String parameters under ``/<env_name>/service/payment`` (``payment_stack.names``): ``/function/collect`` and
    ``/function/refund`` (the ARNs the booking workflow invokes), ``/api/url`` (the API's base URL, for the
    front-end) and, as the old payment stack exported them, ``/api/charge/url``, ``/api/capture/url`` and
    ``/api/refund/url`` (full route URLs). Powertools comes from its official layer (not bundled). With
    ``snap_start`` each function has SnapStart and an alias ``live`` of its published version, and the parameters
    hold the aliases' ARNs; otherwise the functions' ARNs.

    Exposes ``collect``, ``refund`` (``lambda_.Function``), ``collect_target``, ``refund_target`` (what callers
    invoke: the ``live`` alias with SnapStart, the function otherwise), ``collect_parameter``, ``refund_parameter``
    ``api_url_parameter`` (``ssm.StringParameter``) and ``route_url_parameters`` (route name → parameter).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        snap_start: bool,
        log_settings: LogSettings,
        payment_api: PaymentApi,
    ) -> None:
        super().__init__(scope, construct_id)

        def function(construct_id: str, *, function_dir: str, description: str) -> PaymentFunction:
            return PaymentFunction(
                self,
                construct_id,
                function_dir=function_dir,
                handler=f"lambdas.{function_dir}.handler.handler",
                description=description,
                timeout=FUNCTION_TIMEOUT,
                memory_size=FUNCTION_MEMORY_MB,
                log_settings=log_settings,
                environment={"PAYMENT_API_URL": payment_api.url},
                snap_start=snap_start,
            )

        collect = function(
            "Collect",
            function_dir="collect",
            description=f"Payment Collect ({env_name}): captures a booking's pre-authorised charge",
        )
        refund = function(
            "Refund",
            function_dir="refund",
            description=f"Payment Refund ({env_name}): refunds a booking's charge or releases its hold",
        )
        self.collect: lambda_.Function = collect.function
        self.refund: lambda_.Function = refund.function
        self.collect_target: lambda_.IFunction = collect.invoke_target
        self.refund_target: lambda_.IFunction = refund.invoke_target
        payment_api.grant_capture(self.collect)
        payment_api.grant_refund(self.refund)

        alias_note = f", alias {LIVE_ALIAS_NAME}" if snap_start else ""
        self._add_parameters(env_name=env_name, api_url=payment_api.url, alias_note=alias_note)

    def _add_parameters(self, *, env_name: str, api_url: str, alias_note: str) -> None:
        """The String parameters other services find the functions and the API by."""
        # Construct id -> (parameter name, value, description). Physical names, but every one carries the environment,
        # so two environments never collide.
        parameters = {
            f"{name.title()}Parameter": (
                function_parameter_name(env_name, name),
                target.function_arn,
                f"ARN of the payment {name.title()} function{alias_note} ({env_name})",
            )
            for name, target in (("collect", self.collect_target), ("refund", self.refund_target))
        }
        parameters["ApiUrlParameter"] = (
            api_url_parameter_name(env_name),
            api_url,
            f"Base URL of the payment API, stage Prod ({env_name})",
        )
        # The old payment stack's names for its consumers: each route's full URL (the old front-end's build read the
        # charge URL). Same values as the base URL plus the route, so they cannot drift apart.
        for route in API_ROUTES:
            parameters[_route_url_parameter_id(route)] = (
                api_route_url_parameter_name(env_name, route),
                f"{api_url}{route}",
                f"Full URL of POST /{route} of the payment API, stage Prod ({env_name})",
            )
        created = {
            construct_id: ssm.StringParameter(
                self, construct_id, parameter_name=name, string_value=value, description=description
            )
            for construct_id, (name, value, description) in parameters.items()
        }
        self.collect_parameter = created["CollectParameter"]
        self.refund_parameter = created["RefundParameter"]
        self.api_url_parameter = created["ApiUrlParameter"]
        self.route_url_parameters = {route: created[_route_url_parameter_id(route)] for route in API_ROUTES}


def _route_url_parameter_id(route: str) -> str:
    return f"{route.capitalize()}UrlParameter"
