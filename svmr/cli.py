"""Command line: ``python -m svmr <command> ...`` (``--help`` on each command)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from . import video as V


def _progress(desc: str):
    """A tqdm-backed ``progress(done, total)`` callback."""
    from tqdm import tqdm

    bar = {"bar": None}

    def update(done: int, total: int) -> None:
        if bar["bar"] is None:
            bar["bar"] = tqdm(total=total, desc=desc, unit="video" if total < 100000 else "frame",
                              file=sys.stderr, dynamic_ncols=True)
        if done >= total:
            bar["bar"].n = total
            bar["bar"].close()                      # draws the final line, once
        else:
            bar["bar"].update(done - bar["bar"].n)   # through update, so tqdm's rate is right

    return update


def _extractor_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backbone", default="efficientnet_lite0", choices=("efficientnet_lite0", "resnet50_tsm"))
    parser.add_argument("--checkpoint", help="weights: ResNet-50 TSM (official TSM or mmaction2 .pth), or a "
                                             "fine-tuned EfficientNet-Lite0 TSM (e.g. backbone_motion.safetensors "
                                             "from checkpoints/)")
    parser.add_argument("--rate", type=float, default=4.0, help="feature steps per second (default 4)")
    parser.add_argument("--size", type=int, default=128, help="frames are resized to SIZE x SIZE (default 128)")
    parser.add_argument("--device", help="torch device (default: cuda when present, else cpu)")


def _make_extractor(args, cache_dir: str | None = None):
    from .features import ExtractorConfig, FeatureExtractor

    config = ExtractorConfig(backbone=args.backbone, checkpoint=args.checkpoint, rate=args.rate, size=args.size)
    return FeatureExtractor(config, device=args.device, cache_dir=cache_dir)


def cmd_extract(args) -> int:
    extractor = _make_extractor(args, cache_dir=args.cache)
    started = time.time()
    sequence = extractor.extract(args.video, start=args.start, end=args.end, progress=_progress("frames"))
    elapsed = time.time() - started
    if args.out:
        sequence.save(args.out)
    print(json.dumps({"video": args.video, "features": list(sequence.features.shape),
                      "first_time": float(sequence.times[0]), "last_time": float(sequence.times[-1]),
                      "device": str(extractor.device), "seconds": round(elapsed, 3),
                      "frames_per_s": round(sequence.length / elapsed, 1), "out": args.out}))
    return 0


def cmd_build_benchmark(args) -> int:
    from .data.annotations import load_annotations
    from .data.benchmark import build_benchmark

    os.makedirs(args.out, exist_ok=True)
    if args.from_annotations:
        bench = build_benchmark(load_annotations(args.from_annotations), seed=args.seed)
        bench.save(os.path.join(args.out, "manifest.json"))
        print(json.dumps(bench.info, indent=1))
        return 0
    from .data.render import build_synthetic_benchmark

    bench = build_synthetic_benchmark(args.out, num_sources=args.sources, seed=args.seed, size=args.size,
                                      fps=args.fps, workers=args.workers, num_classes=args.classes,
                                      progress=_progress("render"))
    print(json.dumps(bench.info, indent=1))
    if args.features:
        _extract_benchmark(args.out, args)
    return 0


def _extract_benchmark(root: str, args) -> dict:
    from .data.benchmark import Benchmark
    from .data.render import video_path
    from .features.batch import extract_many

    bench = Benchmark.load(os.path.join(root, "manifest.json"))
    extractor = _make_extractor(args)
    report = {}
    for kind, items in (("queries", bench.queries), ("references", bench.references)):
        pairs = [(item.id, video_path(root, kind, item.id)) for item in items]
        out_dir = os.path.join(root, "features", extractor.config.key(), kind)
        report[kind] = extract_many(pairs, out_dir, extractor, progress=_progress(f"features {kind}"))
    report["config"] = extractor.config.__dict__
    with open(os.path.join(root, "features", extractor.config.key(), "report.json"), "w") as handle:
        json.dump(report, handle, indent=1)
    print(json.dumps(report, indent=1))
    return report


def cmd_extract_benchmark(args) -> int:
    _extract_benchmark(args.root, args)
    return 0


def cmd_build_footage_set(args) -> int:
    from .data.footage_set import build_footage_set

    manifest = build_footage_set(args.out, seed=args.seed, extended=args.extended)
    print(json.dumps(manifest["info"], indent=1))
    return 0


def cmd_build_own_clips(args) -> int:
    from .data.own_clips import build_own_clips

    manifest = build_own_clips(args.out, seed=args.seed)
    print(json.dumps({k: v for k, v in manifest["info"].items() if k != "reshared"}, indent=1))
    return 0


def cmd_build_semantic_set(args) -> int:
    from .data.semantic_set import build_semantic_set

    manifest = build_semantic_set(args.out)
    print(json.dumps(manifest["info"], indent=1))
    return 0


def cmd_build_reshare_set(args) -> int:
    from .data.reshare_set import build_reshare_set, missing_footage

    missing = missing_footage()
    if missing:
        raise FileNotFoundError(f"sample videos missing: {', '.join(missing)} — run scripts/fetch_footage.sh and "
                                "scripts/fetch_semantic_footage.sh")
    manifest = build_reshare_set(args.out, seed=args.seed)
    print(json.dumps({k: v for k, v in manifest["info"].items() if k != "transforms"}, indent=1))
    return 0


def cmd_calibrate(args) -> int:
    from .calibrate import calibrate

    from .models.semantic import BACKGROUND_FILE

    calibration, space = calibrate(args.own_clips, args.footage, args.semantic,
                                   log=lambda line: print(line, file=sys.stderr, flush=True))
    calibration.save(args.out)
    space.save(os.path.join(os.path.dirname(os.path.abspath(args.out)), BACKGROUND_FILE))
    print(json.dumps({"copy_weights": calibration.copy_weights, "similar_threshold": calibration.similar_threshold,
                      **calibration.record}, indent=1))
    return 0


def cmd_train_motion(args) -> int:
    from dataclasses import replace

    import numpy as np
    import torch

    from .device import resolve_device
    from .models.motion_encoder import MotionEncoderConfig, MotionStream
    from .train.motion import (class_factors, class_instances, probe_classes, program_factors, program_instances,
                               train_motion_encoder, training_classes)

    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    torch.manual_seed(args.seed)
    programs = program_instances(args.programs, args.instances, args.seed, args.cache, workers=args.workers)
    probe_set = class_instances(probe_classes(), args.probe_instances, seed=args.seed + 1)
    learned = training_classes() if args.class_instances else []
    classes = class_instances(learned, args.class_instances, seed=args.seed + 2) if learned else None
    counted = list(range(len(learned), len(probe_set))) if learned else None
    init = MotionStream.load(args.init).encoder if args.init else None
    config = None
    if args.dilations:
        config = replace(init.config if init is not None else MotionEncoderConfig(),
                         dilations=tuple(int(d) for d in args.dilations.split(",")))
    factors = (np.concatenate([program_factors(args.programs, args.seed), class_factors(learned)])
               if args.factor_weight > 0 else None)
    stream, record = train_motion_encoder(programs, probe_set, steps=args.steps, batch=args.batch, seed=args.seed,
                                          log=log, classes=classes, class_share=args.class_share,
                                          probe_counted=counted, init=init, lr=args.lr, parts=args.parts,
                                          device=resolve_device(args.device), factors=factors, config=config,
                                          factor_weight=args.factor_weight)
    probed = (f"the {len(probe_set) - len(learned)} validation classes' instances, each against all "
              f"{len(probe_set)} training and validation classes'" if learned else
              f"the procedural benchmark's {len(probe_set)} training and validation classes")
    record = {"command": "python -m svmr " + " ".join(sys.argv[1:]), "data_seed": args.seed,
              "programs": args.programs, "instances": args.instances, "steps": args.steps, "batch": args.batch,
              "lr": args.lr, "parts": args.parts, "factor_weight": args.factor_weight,
              "init": os.path.basename(args.init) if args.init else None,
              "class_instances": args.class_instances, "class_share": args.class_share if learned else 0.0,
              "learned_classes": learned,
              "probe": f"clip-level 1-NN, {args.probe_instances} instances of each class; counted over {probed} "
                       "(never its test classes)", **record}
    stream.save(args.out, record)
    print(json.dumps({k: v for k, v in record.items() if k != "history"}, indent=1))
    return 0


def cmd_train(args) -> int:
    from .data.datasets import BenchmarkFeatures
    from .device import resolve_device

    command = "python -m svmr " + " ".join(sys.argv[1:])
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    # the trainers' own signatures hold the defaults; only what was given is passed on
    given = {name: value for name, value in (("steps", args.steps), ("lr", args.lr), ("batch_size", args.batch_size))
             if value is not None}
    given["device"] = resolve_device(args.device)
    if args.model == "backbone":
        from .train.backbone import save_backbone

        save_backbone(args.benchmark, args.out, eval_every=args.eval_every, seed=args.seed, command=command, log=log,
                      **given)
        return 0
    data = BenchmarkFeatures(args.benchmark, args.features_key)
    common = dict(seed=args.seed, eval_every=args.eval_every, data=data, key=data.key, command=command, log=log, **given)
    if args.model in ("actionness", "graph", "video_level"):
        from .train import graph as G

        actionness = args.actionness or os.path.join(args.out, "actionness.safetensors")
        if args.model == "actionness":
            G.train_actionness(args.benchmark, args.out, **common)
        elif args.model == "graph":
            G.train_graph(args.benchmark, args.out, actionness, convolution=args.variant or "graph",
                          layers=args.layers, graphs=args.graphs, weight_decay=args.triplet_l2,
                          normalize=args.normalize_adjacency, mask_padding=args.mask_padding, **common)
        else:
            G.train_video_level(args.benchmark, args.out, actionness=actionness, **common)
        return 0
    if args.model == "stage1":
        from .train.stage1 import ONE_BRANCH, VARIANTS, train_one_branch, train_stage1

        for variant in [*VARIANTS, *ONE_BRANCH] if args.variant == "all" else [args.variant or "ctc_ae"]:
            if variant in ONE_BRANCH:
                train_one_branch(args.benchmark, args.out, loss=variant, **common)
            else:
                train_stage1(args.benchmark, args.out, variant=variant, init=args.init,
                             freeze_projection=args.freeze_projection, **common)
    else:
        from .models.relocalization import FUSIONS
        from .train.stage2 import train_stage2

        for fusion in [*FUSIONS, "tan2d", "video_reloc"] if args.variant == "all" else [args.variant or "attn_prod"]:
            train_stage2(args.benchmark, args.out, fusion=fusion, **common)
    return 0


def cmd_evaluate(args) -> int:
    from .tables import evaluate_all

    if not (args.benchmark or args.footage or args.own_clips or args.semantic or args.reshare):
        raise ValueError("give --benchmark, --footage, --own-clips, --semantic or --reshare (or several)")
    from .postprocess import BMN_GATE, PostProcessing

    post = PostProcessing(gate=BMN_GATE if args.soft_nms == "bmn" else None, boundary_filter=args.boundary_filter)
    report = evaluate_all(args.benchmark, args.checkpoints, args.features_key, args.split, args.footage,
                          args.own_clips, tious=args.tious, post=post, semantic=args.semantic, reshare=args.reshare)
    print(report)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(report + "\n")
    return 0


def cmd_index(args) -> int:
    from .features import ExtractorConfig
    from .indexing import gather, in_shard, index_files, parse_shard

    shard, shards = parse_shard(args.shard)
    inputs = gather(args.videos)
    for problem in inputs.problems.values():
        print(f"skipped: {problem}", file=sys.stderr)
    paths = [p for p in inputs.paths if in_shard(p, shard, shards)]
    bar = _progress("index")
    report = index_files(args.gallery, paths, ExtractorConfig(size=args.size, rate=args.rate),
                         workers=args.workers, progress=lambda done, total, speed: bar(done, total),
                         device=args.device, regions=not args.no_regions, feature_precision=args.feature_precision)
    out = report.to_json()
    out["failed"] = {**inputs.problems, **out["failed"]}
    if args.backend != "auto" or args.rebuild_index:
        out["stage1_index"] = _build_stage1_index(args)
    print(json.dumps(out))
    return 1 if out["failed"] and len(out["failed"]) >= len(paths) + len(inputs.problems) else 0


def _build_stage1_index(args) -> dict:
    """Bring (or rebuild) the persisted stage-1 index of ``args.model``'s retriever up to date and
    make ``args.backend`` the gallery's search backend."""
    from .gallery import Gallery
    from .pipelines import DEFAULT_PIPELINE, build_pipeline
    from .stage1_index import Stage1Index, save_choice

    save_choice(args.gallery, args.backend, args.milvus_uri)
    started = time.perf_counter()
    pipeline = build_pipeline(args.model or DEFAULT_PIPELINE)
    index = Stage1Index(Gallery(args.gallery), pipeline.retriever, args.backend, args.milvus_uri, pipeline.regions)
    if args.rebuild_index:
        index.rebuild()
    backend, _ = index.current()
    return {**backend.describe(), "videos": index.stored_videos(), "seconds": round(time.perf_counter() - started, 1)}


