"""tools/bench_memory.py and the frames it streams (uvmos.data.synthetic_stream): the stream renders
the synthetic generator's scene frame by frame, and the package's OracleProposer reads its masks."""

import json

import numpy as np
import pytest
from conftest import load_tool

from uvmos.data.synthetic import SyntheticConfig, generate_video
from uvmos.data.synthetic_stream import SyntheticStream
from uvmos.modeling.proposers import OracleProposer

CFG = SyntheticConfig(height=48, width=64, length=5, min_objects=2, max_objects=2, enter_leave_prob=0.0)


def test_stream_renders_the_generators_scene():
    vid, stream = generate_video(7, CFG), SyntheticStream(7, CFG)
    assert stream.num_objects == 2 and stream.categories == vid.categories
    for t in range(CFG.length):
        frame, id_map = stream(t)
        assert np.array_equal(id_map, vid.id_maps[t]), t
        assert np.abs(frame.astype(int) - vid.frames[t]).mean() < 4  # the sensor noise differs only
    # past the clip, back and forth: 0 1 2 3 4 3 2 1 0 1 ...
    assert [stream.clip_index(t) for t in range(10)] == [0, 1, 2, 3, 4, 3, 2, 1, 0, 1]
    assert np.array_equal(stream(6)[1], vid.id_maps[2])


def test_any_frame_renders_alone_and_the_same():
    a, b = SyntheticStream(7, CFG), SyntheticStream(7, CFG)
    b(3)
    assert np.array_equal(a(1005)[0], b(1005)[0]) and np.array_equal(a(1005)[1], b(1005)[1])
    with pytest.raises(ValueError, match="default preset"):
        from uvmos.data.synthetic import HardSyntheticConfig

        SyntheticStream(0, HardSyntheticConfig())


def test_oracle_proposer_reads_the_streams_masks():
    stream = SyntheticStream(7, CFG)
    oracle = OracleProposer(videos=[stream.video_dict("v")])
    out = oracle([{"video_id": "v", "frame_idx": 123, "height": 48, "width": 64}])[0]
    id_map = stream(123)[1]
    ids = sorted(set(np.unique(id_map).tolist()) - {0})
    assert out["gt_ids"].tolist() == ids and out["instances"].scores.tolist() == [1.0] * len(ids)
    for m, i in zip(out["instances"].pred_masks, ids):
        assert np.array_equal(m.numpy(), id_map == i)


def test_speed_runs(capsys):
    load_tool("bench_memory").main(
        ["--size", "64", "96", "--objects", "1", "2", "--num-frames", "2", "--warmup", "1", "speed"]
    )
    out = capsys.readouterr().out
    assert "at 64x96, 2 frames (+1 warm-up)" in out
    assert "1 object(s): proposal:" in out and "2 object(s): proposal:" in out and "association:" in out


def test_rss_child_reports_its_frames(capsys):
    """The per-length child of ``rss`` (run in-process here): the oracle gives the tracker the K objects."""
    load_tool("bench_memory").main(["rss", "--child-frames", "4", "--size", "64", "96", "--objects", "2"])
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["frames"] == 4 and res["peak_rss_mb"] >= res["built_rss_mb"] > 0 and res["tracks"] >= 1


def test_bad_objects_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        load_tool("bench_memory").main(["--objects", "0", "speed"])
    assert e.value.code == 2 and "--objects" in capsys.readouterr().err
