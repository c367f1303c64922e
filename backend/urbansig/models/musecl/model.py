"""The MuseCL model: per-modality triplet encoders, attentive fusion, InfoNCE to POI vectors.

Modalities: ``rs`` (remote-sensing crop per region, ResNet-18-style), ``sv`` (street-view
images, several per region, Inception-v3-style, averaged per region), ``flow`` (MLP over
the OD-structure embedding of :mod:`urbansig.models.flows` with ``flow_encoder="structure"``,
or over the in/out totals as the paper, ``"totals"``), ``poi_counts`` (POI category counts,
MLP), ``poi_text`` (mean skip-gram vector of the region's POI categories) and any per-region
count table (``RegionData.tables``: POI counts without points, land use; MLP). The encoded
modalities are fused; the alignment target is ``poi_text`` when POIs are given (the
paper), else ``flow``, else ``sv``, else ``poi_counts``, else the first table. By default (see
:func:`default_modalities`) the images and the flows are fused when given, and POI counts
only pick the images' contrastive pairs. InfoNCE is applied to a projection head ``g(h)``
of the fused ``h`` and ``h`` is the embedding (SimCLR); each fused modality goes through its
own (residual MLP) map before the attention (``modality_maps``) and an entropy term on the betas
(``beta_entropy``) keeps the attention from collapsing onto one modality.
``projection_head=False, modality_maps=False, beta_entropy=0, finetune_heads=True,
temperature=1`` is the paper-literal variant.
"""

from __future__ import annotations

import weakref
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from urbansig import parameters
from urbansig.models.base import Method
from urbansig.models.musecl import encoders, text, triplets
from urbansig.models.musecl.fusion import AttentiveFusion, ProjectionHead, info_nce, neg_entropy
from urbansig.models.musecl.tabular import MLPEncoder
from urbansig.protocol import BadInput
from urbansig.training import FitConfig, FitHistory, ProgressSink, fit, seed_everything

if TYPE_CHECKING:
    from urbansig.models.flows import FlowEmbedder

METHOD = "musecl"
MODEL_VERSION = 1  # files without a version (written before it was stored) have this layout
TASK = "embedregionsmusecl"
_INPUT_NAME = {
    "rs": "RASTER",
    "sv": "STREETVIEW",
    "flow": "OD (or IN_FIELD/OUT_FIELD)",
    "poi_counts": "POIS",
    "poi_text": "POIS",
}
MODALITIES = ("rs", "sv", "flow", "poi_counts", "poi_text")
ENCODED = ("rs", "sv", "flow", "poi_counts")
IMAGE = ("rs", "sv")
# which similarity picks an encoder's pairs, in order of preference (paper: rs by POI, sv by
# mobility); "space" (nearest centroids, as Tile2Vec) when neither is given
PAIR_CRITERIA = {
    "rs": ("poi_counts", "flow", "space"),
    "sv": ("flow", "poi_counts", "space"),
    "flow": ("poi_counts", "space"),
    "poi_counts": ("flow", "space"),
}
FLOW_ENCODERS = ("structure", "totals")
# the encoders of MuseCL.encoders (see MuseCL._empty_encoder)
Encoder = encoders.ResNet18 | encoders.InceptionV3 | MLPEncoder
_T = TypeVar("_T")


def _input_name(m: str) -> str:
    """The input that gives modality ``m`` (count tables come from VIEWS)."""
    return _INPUT_NAME.get(m, "VIEWS")


def _required(value: _T | None, m: str) -> _T:
    """``value``, an input that modality ``m`` needs; ValueError when the data lacks it."""
    if value is None:
        raise ValueError(f"{_input_name(m)}: the data has no {m} input")
    return value


@dataclass
class RegionData:
    """Everything known about ``n`` regions, by region position 0..n-1.

    Images are uint8 (0..255) or float (0..1) arrays ``(count, bands, size, size)``.
    """

    n: int
    coords: np.ndarray | None = None  # (n, 2) centroids, for spatial pairs
    rs: np.ndarray | None = None  # (n, bands, s, s)
    rs_valid: np.ndarray | None = None  # (n,) bool
    sv: np.ndarray | None = None  # (m, 3, s, s)
    sv_region: np.ndarray | None = None  # (m,) region position of each image
    flows: np.ndarray | None = None  # (n, 2) in, out
    flow_valid: np.ndarray | None = None  # (n,) bool
    poi_category: list[str] | None = None  # per POI
    poi_text: list[str] | None = None  # per POI
    poi_region: np.ndarray | None = None  # per POI region position (-1 = outside)
    region_ids: np.ndarray | None = None  # (n,) text ids, to align OD matrices
    od: np.ndarray | None = None  # (slots, n, n) trips, for the OD-structure flow encoder
    tables: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (n, d) counts

    def available(self) -> list[str]:
        have = []
        if self.rs is not None:
            have.append("rs")
        if self.sv is not None and len(self.sv):
            have.append("sv")
        if self.flows is not None:
            have.append("flow")
        if self.poi_category is not None and len(self.poi_category):
            have += ["poi_counts", "poi_text"]
        return have + list(self.tables)


