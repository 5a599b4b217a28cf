"""The hard preset of the synthetic benchmark: its phenomena occur, on the rendered masks; it is
deterministic; its splits (and extra test seeds) are disjoint and registered."""

import json

import numpy as np
import pytest
from conftest import load_tool

from uvmos.data.synthetic import (
    PRESETS,
    SPLITS,
    HardSyntheticConfig,
    config_from_manifest,
    generate_video,
    make_synthetic_dataset,
    split_seed_base,
)
from uvmos.data.synthetic_assets import CATEGORY_SPECS
from uvmos.data.synthetic_hard import TWIN_CATEGORY_PAIRS, longest_hidden_run, out_of_view_runs

# tiny frames, the preset's own event ranges (64 frames are needed for 10-40 frame occlusions)
TINY = HardSyntheticConfig(height=96, width=160)


@pytest.fixture(scope="module")
def videos():
    return [generate_video(split_seed_base(0, "train", "hard") + i, TINY) for i in range(4)]


def _present(v, iid):
    return np.array([(m == iid).any() for m in v.id_maps])


def _gaps(present):
    """[(start, length)] of absences with presence before and after."""
    out, t, T = [], 0, len(present)
    while t < T:
        if not present[t] and present[:t].any():
            e = t
            while e < T and not present[e]:
                e += 1
            if e < T:
                out.append((t, e - t))
            t = e
        else:
            t += 1
    return out


def test_visible_areas_are_the_masks(videos):
    for v in videos:
        vis = np.stack([np.bincount(m.ravel(), minlength=len(v.categories) + 1)[1:] for m in v.id_maps], 1)
        np.testing.assert_array_equal(vis, v.stats["visible_area"])
        assert sorted(v.categories) == list(range(1, len(v.categories) + 1))
        assert 4 <= len(v.categories) <= TINY.max_objects


