import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for p in (HERE, os.path.join(ROOT, "tests"), os.path.join(ROOT, "lib"), os.path.join(ROOT, "tools", "connector")):
    if p not in sys.path:
        sys.path.insert(0, p)

from mqtt_helpers import PahoPeer  # noqa: E402
from peers.mosquitto import running_mosquitto  # noqa: E402


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    """A local IoT Connector (token auth) shared by the tests of one module."""
    testing = pytest.importorskip("uedge_connector.testing")
    with testing.running_connector(tmp_path_factory.mktemp("connector"), auth="token") as c:
        yield c


@pytest.fixture
def broker(tmp_path):
    with running_mosquitto(tmp_path / "mosq", tls=True) as b:
        yield b


@pytest.fixture
def peer(broker):
    p = PahoPeer(broker.host, broker.port)
    yield p
    p.close()
