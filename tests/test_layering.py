"""The package's shape: no import cycles in ``svmr`` and ``demo``, and the seams a new model or a
new backend plugs into (the pipeline and backend registries)."""
import ast
import os

import pytest

from svmr.backends import BACKENDS, ExactBackend, backend_class
from svmr.pipelines import DEFAULT_PIPELINE, Localizer, Pipeline, Retriever, build_pipeline, registry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _modules() -> dict[str, tuple[str, bool]]:
    """Dotted name → (file, is a package's ``__init__``) for every module of svmr and demo."""
    found = {}
    for package in ("svmr", "demo"):
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    found[dotted.removesuffix(".__init__")] = (path, name == "__init__.py")
    return found


def _imports(module: str, path: str, is_package: bool, known: set[str]) -> set[str]:
    """The project modules ``module`` imports, anywhere in its file (inside functions too)."""
    here = module if is_package else module.rsplit(".", 1)[0]
    targets = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here.split(".")[:len(here.split(".")) - node.level + 1] if node.level else []
            stem = ".".join(base + ([node.module] if node.module else []))
            names = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


def test_no_import_cycles():
    modules = _modules()
    graph = {m: _imports(m, path, init, set(modules)) for m, (path, init) in modules.items()}
    cycles, state = [], {}

    def visit(module, trail):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert graph["demo.service"] and graph["svmr.search"]          # the walk sees imports at all
    assert not cycles, "import cycles: " + "; ".join(" → ".join(c) for c in cycles)


def test_the_registry_lists_every_pipeline_the_default_first_and_builds_them():
    specs = registry()
    assert list(specs) == ["align", "paper", "baseline", "graph"] and DEFAULT_PIPELINE == "align"
    for name, spec in specs.items():
        pipeline = build_pipeline(name)
        assert isinstance(pipeline, Pipeline) and pipeline.name == name and pipeline.config["name"] == name
        assert isinstance(pipeline.retriever, Retriever) and isinstance(pipeline.localizer, Localizer)
        assert spec.label and spec.menu and spec.summary
    assert build_pipeline("align").ranking == "best_moment" and build_pipeline("align").candidates(3) == 10
    assert build_pipeline("paper").ranking == "stage1" and build_pipeline("paper").candidates(3) == 3
    assert build_pipeline("paper").moment_weight(0.5) == 0.5 and build_pipeline("align").moment_weight(0.5) == 1.0


def test_unknown_pipelines_and_options_are_refused_in_one_sentence(tmp_path):
    with pytest.raises(ValueError, match="unknown model 'nope'; choose one of align, paper, baseline, graph"):
        build_pipeline("nope")
    with pytest.raises(ValueError, match="model 'align' takes no stage1 checkpoint"):
        build_pipeline("align", stage1=str(tmp_path / "x.safetensors"))
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        build_pipeline("paper", stage2=str(tmp_path / "missing.safetensors"))


def test_backends_are_found_by_name_and_say_where_they_keep_vectors():
    assert BACKENDS == ("auto", "exact", "faiss", "milvus")
    assert backend_class("exact") is ExactBackend and backend_class("exact").in_memory
    assert not backend_class("faiss").in_memory and not backend_class("faiss").at_uri
    assert backend_class("milvus").at_uri
    with pytest.raises(ValueError, match="unknown search backend 'x'"):
        backend_class("x")
