"""T-Net: target-aware adaptive tracking (paper §3.2) as an ``ASSOCIATOR_REGISTRY`` component.

Per frame t, one method per phase of ``TNetTracker.step``:

1. ``_predict``: every active target j gives its coarse score map S_j = T(X_t; W_j) (eq. 8) on
   the frame's features X_t (computed once, shared by all targets and the re-ID embedder). The
   tracking result y̌_j is S_j bilinearly resized to the frame and thresholded at
   ``score_thresh`` (0.5) -- the paper's default (``result_mode="threshold"``).
2. ``_verify``: eq. 10, s(p, Y_j) = (cos(p, y̌_j) + cos(p, y̌_0)) · 1(IoU(p, y̌_j) > 0.5), for every
   proposal p; if the best s exceeds thr_reid (0.6) that proposal replaces y̌_j, else y̌_j is kept.
   Overlaps between targets go to the highest track score (non-overlapping id map).
3. ``_discover``: a proposal starts a tracklet only when its s is 0 with every tracklet *and* its
   IoU with every current tracking result is < ``new_track_iou`` (0.1); its model is fitted on it as
   the pseudo label y̌_0 (eq. 9 with one sample).
4. ``_update_memory``: the final mask enters the target's memory (``memory`` policy: doubled
   weight and an immediate refit when verified, else a refit every 8 frames).
5. ``_end_tracks``: a target without a result for more than ``max_lost_frames`` frames ends.
   ``max_tracks`` caps the *active* targets (ended ones do not count; ids are never reused).

Named variant, not the default: ``result_mode="proposal"`` snaps y̌_j to the proposal its score
map covers best *before* eq. 10 (a deviation measured in docs/tnet.md; it makes IoU(p, y̌_j) = 1 for
the snapped proposal, so verification reduces to the cos(p, y̌_0) test).

Where the paper is silent (docs/tnet.md): a proposal verifies at most one target (greedy in
descending s); W1 is fitted with W2 on y̌_0 and then frozen (FRTM), so memory stores the projected
96-channel samples; a result smaller than ``min_area`` px counts as empty (the target is *lost*
for that frame: it keeps predicting, its memory is not updated).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from uvmos.registry import ASSOCIATOR_REGISTRY
from uvmos.utils.misc import store_init_args

from .mask_ops import downsample_masks, mask_iou, paint_order, paste_ranks, snap_to_proposals, upsample_scores
from .objective import LinearFilterObjective, TargetObjective, hinge_pixel_weights
from .state import FrameState, Tracklet, read_proposals
from .verifier import Verification

__all__ = ["TNetTracker"]


@ASSOCIATOR_REGISTRY.register()
class TNetTracker(nn.Module):
    """The T-Net tracker (§3.2): online target models + verification + adaptive memory.

    Args:
        features: feature source ``(frame, proposals) -> {name: (1, C, h, w)}`` (tnet/features.py).
        target_model: a TARGET_MODEL_REGISTRY model (eq. 8).
        solver: an ONLINE_SOLVER_REGISTRY solver (eq. 9).
        verifier: a VERIFIER_REGISTRY verifier (eq. 10).
        reid: a REID_REGISTRY embedder ``(features, masks) -> (N, E)``.
        memory: a MEMORY_REGISTRY policy.
        target_feature: name of the feature map the target models use.
        regs: lambda of eq. 9 for (W1, W2).
        pixel_weighting: "hinge" (FRTM's class balance, fraction ``hinge_fraction``) or "none".
        score_thresh: threshold on the resized coarse score map giving y̌_j (0.5).
        proposal_score_thresh: minimum proposal score to start a new tracklet.
        new_track_iou: a new tracklet needs IoU below this with every current result (paper: 0.1).
        min_area: masks with fewer pixels (frame resolution) count as empty.
        max_tracks: active tracklets at most (the DAVIS limit of 20); ids are never reused.
        max_lost_frames: a tracklet without a result for more frames ends (None: never).
        update_projection: refit W1 too at memory updates (default: frozen after y̌_0, as FRTM).
        init_projection: fit W1 with W2 on y̌_0 (FRTM); False keeps W1 at its initialisation.
        result_mode: ``"threshold"`` (paper) or ``"proposal"`` (named variant, see module doc).
        snap_thresh: ``"proposal"`` mode: minimum mean score of a proposal to snap to it.
        release_after: variant, not the paper (None, the default: never). A target whose
            verification has failed for more than this many frames in a row gives up its result
            (drawn nowhere, no claim in eq. 10's scores, so discovery can take the region) until it
            is verified again. In the paper a failed verification keeps y̌_j, so a target that
            has lost its object keeps claiming whatever its model fires on (docs/tnet.md).
        work_max_side: the decisions (eq. 10's IoUs and embeddings, discovery, memory labels) are
            taken on the frame subsampled by the smallest integer stride that brings its longer
            side to at most this (400: 854x480 -> stride 3); the output id map is drawn at the
            frame's resolution from the full-resolution proposals. None: the frame's resolution.
        seed: seeds the random part of each target model's initialisation.
        num_threads: torch threads for ``step`` (None: the caller's), restored afterwards. T-Net
            is a few hundred short operations per frame; on two threads each waits at an OpenMP
            barrier for its team mate, which on a machine shared with other jobs the scheduler has
            often parked (docs/benchmarks.md, "On a shared machine"). With 1, it runs none in
            parallel. Leave None when ``features`` runs a backbone (``BackboneFeatures``).
    """

    def __init__(
        self,
        features,
        target_model,
        solver,
        verifier,
        reid,
        memory,
        target_feature: str = "res4",
        pixel_weighting: str = "hinge",
        hinge_fraction: float = 0.1,
        regs: Sequence[float] = (1e-4, 1e-4),
        score_thresh: float = 0.5,
        proposal_score_thresh: float = 0.5,
        new_track_iou: float = 0.1,
        min_area: int = 16,
        max_tracks: int = 20,
        max_lost_frames: Optional[int] = 50,
        update_projection: bool = False,
        init_projection: bool = True,
        result_mode: str = "threshold",
        snap_thresh: Optional[float] = None,
        work_max_side: Optional[int] = 400,
        release_after: Optional[int] = None,
        seed: int = 0,
        num_threads: Optional[int] = None,
    ):
        super().__init__()
        if result_mode not in ("threshold", "proposal"):
            raise ValueError(f"TNetTracker: result_mode must be 'threshold' or 'proposal', got {result_mode!r}")
        if pixel_weighting not in ("hinge", "none"):
            raise ValueError(f"TNetTracker: pixel_weighting must be 'hinge' or 'none', got {pixel_weighting!r}")
        store_init_args(self, locals(), skip=("regs",))
        self.regs = tuple(float(r) for r in regs)
        self.reset({})

    # ------------------------------------------------------------------ state
    def reset(self, video_meta: dict) -> None:
        """Forget every tracklet; start a new video."""
        self.video_meta = dict(video_meta)
        self.tracks: Dict[int, Tracklet] = {}
        self.num_created = 0
        self._t = 0
        self.stats = {"verified": 0, "matched": 0, "results": 0, "fits": 0, "created": 0, "ended": 0}

    # ------------------------------------------------------------------ main
    def step(self, frame: dict, proposals: dict) -> dict:
        """One frame (phases in the module docstring). Returns ``id_map`` int32 (H, W),
        ``track_scores`` {id: float} and ``track_classes`` {id: int} of the targets visible now."""
        n = self.num_threads
        prev = torch.get_num_threads() if n else 0
        if n and n != prev:
            torch.set_num_threads(n)
        try:
            f = self._predict(frame, proposals)
            self._verify(f)
            self._discover(f)
            self._update_memory(f)
            self._end_tracks(f)
        finally:
            if n and n != prev:
                torch.set_num_threads(prev)
        present = set(torch.nonzero(torch.bincount(f.id_map.flatten().long())[1:]).flatten().add(1).tolist())
        track_scores = {i: float(s) for i, s in zip(f.ids, f.scores) if i in present}
        return {
            "id_map": f.id_map,
            "track_scores": track_scores,
            "track_classes": {i: self.tracks[i].category for i in track_scores},
        }

    # ------------------------------------------------------------------ phase 1: predict
    def _predict(self, frame: dict, proposals: dict) -> FrameState:
        """Features, proposals and the tracking results y̌_j of all active targets (eq. 8)."""
        t = int(frame.get("frame_idx", self._t))
        self._t = t + 1
        H, W = int(frame["height"]), int(frame["width"])
        stride = 1 if self.work_max_side is None else max(1, -(-max(H, W) // self.work_max_side))
        props = read_proposals(proposals, H, W, stride)
        feats = {k: v.float() for k, v in self.features(frame, proposals).items()}
        if self.target_feature not in feats:
            raise KeyError(f"TNetTracker: target_feature {self.target_feature!r} not in features {sorted(feats)}")
        X = feats[self.target_feature]
        props.emb = self._embed(feats, props.work)
        tracks = list(self.tracks.values())
        work = tuple(props.work.shape[-2:])
        if tracks:
            S = self._scores(X, tracks)
            snap = self.result_mode == "proposal" and len(props.work) > 0
            thr = self.score_thresh if self.snap_thresh is None else self.snap_thresh
            # bilinear resizing never exceeds the coarse maximum: a target whose S_j stays below the
            # threshold has an empty y̌_j, so only the others are resized (a few of K when many are lost)
            cand = (S.flatten(1).amax(1) >= (min(self.score_thresh, thr) if snap else self.score_thresh)).nonzero()[
                :, 0
            ]
            S_up = upsample_scores(S[cand], work)
            results = S_up > self.score_thresh
            if snap:
                results = snap_to_proposals(S_up, results, props.work, thr)
            area = results.flatten(1).sum(1)
            keep = (area >= self._min_area(stride)) & (area > 0)
            live, S_up, results = cand[keep].tolist(), S_up[keep], results[keep]
        else:
            S, live = X.new_zeros((0, 1) + tuple(X.shape[-2:])), []
            S_up, results = X.new_zeros((0,) + work), torch.zeros((0,) + work, dtype=torch.bool, device=X.device)
        # positional, in the field order of FrameState
        return FrameState(t, (H, W), stride, feats, X, props, tracks, S, live, S_up, results)

    def _min_area(self, stride: int) -> float:
        return self.min_area / stride**2

    def _scores(self, X: torch.Tensor, tracks: List[Tracklet]):
        """Coarse scores S_j = W2_j * (W1_j * X) (K, 1, h, w) of all targets in one convolution:
        W1 is 1x1, so W2 * (W1 * X) = V * X with V[c] = sum_d W2[d] W1[d, c] (a 3x3 kernel on the C
        input channels; one (K, C, 3, 3) conv instead of a K*D-channel 1x1 and a grouped conv)."""
        w1 = torch.cat([tr.params[0] for tr in tracks])  # (K*D, C, 1, 1)
        w2 = torch.cat([tr.params[1] for tr in tracks])  # (K, D, k, k)
        K, D, k = w2.shape[0], w2.shape[1], w2.shape[-1]
        v = torch.einsum("kdc,kdij->kcij", w1.view(K, D, -1), w2)
        with torch.no_grad():
            s = F.conv2d(X, v, padding=k // 2)  # (1, K, h, w)
        return s[0][:, None]

    # ------------------------------------------------------------------ phase 2: verify
    def _verify(self, f: FrameState) -> None:
        """Eq. 10 for every (target, proposal); verified targets take the proposal. Then the
        non-overlapping id map (a pixel claimed by several targets: highest track score)."""
        p, K = f.props, len(f.tracks)
        f.ver, res_emb = self._eq10(f)
        final = f.results.clone()  # (L, h', w'): only live targets can be verified or drawn
        row = {k: i for i, k in enumerate(f.live)}
        for k, tr in enumerate(f.tracks):
            tr.unverified_frames = 0 if f.ver.verified[k] else tr.unverified_frames + 1
            if self.release_after is not None and tr.unverified_frames > self.release_after:
                if k in row:
                    final[row[k]] = False  # released: no result, no claim
                f.ver.scores[k] = 0
            elif f.ver.verified[k]:
                b = int(f.ver.best[k])
                final[row[k]] = p.work[b]
                tr.num_verified += 1
                tr.last_emb = p.emb[b]
                tr.class_votes[int(p.classes[b])] = tr.class_votes.get(int(p.classes[b]), 0.0) + float(p.scores[b])
            elif k in row:
                tr.last_emb = res_emb[k]
        area = final.flatten(1).sum(1).float()
        score_sum = (f.S_up.clamp(0, 1) * final).flatten(1).sum(1)
        f.scores = [0.0] * K  # an empty mask scores 0
        for i, v in zip(f.live, (score_sum / area.clamp_min(1)).tolist()):
            f.scores[i] = v
        f.ids = [tr.track_id for tr in f.tracks]
        # the non-overlapping maps as ranks (highest track score on top), then ids: a few whole-map
        # operations per frame, not a few per target (they are what slows down on a busy machine)
        rank = paint_order(f.scores).to(final.device)
        live = torch.tensor(f.live, dtype=torch.long)
        rank_live = rank[live]
        rank_work = paste_ranks(final, rank_live)
        f.results = rank_work[None] == rank_live[:, None, None]
        n = f.results.flatten(1).sum(1)
        vis_live = (n >= self._min_area(f.stride)) & (n > 0)
        f.results &= vis_live[:, None, None]  # too small: empty, drawn nowhere
        f.visible = torch.zeros(K, dtype=torch.bool, device=final.device)
        f.visible[live.to(final.device)] = vis_live
        lut = torch.zeros(K + 1, dtype=torch.int32, device=final.device)
        lut[rank.long()] = torch.tensor(f.ids, dtype=torch.int32, device=final.device) * f.visible
        f.id_work = lut[rank_work.long()]
        if f.stride > 1:
            drawn = final.flatten(1).any(1).nonzero()[:, 0].cpu()  # rows of ``final`` that claim pixels
            f.id_map = lut[paste_ranks(self._full_masks(f, live[drawn]), rank_live[drawn]).long()]
        else:
            f.id_map = f.id_work.clone()

    def _eq10(self, f: FrameState):
        """Eq. 10 for the ``live`` targets (non-empty y̌_j), expanded to all K targets: an empty
        y̌_j has IoU 0 with every proposal, so its s is 0 (nothing to embed or compare). The same
        as eq. 10 on all K up to float rounding (a smaller batch of embeddings). Returns the
        Verification and the results' embeddings (K, E; zeros when empty)."""
        p, K, rows = f.props, len(f.tracks), f.live
        emb = self._embed(f.feats, f.results)
        res_emb = emb.new_zeros((K, emb.shape[1]))
        res_emb[torch.tensor(rows, dtype=torch.long, device=emb.device)] = emb
        first = torch.stack([f.tracks[k].first_emb for k in rows]) if rows else emb.new_zeros((0, emb.shape[1]))
        sub = self.verifier.verify(p.work, p.emb, f.results, emb, first)
        if len(rows) == K:
            return sub, res_emb
        rows_c = torch.tensor(rows, dtype=torch.long)
        scores = torch.zeros((K, len(p.work)), dtype=sub.scores.dtype)
        best = torch.full((K,), -1, dtype=torch.long)
        best_score = torch.zeros(K, dtype=sub.best_score.dtype)
        verified = torch.zeros(K, dtype=torch.bool)
        scores[rows_c], best[rows_c], best_score[rows_c], verified[rows_c] = (
            sub.scores.cpu(),
            sub.best.cpu(),
            sub.best_score.cpu(),
            sub.verified.cpu(),
        )
        return Verification(scores=scores, best=best, best_score=best_score, verified=verified), res_emb

    def _full_masks(self, f: FrameState, drawn: torch.Tensor) -> torch.Tensor:
        """The final masks of the targets ``drawn`` (indices into ``tracks``; non-empty at the
        working resolution) at the frame's resolution: the verified proposal itself, else the
        coarse scores resized to the frame and thresholded, each kind in one batched operation.
        (|drawn|, H, W) bool."""
        H, W = f.size
        out = torch.zeros((len(drawn), H, W), dtype=torch.bool, device=f.S.device)
        ver = f.ver.verified.to(drawn.device)[drawn]
        if ver.any():
            out[ver] = f.props.masks[f.ver.best[drawn[ver].cpu()].to(out.device)]
        if (~ver).any():
            out[~ver] = upsample_scores(f.S[drawn[~ver]], (H, W)) > self.score_thresh
        return out

    # ------------------------------------------------------------------ phase 3: discover
    def _discover(self, f: FrameState) -> None:
        """Start a tracklet from each proposal with s = 0 against every tracklet and IoU <
        ``new_track_iou`` with every current result (earlier discoveries of this frame included)."""
        p = f.props
        if not len(p.work):
            return
        K = len(f.tracks)
        unclaimed = ~(f.ver.scores != 0).any(0).cpu() if K else torch.ones(len(p.work), dtype=torch.bool)
        current = f.results[f.results.flatten(1).any(1)]  # the live targets' visible final masks
        iou = mask_iou(p.work, current).amax(1).cpu() if len(current) else torch.zeros(len(p.work))
        area = p.work.flatten(1).sum(1).cpu()
        ok = unclaimed & (iou < self.new_track_iou) & (p.scores.cpu() >= self.proposal_score_thresh)
        ok &= area >= self._min_area(f.stride)
        taken: Optional[torch.Tensor] = None
        for i in torch.argsort(p.scores.cpu(), descending=True, stable=True).tolist():
            if not ok[i]:
                continue
            if taken is not None and float(mask_iou(p.work[i][None], taken[None])[0, 0]) >= self.new_track_iou:
                continue  # overlaps a target discovered earlier in this frame
            if len(self.tracks) + len(f.new_tracks) >= self.max_tracks:
                break
            tr = self._new_track(f, i)
            f.id_map[p.masks[i] & (f.id_map == 0)] = tr.track_id
            f.id_work[p.work[i] & (f.id_work == 0)] = tr.track_id
            f.ids.append(tr.track_id)
            f.scores.append(float(p.scores[i]))
            f.new_tracks.append(tr)
            taken = p.work[i].clone() if taken is None else taken | p.work[i]
        for tr in f.new_tracks:
            self.tracks[tr.track_id] = tr

    def _new_track(self, f: FrameState, i: int) -> Tracklet:
        self.num_created += 1
        self.stats["created"] += 1
        track_id = self.num_created
        X = f.X
        y0 = downsample_masks(f.props.work[i][None], X.shape[-2:])
        params = self._fit_init(X, y0, track_id)
        x0 = X if self.update_projection else self.target_model.project(X, params[0]).detach()
        emb = f.props.emb[i]
        return Tracklet(
            track_id=track_id,
            params=params,
            memory=self.memory.init(x0, y0, self._pixel_weights(y0)),
            first_emb=emb,
            last_emb=emb,
            start_frame=f.t,
            class_votes={int(f.props.classes[i]): float(f.props.scores[i])},
        )

    # ------------------------------------------------------------------ phase 4: memory
    def _update_memory(self, f: FrameState) -> None:
        """The final mask of each earlier target enters its memory; refit when the policy says so."""
        labels = downsample_masks(f.results, tuple(f.X.shape[-2:]))  # (L, 1, h, w), all live targets at once
        row = {k: i for i, k in enumerate(f.live)}
        visible = f.visible.tolist()
        for k, tr in enumerate(f.tracks):
            if not visible[k]:
                tr.lost_frames += 1
                self.memory.step(tr.memory, None, None, None, verified=False)
                continue
            tr.lost_frames = 0
            verified = bool(f.ver.verified[k])
            self.stats["results"] += 1
            self.stats["verified"] += int(verified)
            y = labels[row[k] : row[k] + 1]  # visible => live
            x = f.X if self.update_projection else self.target_model.project(f.X, tr.params[0])
            matched = bool(f.ver.best_score[k] > 0)
            self.stats["matched"] += int(matched)  # matched - verified: stored without the doubled weight
            if self.memory.step(tr.memory, x, y, self._pixel_weights(y), verified=verified, matched=matched):
                self._fit_update(tr)

    # ------------------------------------------------------------------ phase 5: end
    def _end_tracks(self, f: FrameState) -> None:
        if self.max_lost_frames is None:
            return
        for tr in f.tracks:
            if tr.lost_frames > self.max_lost_frames:
                del self.tracks[tr.track_id]
                self.stats["ended"] += 1

    # ------------------------------------------------------------------ eq. 9
    def _pixel_weights(self, y: torch.Tensor) -> Optional[torch.Tensor]:
        return hinge_pixel_weights(y, self.hinge_fraction) if self.pixel_weighting == "hinge" else None

    def _embed(self, feats, masks) -> torch.Tensor:
        with torch.no_grad():
            return self.reid(feats, masks)

    def _fit_init(self, X: torch.Tensor, y0: torch.Tensor, track_id: int) -> List[torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 1000003 + track_id)
        params = self.target_model.init_params(X, generator=g)
        one = torch.ones(1, dtype=X.dtype, device=X.device)
        if not self.init_projection:  # W1 stays at its (PCA) initialisation
            z = self.target_model.project(X, params[0])
            obj = LinearFilterObjective(z, y0, one, self.regs[1], self._pixel_weights(y0), params[1].shape[-1])
            return [params[0]] + self.solver.solve(obj, params[1:], phase="init")
        obj = TargetObjective(self.target_model, X, y0, one, self.regs, self._pixel_weights(y0))
        return self.solver.solve(obj, params, phase="init")

    def _fit_update(self, tr: Tracklet) -> None:
        x, y, pw, w = tr.memory.used()
        w = w.to(x)
        if self.update_projection:
            obj = TargetObjective(self.target_model, x, y, w, self.regs, pw)
            tr.params = self.solver.solve(obj, tr.params, phase="update")
        else:
            k = tr.params[1].shape[-1]
            cache = (tr.memory.extra, tr.memory.ages[: len(w)], tr.memory.capacity)
            obj = LinearFilterObjective(x, y, w, self.regs[1], pw, kernel_size=k, cache=cache)
            tr.params = [tr.params[0]] + self.solver.solve(obj, tr.params[1:], phase="update")
        self.memory.fitted(tr.memory)
        self.stats["fits"] += 1
