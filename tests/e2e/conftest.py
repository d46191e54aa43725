"""One local mode for the e2e tier: the app synthesized with local context and deployed into moto."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from local_mode.console.wiring import Console, start_console
from local_mode.environment import LocalEnvironment, LocalPorts, free_port, synthesize

if TYPE_CHECKING:
    from tests.support.saga import Saga

E2E_ENV = "e2e"
# The Stripe key of the e2e environment: a canary whose every appearance outside SSM is a leak.
CANARY_STRIPE_KEY = f"sk_test_canary{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def console_port() -> int:
    return free_port()


# Package scope: local mode (and its scheduler, which fires the sweeper every minute) stops when the e2e tier ends,
# not after the other tiers, whose sockets-off unit tests would see its threads fail.
@pytest.fixture(scope="package")
def local_env(tmp_path_factory: pytest.TempPathFactory, console_port: int) -> Iterator[LocalEnvironment]:
    # The console's origin is the one the front-end would have: the only one CORS allows.
    assembly = synthesize(
        env_name=E2E_ENV,
        outdir=tmp_path_factory.mktemp("cdk.out"),
        # DEBUG logging everywhere, so the secret-hygiene test covers the most talkative level.
        extra_context={"payment:corsAllowedOrigins": f"http://127.0.0.1:{console_port}", "payment:logLevel": "DEBUG"},
    )
    environment = LocalEnvironment(
        assembly=assembly,
        env_name=E2E_ENV,
        ports=LocalPorts(aws=free_port(), stripe=free_port(), api=free_port()),
        log_dir=Path(tmp_path_factory.mktemp("logs")),
        stripe_key=CANARY_STRIPE_KEY,
    ).start()
    yield environment
    environment.stop()


@pytest.fixture(scope="package")
def console(local_env: LocalEnvironment, console_port: int) -> Iterator[Console]:
    """The local console on the origin CORS allows, as ``make local`` serves it."""
    started = start_console(local_env, port=console_port)
    yield started
    started.stop()


@pytest.fixture(autouse=True)
def no_fault_injection(local_env: LocalEnvironment) -> Iterator[None]:
    local_env.api_interceptor = None
    yield
    local_env.api_interceptor = None


@pytest.fixture
def saga(local_env: LocalEnvironment) -> Saga:
    """A saga driver with the dead-letter queue drained of what earlier tests left (each message is matched by its
    charge id anyway)."""
    # Imported here: tests.support.saga imports this module's E2E_ENV.
    from tests.support.saga import Saga  # noqa: PLC0415

    saga = Saga(local_env)
    saga.dead_letters()
    return saga
