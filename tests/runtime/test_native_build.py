"""The C extension is optional for users (NumPy twins take over), but not for our CI."""
import os

import pytest

from amma_edge.runtime import native


@pytest.mark.skipif(os.environ.get("AMMA_EDGE_REQUIRE_NATIVE") != "1",
                    reason="AMMA_EDGE_REQUIRE_NATIVE is not 1 (make test sets it)")
def test_the_c_extension_was_built_and_loads():
    assert native.NATIVE_AVAILABLE, f"the C extension is not in use: {native.native_unavailable_reason()}"
