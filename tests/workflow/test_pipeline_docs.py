"""docs/state-machine.md shows the happy daily run that the tests really observe."""

from __future__ import annotations

import pytest

from .cases import HAPPY_DAILY_RUN
from .sfn_harness import ROOT

pytestmark = pytest.mark.workflow


@pytest.mark.parametrize("document", ["README.md", "docs/state-machine.md"])
def test_doc_lists_the_states_of_a_happy_daily_run(document: str) -> None:
    doc = (ROOT / document).read_text(encoding="utf-8")
    assert " → ".join(HAPPY_DAILY_RUN) in doc
