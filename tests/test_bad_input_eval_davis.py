"""tools/eval_davis.py on bad input (issue 11): with two workers (the default pool) every case is a
one-line error naming the file, never a hang (pytest-timeout), and no CSV is left behind."""

import os
import pickle

import numpy as np
import pytest
from PIL import Image

from tests._data_helpers import save_palette_png
from tests.conftest import load_tool
from uvmos.data.video_dict import DatasetFormatError

eval_davis = load_tool("eval_davis")
pytestmark = pytest.mark.timeout(60)

H, W, T = 24, 32, 3
SEQS = ("seqa", "seqb")


def _gt_root(root, annotations="Annotations_unsupervised", image_sets=True):
    for s in SEQS:
        for t in range(T):
            m = np.zeros((H, W), np.uint8)
            m[4:12, 4 + t : 14 + t] = 1
            save_palette_png(str(root / annotations / "480p" / s / f"{t:05d}.png"), m)
    if image_sets:
        (root / "ImageSets" / "2017").mkdir(parents=True)
        (root / "ImageSets" / "2017" / "val.txt").write_text("\n".join(SEQS) + "\n")
    return root


def _results(root):
    for s in SEQS:
        for t in range(T):
            m = np.zeros((H, W), np.uint8)
            m[4:12, 4:14] = 1
            save_palette_png(str(root / s / f"{t:05d}.png"), m)
    return root


def _run(gt, res, *extra):
    return eval_davis.main(
        [
            "--davis_path",
            str(gt),
            "--results_path",
            str(res),
            "--task",
            "unsupervised",
            "--num-workers",
            "2",
            "--quiet",
            *extra,
        ]
    )


def _break(case, gt, res):
    """Make the case's bad input; return the text the error must contain."""
    if case == "empty_results":
        for s in SEQS:
            for f in os.listdir(res / s):
                os.unlink(res / s / f)
            os.rmdir(res / s)
        return f"{res}: holds none of the 2 sequence folders"
    if case == "missing_sequence":
        for f in os.listdir(res / "seqb"):
            os.unlink(res / "seqb" / f)
        os.rmdir(res / "seqb")
        return str(res / "seqb")
    if case == "wrong_size":
        save_palette_png(str(res / "seqb" / "00001.png"), np.zeros((H + 2, W), np.uint8))
        return "seqb frame 1"
    if case == "rgb_mask":
        Image.fromarray(np.full((H, W, 3), (200, 10, 10), np.uint8)).save(res / "seqa" / "00000.png")
        return str(res / "seqa" / "00000.png")
    if case == "id_300":
        m = np.zeros((H, W), np.uint16)
        m[2:6, 2:6] = 300
        Image.fromarray(m).save(res / "seqb" / "00002.png")
        return "result id 300"
    if case == "truncated_png":
        p = res / "seqa" / "00001.png"
        p.write_bytes(p.read_bytes()[:40])
        return str(p)
    if case == "missing_gt_sequence":
        (gt / "ImageSets" / "2017" / "val.txt").write_text("seqa\nseqb\nseqc\n")
        return "seqc"
    if case == "root_without_anything":
        import shutil

        shutil.rmtree(gt / "Annotations_unsupervised")
        shutil.rmtree(gt / "ImageSets")
        return str(gt)
    raise AssertionError(case)


BAD = [
    "empty_results",
    "missing_sequence",
    "wrong_size",
    "rgb_mask",
    "id_300",
    "truncated_png",
    "missing_gt_sequence",
    "root_without_anything",
]


@pytest.mark.parametrize("case", BAD)
def test_bad_results_clear_error_no_hang(tmp_path, capsys, case):
    gt = _gt_root(tmp_path / "gt")
    res = _results(tmp_path / "res")
    needle = _break(case, gt, res)
    out = tmp_path / "csv"
    assert _run(gt, res, "--output_dir", str(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and needle in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not any(f.endswith(".csv") for f in os.listdir(out))  # nothing half-written


def test_exception_pickles_across_processes():
    e = pickle.loads(pickle.dumps(DatasetFormatError("/x/y.png", "bad thing")))
    assert isinstance(e, DatasetFormatError) and str(e) == "/x/y.png: bad thing" and e.path == "/x/y.png"


def _die(job):
    os._exit(3)


def test_dead_worker_raises_instead_of_hanging():
    from concurrent.futures.process import BrokenProcessPool

    from uvmos.utils.parallel import map_jobs as _map

    with pytest.raises(BrokenProcessPool):
        _map(_die, [1, 2, 3], 2, [1, 1, 1])


@pytest.mark.parametrize("case", ["output_is_file", "output_under_file", "json_is_folder"])
def test_unwritable_outputs_refused_before_evaluating(tmp_path, capsys, case):
    gt = _gt_root(tmp_path / "gt")
    res = _results(tmp_path / "res")
    (tmp_path / "afile").write_text("x")
    if case == "output_is_file":
        extra, needle = ["--output_dir", str(tmp_path / "afile")], "is a file"
    elif case == "output_under_file":
        extra, needle = ["--output_dir", str(tmp_path / "afile" / "sub")], "which is a file"
    else:
        extra, needle = ["--json", str(tmp_path)], "is a folder"
    assert _run(gt, res, *extra) == 2
    out = capsys.readouterr()
    assert needle in out.err and "Evaluating" not in out.out, out


def test_documented_command_on_the_synthetic_layout(tmp_path, capsys):
    """docs/getting_started.md's command on a root with Annotations/ only (the synthetic benchmark):
    scored against Annotations/, with a note saying so."""
    gt = _gt_root(tmp_path / "gt", annotations="Annotations")
    res = _results(tmp_path / "res")
    assert _run(gt, res) == 0
    out = capsys.readouterr().out
    assert "note:" in out and "Annotations_unsupervised" in out and "J&F-Mean" in out
    assert (res / "global_results-val.csv").is_file()


def test_pool_after_opencv_threads_ran_does_not_hang():
    """run_dataset's final evaluation hung: OpenCV's worker threads (busy after the model ran) do
    not survive fork, and the forked workers deadlocked in cv2. The pool now stops them first."""
    import cv2

    from uvmos.evaluation.davis import evaluate_davis

    a = np.random.default_rng(0).random((1000, 1000), dtype=np.float32)
    for _ in range(3):
        cv2.GaussianBlur(a, (31, 31), 5)
    gt = {f"s{i}": np.random.default_rng(i).integers(0, 3, (3, 24, 32)).astype(np.uint8) for i in range(4)}
    res = evaluate_davis(gt, dict(gt), num_workers=2)
    assert res.global_figures["J&F-Mean"] == pytest.approx(1.0)
