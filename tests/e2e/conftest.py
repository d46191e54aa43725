"""One local mode for the e2e tier: the app synthesized with local context and deployed into moto."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local_mode.environment import LocalEnvironment, LocalPorts, free_port, synthesize

E2E_ENV = "e2e"


@pytest.fixture(scope="session")
def checkout_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def local_env(tmp_path_factory: pytest.TempPathFactory, checkout_port: int) -> Iterator[LocalEnvironment]:
    # The checkout page's origin is the one the front-end would have: the only one CORS allows.
    assembly = synthesize(
        env_name=E2E_ENV,
        outdir=tmp_path_factory.mktemp("cdk.out"),
        extra_context={"payment:corsAllowedOrigins": f"http://127.0.0.1:{checkout_port}"},
    )
    environment = LocalEnvironment(
        assembly=assembly,
        env_name=E2E_ENV,
        ports=LocalPorts(aws=free_port(), stripe=free_port(), api=free_port()),
        log_dir=Path(tmp_path_factory.mktemp("logs")),
    ).start()
    yield environment
    environment.stop()


@pytest.fixture(autouse=True)
def no_fault_injection(local_env: LocalEnvironment) -> Iterator[None]:
    local_env.api_interceptor = None
    yield
    local_env.api_interceptor = None
