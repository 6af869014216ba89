"""Train both stages on a tiny benchmark, index videos, search through the command line."""
import json

from svmr.cli import main


def test_train_index_search(tiny_benchmark, tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    assert main(["train", "stage1", "--benchmark", tiny_benchmark, "--out", str(ckpt), "--steps", "20",
                 "--eval-every", "20", "--batch-size", "16"]) == 0
    assert main(["train", "stage2", "--benchmark", tiny_benchmark, "--out", str(ckpt), "--steps", "4",
                 "--eval-every", "4", "--batch-size", "2"]) == 0
    capsys.readouterr()
    gallery = tmp_path / "gallery"
    refs = sorted((tmp_path.parent / tiny_benchmark).glob("references/*.mp4"))[:3]
    assert main(["index", "--gallery", str(gallery), *map(str, refs), "--size", "96"]) == 0
    assert json.loads(capsys.readouterr().out)["videos"] == 3
    query = sorted((tmp_path.parent / tiny_benchmark).glob("queries/*.mp4"))[0]
    assert main(["search", "--gallery", str(gallery), "--query", str(query), "--top-videos", "2", "--json",
                 "--stage1", str(ckpt / "stage1_ctc_ae.safetensors"),
                 "--stage2", str(ckpt / "stage2_attn_prod.safetensors")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len({m["video"] for m in result["moments"]}) == 2
    first = result["moments"][0]
    assert {"video", "start", "end", "score", "video_score"} <= set(first)
    assert first["score"] == max(m["score"] for m in result["moments"])
    assert result["timings"]["total_s"] > 0
