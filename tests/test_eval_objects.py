"""DAVIS evaluation modes: objects="first_frame" (official) vs "all" (every object of any frame)."""

import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import load_tool
from tests.test_eval_davis import moving_objects
from uvmos.data.video_dict import instances_from_id_map
from uvmos.evaluation.davis import DAVISEvaluator, evaluate_davis
from uvmos.evaluation.davis_sequence import evaluate_sequence

LATE_ALL = (1 + 1 + 3 / 8) / 3  # J&F of late_entry() when object 3 is never found, objects="all"


def late_entry():
    """3 objects; object 3 enters at frame 3 (absent from frames 0-2)."""
    gt = moving_objects(T=8, K=3, seed=21)
    gt[:3][gt[:3] == 3] = 0
    assert (gt[3:] == 3).any()
    return gt


def _video(vid, maps, **extra):
    T, H, W = maps.shape
    return {
        "video_id": vid,
        "height": H,
        "width": W,
        "length": T,
        "annotations": [instances_from_id_map(f) for f in maps],
        **extra,
    }


def test_late_object_dropped_in_official_mode_scored_in_all():
    gt = late_entry()
    missed = np.where(gt == 3, 0, gt)  # a tracker that never finds the late object
    off = evaluate_sequence(gt, missed, "unsupervised", name="s")
    assert off["objects_mode"] == "first_frame" and off["num_objects"] == 2 and off["dropped_objects"] == [3]
    assert all(o["J"] == 1.0 for o in off["objects"])
    al = evaluate_sequence(gt, missed, "unsupervised", name="s", objects="all")
    assert al["num_objects"] == 3 and al["dropped_objects"] == []
    assert [o["name"] for o in al["objects"]] == ["s_1", "s_2", "s_3"]
    # frames 0-2, where object 3 and its (empty) proposal are both absent, count as J = F = 1 (DAVIS)
    assert al["objects"][2]["J"] == al["objects"][2]["F"] == 3 / 8 and al["objects"][0]["J"] == 1.0
    perfect = evaluate_sequence(gt, gt, "unsupervised", name="s", objects="all")
    assert all(o["J"] == 1.0 and o["F"] == 1.0 for o in perfect["objects"])

    r_off = evaluate_davis({"s": gt}, {"s": missed}, num_workers=1)
    assert r_off.global_figures["J&F-Mean"] == 1.0
    assert len(r_off.notes) == 1 and "1 object(s) in 1 sequence(s)" in r_off.notes[0] and "s (id 3)" in r_off.notes[0]
    assert r_off.to_json_dict()["dropped_objects"] == {"s": [3]}
    r_all = evaluate_davis({"s": gt}, {"s": missed}, num_workers=1, objects="all")
    assert r_all.global_figures["J&F-Mean"] == pytest.approx(LATE_ALL) and not r_all.notes
    assert r_all.objects_modes == ["all"]


def test_modes_agree_when_every_object_is_in_the_first_frame():
    gt = moving_objects(T=8, K=3, seed=22)
    res = np.array([0, 2, 1, 3], np.uint8)[gt]
    res[4:, :, :20] = 0  # imperfect
    a = evaluate_davis({"s": gt}, {"s": res}, num_workers=1)
    b = evaluate_davis({"s": gt}, {"s": res}, num_workers=1, objects="all")
    assert list(a.global_figures.values()) == list(b.global_figures.values())
    assert a.per_object == b.per_object


def test_all_mode_with_ids_missing_from_the_range():
    gt = moving_objects(T=6, K=2, seed=23)
    gt = np.array([0, 2, 5] + [0] * 253, np.uint8)[gt]  # objects 2 and 5; ids 1, 3, 4 never occur
    gt[:, :3] = 255  # void stays void
    res = np.where(gt == 255, 0, gt)
    r = evaluate_sequence(gt, res, "unsupervised", name="s", objects="all")
    assert [o["object_id"] for o in r["objects"]] == [2, 5]
    assert all(o["J"] == 1.0 and o["F"] == 1.0 for o in r["objects"])
    r16 = evaluate_sequence(gt.astype(np.int32), res, "unsupervised", name="s", objects="all")
    assert [o["J"] for o in r16["objects"]] == [1.0, 1.0]
    with pytest.raises(ValueError, match="objects must be one of"):
        evaluate_sequence(gt, res, objects="every")


