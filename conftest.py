"""Test-suite isolation, for the tests and the doctests alike: nothing a test writes lands in
the user's cache folder."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg_cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def serve_model(tmp_path_factory, _isolated_user_cache):
    """(classifier, model file) of a small model trained once per session (tests/serve_support.py)."""
    from serve_support import train_small_model

    path = tmp_path_factory.mktemp("serve_model") / "conse-small.npz"
    return train_small_model(path), path
