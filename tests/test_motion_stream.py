"""The motion stream: random motion programs, the encoder over whole videos, the bundled encoder
telling unseen motions apart, training that learns, and the fusion with appearance."""
import numpy as np
import pytest
import torch

from svmr.data.motion_programs import MotionProgram, render_instance
from svmr.features import FeatureSequence
from svmr.features.statistics import FrameStatistics
from svmr.models.alignment import WindowRetrieval
from svmr.models.motion_encoder import (MotionEncoder, MotionEncoderConfig, MotionStream, bundled_stream, motion_of,
                                        use_encoder)
from svmr.models.semantic import SimilarWindows, StepSpace
from svmr.train.motion import (FactorHeads, class_factors, class_instances, info_nce, nearest_neighbour_accuracy,
                               part_means, probe, program_factors, program_seeds, train_motion_encoder,
                               training_classes, trainable_copy)


def test_programs_and_instances_are_drawn_from_their_seeds():
    assert MotionProgram.draw(3) == MotionProgram.draw(3) and MotionProgram.draw(3) != MotionProgram.draw(4)
    program = MotionProgram.draw(3)
    first, again, other = render_instance(program, 11), render_instance(program, 11), render_instance(program, 12)
    np.testing.assert_array_equal(first, again)
    assert first.dtype == np.uint8 and first.shape[1:] == (32, 32) and 10 <= len(first) <= 32   # 2.5–8 s at 4/s
    assert first.shape != other.shape or not np.array_equal(first, other)


@pytest.mark.parametrize("dilations", [(1, 1, 1, 1), (1, 1, 2, 4)])
def test_a_video_is_encoded_the_same_in_chunks_as_in_one_pass(dilations):
    """Also with dilations in time: the chunks' margins follow the longer reach."""
    torch.manual_seed(0)
    encoder = MotionEncoder(MotionEncoderConfig(channels=(4, 8, 8, 8), dim=16, dilations=dilations))
    assert encoder.reach == sum(dilations)
    with torch.no_grad():                                 # non-trivial batch-norm statistics
        for norm in encoder.modules():
            if isinstance(norm, torch.nn.BatchNorm3d):
                norm.running_mean.uniform_(-0.2, 0.2)
                norm.running_var.uniform_(0.5, 2.0)
    frames = np.random.default_rng(0).integers(0, 255, (70, 32, 32), dtype=np.uint8)
    whole = MotionStream(encoder, chunk=1000).encode(frames)
    chunked = MotionStream(encoder, chunk=16).encode(frames)
    assert whole.shape == (16, 70)
    assert chunked == pytest.approx(whole, abs=1e-4)


def test_the_bundled_encoder_tells_motions_it_never_saw_apart():
    """Four of the procedural benchmark's validation and training classes (never in pretraining),
    three instances each with other objects, scenes, speeds and lengths: the nearest clip by mean
    motion vector is one of the same class far above chance (0.25). Random weights do not get there."""
    clips = class_instances(["fall+steady", "orbit_cw+steady", "slide_left+blink", "hold+grow"], 3, seed=5)
    stream = bundled_stream()
    assert probe(stream, clips) >= 0.75
    torch.manual_seed(0)
    assert probe(MotionStream(MotionEncoder()), clips) < 0.75


def test_training_learns_to_match_instances_of_a_program():
    programs = [[render_instance(MotionProgram.draw(k), 100 * k + i) for i in range(3)] for k in range(12)]
    stream = MotionStream(MotionEncoder(MotionEncoderConfig(channels=(8, 8, 16, 16), dim=16)))

    def loss():
        vectors = [torch.nn.functional.normalize(torch.from_numpy(stream.encode(p[i]).mean(axis=1))[None], dim=1)
                   for p in programs for i in (0, 1)]
        return float(info_nce(torch.cat(vectors[0::2]), torch.cat(vectors[1::2]), 0.1))

    before = loss()
    trained, record = train_motion_encoder(programs, [programs[0], programs[1]], steps=40, batch=12, window=(8, 8),
                                           config=stream.encoder.config, probe_every=40, log=lambda _: None)
    stream = trained
    # the loss on the programs' own instance pairs falls, and not only through BatchNorm's running
    # statistics (which move at a zero learning rate too): the weights moved
    assert loss() < before - 0.3
    assert record["history"][-1]["step"] == 40 and record["history"][-1]["weights_moved"] > 0


