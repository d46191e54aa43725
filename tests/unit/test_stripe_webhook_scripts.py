"""`make stripe-webhook-secret` and `make stripe-webhook`: what they store in (moto) SSM, what they send to Stripe
(an offline, stateful stand-in behind the real Stripe SDK) and that no secret ever reaches the terminal."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import stripe
from botocore.exceptions import ClientError

from lambdas.payment_api.webhook_events import WEBHOOK_EVENT_TYPES
from payment_stack.names import (
    api_url_parameter_name,
    stripe_secret_key_parameter_name,
    stripe_webhook_secret_parameter_name,
)
from scripts import put_stripe_webhook_secret, register_stripe_webhook
from tests.support.stripe_stub import OfflineStripeHttp, StripeCall, stripe_error

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

ENV = "test"
SECRET_PARAMETER = stripe_webhook_secret_parameter_name(ENV)
API_URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/Prod/"
WEBHOOK_URL = API_URL + "webhooks/stripe"
DESCRIPTION = f"serverless-airline payment {ENV}"
SSM_STRIPE_KEY = "sk_test_from_ssm_7d1e"
NEW_ENDPOINT_SECRET = "whsec_created_by_stripe_5b2a9c"
WEBHOOK_SECRET = "whsec_operator_put_this_0c3f"
OLD_WEBHOOK_SECRET = "whsec_operator_rolled_this_8e41"


@pytest.fixture(autouse=True)
def _no_operator_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("STRIPE_WEBHOOK_SECRET", "STRIPE_SECRET_KEY", "AWS_BRANCH"):
        monkeypatch.delenv(variable, raising=False)


def stored(ssm: SSMClient, name: str) -> tuple[str, str, int]:
    """The parameter's decrypted value, type and version."""
    parameter = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    return parameter["Value"], parameter["Type"], parameter["Version"]


def refuse_put_parameter(**kwargs: Any) -> None:
    """A botocore hook failing PutParameter the way AWS validation does: quoting the value it was sent."""
    raise ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": f"not allowed to store '{kwargs['params']['Value']}'"}},
        "PutParameter",
    )


# --- make stripe-webhook-secret ---------------------------------------------------------------------------------


def put_secret(monkeypatch: pytest.MonkeyPatch, value: str | None) -> int:
    if value is not None:
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", value)
    return put_stripe_webhook_secret.main(["--env", ENV])


def test_secret_is_stored_as_a_securestring_and_never_printed(
    ssm: SSMClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an operator's secret / When it is put / Then SSM holds it encrypted, and only its location is shown
    assert put_secret(monkeypatch, f"  {WEBHOOK_SECRET}\n") == 0
    assert stored(ssm, SECRET_PARAMETER) == (WEBHOOK_SECRET, "SecureString", 1)
    out, err = capsys.readouterr()
    assert out == f"stored 1 webhook signing secret at {SECRET_PARAMETER} (version 1)\n"
    assert WEBHOOK_SECRET not in out + err


def test_a_rotation_pair_is_stored_normalised_over_the_old_value(
    ssm: SSMClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the old secret stored / When the new and the old are put during a rotation
    assert put_secret(monkeypatch, OLD_WEBHOOK_SECRET) == 0
    assert put_secret(monkeypatch, f" {WEBHOOK_SECRET} , {OLD_WEBHOOK_SECRET} ") == 0
    # Then both are stored, spaces removed, as a new version
    assert stored(ssm, SECRET_PARAMETER) == (f"{WEBHOOK_SECRET},{OLD_WEBHOOK_SECRET}", "SecureString", 2)
    out, err = capsys.readouterr()
    assert f"stored 2 webhook signing secrets at {SECRET_PARAMETER} (version 2)" in out
    assert WEBHOOK_SECRET not in out + err
    assert OLD_WEBHOOK_SECRET not in out + err


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "set STRIPE_WEBHOOK_SECRET"),
        ("   ", "set STRIPE_WEBHOOK_SECRET"),
        ("sk_test_pasted_the_wrong_key", "secret 1 of STRIPE_WEBHOOK_SECRET does not look like"),
        (f"{WEBHOOK_SECRET},we_1Nendpointid", "secret 2 of STRIPE_WEBHOOK_SECRET does not look like"),
        (f"{WEBHOOK_SECRET},", "secret 2 of STRIPE_WEBHOOK_SECRET does not look like"),
        ("whsec_", "secret 1 of STRIPE_WEBHOOK_SECRET does not look like"),
        (f"{WEBHOOK_SECRET},{OLD_WEBHOOK_SECRET},whsec_third", "holds 3 secrets"),
        (f"{WEBHOOK_SECRET},{WEBHOOK_SECRET}", "the same secret twice"),
    ],
)
def test_a_bad_secret_is_refused_without_being_echoed(
    ssm: SSMClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    value: str | None,
    message: str,
) -> None:
    # Given a missing or malformed value / When it is put / Then exit 2, nothing stored, the value not shown
    assert put_secret(monkeypatch, value) == 2
    assert ssm.describe_parameters()["Parameters"] == []
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err
    for secret in (value or "").split(","):
        if secret.strip() not in ("", "whsec_"):
            assert secret.strip() not in err