def cmd_search(args) -> int:
    from .gallery import Gallery
    from .search import Searcher

    if not os.path.exists(os.path.join(args.gallery, "gallery.json")):
        raise FileNotFoundError(f"no gallery at {args.gallery}: run `python -m svmr index --gallery ...` first")
    from .device import resolve_device
    from .features import FeatureExtractor
    from .pipelines import DEFAULT_PIPELINE, build_pipeline

    device = resolve_device(args.device)
    # naming checkpoints without a model means the paper's model (what --stage1/--stage2 always meant)
    model = args.model or ("paper" if args.stage1 or args.stage2 else DEFAULT_PIPELINE)
    gallery = Gallery(args.gallery)
    searcher = Searcher(gallery, build_pipeline(model, device, stage1=args.stage1, stage2=args.stage2),
                        FeatureExtractor(gallery.config, device=device), backend=args.backend,
                        milvus_uri=args.milvus_uri)
    result = searcher.search(args.query, args.start, args.end, top_videos=args.top_videos,
                             moments_per_video=args.moments_per_video)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        for rank, m in enumerate(result.moments[:args.top_videos], 1):
            print(f"{rank:3d}. {m.video}  {m.start:8.2f}–{m.end:8.2f} s  score {m.score:.3f}  (video {m.video_score:.3f})")
        print(f"timings: {result.timings}")
    return 0