def test_default_mode_from_video_dicts_dataset_metadata_and_synthetic_root(tmp_path):
    from detectron2.data import DatasetCatalog, MetadataCatalog

    gt = late_entry()
    missed = np.where(gt == 3, 0, gt)
    # video dicts carry the mode (the uvmos_synth* loaders set it)
    r = evaluate_davis([_video("v", gt, eval_objects="all")], {"v": missed}, num_workers=1)
    assert r.sequences[0]["num_objects"] == 3
    r = evaluate_davis([_video("v", gt)], {"v": missed}, num_workers=1)
    assert r.sequences[0]["num_objects"] == 2 and r.notes
    r = evaluate_davis([_video("v", gt, eval_objects="all")], {"v": missed}, num_workers=1, objects="first_frame")
    assert r.sequences[0]["num_objects"] == 2

    # dataset metadata, for evaluate_davis(dataset_name=...) and DAVISEvaluator
    name = "_test_eval_objects_all"
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    DatasetCatalog.register(name, lambda: [_video("v", gt)])
    MetadataCatalog.get(name).set(eval_objects="all")
    try:
        r = evaluate_davis(DatasetCatalog.get(name), {"v": missed}, num_workers=1, dataset_name=name)
        assert r.sequences[0]["num_objects"] == 3
        ev = DAVISEvaluator(name, distributed=False)
        ev.process([{"video_id": "v"}], [{"video_id": "v", "id_maps": list(missed)}])
        assert ev.evaluate()["davis"]["J&F-Mean"] == pytest.approx(LATE_ALL)
        ev = DAVISEvaluator(name, distributed=False, objects="first_frame")
        ev.process([{"video_id": "v"}], [{"video_id": "v", "id_maps": list(missed)}])
        assert ev.evaluate()["davis"]["J&F-Mean"] == 1.0
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)

    # a folder root: "all" where the synthetic generator's manifest.json is found
    for root in (tmp_path / "plain", tmp_path / "synth"):
        for t, m in enumerate(gt):
            (root / "gt" / "v").mkdir(parents=True, exist_ok=True)
            (root / "res" / "v").mkdir(parents=True, exist_ok=True)
            Image.fromarray(m).save(root / "gt" / "v" / f"{t:05d}.png")
            Image.fromarray(missed[t]).save(root / "res" / "v" / f"{t:05d}.png")
    (tmp_path / "synth" / "manifest.json").write_text(json.dumps({"generator": "uvmos.data.synthetic"}))
    plain = evaluate_davis(tmp_path / "plain" / "gt", tmp_path / "plain" / "res", num_workers=1)
    synth = evaluate_davis(tmp_path / "synth" / "gt", tmp_path / "synth" / "res", num_workers=1)
    assert plain.global_figures["J&F-Mean"] == 1.0 and any("id 3" in n for n in plain.notes)
    assert synth.global_figures["J&F-Mean"] == pytest.approx(LATE_ALL)

    cli = load_tool("eval_davis")
    out = tmp_path / "out"
    for objects, expect in (("all", "%.3f" % LATE_ALL), ("first_frame", "1.000")):
        rc = cli.main(
            [
                "--davis_path",
                str(tmp_path / "plain" / "gt"),
                "--task",
                "unsupervised",
                "--results_path",
                str(tmp_path / "plain" / "res"),
                "--output_dir",
                str(out),
                "--objects",
                objects,
                "--num-workers",
                "1",
                "--quiet",
            ]
        )
        assert rc == 0
        assert (out / "global_results-val.csv").read_text().splitlines()[1].split(",")[0] == expect
