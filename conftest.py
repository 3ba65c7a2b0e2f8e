"""Test-suite isolation, for the tests and the doctests alike: nothing a test writes lands in
the user's cache folder; Ray stays on 127.0.0.1."""

import os

import pytest

# Ray (tests/test_cluster*.py), read when ray is first imported: every address Ray resolves for
# "this machine" is 127.0.0.1, and no usage statistics are sent.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"


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
