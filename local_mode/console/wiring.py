"""The console over a running ``LocalEnvironment``: its reads, its bus log and its server, started and stopped
together."""

from __future__ import annotations

from dataclasses import dataclass

from local_mode.console.bus_log import BusLog
from local_mode.console.reads import ConsoleReads
from local_mode.console.server import ConsoleServer
from local_mode.environment import EVENT_BUS_VARIABLE, LocalEnvironment
from payment_stack.names import booking_stack_name, payment_stack_name

# Stripe.js on the page authenticates with a publishable key, as in production; localstripe accepts any pk_test_.
PUBLISHABLE_KEY = "pk_test_local_mode"
# Cards localstripe knows (its docs and DESIGN.md): shown under the card field.
TEST_CARDS = (
    {"label": "succeeds", "number": "4242424242424242"},
    {"label": "3-D Secure: asks the customer to authenticate", "number": "4000002500003155"},
    {"label": "declined", "number": "4000000000000341"},
)


@dataclass
class Console:
    server: ConsoleServer
    bus_log: BusLog | None

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.stop()
        if self.bus_log is not None:
            self.bus_log.stop()


def start_console(env: LocalEnvironment, *, port: int) -> Console:
    """Serve the console for ``env`` on 127.0.0.1:``port`` (0: any free port)."""
    payment_stack, booking_stack = payment_stack_name(env.env_name), booking_stack_name(env.env_name)
    bus_names = env.function_settings(EVENT_BUS_VARIABLE)
    bus_log = (
        BusLog(events=env.client("events"), sqs=env.client("sqs"), bus_name=bus_names[0], env_name=env.env_name)
        if bus_names
        else None
    )
    reads = ConsoleReads(
        client=env.client,
        booking_outputs=env.stacks[booking_stack].outputs,
        payment_outputs=env.stacks[payment_stack].outputs,
        api_url=env.api_url,
        stripe_url=env.stripe_url,
        stripe_key=env.stripe_key,
        bus_log=bus_log,
    )
    config = {
        "envName": env.env_name,
        "paymentApiUrl": env.api_url,
        "bookingApiUrl": "/booking/",
        "stripeJsUrl": f"{env.stripe_url}/js.stripe.com/v3/",
        "publishableKey": PUBLISHABLE_KEY,
        "testCards": list(TEST_CARDS),
    }
    server = ConsoleServer(reads=reads, config=config, port=port)
    if bus_log is not None:
        bus_log.start()
    return Console(server=server.start(), bus_log=bus_log)