def test_fine_tuning_starts_from_its_encoder_and_learns_labelled_classes_beside_the_programs():
    """``--init`` and ``--class-instances``: the record's step 0 is the start's own probe, the
    training classes are sampled beside the programs, and the weights move from the start's."""
    config = MotionEncoderConfig(channels=(8, 8, 16, 16), dim=16)
    torch.manual_seed(1)
    start = MotionEncoder(config)
    programs = [[render_instance(MotionProgram.draw(k), 100 * k + i) for i in range(2)] for k in range(4)]
    learned = class_instances(training_classes()[:4], 2, seed=3)
    probe_set = learned[:2] + class_instances(["hop+steady", "fall+grow"], 2, seed=4)
    before, kept = probe(MotionStream(start), probe_set, counted=[2, 3], parts=2), trainable_copy(start)
    _, record = train_motion_encoder(programs, probe_set, steps=6, batch=6, window=(8, 8), probe_every=6,
                                           log=lambda _: None, classes=learned, class_share=0.5,
                                           probe_counted=[2, 3], init=start, parts=2)
    assert record["history"][0] == {"step": 0, "probe_1nn": round(before, 4)}
    assert record["history"][-1]["step"] == 6 and record["history"][-1]["weights_moved"] > 0
    # the start's weights are copied, not trained in place
    assert all(torch.equal(kept[name], value) for name, value in trainable_copy(start).items())


def test_part_means_by_hand():
    steps = torch.tensor([[[1.0, 3.0, 0.0, 0.0], [0.0, 0.0, 2.0, 2.0]]])       # (1, D=2, L=4)
    # parts [0, 2) and [2, 4): unit means (1, 0) and (0, 1), joined, over √2
    assert part_means(steps, 2)[0].tolist() == pytest.approx([2 ** -0.5, 0, 0, 2 ** -0.5])
    # one part: the unit mean of all four steps, (4, 4) / 4 → (1, 1) / √2
    assert part_means(steps, 1)[0].tolist() == pytest.approx([2 ** -0.5, 2 ** -0.5])


def test_a_dilated_encoder_is_saved_and_loaded_with_its_dilations(tmp_path):
    torch.manual_seed(4)
    encoder = MotionEncoder(MotionEncoderConfig(channels=(4, 8, 8, 8), dim=16, dilations=(1, 1, 2, 4))).eval()
    path = str(tmp_path / "dilated.safetensors")
    MotionStream(encoder).save(path, {})
    loaded = MotionStream.load(path)
    assert loaded.encoder.config == encoder.config and loaded.encoder.reach == 8
    frames = np.random.default_rng(1).integers(0, 255, (30, 32, 32), dtype=np.uint8)
    np.testing.assert_allclose(loaded.encode(frames), MotionStream(encoder).encode(frames), atol=1e-6)


def test_a_candidate_encoder_stands_in_for_the_bundled_one_and_gives_it_back(tmp_path):
    bundled = bundled_stream().key
    torch.manual_seed(2)
    path = str(tmp_path / "candidate.safetensors")
    MotionStream(MotionEncoder(MotionEncoderConfig(channels=(8, 8, 16, 16), dim=16))).save(path, {})
    space = StepSpace(np.zeros(4, np.float32), np.zeros(16, np.float32), 0.5)
    bundled_space_key = StepSpace(np.zeros(4, np.float32), np.zeros(16, np.float32), 0.5).key
    try:
        candidate = use_encoder(path)
        assert bundled_stream() is candidate and candidate.key != bundled and candidate.dim == 16
        # what is made with it is named by it: stage-1 vectors of another encoder are not mixed in
        assert space.key != bundled_space_key
        frames = np.random.default_rng(0).integers(0, 255, (12, 32, 32), dtype=np.uint8)
        sequence = FeatureSequence(np.zeros((4, 12), np.float32), np.arange(12) / 4.0, 4.0, 3.0, small_frames=frames)
        assert motion_of(sequence).shape == (16, 12) and sequence.motion_key == candidate.key
    finally:
        use_encoder(None)
    assert bundled_stream().key == bundled


