"""Stripe's behaviour where localstripe 1.15.10 differs, bridged in the localstripe process (local mode only).

The payment adapter (``lambdas/payment_api/stripe_provider.py``) sends localstripe exactly what it sends Stripe, so
local mode exercises the production requests end to end; every difference is bridged here instead:

- ``automatic_payment_methods`` on ``POST /v1/payment_intents``, which localstripe refuses as an unknown parameter;
- a token id (``tok_...``) as a Charge's ``source``, which localstripe refuses (it takes ``card_``/``src_``/``pm_``);
- captures and refunds as Stripe makes them since API 2025-03-31: a partial capture releases the rest of the hold
  without a refund object, ``amount_captured``/``amount_received`` say what was taken, and a refund gives back at most
  (by default all of) what was captured and not yet refunded. localstripe records the released rest as a refund,
  lacks both amounts, and refunds the whole original amount by default, or more than is left.

Each bridge patches the localstripe resource method that implements the behaviour rather than rewriting HTTP bodies:
localstripe's handlers parse a body once (``server.get_post_data``, form or JSON) and call these class methods with
keyword arguments, so a patch sees the parameters already decoded, works the same for both encodings, and runs
inside localstripe's own error handling (a ``UserError`` is answered as Stripe's error JSON).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from localstripe import resources
from localstripe.errors import UserError

_INSTALLED = "_local_mode_compat_installed"


def install() -> None:
    """Installs every bridge of this module, once per process (``local_mode.localstripe_server.main``)."""
    if getattr(resources, _INSTALLED, False):
        return
    accept_automatic_payment_methods()
    accept_token_sources()
    capture_as_stripe()
    refund_what_was_captured()
    setattr(resources, _INSTALLED, True)


def accept_automatic_payment_methods() -> None:
    """``POST /v1/payment_intents`` accepts ``automatic_payment_methods``, as production sends it
    (``{enabled: true, allow_redirects: never}``: cards only, so confirming needs no ``return_url``).

    localstripe refuses any parameter it does not know (400 "Unexpected ..."), and has nothing but cards: with
    redirects never allowed (or left to Stripe's default) the parameter changes nothing here, so it is dropped before
    localstripe sees it. Asking for redirect-based methods is refused, since localstripe cannot emulate them.
    """
    create = resources.PaymentIntent._api_create

    def _api_create(_cls: Any, /, automatic_payment_methods: Any = None, **data: Any) -> Any:
        if automatic_payment_methods is not None:
            if not isinstance(automatic_payment_methods, dict):
                raise UserError(400, "Invalid object", {"param": "automatic_payment_methods"})
            if automatic_payment_methods.get("allow_redirects") not in (None, "never"):
                raise UserError(
                    400,
                    "local mode (localstripe) has cards only: automatic_payment_methods[allow_redirects] must be "
                    "'never' or absent",
                    {"param": "automatic_payment_methods[allow_redirects]"},
                )
        return create(**data)

    resources.PaymentIntent._api_create = classmethod(_api_create)


def accept_token_sources() -> None:
    """``POST /v1/charges`` charges a token's card when ``source`` is a token id (``tok_...``), as Stripe does.

    The old checkout (Stripe.js ``createToken``) sends token ids, and production charges them as they are; localstripe
    accepts only ``card_``/``src_``/``pm_`` sources, so the token is looked up in localstripe's store and its card id
    passed on. An unknown token is Stripe's 400 ``resource_missing`` on ``source``, not localstripe's 404.
    """
    create = resources.Charge._api_create

    def _api_create(_cls: Any, /, **data: Any) -> Any:
        source = data.get("source")
        if isinstance(source, str) and source.startswith(resources.Token._id_prefix):
            token = resources.store.get(f"{resources.Token.object}:{source}")
            if token is None:
                raise UserError(400, f"No such token: '{source}'", {"code": "resource_missing", "param": "source"})
            data["source"] = token.card.id
        return create(**data)

    resources.Charge._api_create = classmethod(_api_create)


def capture_as_stripe() -> None:
    """Captures as Stripe makes them since API 2025-03-31.

    - A partial capture releases the rest of the hold without creating a refund object: localstripe's
      ``Charge._capture`` records the rest as a refund (so ``amount_refunded`` and the refund list were wrong), and is
      replaced here by the same checks and payment without that refund. The charge's balance transaction is for
      what was captured, as at Stripe, not for the whole hold.
    - A Charge's ``amount_captured`` (what its capture took; all of it when created captured) and a PaymentIntent's
      ``amount_received`` (its latest charge's), which localstripe's objects and so its webhook events lack.
    """

    def _capture(self: Any, amount: Any, on_success: Callable[[], None] | None = None) -> None:
        # localstripe's own checks and its 400 "Bad request" for a wrong amount or a second capture, unchanged.
        taken = resources.try_convert_to_int(self.amount if amount is None else amount)
        if not (type(taken) is int and 0 <= taken <= self.amount) or self.captured or self.status != "succeeded":
            raise UserError(400, "Bad request")

        def captured() -> None:
            self.captured = True
            self._amount_captured = taken
            transaction = resources.store.get(f"{resources.BalanceTransaction.object}:{self.balance_transaction}")
            if transaction is not None:
                transaction.amount = taken
            if on_success is not None:
                on_success()

        self._trigger_payment(on_success=captured)

    def amount_captured(self: Any) -> int:
        return int(getattr(self, "_amount_captured", self.amount)) if self.captured else 0

    def amount_received(self: Any) -> int:
        charge = self.latest_charge
        return amount_captured(charge) if charge is not None and self.status == "succeeded" else 0

    resources.Charge._capture = _capture
    resources.Charge.amount_captured = property(amount_captured)
    resources.PaymentIntent.amount_received = property(amount_received)


def refund_what_was_captured() -> None:
    """Refunds give back what Stripe would: at most, and by default all of, what is left of the charge.

    What is left is what was captured less what was refunded (the whole hold less what was refunded when the charge
    is uncaptured: such a refund releases it). localstripe refunds the whole original amount by default and accepts
    any amount; here a refund beyond what is left is Stripe's 400 ``amount_too_large``, and one of a charge with
    nothing left is Stripe's 400 ``charge_already_refunded`` (localstripe let a charge be refunded twice). A charge
    counts as ``refunded`` once all of that is back, not the whole original amount.

    ``Refund.__init__`` is wrapped: the amount is settled before localstripe's own checks and refund run unchanged.
    """
    create = resources.Refund.__init__

    @functools.wraps(create)
    def __init__(  # noqa: N807 - replaces localstripe's Refund.__init__
        self: Any, charge: Any = None, payment_intent: Any = None, amount: Any = None, **kwargs: Any
    ) -> None:
        amount = resources.try_convert_to_int(amount)
        refunded = _refunded_charge(charge, payment_intent)
        if refunded is not None and (amount is None or type(amount) is int):
            amount = _refund_amount(refunded, amount)
        create(self, charge=charge, payment_intent=payment_intent, amount=amount, **kwargs)

    def refunded(self: Any) -> bool:
        return bool(self.amount_refunded > 0 and self.amount_refunded >= _refundable(self))

    resources.Refund.__init__ = __init__
    resources.Charge.refunded = property(refunded)


def _refundable(charge: Any) -> int:
    """What a charge's refunds can give back in all: what was captured, or the whole hold while uncaptured."""
    return int(charge.amount_captured) if charge.captured else int(charge.amount)


def _refunded_charge(charge: Any, payment_intent: Any) -> Any:
    """The charge a refund is for (a PaymentIntent's latest), or None to leave the refusal to localstripe."""
    if isinstance(charge, str):
        return resources.store.get(f"{resources.Charge.object}:{charge}")
    if isinstance(payment_intent, str):
        intent = resources.store.get(f"{resources.PaymentIntent.object}:{payment_intent}")
        return None if intent is None else intent.latest_charge
    return None


def _refund_amount(charge: Any, amount: int | None) -> int:
    left = _refundable(charge) - int(charge.amount_refunded)
    if left <= 0:
        raise UserError(
            400,
            f"Charge {charge.id} has already been refunded.",
            {"code": "charge_already_refunded", "charge": charge.id},
        )
    if amount is None:
        return left
    if amount > left:
        raise UserError(
            400,
            f"Refund amount ({amount} {charge.currency}) is greater than unrefunded amount on charge "
            f"({left} {charge.currency}).",
            {"code": "amount_too_large", "param": "amount"},
        )
    return amount