def cmd_trim(args) -> int:
    from .trim import trim

    info = trim(args.video, args.out, args.start, args.end, crf=args.crf)
    sound = "with its sound" if _has_audio(args.out) else "no sound in the source"
    print(f"{args.out}: {info.duration:.2f} s, {info.width}×{info.height}, {sound}")
    return 0


def _has_audio(path: str) -> bool:
    import av

    with av.open(path) as container:
        return bool(container.streams.audio)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m svmr", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_data_commands(sub)
    _add_training_commands(sub)
    _add_evaluate_command(sub)
    _add_gallery_commands(sub)
    return parser


def _add_data_commands(sub) -> None:
    """``extract``, ``build-benchmark``, ``extract-benchmark``, the real-footage sets' builders and
    ``calibrate``."""
    p = sub.add_parser("extract", help="features of one video (prints frames/s)")
    p.add_argument("video")
    p.add_argument("--start", type=float, default=0.0)
    p.add_argument("--end", type=float)
    p.add_argument("--out", help="write the features here (.npz)")
    p.add_argument("--cache", help="feature cache folder")
    _extractor_args(p)
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("build-benchmark", help="render the procedural benchmark, or reorganize an annotation file")
    p.add_argument("--out", required=True)
    p.add_argument("--from-annotations", help="ActivityNet/HACS JSON: write the reorganized manifest only")
    p.add_argument("--sources", type=int, default=2200, help="procedural source videos (default 2200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps", type=float, default=8.0, help="frame rate of rendered videos")
    p.add_argument("--classes", type=int, help="use only the first N classes (small benchmarks for tests)")
    p.add_argument("--workers", type=int, help="render processes (default: all cores)")
    p.add_argument("--features", action="store_true", help="also extract features of every video")
    _extractor_args(p)
    p.set_defaults(func=cmd_build_benchmark)

    p = sub.add_parser("extract-benchmark", help="features of every query and reference of a built benchmark")
    p.add_argument("root")
    _extractor_args(p)
    p.set_defaults(func=cmd_extract_benchmark)

    p = sub.add_parser("build-footage-set", help="real-footage localization set from the BSD sample videos")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--extended", action="store_true", help="32 queries (the evaluation's set) instead of the demo's 9")
    p.set_defaults(func=cmd_build_footage_set)

    p = sub.add_parser("build-own-clips", help="'clip from my own video' set: 40 real clips, half re-shared, "
                                               "in a gallery of the real sample videos")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_build_own_clips)

    p = sub.add_parser("build-semantic-set", help="'moments like mine' set: real clips whose gallery holds other "
                                                  "footage of the same kind, never a copy (needs "
                                                  "scripts/fetch_semantic_footage.sh)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_build_semantic_set)

    p = sub.add_parser("build-reshare-set", help="re-shared copies set: 28 real clips, each transformed by one family "
                                                 "of VSC 2022's transforms (picture-in-picture, captions, mirror, "
                                                 "speed, …) in real hosts (needs scripts/fetch_semantic_footage.sh)")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_build_reshare_set)

    p = sub.add_parser("calibrate", help="fit the default's copy / similar / nothing-close labels on the three "
                                         "real-footage sets")
    p.add_argument("--own-clips", required=True, help="build-own-clips folder")
    p.add_argument("--footage", required=True, help="build-footage-set --extended folder")
    p.add_argument("--semantic", required=True, help="build-semantic-set folder")
    p.add_argument("--out", default="checkpoints/match_calibration.json")
    p.set_defaults(func=cmd_calibrate)