def test_nearest_neighbour_accuracy_by_hand():
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [0.8, 0.2]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert nearest_neighbour_accuracy(vectors, np.array([0, 0, 1, 1, 1])) == pytest.approx(4 / 5)
    # counted over class 1 only (the last row's neighbour is row 1, of class 0): 2 of 3; every row
    # stays a possible neighbour
    counted = np.array([False, False, True, True, True])
    assert nearest_neighbour_accuracy(vectors, np.array([0, 0, 1, 1, 1]), counted) == pytest.approx(2 / 3)


def test_fused_cosine_is_the_weighted_sum_of_the_two_cosines():
    space = StepSpace(np.zeros(3), np.zeros(2), motion_weight=0.3)
    a = space.fuse(np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 2.0]]))
    assert a.shape == (5, 2) and np.linalg.norm(a, axis=0) == pytest.approx([1.0, 1.0], abs=1e-5)
    # appearance cosine 1/√2, motion cosine 0 → 0.7 / √2
    assert float(a[:, 0] @ a[:, 1]) == pytest.approx(0.7 / np.sqrt(2), abs=1e-5)
    missing = space.fuse(np.array([[1.0], [0.0], [0.0]]), None)      # no motion: no evidence
    assert missing[3:, 0] == pytest.approx([0.0, 0.0]) and float(missing[:, 0] @ a[:, 0]) == pytest.approx(0.7, abs=1e-5)
    assert StepSpace(np.zeros(3)).fuse(np.eye(3), None) == pytest.approx(np.eye(3), abs=1e-5)


def test_the_motion_stream_is_stored_and_used_by_stage_1(tmp_path):
    rng = np.random.default_rng(1)
    small = rng.integers(0, 255, (40, 32, 32), dtype=np.uint8)
    sequence = FeatureSequence(rng.random((6, 40), dtype=np.float32), np.arange(40) / 4, 4.0, 10.0, {}, small)
    motion = motion_of(sequence)
    assert motion.shape == (bundled_stream().dim, 40) and sequence.motion is motion
    sequence.save(str(tmp_path / "f.npz"), dtype=np.float16)
    loaded = FeatureSequence.load(str(tmp_path / "f.npz"))
    assert loaded.motion.dtype == np.float32 and loaded.motion == pytest.approx(motion, rel=2e-3, abs=2e-3)
    space = StepSpace(np.zeros(6), motion.mean(axis=1) * 0, motion_weight=0.4)
    plain, fused = WindowRetrieval(), WindowRetrieval(space=space)
    assert plain.key != fused.key
    statistics = FrameStatistics(sequence.features.mean(axis=1))
    vectors = fused.finalize(fused.reference_vectors(sequence), statistics)
    appearance = plain.finalize(plain.reference_vectors(sequence), statistics)
    assert vectors.shape == (len(appearance), 6 + len(motion))
    assert vectors[:, :6] == pytest.approx(np.sqrt(0.6) * appearance, abs=1e-5)


