"""``--device``: CPU by choice, the GPU when there is one, one sentence when a GPU is asked for and
there is none."""
import json

import pytest
import torch

from svmr.cli import main
from svmr.device import resolve_device
from svmr.pipelines import build_pipeline


def test_devices_resolve_and_a_missing_gpu_is_one_sentence():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="choose one of auto, cpu, cuda"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"^--device cuda: this machine has no CUDA GPU that torch can use"):
            resolve_device("cuda")


def test_cli_index_and_search_take_a_device(tmp_path, bikes, capsys):
    gallery = str(tmp_path / "g")
    if not torch.cuda.is_available():                  # refused before the gallery is even made
        assert main(["index", "--gallery", gallery, "--device", "cuda", bikes]) == 2
        assert capsys.readouterr().err.strip().startswith("error: --device cuda: this machine has no CUDA GPU")
        assert not (tmp_path / "g").exists()
    assert main(["index", "--gallery", gallery, "--device", "cpu", bikes]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["indexed"] == 1
    assert main(["search", "--gallery", gallery, "--query", bikes, "--start", "1", "--end", "4", "--device", "cpu",
                 "--model", "paper", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["moments"] and out["query"]["pipeline"] == {"name": "paper", "stage1": "stage1_ctc_ae.safetensors",
                                                            "stage2": "stage2_attn_prod.safetensors", "device": "cpu"}
    if not torch.cuda.is_available():
        assert main(["search", "--gallery", gallery, "--query", bikes, "--device", "cuda", "--json"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: --device cuda: this machine has no CUDA GPU") and err.count("\n") == 0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run where the device tool lends one)")
def test_the_paper_pipeline_gives_the_same_moments_on_the_gpu(bikes, tmp_path):
    from svmr.features import FeatureExtractor
    from svmr.gallery import Gallery
    from svmr.search import Searcher

    gallery = Gallery(str(tmp_path / "g"))
    extractor = FeatureExtractor(gallery.config, device="cpu")
    gallery.add(bikes, extractor)
    cpu = Searcher(gallery, build_pipeline("paper", "cpu"), extractor).search(bikes, 1.0, 4.0)
    gpu = Searcher(gallery, build_pipeline("paper", "cuda"), extractor).search(bikes, 1.0, 4.0)
    assert [(m.video, round(m.start, 2), round(m.end, 2)) for m in cpu.moments] == \
           [(m.video, round(m.start, 2), round(m.end, 2)) for m in gpu.moments]
    assert gpu.query["pipeline"]["device"] == "cuda"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run where the device tool lends one)")
@pytest.mark.parametrize("method", ["attn_prod", "none"])
def test_the_paper_stage_2_trains_on_the_gpu(tiny_benchmark, tmp_path, method):
    from svmr.checkpoints import load_checkpoint
    from svmr.train.stage2 import train_stage2

    meta = train_stage2(tiny_benchmark, str(tmp_path), fusion=method, steps=4, batch_size=2, eval_every=2,
                        log=lambda *_: None, device="cuda")
    assert meta["history"][-1]["weights_moved"] > 0
    model, _ = load_checkpoint(str(tmp_path / f"stage2_{method}.safetensors"))
    assert all(tensor.device.type == "cpu" for tensor in model.state_dict().values())
