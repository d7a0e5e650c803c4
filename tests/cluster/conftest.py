"""Fixtures of the replicated set-up: one throwaway PostgreSQL 15 cluster for the whole run (started
as scripts/cluster.sh starts it), and a fresh database for each test that asks for one."""
import re

import pytest

import cluster_support


@pytest.fixture(scope="session")
def postgres():
    """PostgreSQL 15 on 127.0.0.1 and a free port, stopped and removed at the end. Missing binaries
    fail the tests that need it: they are never skipped."""
    cluster = cluster_support.PostgresCluster()
    try:
        cluster.init().start().create_role()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def database(postgres, request):
    """A new database (owned by the gateway's role) named after the test; its DATABASE_URL. The
    cluster is started again first if an earlier test left it stopped."""
    postgres.ensure_running()
    name = "t_" + re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:50]
    return postgres.create_database(name)


@pytest.fixture
def binary():
    assert cluster_support.BINARY.exists(), (
        f"{cluster_support.BINARY} is missing: build first (swift build) or set GATEWAY_BINARY")
    return cluster_support.BINARY