def _add_training_commands(sub) -> None:
    """``train-motion`` and ``train``."""
    p = sub.add_parser("train-motion", help="pretrain the motion encoder on random motion programs (contrastive)")
    p.add_argument("--out", default="checkpoints/motion_encoder.safetensors")
    p.add_argument("--programs", type=int, default=2000, help="random motion programs (classes)")
    p.add_argument("--instances", type=int, default=4, help="instances rendered of each program")
    p.add_argument("--probe-instances", type=int, default=6, help="instances of each benchmark class in the probe")
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--batch", type=int, default=64, help="programs per batch (two instances each)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", default="data/motion-pretrain", help="rendered instances are kept here")
    p.add_argument("--workers", type=int, default=2, help="render processes")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (one cycle)")
    p.add_argument("--class-instances", type=int, default=0,
                   help="also learn the benchmark's training classes from this many instances of each (0: not)")
    p.add_argument("--class-share", type=float, default=0.5, help="the share of a batch's groups that are classes")
    p.add_argument("--init", default=None, help="start from this encoder (.safetensors) instead of random weights")
    p.add_argument("--parts", type=int, default=1,
                   help="a window's vector: the means of this many consecutive parts (as stage 1 compares spans)")
    p.add_argument("--dilations", default=None,
                   help="each layer's dilation in time, comma-separated (e.g. 1,1,2,4: a longer reach; with --init "
                        "its weights are reused)")
    p.add_argument("--factor-weight", type=float, default=0.0,
                   help="also learn to read how the object changes (size, turning, blinking; and the training "
                        "classes' trajectories) from a window's vector, at this share of the loss (0: not)")
    _add_training_device(p)
    p.set_defaults(func=cmd_train_motion)

    p = sub.add_parser("train", help="train a model on a built benchmark's features")
    p.add_argument("model", choices=("backbone", "stage1", "stage2", "actionness", "graph", "video_level"),
                   help="backbone: fine-tune the feature extractor on the train classes' clips; actionness, graph, "
                        "video_level: seed 001 (TAG's actionness scorer first: the other two use its proposals)")
    p.add_argument("--benchmark", required=True, help="folder made by build-benchmark (with features)")
    p.add_argument("--features-key", help="feature folder key (default: the only one)")
    p.add_argument("--out", default="checkpoints")
    p.add_argument("--variant", help="stage1: ctc_ae (default), ctc_no_ae, conv1d_ae, ctc_ae_shared, triplet, "
                                     "arcface; "
                                     "stage2: attn_prod (default), prod, attn, attn_concat, none (BMN), tan2d, video_reloc; or all; "
                                     "graph: graph (default) or cnn (the 1×1-convolution ablation)")
    p.add_argument("--steps", type=int, help="default: the trainer's own (backbone 1500, actionness 600, "
                                             "video_level 2000, the others 3000)")
    p.add_argument("--batch-size", type=int, help="default: the trainer's own (backbone 6 clips, stage1 64, stage2 8, "
                                                  "actionness 16, graph and video_level 32)")
    p.add_argument("--lr", type=float, help="default: the trainer's own (backbone 3e-5, graph 1e-4, the others 1e-3)")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--layers", type=int, default=2, help="graph: multi-graph fusion layers n (default 2)")
    p.add_argument("--graphs", type=int, default=3, help="graph: graphs per layer k (default 3)")
    p.add_argument("--triplet-l2", type=float, default=5e-3,
                   help="graph: λ of the triplet loss's λ‖θ‖² term (default 5e-3, seed 001's)")
    p.add_argument("--normalize-adjacency", action="store_true",
                   help="graph: divide each adjacency row by its degree (seed 001: binary, unnormalized)")
    p.add_argument("--mask-padding", action="store_true",
                   help="graph: padded nodes get no edges and no weight in the pooling (seed 001: they stay)")
    p.add_argument("--actionness", help="graph, video_level: the actionness checkpoint (default <out>/actionness.safetensors)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", choices=("random", "pca"), default="random",
                   help="stage1 two-branch models: start the projections at the features' principal components")
    p.add_argument("--freeze-projection", action="store_true",
                   help="stage1 two-branch models: train only the CTC filters (with --init pca)")
    _add_training_device(p)
    p.set_defaults(func=cmd_train)