def test_full_occlusion_of_10_to_40_frames_then_reappearance(videos):
    for v in videos:
        (iid,) = [k for k, r in v.stats["roles"].items() if r == "occluded"]
        amodal = v.stats["amodal_area"][iid - 1]
        gap = longest_hidden_run(amodal, v.stats["visible_area"][iid - 1])
        assert 10 <= gap <= 40 and v.stats["occlusion_gap"][iid] == gap
        # on the masks: absent for `gap` frames while inside the frame (behind the wall), then back
        hidden = [(s, n) for s, n in _gaps(_present(v, iid)) if (amodal[s : s + n] > 0).all()]
        assert max(n for _, n in hidden) == gap
        # the wall is unannotated: no object pixel inside it
        s, n = max(hidden, key=lambda x: x[1])
        x0, y0, x1, y1 = v.stats["wall"]
        cx, cy = v.stats["camera"][s + n // 2]
        m = v.id_maps[s + n // 2]
        assert not m[
            max(0, int(y0) - cy + 1) : max(0, int(y1) - cy - 1), max(0, int(x0) - cx + 1) : max(0, int(x1) - cx - 1)
        ].any()


def test_leaves_the_frame_and_comes_back(videos):
    for v in videos:
        (iid,) = [k for k, r in v.stats["roles"].items() if r == "exit_return"]
        amodal = v.stats["amodal_area"][iid - 1]
        out = [(s, n) for s, n in _gaps(_present(v, iid)) if (amodal[s : s + n] == 0).all()]
        assert out and max(n for _, n in out) == v.stats["out_of_view"][iid] >= 3
        assert out_of_view_runs(amodal, v.stats["visible_area"][iid - 1])


def test_twins_same_shape_and_size_different_texture_cross(videos):
    for v in videos:
        a, b = v.stats["twins"]
        ca, cb = v.categories[a], v.categories[b]
        assert tuple(sorted((ca, cb))) in {tuple(sorted(p)) for p in TWIN_CATEGORY_PAIRS}
        assert (
            CATEGORY_SPECS[ca].shape == CATEGORY_SPECS[cb].shape
            and CATEGORY_SPECS[ca].texture != CATEGORY_SPECS[cb].texture
        )
        np.testing.assert_array_equal(v.stats["scale"][a - 1], v.stats["scale"][b - 1])
        # equal amodal areas whenever both are fully inside the frame (one outline, one size)
        am = v.stats["amodal_area"]
        both = (am[a - 1] > 0) & (am[b - 1] > 0)
        assert both.any()
        # the paths cross: centres meet inside the frame, and both are visible around that time
        d = np.linalg.norm(v.stats["centers"][a - 1] - v.stats["centers"][b - 1], axis=1)
        t = int(np.argmin(d))
        assert d[t] < 1.0 and both[t]
        pa, pb = _present(v, a), _present(v, b)
        assert pa[max(0, t - 12) : t].any() and pb[max(0, t - 12) : t].any()
        assert pa[t + 1 : t + 13].any() and pb[t + 1 : t + 13].any()


def test_lookalikes_sudden_motion_and_scale_change():
    vs = [generate_video(split_seed_base(0, "val", "hard") + i, TINY) for i in range(6)]
    looks = [v for v in vs if v.stats["lookalike"]]
    assert looks
    for v in looks:
        a, b = v.stats["lookalike"]
        assert a != b and v.categories[a] == v.categories[b]
    turns = speedups = 0
    for v in vs:
        c = v.stats["centers"]
        vel = np.diff(c, axis=1)  # (K, T-1, 2)
        sp = np.linalg.norm(vel, axis=2)
        for k in range(len(c)):
            for t in range(1, vel.shape[1]):
                s0, s1 = sp[k, t - 1], sp[k, t]
                if min(s0, s1) > 0.5:
                    cos = vel[k, t - 1] @ vel[k, t] / (s0 * s1)
                    turns += cos < np.cos(np.deg2rad(60))
                    speedups += max(s0, s1) / min(s0, s1) > 2
        ratio = v.stats["scale"][:, -1] / v.stats["scale"][:, 0]
        assert (np.abs(np.log(ratio)) > np.log(1.2)).any()
    assert turns >= len(vs) and speedups >= len(vs)


def test_deterministic_and_seed_dependent():
    seed = split_seed_base(0, "test", "hard")
    v1, v2, v3 = generate_video(seed, TINY), generate_video(seed, TINY), generate_video(seed + 1, TINY)
    assert all((f1 == f2).all() for f1, f2 in zip(v1.frames, v2.frames))
    assert all((m1 == m2).all() for m1, m2 in zip(v1.id_maps, v2.id_maps))
    assert v1.stats["roles"] == v2.stats["roles"]
    assert any((f1 != f3).any() for f1, f3 in zip(v1.frames, v3.frames))


def test_seed_ranges_disjoint_across_presets_splits_and_test_seeds():
    ranges = [
        range(split_seed_base(s, sp, pr), split_seed_base(s, sp, pr) + 10**6)
        for s in (0, 1, 2)
        for sp in SPLITS
        for pr in PRESETS
    ]
    for i, r in enumerate(ranges):
        for q in ranges[i + 1 :]:
            assert r.stop <= q.start or q.stop <= r.start


def test_written_dataset_registered_and_cli(tmp_path, monkeypatch):
    from detectron2.data import MetadataCatalog

    from uvmos.data.builtin import register_all

    root = tmp_path / "uvmos_synth_hard"
    cfg = HardSyntheticConfig(height=64, width=96, length=56)
    out = make_synthetic_dataset(
        str(root), cfg, num_train=1, num_val=1, num_test=1, seed=0, test_seeds=[0, 2], progress=False
    )
    assert out == {
        "train": ["hard_train_0000"],
        "val": ["hard_val_0000"],
        "test": ["hard_test_0000"],
        "test_seed2": ["hard_test_seed2_0000"],
    }
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["config"]["preset"] == "hard"
    assert manifest["splits"]["test_seed2"]["seed_base"] == split_seed_base(2, "test", "hard")
    assert config_from_manifest(str(root)) == cfg
    records = [json.loads(p.read_text()) for p in (root / "records").glob("*.json")]
    assert len({r["seed"] for r in records}) == 4

    try:
        register_all(str(tmp_path))
        from detectron2.data import DatasetCatalog

        vids = DatasetCatalog.get("uvmos_synth_hard_test_seed2")
        assert [v["video_id"] for v in vids] == ["hard_test_seed2_0000"] and vids[0]["length"] == 56
        for name in (
            "uvmos_synth_hard_train",
            "uvmos_synth_hard_val",
            "uvmos_synth_hard_test",
            "uvmos_synth_hard_test_seed1",
            "uvmos_synth_val",
        ):
            assert MetadataCatalog.get(name).eval_objects == "all"
        assert MetadataCatalog.get("davis2017_unsup_val").get("eval_objects") is None
    finally:
        register_all()

    tool = load_tool("make_synthetic")
    cli = tool.main(
        [
            "--preset",
            "hard",
            "--output",
            str(tmp_path / "cli"),
            "--height",
            "64",
            "--width",
            "96",
            "--length",
            "56",
            "--num-train",
            "0",
            "--num-val",
            "0",
            "--num-test",
            "1",
            "--test-seeds",
            "0",
            "1",
        ]
    )
    assert sorted(cli) == ["test", "test_seed1"]
    with pytest.raises(SystemExit, match="min_objects >= 4"):
        tool.main(["--preset", "hard", "--output", str(tmp_path / "bad"), "--min-objects", "2"])
