"""T-Net: target-aware adaptive tracking (paper §3.2) as an ``ASSOCIATOR_REGISTRY`` component.

Per frame t (``step``):

1. features X_t once for the frame (``features`` source, shared by all targets and the embedder);
2. every live target k predicts its coarse score map S_k = T(X_t; W_k) (eq. 8), bilinearly
   resized to the frame. The paper does not say how the coarse map becomes the tracking result
   y_k (a mask). ``result_mode="threshold"``: S_k > ``score_thresh`` (0.5).
   ``result_mode="proposal"`` (the configs' default): the proposal with the highest mean S_k over
   its pixels, if that mean is >= ``snap_thresh`` (0.3), each proposal to one target; else the
   thresholded map. A stride-8/16 map thresholded is blobby and, on look-alike neighbours, spans
   several objects, which then never pass eq. 10's IoU gate and block their own discovery; with
   the tiny D-Net (synthetic val, 10 videos) "proposal" gave J&F 0.523 vs 0.440 (docs/tnet.md);
3. verification (eq. 10): the best proposal replaces y_k when s > thr_reid (``verifier``);
4. the non-overlapping id map: a pixel claimed by several targets goes to the highest track score
   (mean of the clipped coarse score over the target's mask);
5. discovery: a proposal (score >= ``proposal_score_thresh``) with s = 0 against every tracklet and
   IoU < ``new_track_iou`` (0.1) with every current result starts a tracklet (at most
   ``max_tracks`` per video, the DAVIS limit of 20), whose target model is fitted on the proposal
   as pseudo label y0 (eq. 9 with one sample);
6. memory update (``memory`` policy) with the final, non-overlapping mask; refit when it says so.

A target whose mask is empty (< ``min_area`` px) is *lost*: it keeps predicting, is not updated,
and resumes when its model fires again (or, with ``reid_resume_thresh``, when a would-be-new
proposal re-identifies it); after ``max_lost_frames`` lost frames it ends. Following FRTM, W1 is
fitted with W2 on y0 and then frozen (memory stores the projected 96-channel samples, which is
10x smaller); ``update_projection=True`` refits both layers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

from uvmos.registry import ASSOCIATOR_REGISTRY

from .mask_ops import downsample_masks, mask_iou, paste_id_map, upsample_scores
from .memory import SampleMemory
from .solver import LinearFilterObjective, TargetObjective, hinge_pixel_weights

__all__ = ["Tracklet", "TNetTracker"]


@dataclass
class Tracklet:
    """State of one target. ``params`` = [W1 (D, C, 1, 1), W2 (1, D, k, k)]; embeddings (E,)."""

    track_id: int
    params: List[torch.Tensor]
    memory: SampleMemory
    first_emb: torch.Tensor
    last_emb: torch.Tensor
    start_frame: int
    class_votes: Dict[int, float] = field(default_factory=dict)
    lost_frames: int = 0
    num_verified: int = 0

    @property
    def category(self) -> int:
        return max(self.class_votes.items(), key=lambda kv: (kv[1], -kv[0]))[0] if self.class_votes else 0


@ASSOCIATOR_REGISTRY.register()
class TNetTracker:
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
        score_thresh: threshold on the resized coarse score map giving y_k.
        proposal_score_thresh: minimum proposal score to start a new tracklet.
        new_track_iou: a new tracklet needs IoU below this with every current result (paper: 0.1).
        min_area: masks with fewer pixels (frame resolution) count as empty.
        max_tracks: tracklets per video at most (ids are never reused).
        max_lost_frames: a tracklet lost for more frames ends (None: never).
        update_projection: refit W1 too at memory updates (default: frozen after y0, as FRTM).
        init_projection: fit W1 with W2 on y0 (FRTM); False keeps W1 at its initialisation.
        reid_resume_thresh: if set, a would-be-new proposal whose cos to a lost tracklet's last
            and first embeddings sums above this resumes that tracklet instead (not in the paper).
        result_mode: how the coarse map becomes the tracking result y_k: ``"threshold"`` (the
            thresholded map) or ``"proposal"`` (the proposal the map scores highest, mean >=
            ``snap_thresh``, default ``score_thresh``; else the thresholded map). See the module
            docstring.
        seed: seeds the random part of each target model's initialisation.
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
        regs: Sequence[float] = (1e-4, 1e-4),
        pixel_weighting: str = "hinge",
        hinge_fraction: float = 0.1,
        score_thresh: float = 0.5,
        proposal_score_thresh: float = 0.5,
        new_track_iou: float = 0.1,
        min_area: int = 16,
        max_tracks: int = 20,
        max_lost_frames: Optional[int] = 50,
        update_projection: bool = False,
        init_projection: bool = True,
        reid_resume_thresh: Optional[float] = None,
        result_mode: str = "threshold",
        snap_thresh: Optional[float] = None,
        seed: int = 0,
    ):
        if result_mode not in ("threshold", "proposal"):
            raise ValueError(f"TNetTracker: result_mode must be 'threshold' or 'proposal', got {result_mode!r}")
        self.result_mode = result_mode
        self.snap_thresh = snap_thresh
        if pixel_weighting not in ("hinge", "none"):
            raise ValueError(f"TNetTracker: pixel_weighting must be 'hinge' or 'none', got {pixel_weighting!r}")
        self.features = features
        self.target_model = target_model
        self.solver = solver
        self.verifier = verifier
        self.reid = reid
        self.memory = memory
        self.target_feature = target_feature
        self.regs = tuple(float(r) for r in regs)
        self.pixel_weighting = pixel_weighting
        self.hinge_fraction = hinge_fraction
        self.score_thresh = score_thresh
        self.proposal_score_thresh = proposal_score_thresh
        self.new_track_iou = new_track_iou
        self.min_area = min_area
        self.max_tracks = max_tracks
        self.max_lost_frames = max_lost_frames
        self.update_projection = update_projection
        self.init_projection = init_projection
        self.reid_resume_thresh = reid_resume_thresh
        self.seed = seed
        self.reset({})

    # ------------------------------------------------------------------ state
    def reset(self, video_meta: dict) -> None:
        """Forget every tracklet; start a new video."""
        self.video_meta = dict(video_meta)
        self.tracks: Dict[int, Tracklet] = {}
        self.num_created = 0
        self._t = 0
        self.stats = {"verified": 0, "results": 0, "fits": 0, "created": 0, "resumed": 0}

    # ------------------------------------------------------------------ helpers
    def _pixel_weights(self, y: torch.Tensor) -> Optional[torch.Tensor]:
        return hinge_pixel_weights(y, self.hinge_fraction) if self.pixel_weighting == "hinge" else None

    def _embed(self, feats, masks) -> torch.Tensor:
        with torch.no_grad():
            return self.reid(feats, masks)

    def _predict(self, X: torch.Tensor, tracks: List[Tracklet]):
        """Coarse scores (K, 1, h, w) and each target's projected features (K, D, h, w), batched:
        one 1x1 conv with all W1 stacked, one grouped conv with all W2."""
        K = len(tracks)
        w1 = torch.cat([tr.params[0] for tr in tracks])
        w2 = torch.cat([tr.params[1] for tr in tracks])
        z = F.conv2d(X, w1)  # (1, K*D, h, w)
        s = F.conv2d(z, w2, padding=w2.shape[-1] // 2, groups=K)  # (1, K, h, w)
        D = tracks[0].params[0].shape[0]
        return s[0][:, None], z[0].view(K, D, *z.shape[-2:])

    def _fit_init(self, X: torch.Tensor, y0: torch.Tensor, track_id: int) -> List[torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 1000003 + track_id)
        params = self.target_model.init_params(X, generator=g)
        one = torch.ones(1, dtype=X.dtype)
        if not self.init_projection:  # W1 stays at its (PCA) initialisation
            z = self.target_model.project(X, params[0])
            obj = LinearFilterObjective(z, y0, one, self.regs[1], self._pixel_weights(y0), params[1].shape[-1])
            return [params[0]] + self.solver.solve(obj, params[1:], phase="init")
        obj = TargetObjective(self.target_model, X, y0, one, self.regs, self._pixel_weights(y0))
        return self.solver.solve(obj, params, phase="init")

    def _fit_update(self, tr: Tracklet) -> None:
        x, y, pw, w = tr.memory.used()
        w = w.to(x.dtype)
        if self.update_projection:
            obj = TargetObjective(self.target_model, x, y, w, self.regs, pw)
            tr.params = self.solver.solve(obj, tr.params, phase="update")
        else:
            k = tr.params[1].shape[-1]
            obj = LinearFilterObjective(x, y, w, self.regs[1], pw, kernel_size=k)
            tr.params = [tr.params[0]] + self.solver.solve(obj, tr.params[1:], phase="update")
        self.memory.fitted(tr.memory)
        self.stats["fits"] += 1

    def _sample(self, X, z, k):
        return X if self.update_projection else z[k : k + 1]

    # ------------------------------------------------------------------ main
    def step(self, frame: dict, proposals: dict) -> dict:
        """One frame: see the module docstring. Returns ``id_map`` int32 (H, W), ``track_scores``
        {id: float} and ``track_classes`` {id: int} of the targets visible in this frame."""
        t = int(frame.get("frame_idx", self._t))
        self._t = t + 1
        H, W = int(frame["height"]), int(frame["width"])
        inst = proposals["instances"]
        pm = inst.pred_masks.to(torch.bool).cpu()
        if tuple(pm.shape[-2:]) != (H, W) and pm.shape[0]:
            raise ValueError(f"TNetTracker: proposal masks are {tuple(pm.shape[-2:])}, frame is {(H, W)}")
        pm = pm.reshape(-1, H, W)
        ps = inst.scores.float().cpu() if inst.has("scores") else torch.ones(len(pm))
        pc = inst.pred_classes.long().cpu() if inst.has("pred_classes") else torch.zeros(len(pm), dtype=torch.long)

        feats = {k: v.float().cpu() for k, v in self.features(frame, proposals).items()}
        if self.target_feature not in feats:
            raise KeyError(f"TNetTracker: target_feature {self.target_feature!r} not in features {sorted(feats)}")
        X = feats[self.target_feature]
        fsize = tuple(X.shape[-2:])

        tracks = list(self.tracks.values())
        K = len(tracks)
        prop_emb = self._embed(feats, pm)
        with torch.no_grad():
            if K:
                S, Z = self._predict(X, tracks)
                S_up = upsample_scores(S, (H, W))
                results = S_up > self.score_thresh
                if self.result_mode == "proposal" and len(pm):
                    results = self._snap_to_proposals(S_up, results, pm)
                results &= results.flatten(1).sum(1).ge(self.min_area)[:, None, None]
            else:
                S_up = torch.zeros(0, H, W)
                Z = None
                results = torch.zeros(0, H, W, dtype=torch.bool)
        res_emb = self._embed(feats, results)
        first_emb = torch.stack([tr.first_emb for tr in tracks]) if K else res_emb.new_zeros((0, res_emb.shape[1]))

        # 3. verification (eq. 10)
        ver = self.verifier.verify(pm, prop_emb, results, res_emb, first_emb)
        final = results.clone()
        for k in range(K):
            if ver.verified[k]:
                final[k] = pm[ver.best[k]]
                tr = tracks[k]
                tr.num_verified += 1
                tr.class_votes[int(pc[ver.best[k]])] = tr.class_votes.get(int(pc[ver.best[k]]), 0.0) + float(
                    ps[ver.best[k]]
                )

        # 4. track scores and the non-overlapping id map
        scores = []
        for k in range(K):
            area = final[k].sum()
            scores.append(float(S_up[k][final[k]].clamp(0, 1).mean()) if area > 0 else 0.0)
        ids = [tr.track_id for tr in tracks]
        id_map = paste_id_map(final, scores, ids)
        if K:
            final = id_map[None] == torch.tensor(ids, dtype=torch.int32)[:, None, None]
            visible = final.flatten(1).sum(1) >= self.min_area
        else:
            visible = torch.zeros(0, dtype=torch.bool)

        # 5. discovery of new targets (and optional re-identification of lost ones)
        s = ver.scores
        current = [final[k] for k in range(K) if visible[k]]
        new_tracks: List[Tracklet] = []
        resumed: Dict[int, int] = {}
        order = torch.argsort(ps, descending=True, stable=True)
        for p in order.tolist():
            if ps[p] < self.proposal_score_thresh or int(pm[p].sum()) < self.min_area:
                continue
            if K and bool((s[:, p] != 0).any()):
                continue
            if current and float(mask_iou(pm[p][None], torch.stack(current)).max()) >= self.new_track_iou:
                continue
            free = pm[p] & (id_map == 0)
            k_res = self._resume_candidate(tracks, visible, prop_emb[p], resumed)
            if k_res is not None:
                id_map[free] = tracks[k_res].track_id
                resumed[k_res] = p
                current.append(free)
                continue
            if self.num_created >= self.max_tracks:
                continue
            tr = self._new_track(X, feats, pm[p], prop_emb[p], int(pc[p]), float(ps[p]), t)
            id_map[free] = tr.track_id
            scores.append(float(ps[p]))
            ids.append(tr.track_id)
            new_tracks.append(tr)
            current.append(free)

        # 6. memory update of the targets that existed before this frame
        for k, tr in enumerate(tracks):
            if k in resumed:
                mask = id_map == tr.track_id
                y = downsample_masks(mask[None], fsize)
                verified = True
                self.stats["resumed"] += 1
            elif visible[k]:
                y = downsample_masks(final[k][None], fsize)
                verified = bool(ver.verified[k])
            else:
                y = None
            if y is None:
                tr.lost_frames += 1
                self.memory.step(tr.memory, None, None, None, verified=False)
                continue
            tr.lost_frames = 0
            self.stats["results"] += 1
            self.stats["verified"] += int(verified)
            tr.last_emb = prop_emb[ver.best[k]] if ver.verified[k] else res_emb[k]
            if k in resumed:
                tr.last_emb = prop_emb[resumed[k]]
            if self.memory.step(tr.memory, self._sample(X, Z, k), y, self._pixel_weights(y), verified=verified):
                self._fit_update(tr)
        for k, tr in enumerate(tracks):
            if self.max_lost_frames is not None and tr.lost_frames > self.max_lost_frames:
                del self.tracks[tr.track_id]
        for tr in new_tracks:
            self.tracks[tr.track_id] = tr

        present = {int(i) for i in torch.unique(id_map).tolist()} - {0}
        all_tracks = {tr.track_id: tr for tr in tracks + new_tracks}
        track_scores = {i: float(sc) for i, sc in zip(ids, scores) if i in present}
        for k in resumed:
            track_scores[tracks[k].track_id] = float(ps[resumed[k]])
        return {
            "id_map": id_map,
            "track_scores": track_scores,
            "track_classes": {i: all_tracks[i].category for i in track_scores},
        }

    def _snap_to_proposals(self, S_up: torch.Tensor, results: torch.Tensor, pm: torch.Tensor) -> torch.Tensor:
        """``result_mode="proposal"``: y_k = the proposal with the highest mean coarse score of
        target k over its pixels, when that mean is >= ``snap_thresh``; each proposal goes to
        one target (greedy, best first); targets without one keep the thresholded map."""
        thr = self.score_thresh if self.snap_thresh is None else self.snap_thresh
        area = pm.flatten(1).sum(1).clamp_min(1).float()
        mean = (S_up.flatten(1) @ pm.flatten(1).float().T) / area  # (K, P)
        out = results.clone()
        pairs = sorted(
            ((float(mean[k, p]), k, p) for k in range(mean.shape[0]) for p in range(mean.shape[1])
             if mean[k, p] >= thr),
            reverse=True,
        )
        used_k, used_p = set(), set()
        for _, k, p in pairs:
            if k in used_k or p in used_p:
                continue
            out[k] = pm[p]
            used_k.add(k)
            used_p.add(p)
        return out

    def _resume_candidate(self, tracks, visible, emb, resumed) -> Optional[int]:
        if self.reid_resume_thresh is None:
            return None
        best, best_v = None, self.reid_resume_thresh
        for k, tr in enumerate(tracks):
            if visible[k] or k in resumed:  # only targets without a result in this frame
                continue
            v = float(emb @ tr.last_emb + emb @ tr.first_emb)
            if v > best_v:
                best, best_v = k, v
        return best

    def _new_track(self, X, feats, mask, emb, category, score, t) -> Tracklet:
        self.num_created += 1
        self.stats["created"] += 1
        track_id = self.num_created
        y0 = downsample_masks(mask[None], X.shape[-2:])
        params = self._fit_init(X, y0, track_id)
        x0 = X if self.update_projection else self.target_model.project(X, params[0]).detach()
        mem = self.memory.init(x0, y0, self._pixel_weights(y0))
        return Tracklet(
            track_id=track_id,
            params=params,
            memory=mem,
            first_emb=emb,
            last_emb=emb,
            start_frame=t,
            class_votes={category: score},
        )