def test_an_aws_failure_exits_1_without_the_secret(
    ssm: SSMClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given SSM refusing the write with an error that quotes the value
    make_client = boto3.client

    def refusing_client(*args: Any, **kwargs: Any) -> Any:
        client = make_client(*args, **kwargs)
        client.meta.events.register("before-parameter-build.ssm.PutParameter", refuse_put_parameter)
        return client

    monkeypatch.setattr(boto3, "client", refusing_client)
    # When a rotation pair is put / Then exit 1 with AWS's reason, the secrets masked
    assert put_secret(monkeypatch, f"{WEBHOOK_SECRET},{OLD_WEBHOOK_SECRET}") == 1
    out, err = capsys.readouterr()
    assert "error: could not store the webhook secret" in err
    assert "AccessDeniedException" in err
    assert WEBHOOK_SECRET not in out + err
    assert OLD_WEBHOOK_SECRET not in out + err


# --- make stripe-webhook ----------------------------------------------------------------------------------------


def endpoint_object(
    endpoint_id: str,
    *,
    url: str = WEBHOOK_URL,
    events: list[str] | None = None,
    api_version: str | None = stripe.api_version,
    description: str | None = DESCRIPTION,
    status: str = "enabled",
) -> dict[str, Any]:
    return {
        "id": endpoint_id,
        "object": "webhook_endpoint",
        "url": url,
        "enabled_events": list(WEBHOOK_EVENT_TYPES) if events is None else events,
        "api_version": api_version,
        "description": description,
        "status": status,
        "application": None,
        "livemode": False,
        "metadata": {},
        "created": 1_700_000_000,
    }


def listed(params: Mapping[str, str], name: str) -> list[str]:
    """A list parameter as the SDK form-encodes it (``name[0]=..&name[1]=..``), in order."""
    indexed = {int(key[len(name) + 1 : -1]): value for key, value in params.items() if key.startswith(f"{name}[")}
    return [indexed[index] for index in sorted(indexed)]


@dataclass
class FakeStripeWebhooks(OfflineStripeHttp):
    """Stripe's webhook endpoint API in memory: list (paged by ``page_size``), create (answers a new ``secret``
    once), update (``enabled_events``, ``description``, ``disabled``). ``refusal`` answers every request."""

    name = "fake-stripe-webhooks"
    endpoints: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2
    refusal: tuple[int, dict[str, Any]] | None = None

    def answer(self, call: StripeCall) -> tuple[int, dict[str, Any], dict[str, str]]:
        status, body = self.refusal or self._answer(call.method, call.path, call.params)
        return status, body, {}

    def _answer(self, method: str, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        ids = [endpoint["id"] for endpoint in self.endpoints]
        if (method, path) == ("GET", "/v1/webhook_endpoints"):
            start = ids.index(params["starting_after"]) + 1 if "starting_after" in params else 0
            end = start + min(int(params.get("limit", "10")), self.page_size)
            page = {"object": "list", "url": path, "has_more": end < len(ids), "data": self.endpoints[start:end]}
            return 200, page
        if (method, path) == ("POST", "/v1/webhook_endpoints"):
            created = endpoint_object(
                f"we_created{len(ids) + 1}",
                url=params["url"],
                events=listed(params, "enabled_events"),
                api_version=params.get("api_version"),
                description=params.get("description"),
            )
            self.endpoints.append(created)
            return 200, {**created, "secret": NEW_ENDPOINT_SECRET}
        endpoint_id = path.removeprefix("/v1/webhook_endpoints/")
        if method == "POST" and endpoint_id in ids:
            endpoint = self.endpoints[ids.index(endpoint_id)]
            if "enabled_events[0]" in params:
                endpoint["enabled_events"] = listed(params, "enabled_events")
            if "description" in params:
                endpoint["description"] = params["description"]
            if "disabled" in params:
                endpoint["status"] = "disabled" if params["disabled"] == "true" else "enabled"
            return 200, endpoint
        return stripe_error(404, "invalid_request_error", "resource_missing", "No such webhook endpoint")


@pytest.fixture
def deployed(ssm: SSMClient) -> SSMClient:
    """SSM of a deployed environment whose operator has stored the Stripe key (no webhook secret yet)."""
    ssm.put_parameter(Name=api_url_parameter_name(ENV), Value=API_URL, Type="String")
    ssm.put_parameter(Name=stripe_secret_key_parameter_name(ENV), Value=SSM_STRIPE_KEY, Type="SecureString")
    return ssm


def client_factory(fake: FakeStripeWebhooks) -> Callable[[str], stripe.StripeClient]:
    return lambda api_key: stripe.StripeClient(api_key, http_client=fake, max_network_retries=0)


def register(fake: FakeStripeWebhooks, ssm: SSMClient | None = None) -> int:
    return register_stripe_webhook.main(["--env", ENV], stripe_client_factory=client_factory(fake), ssm=ssm)


def test_a_new_endpoint_is_created_and_its_secret_stored_unprinted(
    deployed: SSMClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given another service's endpoint only / When the command runs
    fake = FakeStripeWebhooks(endpoints=[endpoint_object("we_other", url="https://other.example/hook")])
    assert register(fake) == 0
    # Then one endpoint is created, pinned to the SDK's API version, with the key from SSM
    (create,) = fake.posts()
    assert create.path == "/v1/webhook_endpoints"
    assert {key: value for key, value in create.params.items() if not key.startswith("enabled_events")} == {
        "url": WEBHOOK_URL,
        "api_version": stripe.api_version,
        "description": DESCRIPTION,
    }
    assert listed(create.params, "enabled_events") == list(WEBHOOK_EVENT_TYPES)
    assert {call.api_key for call in fake.calls} == {SSM_STRIPE_KEY}
    # And its signing secret is in SSM, encrypted, and nowhere in the output
    assert stored(deployed, SECRET_PARAMETER) == (NEW_ENDPOINT_SECRET, "SecureString", 1)
    out, err = capsys.readouterr()
    assert NEW_ENDPOINT_SECRET not in out + err
    assert SSM_STRIPE_KEY not in out + err
    assert f"webhook endpoint we_created2 for {WEBHOOK_URL}: created" in out
    assert f"{len(WEBHOOK_EVENT_TYPES)} event types, API version {stripe.api_version}" in out
    assert f"signing secret: SSM SecureString {SECRET_PARAMETER}" in out
    assert err == ""


def test_a_second_run_changes_nothing(deployed: SSMClient, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the endpoint this command created / When it runs again
    fake = FakeStripeWebhooks()
    assert register(fake) == 0
    capsys.readouterr()
    assert register(fake) == 0
    # Then no second create, no update, the secret untouched
    assert [call.path for call in fake.posts()] == ["/v1/webhook_endpoints"]
    assert stored(deployed, SECRET_PARAMETER)[2] == 1
    out, err = capsys.readouterr()
    assert f"webhook endpoint we_created1 for {WEBHOOK_URL}: up to date" in out
    assert err == ""


def test_the_same_events_in_another_order_are_up_to_date(
    deployed: SSMClient, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed.put_parameter(Name=SECRET_PARAMETER, Value=WEBHOOK_SECRET, Type="SecureString")
    fake = FakeStripeWebhooks(endpoints=[endpoint_object("we_1", events=list(reversed(WEBHOOK_EVENT_TYPES)))])
    assert register(fake) == 0
    assert fake.posts() == []
    out, err = capsys.readouterr()
    assert "webhook endpoint we_1" in out
    assert "up to date" in out
    assert err == ""


def test_an_environment_key_is_used_instead_of_the_stored_one(
    deployed: SSMClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_from_environment_31aa")
    fake = FakeStripeWebhooks()
    assert register(fake) == 0
    assert {call.api_key for call in fake.calls} == {"sk_test_from_environment_31aa"}
    assert "sk_test_from_environment_31aa" not in "".join(capsys.readouterr())


def test_changed_events_and_description_are_updated_in_place(
    deployed: SSMClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the endpoint with the webhook secret stored, but one event swapped and an older description
    deployed.put_parameter(Name=SECRET_PARAMETER, Value=WEBHOOK_SECRET, Type="SecureString")
    endpoint = endpoint_object("we_1", events=[*WEBHOOK_EVENT_TYPES[:-1], "charge.succeeded"], description="old")
    fake = FakeStripeWebhooks(endpoints=[endpoint])
    # When the command runs / Then the endpoint gets exactly the handled events, and stays enabled
    assert register(fake) == 0
    (update,) = fake.posts()
    assert update.path == "/v1/webhook_endpoints/we_1"
    assert listed(update.params, "enabled_events") == list(WEBHOOK_EVENT_TYPES)
    assert update.params["description"] == DESCRIPTION
    assert "disabled" not in update.params
    assert endpoint["enabled_events"] == list(WEBHOOK_EVENT_TYPES)
    # And the stored secret is kept (Stripe gives an existing endpoint's secret only in the Dashboard)
    assert stored(deployed, SECRET_PARAMETER)[0] == WEBHOOK_SECRET
    out, err = capsys.readouterr()
    assert "we_1" in out
    assert "updated (event types, description)" in out
    assert err == ""


def test_a_disabled_endpoint_is_enabled_again(deployed: SSMClient, capsys: pytest.CaptureFixture[str]) -> None:
    deployed.put_parameter(Name=SECRET_PARAMETER, Value=WEBHOOK_SECRET, Type="SecureString")
    endpoint = endpoint_object("we_1", status="disabled")
    fake = FakeStripeWebhooks(endpoints=[endpoint])
    assert register(fake) == 0
    (update,) = fake.posts()
    assert update.params["disabled"] == "false"
    assert listed(update.params, "enabled_events") == list(WEBHOOK_EVENT_TYPES)
    assert endpoint["status"] == "enabled"
    assert "updated (enabled again)" in capsys.readouterr().out


def test_duplicates_on_later_pages_are_reported_not_touched(
    deployed: SSMClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given, over three pages of two, two endpoints for this URL besides other services' endpoints
    deployed.put_parameter(Name=SECRET_PARAMETER, Value=WEBHOOK_SECRET, Type="SecureString")
    others = [endpoint_object(f"we_other{n}", url=f"https://other.example/{n}") for n in range(3)]
    first, duplicate = endpoint_object("we_first", events=["charge.refunded"]), endpoint_object("we_dup", events=[])
    fake = FakeStripeWebhooks(endpoints=[*others, first, duplicate], page_size=2)
    # When the command runs / Then every page was read, only the first match updated, the other named
    assert register(fake) == 0
    assert [call.params.get("starting_after") for call in fake.calls if call.method == "GET"] == [
        None,
        "we_other1",
        "we_first",
    ]
    assert [call.path for call in fake.posts()] == ["/v1/webhook_endpoints/we_first"]
    assert duplicate["enabled_events"] == []
    out, err = capsys.readouterr()
    assert "warning: endpoint we_dup also receives" in err
    assert "we_first" not in err
    assert "webhook endpoint we_first" in out


def test_an_existing_endpoint_without_a_stored_secret_gets_a_fix_hint(
    deployed: SSMClient, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeStripeWebhooks(endpoints=[endpoint_object("we_1")])
    assert register(fake) == 0
    assert fake.posts() == []
    out, err = capsys.readouterr()
    assert "up to date" in out
    assert f"warning: {SECRET_PARAMETER} does not exist" in err
    assert "roll the endpoint's signing secret in the Stripe Dashboard" in err
    assert "make stripe-webhook-secret" in err


def test_an_endpoint_of_another_api_version_is_reported(
    deployed: SSMClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an endpoint made in the Dashboard on the account's older version (the update call cannot change it)
    deployed.put_parameter(Name=SECRET_PARAMETER, Value=WEBHOOK_SECRET, Type="SecureString")
    fake = FakeStripeWebhooks(endpoints=[endpoint_object("we_1", api_version="2024-06-20")])
    assert register(fake) == 0
    assert fake.posts() == []
    out, err = capsys.readouterr()
    assert "API version 2024-06-20" in out
    assert f"warning: endpoint we_1 sends events of API version 2024-06-20, not {stripe.api_version}" in err


def test_a_secret_that_cannot_be_stored_after_creation_fails_loudly(
    deployed: SSMClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given SSM refusing the write (its error quoting the value)
    deployed.meta.events.register("before-parameter-build.ssm.PutParameter", refuse_put_parameter)
    fake = FakeStripeWebhooks()
    # When the endpoint is created / Then exit 1, saying what exists now and how to recover, the secret masked
    assert register(fake, ssm=deployed) == 1
    assert [endpoint["id"] for endpoint in fake.endpoints] == ["we_created1"]
    assert (
        deployed.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [SECRET_PARAMETER]}])["Parameters"]
        == []
    )
    out, err = capsys.readouterr()
    assert "error: the endpoint we_created1 was created, but its signing secret could not be stored" in err
    assert "AccessDeniedException" in err
    assert "roll the endpoint's signing secret in the Stripe Dashboard" in err
    assert "make stripe-webhook-secret" in err
    assert NEW_ENDPOINT_SECRET not in out + err


def test_an_undeployed_environment_exits_2(ssm: SSMClient, capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeStripeWebhooks()
    assert register(fake) == 2
    assert fake.calls == []
    err = capsys.readouterr().err
    assert api_url_parameter_name(ENV) in err
    assert "deploy the environment first" in err


def test_a_missing_stripe_key_exits_2(ssm: SSMClient, capsys: pytest.CaptureFixture[str]) -> None:
    ssm.put_parameter(Name=api_url_parameter_name(ENV), Value=API_URL, Type="String")
    fake = FakeStripeWebhooks()
    assert register(fake) == 2
    assert fake.calls == []
    assert "make stripe-key" in capsys.readouterr().err


def test_a_stripe_refusal_exits_1(deployed: SSMClient, capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeStripeWebhooks(refusal=stripe_error(401, "invalid_request_error", None, "Invalid API Key provided"))
    assert register(fake) == 1
    assert fake.posts() == []
    out, err = capsys.readouterr()
    assert "error: Stripe refused the request" in err
    assert "Invalid API Key provided" in err
    assert SSM_STRIPE_KEY not in out + err