def _add_training_device(p) -> None:
    from .device import DEVICE_CHOICES

    p.add_argument("--device", default="cpu",
                   help=f"where the network trains: {', '.join(DEVICE_CHOICES)} or cuda:N (default cpu, where the "
                        "bundled checkpoints were trained; a GPU gives other, equally valid, weights)")


def _add_evaluate_command(sub) -> None:
    """``evaluate``: the real-footage tables and the paper's tables."""
    p = sub.add_parser("evaluate", help="real-footage tables (every model) and the paper's tables on a benchmark's "
                                        "test split")
    p.add_argument("--benchmark", help="procedural or other built benchmark (with features)")
    p.add_argument("--checkpoints", default="checkpoints")
    p.add_argument("--features-key")
    p.add_argument("--split", default="test", choices=("val", "test"))
    p.add_argument("--footage", help="a real-footage set (build-footage-set --extended)")
    p.add_argument("--own-clips", help="a 'clip from my own video' set (build-own-clips)")
    p.add_argument("--semantic", help="a similar-moments set (build-semantic-set)")
    p.add_argument("--reshare", help="a re-shared copies set (build-reshare-set); reported family by family too")
    p.add_argument("--tious", default="activitynet", choices=("activitynet", "seed000"),
                   help="tIoU thresholds AR@N averages over: 0.5:0.05:0.95 (ActivityNet, BMN; default) or 0.5:0.1:0.9 "
                        "(seed 000's text); the tables give the AUC over the other set too")
    p.add_argument("--soft-nms", default="paper", choices=("paper", "bmn"),
                   help="stage-2 soft-NMS: every overlap decays (the paper's text; default) or only above "
                        "tIoU 0.5 + 0.4 × width (BMN's code)")
    p.add_argument("--boundary-filter", action="store_true",
                   help="keep only proposals whose start and end are peaks of the TEM (BMN's post-processing)")
    p.add_argument("--out", help="also write the markdown here")
    p.set_defaults(func=cmd_evaluate)