def test_motion_parts_make_the_order_of_what_moves_count():
    """A span's motion cut in k parts: a window whose first half moves like the query's first half
    and second half like its second matches fully; the same motions in the other order match only
    as a whole (k = 1) — in stage 1's vectors and in the similar windows alike."""
    a, b = np.eye(2)
    rng = np.random.default_rng(0)
    features = rng.random((3, 24)).astype(np.float32)
    motion = np.concatenate([np.repeat(a[:, None], 6, 1), np.repeat(b[:, None], 6, 1),       # a then b
                             np.repeat(b[:, None], 6, 1), np.repeat(a[:, None], 6, 1)], axis=1)  # b then a
    reference = FeatureSequence(features, np.arange(24) / 4, 4.0, 6.0, {})
    reference.motion, reference.motion_key = motion, bundled_stream().key
    query = FeatureSequence(features[:, :12].copy(), np.arange(12) / 4, 4.0, 3.0, {})
    query.motion, query.motion_key = motion[:, :12].copy(), bundled_stream().key
    centre = features.mean(axis=1)
    for parts, reversed_match in ((1, 1.0), (2, 0.0)):
        space = StepSpace(np.zeros(3), np.zeros(2), motion_weight=1.0, motion_parts=parts)
        # stage 1: one 3-s window over each half of the reference
        retriever = WindowRetrieval(seconds=(3.0,), space=space)
        statistics = FrameStatistics(centre)
        vectors = retriever.finalize(retriever.reference_vectors(reference), statistics)
        q = retriever.finalize(retriever.query_vector(query)[None], statistics)[0]
        assert vectors.shape[1] == 3 + 2 * parts
        scores = vectors @ q                                      # windows at steps 0, 6, 12
        assert scores[0] == pytest.approx(1.0, abs=1e-4) and scores[2] == pytest.approx(reversed_match, abs=1e-4)
        # stage 2: the similar windows' map at the query's own length
        window, durations = SimilarWindows().window_map(space.steps(query), space.steps(reference))
        k = list(durations).index(12)
        assert window[0, k] == pytest.approx(1.0, abs=1e-4) and window[12, k] == pytest.approx(reversed_match, abs=1e-4)
    assert StepSpace(np.zeros(3), np.zeros(2), 0.5, 2).key != StepSpace(np.zeros(3), np.zeros(2), 0.5, 1).key


def test_factor_labels_of_programs_and_benchmark_classes():
    """``--factor-weight``: a program's labels are how its object changes (size, turning, blinking),
    a benchmark class's are its modulation read the same way, and its trajectory."""
    assert [tuple(row[:3]) for row in program_factors(5, 7)] == [MotionProgram.draw(s).factors() for s in program_seeds(5, 7)]
    assert (program_factors(5, 7)[:, 3] == -1).all()          # a program's path is none of the benchmark's
    assert class_factors(["fall+grow", "hold+blink", "orbit_cw+spin", "zigzag+shrink", "rise+steady"]).tolist() == [
        [1, 0, 0, 3], [0, 0, 1, 0], [0, 1, 0, 5], [2, 0, 0, 8], [0, 0, 0, 4]]


def test_factor_heads_ignore_unknown_labels_and_join_the_loss():
    torch.manual_seed(0)
    heads = FactorHeads(8)
    vectors = torch.nn.functional.normalize(torch.randn(6, 8), dim=1)
    labels = torch.tensor([[0, 1, 0, -1], [3, 0, 1, -1], [1, 1, 1, -1], [2, 0, 0, -1], [0, 0, 0, -1], [1, 0, 1, -1]])
    by_hand = sum(torch.nn.functional.cross_entropy(heads.heads[k](vectors), labels[:, k]) for k in range(3)) / 3
    assert heads.loss(vectors, labels).item() == pytest.approx(by_hand.item(), rel=1e-5)
    programs = [[render_instance(MotionProgram.draw(k), 100 * k + i) for i in range(2)] for k in range(4)]
    config = MotionEncoderConfig(channels=(8, 8, 16, 16), dim=16)
    losses = []
    for weight in (0.0, 1.0):
        _, record = train_motion_encoder(programs, programs[:2], steps=2, batch=4, window=(8, 8), probe_every=2,
                                         config=config, log=lambda _: None, factors=program_factors(4, 0),
                                         factor_weight=weight)
        losses.append(record["history"][-1]["loss"])
    assert losses[1] > losses[0] + 0.5      # the heads' cross-entropy (about ln 4, ln 2, ln 2 at the start) is in it
