from __future__ import annotations

import pytest

from monitor.config import default_config
from monitor.service import Classifier


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    return Classifier.from_config(default_config())
