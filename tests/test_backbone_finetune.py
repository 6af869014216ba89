"""Fine-tuning the feature backbone: a tiny run writes weights the extractor loads by name."""
import json
import os

import numpy as np

from learning import assert_learns
from svmr.features import ExtractorConfig, FeatureExtractor
from svmr.train.backbone import class_retrieval_map, random_windows, save_backbone


def test_random_windows_pad_short_clips_and_stay_inside():
    rng = np.random.default_rng(0)
    clips = [np.arange(3, dtype=np.uint8).reshape(3, 1, 1, 1).repeat(3, axis=3),
             np.arange(20, dtype=np.uint8).reshape(20, 1, 1, 1).repeat(3, axis=3)]
    windows = random_windows(clips, np.array([0, 1, 1]), 5, rng)
    assert windows.shape == (3, 5, 1, 1, 3)
    assert windows[0, :, 0, 0, 0].tolist() == [0, 1, 2, 2, 2]            # padded with the last frame
    for window in windows[1:, :, 0, 0, 0]:
        assert np.all(np.diff(window) == 1) and window[-1] < 20           # consecutive steps


def test_class_retrieval_map_on_a_hand_made_case():
    import torch

    embeddings = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    assert class_retrieval_map(embeddings, ["a", "a", "b", "b"]) == {"map": 1.0, "nn_acc": 1.0}
    swapped = class_retrieval_map(embeddings, ["a", "b", "a", "b"])
    assert swapped["nn_acc"] == 0.0 and abs(swapped["map"] - 5 / 12) < 1e-9   # APs 1/3, 1/2, 1/3, 1/2


def test_tiny_finetune_writes_weights_the_extractor_loads(tiny_benchmark, tmp_path, bikes):
    path = save_backbone(tiny_benchmark, str(tmp_path), steps=30, batch_size=4, length=4, eval_every=15,
                         log=lambda _: None)
    meta = json.load(open(os.path.splitext(path)[0] + ".json"))
    assert_learns(meta["metrics"]["history"])
    assert meta["model"] == "efficientnet_lite0_tsm" and {"val_before", "val", "test"} <= set(meta["metrics"])

    tuned = ExtractorConfig(checkpoint=path)
    tuned_key = tuned.key()
    assert tuned_key != ExtractorConfig().key()
    a = FeatureExtractor(tuned).extract(bikes, 0.0, 2.0).features
    b = FeatureExtractor(ExtractorConfig()).extract(bikes, 0.0, 2.0).features
    assert a.shape == b.shape == (1280, 8) and not np.allclose(a, b)

    with open(path, "ab") as handle:   # other weights under the same name: another cache key
        handle.write(b" ")
    assert ExtractorConfig(checkpoint=path).key() != tuned_key
