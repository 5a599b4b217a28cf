"""tools/eval_ytvis.py on bad results JSONs (issue 11): a one-line error naming the file and the
result, never a figure computed from garbage; an empty result list gets an explanation."""

import json
import os

import numpy as np
import pytest

from tests.conftest import load_tool
from uvmos.data.video_dict import mask_to_rle

eval_ytvis = load_tool("eval_ytvis")
pytestmark = pytest.mark.timeout(60)

H, W, T = 20, 30, 3


def _mask(x0):
    m = np.zeros((H, W), bool)
    m[4:12, x0 : x0 + 8] = True
    return m


def _gt(path):
    segs = [mask_to_rle(_mask(4 + t)) for t in range(T)]
    gt = {
        "videos": [{"id": 1, "height": H, "width": W, "length": T, "file_names": [f"v/{t:05d}.jpg" for t in range(T)]}],
        "categories": [{"id": 1, "name": "thing"}, {"id": 2, "name": "other"}],
        "annotations": [
            {"id": 1, "video_id": 1, "category_id": 1, "iscrowd": 0, "segmentations": segs, "areas": [64] * T}
        ],
    }
    path.write_text(json.dumps(gt))
    return path


def _good():
    return {
        "video_id": 1,
        "category_id": 1,
        "score": 0.9,
        "segmentations": [mask_to_rle(_mask(4 + t)) for t in range(T)],
    }


def _bad(case):
    r = _good()
    if case == "int_rle":
        r["segmentations"][1] = {"size": [H, W], "counts": 12345}
        return [r], "result 0 frame 1: RLE counts must be a string"
    if case == "score_high":
        r["score"] = "high"
        return [r], "result 0: score must be a finite number"
    if case == "garbage_rle":  # decodes to 2073600 px in a 600 px frame (pycocotools accepts it)
        r["segmentations"][2] = {"size": [H, W], "counts": "PPYo1"}
        return [r], "result 0 frame 2: corrupt compressed RLE counts"
    if case == "list_rle_wrong_total":
        r["segmentations"][0] = {"size": [H, W], "counts": [5, 10]}
        return [r], "result 0 frame 0: RLE counts cover 15 pixels"
    if case == "unknown_category":
        r["category_id"] = 77
        return [r], "result 0: category_id 77 is not a category"
    if case == "unknown_video":
        r["video_id"] = 9
        return [r], "result 0: video_id 9 is not in the ground truth"
    if case == "wrong_length":
        r["segmentations"] = r["segmentations"][:2]
        return [r], "result 0: 2 segmentations for 3 frames"
    if case == "not_a_list":
        return {"results": [r]}, "results must be a JSON list"
    if case == "entry_not_object":
        return [r, 5], "result 1 is a int"
    if case == "missing_key":
        del r["score"]
        return [r], "result 0 lacks 'score'"
    if case == "wrong_mask_size":
        r["segmentations"][0] = mask_to_rle(np.zeros((H + 1, W), bool))
        return [r], "result 0 frame 0: mask size"
    raise AssertionError(case)


CASES = [
    "int_rle",
    "score_high",
    "garbage_rle",
    "list_rle_wrong_total",
    "unknown_category",
    "unknown_video",
    "wrong_length",
    "not_a_list",
    "entry_not_object",
    "missing_key",
    "wrong_mask_size",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_results_json(tmp_path, capsys, case):
    gt = _gt(tmp_path / "gt.json")
    results, needle = _bad(case)
    res = tmp_path / "results.json"
    res.write_text(json.dumps(results))
    out_json = tmp_path / "figures.json"
    assert eval_ytvis.main(["--gt", str(gt), "--results", str(res), "--json", str(out_json)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {res}: ") and needle in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out_json.exists() and not [f for f in os.listdir(tmp_path) if ".tmp" in f]


def test_good_results_score_one(tmp_path, capsys):
    gt = _gt(tmp_path / "gt.json")
    res = tmp_path / "results.json"
    res.write_text(json.dumps([_good()]))
    assert eval_ytvis.main(["--gt", str(gt), "--results", str(res), "--json", str(tmp_path / "f.json")]) == 0
    assert json.loads((tmp_path / "f.json").read_text())["AP"] == pytest.approx(1.0)


def test_empty_results_are_explained(tmp_path, capsys):
    gt = _gt(tmp_path / "gt.json")
    res = tmp_path / "results.json"
    res.write_text("[]")
    assert eval_ytvis.main(["--gt", str(gt), "--results", str(res)]) == 0
    out = capsys.readouterr().out
    assert f"note: {res} holds no tracks" in out


@pytest.mark.parametrize("case", ["json_is_folder", "json_under_file", "gt_missing", "gt_not_json"])
def test_bad_paths(tmp_path, capsys, case):
    gt = _gt(tmp_path / "gt.json")
    res = tmp_path / "results.json"
    res.write_text(json.dumps([_good()]))
    (tmp_path / "afile").write_text("x")
    args = ["--gt", str(gt), "--results", str(res)]
    if case == "json_is_folder":
        args += ["--json", str(tmp_path)]
        needle = f"--json {tmp_path}: is a folder"
    elif case == "json_under_file":
        args += ["--json", str(tmp_path / "afile" / "f.json")]
        needle = "which is a file"
    elif case == "gt_missing":
        args[1] = str(tmp_path / "nope.json")
        needle = f"{tmp_path / 'nope.json'}: unreadable ground-truth JSON"
    else:
        args[1] = str(tmp_path / "afile")
        needle = f"{tmp_path / 'afile'}: unreadable ground-truth JSON"
    assert eval_ytvis.main(args) == 2
    err = capsys.readouterr().err
    assert needle in err, err