def _add_gallery_commands(sub) -> None:
    """What users run: ``index``, ``search`` (both scripted by outside evaluations: options are only
    ever added) and ``trim``."""
    from .backends import BACKENDS
    from .gallery import FEATURE_PRECISIONS
    from .device import DEVICE_CHOICES
    from .pipelines import DEFAULT_PIPELINE, registry

    pipelines = {name: spec.summary for name, spec in registry().items()}

    def backend_args(p, what):
        p.add_argument("--backend", choices=BACKENDS, default="auto",
                       help=f"stage-1 search backend {what} (auto: the gallery's choice, else exact for "
                            f"small galleries and faiss for large ones: about 6 h of video for the default model)")
        p.add_argument("--milvus-uri", help="milvus: a milvus-lite file or a server, e.g. http://host:19530 "
                                            "(default: <gallery>/index/.../milvus.db)")

    p = sub.add_parser("index", help="add videos (files, folders, lists of paths) to a gallery; video id = file stem")
    p.add_argument("--gallery", required=True)
    p.add_argument("videos", nargs="+", metavar="FILES_FOLDERS_OR_LISTS",
                   help="video files, folders (walked) or .txt/.list files with one path a line")
    p.add_argument("--rate", type=float, default=4.0)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--shard", help="i/n: index only the files whose path hashes to shard i of n (0 ≤ i < n); "
                                   "shards may run at once, on one gallery or on several merged later")
    p.add_argument("--workers", type=int, default=1, help="files extracted at once, one process each (default 1)")
    p.add_argument("--device", default="auto", help=f"where features are extracted: {', '.join(DEVICE_CHOICES)} or "
                                                    f"cuda:N (default auto: the GPU when there is one)")
    p.add_argument("--no-regions", action="store_true",
                   help="do not look for pictures inside the videos' pictures (picture-in-picture, split screen, "
                        "caption bars): indexing takes about 30 %% less time, such re-shares are found less often")
    p.add_argument("--feature-precision", choices=tuple(FEATURE_PRECISIONS),
                   help="how a new gallery stores features: float16 (default) or int8, 8 bits a number over each "
                        "step's range (galleries about 40 %% smaller, the real-footage tables as before: docs/scaling.md)")
    backend_args(p, "to build and make the gallery's default")
    p.add_argument("--model", choices=tuple(pipelines), help=f"whose stage-1 vectors --backend indexes "
                                                             f"(default {DEFAULT_PIPELINE})")
    p.add_argument("--rebuild-index", action="store_true",
                   help="refit the persisted stage-1 index's statistics and rebuild it from the gallery")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="find moments like a query clip in a gallery",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="models (--model):\n" + "\n".join(f"  {k:9s} {v}" for k, v in pipelines.items()))
    p.add_argument("--gallery", required=True)
    p.add_argument("--query", required=True)
    p.add_argument("--start", type=float, default=0.0)
    p.add_argument("--end", type=float)
    p.add_argument("--top-videos", type=int, default=10)
    p.add_argument("--moments-per-video", type=int, default=5)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--model", choices=tuple(pipelines),
                   help=f"which pipeline (default {DEFAULT_PIPELINE}; paper when --stage1/--stage2 are given)")
    p.add_argument("--device", default="auto", help=f"where the networks run: {', '.join(DEVICE_CHOICES)} or cuda:N "
                                                    f"(default auto: the GPU when there is one)")
    p.add_argument("--stage1", help="stage-1 checkpoint of the paper model (default: the bundled one)")
    p.add_argument("--stage2", help="stage-2 checkpoint of the paper model (default: the bundled one)")
    backend_args(p, "to search with")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("trim", help="cut [start, end) of a video to a browser-playable mp4 at the source's "
                                    "resolution, with its sound")
    p.add_argument("video")
    p.add_argument("--start", type=float, required=True, help="seconds")
    p.add_argument("--end", type=float, help="seconds (default: the end of the video)")
    p.add_argument("--out", required=True, help="output .mp4")
    p.add_argument("--crf", type=int, default=18, help="x264 quality, lower is better (default 18)")
    p.set_defaults(func=cmd_trim)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except V.VideoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