def _default(key: str) -> Any:
    return parameters.default(TASK, key)


@dataclass
class MuseCLConfig:
    """Settings of :class:`MuseCL` (defaults sized for CPU runs of minutes); those that are
    parameters of the algorithm default to the embedregionsmusecl table."""

    dim: int = field(default_factory=lambda: _default("dim"))
    modalities: tuple[str, ...] = ()  # empty: every available modality
    epochs_image: int = field(default_factory=lambda: _default("epochs_image"))
    epochs_tabular: int = field(default_factory=lambda: _default("epochs_tabular"))
    epochs_fusion: int = field(default_factory=lambda: _default("epochs_fusion"))
    epochs_text: int = field(default_factory=lambda: _default("epochs_text"))
    batch_image: int = field(default_factory=lambda: _default("batch_image"))
    batch_tabular: int = field(default_factory=lambda: _default("batch_tabular"))
    batch_fusion: int = field(default_factory=lambda: _default("batch_fusion"))
    lr: float = field(default_factory=lambda: _default("lr"))  # the paper's Adam rate, 5e-4
    lr_fusion: float = 2e-3
    margin: float = field(default_factory=lambda: _default("margin"))
    temperature: float = field(default_factory=lambda: _default("temperature"))
    neighbours: int = 5  # positives among the this many most similar regions
    negative_fraction: float = 0.25  # negatives among this share of least similar regions
    image_size: int = field(default_factory=lambda: _default("image_size"))
    # "small" or "full" (torchvision widths and depths)
    encoder_size: str = field(default_factory=lambda: _default("encoder_size"))
    rs_width: int = 16  # ResNet base width of the small encoder (torchvision: 64)
    sv_width: float = 0.125  # Inception width factor of the small encoder (torchvision: 1)
    # stage 2 also trains the encoders' projections (fc)
    finetune_heads: bool = field(default_factory=lambda: _default("finetune_heads"))
    # keep stage 1's triplet loss on the heads in stage 2
    fusion_triplet_weight: float = field(default_factory=lambda: _default("fusion_triplet_weight"))
    # anchors per epoch of an image encoder
    max_images_per_epoch: int = field(default_factory=lambda: _default("images_per_epoch"))
    # InfoNCE on a projection g(h) of the fused h, embedding = h (SimCLR); False: on h itself
    projection_head: bool = field(default_factory=lambda: _default("projection_head"))
    # per-modality residual MLP maps into the fused space before the attention (False: paper)
    modality_maps: bool = field(default_factory=lambda: _default("modality_maps"))
    # weight of the betas' negative entropy in the stage-2 loss (0: paper)
    beta_entropy: float = field(default_factory=lambda: _default("beta_entropy"))
    # the flow modality's input: "structure" (OD-structure embedding, when an OD matrix is
    # given) or "totals" (in/out totals, the paper)
    flow_encoder: str = field(default_factory=lambda: _default("flow_encoder"))
    pair_search: str = field(default_factory=lambda: _default("pair_search"))
    seed: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MuseCLConfig:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["modalities"] = tuple(values.get("modalities", ()))
        return cls(**values)


@dataclass
class FitSummary:
    """What :meth:`MuseCL.fit` did: training curves, pairs used, timing."""

    histories: dict[str, FitHistory] = field(default_factory=dict)
    criteria: dict[str, str] = field(default_factory=dict)
    regions: int = 0


def default_modalities(have: list[str]) -> list[str]:
    """With images: the images and, when POI text is the alignment target, the flows fused
    (flows carry volume, which the POI type mix of the target does not, so they add what the
    alignment misses without offering it a shortcut); POI counts only pick the images'
    pairs (fusing them would let the alignment copy the target). Without images: every
    non-image modality (flow and POI-count encoders fused, aligned to POI text)."""
    images = [m for m in IMAGE if m in have]
    if not images:
        return list(have)
    have_tables = [m for m in have if m not in MODALITIES]
    target = next((m for m in ("poi_text", "flow") if m in have), None)
    extra = ["flow"] if target == "poi_text" and "flow" in have else []
    return images + extra + have_tables + ([target] if target else [])


