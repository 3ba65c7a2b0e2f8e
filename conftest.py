"""Test-suite isolation, for the tests and the doctests alike: nothing a test writes lands in
the user's cache folder."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg_cache")))
    yield
    mp.undo()
