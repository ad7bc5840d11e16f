import os

import pytest
import torch as th

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
th.set_num_threads(1)


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of the test session's own (tests/postgres.py); fails in CI where none is installed."""
    from tests.postgres import PostgresServer, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        message = "PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: .ci/run installs it, the grid's database tests must run in CI")
        pytest.skip(message)
    server = PostgresServer(bin_dir).start()
    yield server
    server.stop()