class MuseCL(Method[RegionData, dict[str, Any]]):
    """Multi-semantic contrastive region embeddings with ``fit`` / ``transform`` / ``save``."""

    method = METHOD
    version = MODEL_VERSION

    def __init__(self, config: MuseCLConfig | None = None, device: str | torch.device = "cpu"):
        self.config = config or MuseCLConfig()
        self.device = torch.device(device)
        self.fused: tuple[str, ...] = ()
        self.target: str = ""
        self.categories: list[str] = []
        self.category_vectors: np.ndarray | None = None
        self.encoders = nn.ModuleDict()
        self.fusion: AttentiveFusion | None = None
        self.projector: ProjectionHead | None = None
        self.in_bands = 0
        self.summary = FitSummary()
        self.metrics: dict[str, Any] = {}
        self._cache_counts: np.ndarray | None = None
        self.table_dims: dict[str, int] = {}
        self.flow_structure: FlowEmbedder | None = None  # with flow_encoder "structure"
        # the flow inputs of the data last seen (computed once, not per batch)
        self._flow_features: tuple[weakref.ref[RegionData], np.ndarray] | None = None
        self._pairs: dict[str, tuple[triplets.Candidates, np.ndarray]] = {}

    # ---------------------------------------------------------------- setup
    def _select(self, data: RegionData) -> None:
        have = data.available()
        wanted = list(self.config.modalities) or default_modalities(have)
        known = (*MODALITIES, *data.tables)
        unknown = [m for m in wanted if m not in known]
        if unknown:
            raise BadInput(f"MODALITIES: unknown {unknown}; choose among {', '.join(known)}.")
        missing = [m for m in wanted if m not in have]
        if missing:
            raise BadInput(f"MODALITIES: {', '.join(missing)} requested but no input gives it.")
        if len(wanted) < 2:
            raise BadInput(
                ("MODALITIES: " if self.config.modalities else "")
                + "MuseCL needs at least two modalities; give two or more of RASTER, STREETVIEW, "
                f"POIS (POI text and POI counts), OD or IN_FIELD/OUT_FIELD, VIEWS (got {wanted})."
            )
        tables = [m for m in wanted if m in data.tables]
        preferred = ("poi_text", "flow", "sv", "poi_counts", *tables)
        self.target = next(m for m in preferred if m in wanted)
        self.fused = tuple(m for m in (*ENCODED, *tables) if m in wanted and m != self.target)
        self.table_dims = {m: int(data.tables[m].shape[1]) for m in tables}

    def _poi_codes(self, data: RegionData) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.categories)}
        categories = _required(data.poi_category, "poi_counts")
        return np.array([index.get(str(c), -1) for c in categories], dtype=np.int64)

    def validate(self, data: RegionData) -> None:
        """Check the modalities and settings against ``data`` (BadInput naming the input)."""
        self._select(data)
        if data.poi_category is not None and len(data.poi_category):
            self.categories = sorted({str(c) for c in data.poi_category})
        cfg = self.config
        if "sv" in self.encoded and cfg.image_size < encoders.INCEPTION_MIN_SIZE:
            raise BadInput(
                f"IMAGE_SIZE must be at least {encoders.INCEPTION_MIN_SIZE} with street-view "
                f"images (Inception), not {cfg.image_size}."
            )
        if cfg.encoder_size not in ("small", "full"):
            raise BadInput(f"ENCODER_SIZE must be small or full, not {cfg.encoder_size!r}.")
        if cfg.flow_encoder not in FLOW_ENCODERS:
            raise BadInput(
                f"FLOW_ENCODER must be one of {', '.join(FLOW_ENCODERS)}, not {cfg.flow_encoder!r}."
            )
        for m in self.encoded:
            if self.valid(data, m).sum() < 3:
                raise BadInput(f"{_input_name(m)}: fewer than three regions have {m} data.")

    def check_inputs(self, data: RegionData, parameter: str = "MODEL") -> None:
        """For a loaded model: ``data`` must give every modality the model uses."""
        have = data.available()
        for m in (*self.encoded, self.target):
            if m not in have:
                raise BadInput(f"{parameter} uses the {m} modality; give {_input_name(m)}.")
        for m, dims in self.table_dims.items():
            if data.tables[m].shape[1] != dims:
                raise BadInput(
                    f"VIEWS: {m} has {data.tables[m].shape[1]} numeric fields; {parameter} "
                    f"was trained with {dims}."
                )
        if self.flow_structure is not None:
            if data.od is None:
                raise BadInput(
                    f"{parameter} encodes the flows from the OD structure; give the OD table "
                    "(not IN_FIELD/OUT_FIELD)."
                )
            self.flow_structure.scalers.check(self._flow_data(data), data.od.shape[0])  # type: ignore[union-attr]
        if "rs" in self.encoded:
            bands = int(_required(data.rs, "rs").shape[1])
            if bands != self.in_bands:
                raise BadInput(
                    f"RASTER has {bands} bands but {parameter} was trained on {self.in_bands}."
                )

    def prepare(self, data: RegionData) -> None:
        """Choose the modalities, train the POI skip-gram vectors, build the encoders."""
        cfg = self.config
        self.validate(data)
        self.flow_structure = None
        self.encoders = nn.ModuleDict()
        if self.categories:
            rng = np.random.default_rng(cfg.seed)
            categories = _required(data.poi_category, "poi_counts")
            poi_region = _required(data.poi_region, "poi_counts")
            texts = data.poi_text or [""] * len(categories)
            sentences = text.build_sentences(categories, texts, poi_region, rng)
            self.category_vectors = text.train_category_vectors(
                sentences, self.categories, cfg.dim, cfg.epochs_text, seed=cfg.seed
            )
        for m in self.encoded:
            if not self._structure_pending(m, data):  # built once its encoder is trained
                self.encoders[m] = self._new_encoder(m, data)
        self.fusion = AttentiveFusion(cfg.dim, modality_maps=self._n_maps())
        self.projector = ProjectionHead(cfg.dim) if cfg.projection_head else None

    def _structure_pending(self, m: str, data: RegionData) -> bool:
        """Whether ``m`` is the flow modality, to be encoded from an OD structure that is
        not trained yet."""
        wanted = m == "flow" and self.config.flow_encoder == "structure" and data.od is not None
        return wanted and self.flow_structure is None

    def _fit_flow_structure(self, data: RegionData, events: ProgressSink | None) -> None:
        """Train the OD-structure encoder of Embed regions from mobility flows (its default
        settings, the OD matrices alone, no labels) and build the flow encoder on it."""
        from urbansig.models.flows import FlowEmbedder

        embedder = FlowEmbedder(device=self.device, seed=self.config.seed)
        self.flow_structure = embedder.fit(self._flow_data(data), events)
        self.encoders["flow"] = self._new_encoder("flow", data)

    def _flow_data(self, data: RegionData):
        from urbansig.models.flows import FlowData

        ids = data.region_ids if data.region_ids is not None else np.arange(data.n).astype(str)
        return FlowData(np.asarray(ids).astype(str), _required(data.od, "flow"))

    def _flow_inputs(self, data: RegionData) -> np.ndarray:
        """The flow encoder's inputs ``(n, d)``: the OD-structure embedding or the totals."""
        if self.flow_structure is None:
            return np.nan_to_num(_required(data.flows, "flow")).astype(np.float32)
        if self._flow_features is None or self._flow_features[0]() is not data:
            features = self.flow_structure.transform(self._flow_data(data)).astype(np.float32)
            self._flow_features = (weakref.ref(data), features)
        return self._flow_features[1]

    def _n_maps(self) -> int:
        return len(self.fused) if self.config.modality_maps else 0

    @property
    def encoded(self) -> tuple[str, ...]:
        """Modalities with an encoder: the fused ones and an encoded alignment target."""
        encoded = self.target in ENCODED or self.target in self.table_dims
        return self.fused + ((self.target,) if encoded else ())

    def _new_encoder(self, m: str, data: RegionData) -> Encoder:
        if m == "rs":
            self.in_bands = int(_required(data.rs, "rs").shape[1])
        enc = self._empty_encoder(m)
        if isinstance(enc, MLPEncoder):  # flow, poi_counts and count tables
            if m == "flow":
                enc.set_statistics(self._flow_inputs(data)[self._flow_valid(data)])
            elif m == "poi_counts":
                enc.set_statistics(self._counts(data)[self._poi_valid(data)])
            else:
                enc.set_statistics(data.tables[m])
        return enc

    def _encoder(self, m: str) -> Encoder:
        """``self.encoders[m]`` with its type (the ModuleDict knows only nn.Module)."""
        enc = self.encoders[m]
        if not isinstance(enc, (encoders.ResNet18, encoders.InceptionV3, MLPEncoder)):
            raise TypeError(f"the {m} encoder is a {type(enc).__name__}, not a MuseCL encoder")
        return enc

    # ------------------------------------------------------- per-modality data
    def _flow_valid(self, data: RegionData) -> np.ndarray:
        if data.flows is None:
            return np.zeros(data.n, dtype=bool)
        if data.flow_valid is not None:
            return np.asarray(data.flow_valid, dtype=bool)
        return np.isfinite(data.flows).all(1)

    def _counts(self, data: RegionData) -> np.ndarray:
        return text.category_counts(
            self._poi_codes(data),
            _required(data.poi_region, "poi_counts"),
            len(self.categories),
            data.n,
        )

    def _poi_valid(self, data: RegionData) -> np.ndarray:
        if data.poi_category is None or not len(data.poi_category):
            return np.zeros(data.n, dtype=bool)
        return self._counts(data).sum(1) > 0

    def _sv_counts(self, data: RegionData) -> np.ndarray:
        if data.sv is None or data.sv_region is None:
            return np.zeros(data.n, dtype=np.int64)
        region = np.asarray(data.sv_region, dtype=np.int64)
        return np.bincount(region[region >= 0], minlength=data.n)

    def valid(self, data: RegionData, m: str) -> np.ndarray:
        """Regions with data in modality ``m``."""
        if m == "rs":
            if data.rs is None:
                return np.zeros(data.n, dtype=bool)
            ok = np.ones(data.n, dtype=bool) if data.rs_valid is None else data.rs_valid
            return np.asarray(ok, dtype=bool)
        if m == "sv":
            return self._sv_counts(data) > 0
        if m == "flow":
            return self._flow_valid(data)
        if m in data.tables:
            return np.ones(data.n, dtype=bool)  # absent rows and NULLs were read as 0
        return self._poi_valid(data)

    def _criterion_features(self, data: RegionData, criterion: str) -> np.ndarray:
        if criterion == "poi_counts":
            return self._counts(data)  # Eq. 3 on raw category counts
        if criterion == "flow":
            return np.nan_to_num(np.asarray(data.flows, dtype=np.float64))  # Eq. 1
        if criterion in data.tables:
            return np.log1p(np.maximum(data.tables[criterion], 0.0))
        return np.asarray(data.coords, dtype=np.float64)

    def _pick_criterion(self, data: RegionData, m: str) -> str:
        """The similarity that picks ``m``'s pairs: PAIR_CRITERIA's order, count tables
        (other than ``m``) before space."""
        order = PAIR_CRITERIA.get(m, ("flow", "poi_counts", "space"))
        others = tuple(t for t in data.tables if t != m)
        for criterion in (*order[:-1], *others, "space"):
            if criterion == "space":
                if data.coords is None:
                    raise BadInput(
                        f"REGIONS: the {m} modality needs another modality's similarity, or "
                        "region polygons (their centroids), to form its pairs; the regions "
                        "are a plain table: give OD, POIS or another VIEWS table."
                    )
                return criterion
            if criterion in data.available() and self.valid(data, criterion).sum() >= 2:
                return criterion
        raise AssertionError("unreachable")

    # ------------------------------------------------------------- inputs
    def _images(self, array: np.ndarray, idx: np.ndarray, augment: bool) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(array[idx]))
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        if x.shape[-1] != self.config.image_size or x.shape[-2] != self.config.image_size:
            size = (self.config.image_size, self.config.image_size)
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        if augment:
            if torch.rand(1).item() < 0.5:
                x = x.flip(-1)
            x = torch.rot90(x, int(torch.randint(0, 4, (1,)).item()), (-2, -1))
        return x

    def _inputs(self, data: RegionData, m: str, idx: np.ndarray, augment: bool) -> torch.Tensor:
        """Encoder inputs for regions ``idx`` (for sv: image positions ``idx``)."""
        if m == "rs":
            return self._images(_required(data.rs, "rs"), idx, augment)
        if m == "sv":
            return self._images(_required(data.sv, "sv"), idx, augment)
        if m == "flow":
            return torch.from_numpy(self._flow_inputs(data)[idx])
        if m in data.tables:
            return torch.from_numpy(data.tables[m][idx].astype(np.float32))
        if self._cache_counts is None:
            raise ValueError("the POI counts are not computed yet")
        return torch.from_numpy(self._cache_counts[idx])

    # ---------------------------------------------------------------- fit
    def fit(self, data: RegionData, events: ProgressSink | None = None) -> Self:
        """Build the model for ``data`` (:meth:`prepare`) and train every stage on it;
        ``events`` gets progress and may cancel."""
        seed_everything(self.config.seed)
        self.prepare(data)
        return self._train(data, events)

    def fit_prepared(self, data: RegionData, events: ProgressSink | None = None) -> Self:
        """Train every stage of the model :meth:`prepare` built for ``data`` (e.g. after
        loading pretrained backbone weights into its encoders)."""
        if self.fusion is None:
            raise RuntimeError("prepare the model first")
        seed_everything(self.config.seed)
        return self._train(data, events)

    def _train(self, data: RegionData, events: ProgressSink | None) -> Self:
        self._cache_counts = self._counts(data) if self.categories else None
        self.summary = FitSummary(regions=data.n)
        n_stages = len(self.encoded) + 1
        for s, m in enumerate(self.encoded):
            sink = events.stage(s / n_stages, (s + 1) / n_stages) if events else None
            if self._structure_pending(m, data):
                self._fit_flow_structure(data, sink)
                self._mine(data, m)  # its pairs, for stage 2
                self.summary.histories[m] = self.flow_structure.history or FitHistory()  # type: ignore[union-attr]
                continue
            self.summary.histories[m] = self._fit_encoder(data, m, sink)
        sink = events.stage(len(self.encoded) / n_stages, 1.0) if events else None
        self.summary.histories["fusion"] = self._fit_fusion(data, sink)
        return self

    def _mine(self, data: RegionData, m: str) -> tuple[triplets.Candidates, np.ndarray]:
        """Candidate positives / negatives of modality ``m`` (kept for stage 2)."""
        cfg = self.config
        criterion = self._pick_criterion(data, m)
        self.summary.criteria[m] = criterion
        pool = self.valid(data, m) & (self.valid(data, criterion) if criterion != "space" else True)
        if pool.sum() < 3:
            raise BadInput(
                f"{m}: fewer than three regions have both {m} data and {criterion} data; "
                "check that the inputs overlap the regions."
            )
        feats = self._criterion_features(data, criterion)
        candidates = triplets.rank_candidates(
            feats,
            cfg.neighbours,
            pool,
            negative_fraction=cfg.negative_fraction,
            search=cfg.pair_search,
        )
        self._pairs[m] = (candidates, pool)
        return candidates, pool

    def _fit_encoder(self, data: RegionData, m: str, events) -> FitHistory:
        cfg = self.config
        candidates, pool = self._mine(data, m)
        rng = np.random.default_rng(cfg.seed + 17)
        anchors = np.flatnonzero(pool)
        generator = torch.Generator().manual_seed(cfg.seed)
        if m == "sv":
            order, starts, counts = _csr(np.asarray(data.sv_region), data.n)
            batch = cfg.batch_image

            sv_region = np.asarray(data.sv_region, dtype=np.int64)
            usable = sv_region >= 0
            usable[usable] = pool[sv_region[usable]]

            def batches():
                images = rng.permutation(np.flatnonzero(usable))[: cfg.max_images_per_epoch]
                regions = sv_region[images]
                _, pos, neg = triplets.sample_triplets(regions, candidates, rng)
                pos_img = order[starts[pos] + rng.integers(0, counts[pos])]
                neg_img = order[starts[neg] + rng.integers(0, counts[neg])]
                for i in range(0, len(images), batch):
                    sl = slice(i, i + batch)
                    yield tuple(torch.from_numpy(ix[sl]) for ix in (images, pos_img, neg_img))
        else:
            batch = cfg.batch_image if m in IMAGE else cfg.batch_tabular

            def batches():
                perm = anchors[torch.randperm(len(anchors), generator=generator).numpy()]
                if m in IMAGE:
                    perm = perm[: cfg.max_images_per_epoch]
                a, p, n = triplets.sample_triplets(perm, candidates, rng)
                for i in range(0, len(a), batch):
                    sl = slice(i, i + batch)
                    yield tuple(torch.from_numpy(ix[sl]) for ix in (a, p, n))

        def loss_fn(model: nn.Module, b) -> torch.Tensor:
            # batches hold positions (cheap to count and move); inputs are gathered here
            idx = torch.cat(b).cpu().numpy()
            out = model(self._inputs(data, m, idx, m in IMAGE).to(self.device))
            a, p, n = out.split(len(b[0]))
            return triplets.triplet_loss(a, p, n, cfg.margin)

        epochs = cfg.epochs_image if m in IMAGE else cfg.epochs_tabular
        config = FitConfig(epochs=epochs, lr=cfg.lr if m in IMAGE else 1e-3, amp=True)
        return fit(
            self.encoders[m], batches, loss_fn, config, self.device, events, stage=f"encoder {m}"
        )

    def _fit_fusion(self, data: RegionData, events) -> FitHistory:
        cfg = self.config
        feats = {m: self._backbone_features(data, m) for m in self.fused}
        mask = np.stack([self.valid(data, m) for m in self.fused], 1)
        target, target_ok = self._target_inputs(data)
        usable = np.flatnonzero(target_ok & mask.any(1))
        if len(usable) < 2:
            raise BadInput("Fewer than two regions have both the fused data and the target data.")
        module = _FusionStage(self)
        generator = torch.Generator().manual_seed(cfg.seed + 1)
        feats_t = {m: torch.from_numpy(f) for m, f in feats.items()}
        mask_t = torch.from_numpy(mask)
        target_t = torch.from_numpy(target)

        weight = cfg.fusion_triplet_weight if cfg.finetune_heads else 0.0
        rng = np.random.default_rng(cfg.seed + 29)
        feats_dev = {m: f.to(self.device) for m, f in feats_t.items()} if weight else {}

        def batches():
            perm = usable[torch.randperm(len(usable), generator=generator).numpy()]
            stop = len(perm) - len(perm) % cfg.batch_fusion if len(perm) > cfg.batch_fusion else 0
            for i in range(0, stop or len(perm), cfg.batch_fusion):
                ix = perm[i : i + cfg.batch_fusion]
                pairs = []
                for m in self.fused if weight else ():
                    candidates, pool = self._pairs[m]
                    a, p, n = triplets.sample_triplets(ix[pool[ix]], candidates, rng)
                    pairs += [torch.from_numpy(v) for v in (a, p, n)]
                ix = torch.from_numpy(ix)
                yield (mask_t[ix], target_t[ix], *(feats_t[m][ix] for m in self.fused), *pairs)

        def loss_fn(model: _FusionStage, b) -> tuple[torch.Tensor, dict[str, float]]:
            k = len(self.fused)
            fused, beta = model(list(b[2 : 2 + k]), b[0])
            loss = info_nce(model.project(fused), b[1], cfg.temperature)
            parts = {"info_nce": loss.item()}
            if cfg.beta_entropy:
                term = neg_entropy(beta)
                loss = loss + cfg.beta_entropy * term
                parts["beta_neg_entropy"] = term.item()
            for j, m in enumerate(self.fused if weight else ()):
                a, p, n = b[2 + k + 3 * j : 5 + k + 3 * j]
                if len(a):
                    head, f = model.heads[j], feats_dev[m]
                    term = triplets.triplet_loss(head(f[a]), head(f[p]), head(f[n]), cfg.margin)
                    loss = loss + weight * term / k
                    parts[f"triplet_{m}"] = term.item()
            return loss, parts

        config = FitConfig(epochs=cfg.epochs_fusion, lr=cfg.lr_fusion, amp=False)
        history = fit(module, batches, loss_fn, config, self.device, events, stage="fusion")
        return history

    # ---------------------------------------------------------- transform
    @torch.no_grad()
    def _backbone_features(self, data: RegionData, m: str, batch: int = 256) -> np.ndarray:
        """Per-region backbone features (sv: the mean over the region's images)."""
        enc = self._encoder(m).to(self.device).eval()
        if m == "sv":
            count = len(_required(data.sv, "sv"))
        else:
            count = data.n
        out = np.zeros((count, enc.feature_dim), dtype=np.float32)
        valid = np.arange(count) if m == "sv" else np.flatnonzero(self.valid(data, m))
        if m in ("poi_counts",):
            self._cache_counts = self._counts(data)
        for i in range(0, len(valid), batch):
            ix = valid[i : i + batch]
            x = self._inputs(data, m, ix, False).to(self.device)
            out[ix] = enc.features(x).float().cpu().numpy()
        if m != "sv":
            return out
        region = np.asarray(data.sv_region, dtype=np.int64)
        keep = region >= 0
        sums = np.zeros((data.n, enc.feature_dim), dtype=np.float64)
        np.add.at(sums, region[keep], out[keep])
        counts = np.bincount(region[keep], minlength=data.n)
        return (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)

    def _target_inputs(self, data: RegionData) -> tuple[np.ndarray, np.ndarray]:
        if self.target == "poi_text":
            vectors, counts = self.poi_vectors(data)
            return vectors, counts > 0
        emb = self._embed(data, self.target)
        return emb, self.valid(data, self.target)

    def poi_vectors(self, data: RegionData) -> tuple[np.ndarray, np.ndarray]:
        """Eq. 7 POI vectors ``(n, dim)`` and the POI count per region."""
        if self.category_vectors is None or data.poi_category is None:
            return np.zeros((data.n, self.config.dim), np.float32), np.zeros(data.n, np.int64)
        return text.region_means(
            self._poi_codes(data),
            _required(data.poi_region, "poi_counts"),
            self.category_vectors,
            data.n,
        )

    @torch.no_grad()
    def _embed(self, data: RegionData, m: str) -> np.ndarray:
        feats = torch.from_numpy(self._backbone_features(data, m)).to(self.device)
        emb = F.normalize(self._encoder(m).fc(feats), dim=-1).cpu().numpy()
        emb[~self.valid(data, m)] = 0.0
        return emb

    def modality_embeddings(self, data: RegionData) -> dict[str, np.ndarray]:
        """Each encoded modality's normalised embedding ``(n, dim)`` (zeros where missing)."""
        return {m: self._embed(data, m) for m in self.encoded}

    @torch.no_grad()
    def transform(self, data: RegionData) -> dict[str, Any]:
        """Embeddings and diagnostics for ``data``'s regions.

        Returns ``embedding`` (n, dim), ``betas`` {modality: (n,)}, ``modalities``
        {modality: (n, dim)}, ``n_pois``, ``n_images``, ``valid`` {modality: (n,)} and
        ``no_data`` (n,) bool (no data in any used modality; embedding all zeros).
        """
        if self.fusion is None:
            raise RuntimeError("fit or load the model first")
        per = self.modality_embeddings(data)
        if self.target == "poi_text":
            per["poi_text"] = self.poi_vectors(data)[0]
        mask = np.stack([self.valid(data, m) for m in self.fused], 1)
        stacked = torch.from_numpy(np.stack([per[m] for m in self.fused], 1)).to(self.device)
        self.fusion.to(self.device).eval()
        fused, beta = self.fusion(stacked, torch.from_numpy(mask).to(self.device))
        valid = {m: self.valid(data, m) for m in (*self.fused, self.target)}
        no_data = ~np.stack(list(valid.values()), 1).any(1)
        return {
            "embedding": fused.cpu().numpy(),
            "betas": {m: beta[:, i].cpu().numpy() for i, m in enumerate(self.fused)},
            "modalities": per,
            "n_pois": self._counts(data).sum(1).astype(np.int64)
            if self.categories
            else np.zeros(data.n, np.int64),
            "n_images": self._sv_counts(data),
            "valid": valid,
            "no_data": no_data,
        }

    # -------------------------------------------------------- persistence
    def state(self) -> dict[str, torch.Tensor]:
        if self.fusion is None:
            raise RuntimeError("fit or load the model first")
        state = {f"encoders.{k}": v for k, v in self.encoders.state_dict().items()}
        state.update({f"fusion.{k}": v for k, v in self.fusion.state_dict().items()})
        if self.projector is not None:
            state.update({f"projector.{k}": v for k, v in self.projector.state_dict().items()})
        if self.category_vectors is not None:
            state["poi.category_vectors"] = torch.from_numpy(self.category_vectors)
        if self.flow_structure is not None:
            tensors = self.flow_structure.parts()[1]
            state.update({f"flow_structure.{k}": v for k, v in tensors.items()})
        return state

    def config_dict(self) -> dict[str, Any]:
        return {
            "settings": asdict(self.config),
            "fused": list(self.fused),
            "target": self.target,
            "categories": self.categories,
            "in_bands": self.in_bands,
            "table_dims": self.table_dims,
            "flow_structure": self.flow_structure.parts()[0] if self.flow_structure else None,
        }

    def save(self, path: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        """Weights and config; the number of training regions and ``metrics`` (when given
        or loaded) are stored alongside."""
        from urbansig.models.serialization import save_model

        config: dict[str, Any] = {"version": MODEL_VERSION, **self.config_dict()}
        if self.summary.regions:
            config["training"] = {"regions": self.summary.regions}
        if metrics or self.metrics:
            config["metrics"] = metrics or self.metrics
        return save_model(path, METHOD, config, self.state())

    @classmethod
    def load(
        cls, path: str | Path, device: str | torch.device = "cpu", parameter: str = "MODEL"
    ) -> Self:
        """A file written by :meth:`save` (also one written before the version was stored)."""
        from urbansig.models.serialization import load_model

        config, state = load_model(path, METHOD, parameter)
        if config.get("version", MODEL_VERSION) != MODEL_VERSION:
            raise BadInput(f"{parameter}: {path} was written by another version of this method.")
        try:
            model = cls(MuseCLConfig.from_dict(config["settings"]), device)
            model.fused = tuple(config["fused"])
            model.target = config["target"]
            model.categories = list(config["categories"])
            model.in_bands = int(config["in_bands"])
            model.table_dims = {k: int(v) for k, v in config.get("table_dims", {}).items()}
            if config.get("flow_structure"):
                from urbansig.models.flows import FlowEmbedder

                model.flow_structure = FlowEmbedder.from_parts(
                    config["flow_structure"], _strip(state, "flow_structure."), device
                )
            if "poi.category_vectors" in state:
                model.category_vectors = state["poi.category_vectors"].numpy()
            dim = model.config.dim
            for m in model.encoded:
                model.encoders[m] = model._empty_encoder(m)
            model.encoders.load_state_dict(_strip(state, "encoders."))
            fusion = _strip(state, "fusion.")
            # models saved before the modality maps existed have none: load them as they were
            model.config.modality_maps = any(k.startswith("maps.") for k in fusion)
            model.fusion = AttentiveFusion(dim, modality_maps=model._n_maps())
            model.fusion.load_state_dict(fusion)
            projector = _strip(state, "projector.")
            if projector:
                model.projector = ProjectionHead(dim)
                model.projector.load_state_dict(projector)
            training, metrics = config.get("training"), config.get("metrics")
            if isinstance(training, dict):
                model.summary.regions = int(training.get("regions", 0))
            model.metrics = dict(metrics) if isinstance(metrics, dict) else {}
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise BadInput(f"{parameter}: {path} is not a readable MuseCL model ({exc}).") from exc
        return model

    def _empty_encoder(self, m: str) -> Encoder:
        cfg = self.config
        full = cfg.encoder_size == "full"
        if m == "rs":
            if full:
                return encoders.ResNet18(self.in_bands, cfg.dim, 64, encoders.RESNET_FULL_BLOCKS)
            return encoders.ResNet18(self.in_bands, cfg.dim, cfg.rs_width)
        if m == "sv":
            if full:
                return encoders.InceptionV3(3, cfg.dim, 1.0, encoders.INCEPTION_FULL)
            return encoders.InceptionV3(3, cfg.dim, cfg.sv_width)
        if m == "flow":
            if self.flow_structure is not None:
                return MLPEncoder.pretrained(self.flow_structure.output_dim, cfg.dim)
            return MLPEncoder(2, cfg.dim)
        if m in self.table_dims:
            return MLPEncoder(self.table_dims[m], cfg.dim)
        return MLPEncoder(len(self.categories), cfg.dim)


class _FusionStage(nn.Module):
    """Stage 2: the encoders' projection heads (fine-tuned or frozen) and the attention."""

    def __init__(self, owner: MuseCL) -> None:
        super().__init__()
        if owner.fusion is None:
            raise RuntimeError("prepare the model first")
        self.heads = nn.ModuleList([owner._encoder(m).fc for m in owner.fused])
        for head in self.heads:
            head.requires_grad_(owner.config.finetune_heads)
        self.attention: AttentiveFusion = owner.fusion
        self.projector = owner.projector if owner.projector is not None else nn.Identity()

    def project(self, fused: torch.Tensor) -> torch.Tensor:
        """The InfoNCE space: ``g(fused)`` with a projection head, else ``fused``."""
        return self.projector(fused)

    def forward(self, feats: list[torch.Tensor], mask: torch.Tensor):
        stacked = torch.stack([F.normalize(h(f), dim=-1) for h, f in zip(self.heads, feats)], 1)
        return self.attention(stacked, mask)


def _strip(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def _csr(region: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image positions sorted by region, each region's start offset and image count."""
    region = np.asarray(region, dtype=np.int64)
    order = np.argsort(region, kind="stable")
    counts = np.bincount(region[region >= 0], minlength=n)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) + int((region < 0).sum())
    return order, starts, counts
