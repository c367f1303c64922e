"""Benchmark: MuseCL (embedregionsmusecl) quality and speed.

Two modes:

- ``ablation`` (needs the geo stack): reads a synthetic city (``urbansig.synth.generate_city``,
  generated into ``--city`` when absent) through the job's readers, trains MuseCL, then scores
  single modalities, sum, concatenation and the full model by predicting an indicator with
  ``urbansig.models.predictor.evaluate_features`` (same splits and seeds for every variant;
  R2 / RMSE on log scale, held-out regions), as the paper's Table 1 / Figure 6.
- ``pairs`` (torch and numpy only): contrastive pair mining alone at city scale (time,
  peak RSS, the candidates kept against the earlier n x n/4 negative array).
- ``scale`` (torch and numpy only, runs on a GPU machine without the geo stack): a random
  city of ``--regions`` regions (one remote-sensing crop, ``--sv-per-region`` street-view
  images, POIs and flows per region); training throughput (regions/s over all stages) and
  embedding throughput (regions/s of ``transform``), peak memory (RSS; CUDA peak on GPU).

    cd backend && /tmp/bvenv/bin/python ../bench/bench_musecl.py ablation --city /tmp/mcity_small
    cd backend && /tmp/bvenv/bin/python ../bench/bench_musecl.py scale --regions 10000
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "backend"))

from urbansig.models.musecl import MuseCL, MuseCLConfig, RegionData  # noqa: E402
from urbansig.models.musecl.ablation import ablation_variants, run_ablation  # noqa: E402
from urbansig.training import resolve_device  # noqa: E402


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def read_city(city: Path, size: str, seed: int, image_size: int, flow_encoder: str = "structure"):
    """The synthetic city's regions and RegionData, read with the job's readers."""
    from urbansig.io.musecl_inputs import read_modalities, read_numbered_regions
    from urbansig.protocol import Events

    if not (city / "manifest.json").exists():
        from urbansig.synth import generate_city

        generate_city(city, seed=seed, size=size)
    params = {
        "id_field": "region_id",
        "image_field": "path",
        "category_field": "category",
        "text_fields": "text",
        "od_origin": "origin",
        "od_destination": "destination",
        "od_count": "",
        "in_field": "",
        "out_field": "",
        "image_size": image_size,
        "flow_encoder": flow_encoder,
    }
    inputs = {
        "raster": city / "remote_sensing.tif",
        "streetview": city / "streetview.gpkg",
        "pois": city / "pois.gpkg",
        "od": city / "od_flows.csv",
    }
    regions = read_numbered_regions(str(city / "regions.gpkg"), "region_id")
    events = Events(io.StringIO())
    data, _ = read_modalities(regions, inputs, params, (), events.stage(0, 1))
    return regions, data


def ablation(args) -> None:
    regions, data = read_city(
        Path(args.city), args.size, args.seed, args.image_size, args.flow_encoder
    )
    config = MuseCLConfig(
        flow_encoder=args.flow_encoder,
        modalities=tuple(args.modalities.split(",")) if args.modalities else (),
        epochs_image=args.epochs_image,
        epochs_fusion=args.epochs_fusion,
        image_size=args.image_size,
        temperature=args.temperature,
        finetune_heads=args.finetune_heads,
        fusion_triplet_weight=args.fusion_triplet_weight,
        projection_head=not args.no_projection_head,
        modality_maps=not args.no_modality_maps,
        beta_entropy=args.beta_entropy,
        pair_search=args.pair_search,
        seed=args.seed if args.model_seed is None else args.model_seed,
    )
    device = resolve_device(args.device)
    started = time.perf_counter()
    model = MuseCL(config, device).fit(data)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    result = model.transform(data)
    embed_s = time.perf_counter() - started
    target = regions[args.indicator].to_numpy(dtype=float).copy()
    target[result["no_data"]] = np.nan
    rows = run_ablation(
        ablation_variants(result, model.fused),
        target,
        repeats=args.repeats,
        seed=args.seed,
        models=tuple(args.models.split(",")),
    )
    print(f"city {args.city}: {data.n} regions, fused {model.fused} -> {model.target}")
    print(f"pairs: {model.summary.criteria}")
    betas = {m: round(float(b.mean()), 3) for m, b in result["betas"].items()}
    print(f"mean betas {betas}; fit {fit_s:.1f} s, embed {embed_s:.1f} s, device {device}")
    print(f"\n| variant | model | R2 ({args.indicator}, log) | RMSE (log) |\n|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['variant']} | {r['model']} | {r['r2_mean']:.3f} ± {r['r2_std']:.3f} | "
            f"{r['rmse_mean']:.3f} ± {r['rmse_std']:.3f} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "fit_s": fit_s, "betas": betas}))


def random_city(n: int, sv_per_region: int, image_size: int, seed: int) -> RegionData:
    """``n`` regions with random images (uint8), POIs, flows (for throughput only)."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 5, n)
    rs = rng.integers(0, 255, (n, 4, image_size, image_size), dtype=np.uint8)
    sv_region = np.repeat(np.arange(n), sv_per_region)
    sv = rng.integers(0, 255, (len(sv_region), 3, image_size, image_size), dtype=np.uint8)
    n_poi = rng.integers(1, 12, n)
    poi_region = np.repeat(np.arange(n), n_poi)
    cats = [f"c{k}_{j}" for k, j in zip(kind[poi_region], rng.integers(0, 6, len(poi_region)))]
    flows = rng.poisson(50 * (kind + 1)[:, None], (n, 2)).astype(float)
    return RegionData(
        n=n,
        coords=rng.random((n, 2)) * 10_000,
        rs=rs,
        rs_valid=np.ones(n, dtype=bool),
        sv=sv,
        sv_region=sv_region,
        flows=flows,
        poi_category=cats,
        poi_text=cats,
        poi_region=poi_region,
    )


def scale(args) -> None:
    device = resolve_device(args.device)
    started = time.perf_counter()
    data = random_city(args.regions, args.sv_per_region, args.image_size, args.seed)
    make_s = time.perf_counter() - started
    config = MuseCLConfig(
        epochs_image=args.epochs_image,
        epochs_fusion=args.epochs_fusion,
        epochs_text=2,
        image_size=args.image_size,
        max_images_per_epoch=args.max_images,
        batch_image=args.batch_image,
        seed=args.seed,
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    model = MuseCL(config, device).fit(data)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    result = model.transform(data)
    embed_s = time.perf_counter() - started
    assert result["embedding"].shape == (args.regions, config.dim)
    stage = {k: round(h.samples_per_second, 1) for k, h in model.summary.histories.items()}
    gpu = ""
    if device.type == "cuda":
        gpu = f", CUDA peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB"
    print(
        f"| {args.regions} | {device} ({torch.get_num_threads()} threads) | "
        f"{fit_s:.1f} | {args.regions / fit_s:.1f} | {embed_s:.1f} | "
        f"{args.regions / embed_s:.1f} | {_peak_rss_mb():.0f}{gpu} |"
    )
    print(f"data built in {make_s:.1f} s; triplets (or regions) per second by stage: {stage}")


def pairs(args) -> None:
    """Pair mining alone at city scale (torch and numpy only): time and peak RSS of
    ``rank_candidates`` on ``--regions`` random 26-category count vectors, and of drawing one
    triplet per region; beside the bytes the earlier n x n/4 negative array would take."""
    from urbansig.models.musecl import triplets

    if args.hnsw_breadth:
        triplets.HNSW_BREADTH = args.hnsw_breadth
    rng = np.random.default_rng(args.seed)
    features = rng.poisson(rng.gamma(1.0, 3.0, (args.regions, 1)), (args.regions, 26))
    started = time.perf_counter()
    candidates = triplets.rank_candidates(features.astype(np.float64), 5, search=args.search)
    mine_s = time.perf_counter() - started
    started = time.perf_counter()
    triplets.sample_triplets(np.arange(args.regions), candidates, rng)
    draw_s = time.perf_counter() - started
    kept = candidates.nearest.nbytes + candidates.farthest.nbytes + candidates.threshold.nbytes
    peak_mb = _peak_rss_mb()  # before the recall check's own distances
    recall = _distance_recall(features.astype(np.float64), candidates.nearest, rng)
    before = args.regions * (args.regions // 4) * 8
    print(
        f"| {args.regions} | {args.search} {args.hnsw_breadth or ''} | {mine_s:.1f} | {draw_s:.2f} | {kept / 2**20:.1f} | "
        f"{before / 2**30:.1f} | {peak_mb:.0f} | {recall:.3f} |"
    )


def _distance_recall(x: np.ndarray, nearest: np.ndarray, rng, rows: int = 2000) -> float:
    """Share of ``rows`` sampled regions whose k-th positive is as near as their true k-th
    nearest region (by distance: ties make ids ambiguous); 1.0 for an exact search."""
    import torch

    sample = rng.choice(len(x), min(rows, len(x)), replace=False)
    xt = torch.from_numpy(x)
    d2 = torch.cdist(xt[sample], xt).pow(2)
    d2[torch.arange(len(sample)), torch.from_numpy(sample)] = float("inf")
    true_kth = torch.topk(d2, nearest.shape[1], largest=False).values[:, -1].numpy()
    found_kth = ((x[sample, None] - x[nearest[sample]]) ** 2).sum(-1).max(1)
    return float((found_kth <= true_kth + 1e-9).mean())


DATA = HERE.parent.parent / "shared" / "data"


def real(args) -> None:
    """The job on real data: Helsinki (OSM POIs: POI text + POI counts; population grid) or
    Atlanta (0.5 m image on a square grid; building footprints as POI-like points whose
    category is a footprint-size class: remote sensing + building counts)."""
    import geopandas as gpd
    from shapely.geometry import box

    from urbansig.protocol import Events, JobSpec
    from urbansig.runtime import run_spec

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    params = {"epochs_image": args.epochs_image, "ablation_models": args.models}
    if args.which == "helsinki":
        inputs = {
            "regions": DATA / "helsinki" / "helsinki_population_grid_2020.gpkg",
            "pois": DATA / "helsinki" / "Helsinki.osm.pbf",
        }
        params.update(id_field="id", ablation_field="population", text_fields="")
    else:
        raster = DATA / "imagery" / "atlanta_0.5m_pan.tif"
        import rasterio

        with rasterio.open(raster) as src:
            left, bottom, right, top = src.bounds
            crs = src.crs
        cell = args.cell
        cells = [
            box(x, y, x + cell, y + cell)
            for y in np.arange(bottom, top - cell / 2, cell)
            for x in np.arange(left, right - cell / 2, cell)
        ]
        grid = gpd.GeoDataFrame(
            {"region_id": [f"c{i:04d}" for i in range(len(cells))]}, geometry=cells, crs=crs
        )
        grid.to_file(out / "atlanta_grid.gpkg")
        buildings = gpd.read_file(DATA / "imagery" / "atlanta_buildings.geojson").to_crs(crs)
        area = buildings.geometry.area.to_numpy()
        size_class = np.where(area < 150, "small", np.where(area < 600, "medium", "large"))
        points = gpd.GeoDataFrame(
            {"category": [f"building_{c}" for c in size_class], "text": ["building"] * len(area)},
            geometry=buildings.geometry.representative_point(),
            crs=crs,
        )
        points.to_file(out / "atlanta_buildings_points.gpkg")
        inputs = {
            "regions": out / "atlanta_grid.gpkg",
            "raster": raster,
            "pois": out / "atlanta_buildings_points.gpkg",
        }
        params.update(modalities="rs,poi_counts", image_size=64)
    outputs = {
        "output": out / f"{args.which}_musecl.gpkg",
        "output_model": out / f"{args.which}_musecl.pt",
        "output_report": out / f"{args.which}_musecl.html",
    }
    spec = JobSpec(
        task="embedregionsmusecl",
        inputs={k: str(v) for k, v in inputs.items()},
        params=params,
        outputs={k: str(v) for k, v in outputs.items()},
        device=args.device,
        seed=args.seed,
    )
    started = time.perf_counter()
    result = run_spec(spec, Events(io.StringIO()))
    print(f"{args.which}: {time.perf_counter() - started:.1f} s, peak RSS {_peak_rss_mb():.0f} MB")
    print(json.dumps(result["metrics"], indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    a = sub.add_parser("ablation")
    a.add_argument("--city", default="/tmp/musecl_bench_city")
    a.add_argument("--size", default="small")
    a.add_argument("--indicator", default="population_density")
    a.add_argument("--modalities", default="")
    a.add_argument("--epochs-image", type=int, default=5)
    a.add_argument("--epochs-fusion", type=int, default=20)
    a.add_argument("--temperature", type=float, default=0.1)
    a.add_argument("--finetune-heads", action="store_true", help="stage 2 trains the fc heads")
    a.add_argument("--fusion-triplet-weight", type=float, default=0.0)
    a.add_argument(
        "--no-projection-head", action="store_true", help="InfoNCE on h itself (paper-literal)"
    )
    a.add_argument(
        "--no-modality-maps", action="store_true", help="no per-modality maps (paper-literal)"
    )
    a.add_argument("--beta-entropy", type=float, default=3.0, help="0: paper-literal")
    a.add_argument(
        "--model-seed",
        type=int,
        default=None,
        help="seed of MuseCL's training only (default --seed); the city and splits keep --seed",
    )
    a.add_argument("--models", default="mlp,ridge")
    a.add_argument("--flow-encoder", default="structure", choices=("structure", "totals"))
    a.add_argument("--pair-search", default="auto", choices=("auto", "exact", "approximate"))
    a.add_argument("--repeats", type=int, default=5)
    a.add_argument("--json", default="")
    s = sub.add_parser("scale")
    s.add_argument("--regions", type=int, default=10_000)
    s.add_argument("--sv-per-region", type=int, default=2)
    s.add_argument("--epochs-image", type=int, default=1)
    s.add_argument("--epochs-fusion", type=int, default=5)
    s.add_argument("--max-images", type=int, default=2048)
    s.add_argument("--batch-image", type=int, default=64)
    q = sub.add_parser("pairs")
    q.add_argument("--search", default="auto", choices=("auto", "exact", "approximate"))
    q.add_argument("--hnsw-breadth", type=int, default=None, help="screen HNSW_BREADTH")
    q.add_argument("--regions", type=int, default=20_000)
    r = sub.add_parser("real")
    r.add_argument("which", choices=("helsinki", "atlanta"))
    r.add_argument("--out", default="/tmp/musecl_real")
    r.add_argument("--cell", type=float, default=50.0, help="Atlanta grid cell (m)")
    r.add_argument("--epochs-image", type=int, default=8)
    r.add_argument("--models", default="mlp,ridge")
    for p in (a, s, r):
        p.add_argument("--image-size", type=int, default=80)
        p.add_argument("--device", default="auto")
    for p in (a, s, r, q):
        p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    {"ablation": ablation, "scale": scale, "real": real, "pairs": pairs}[args.mode](args)


if __name__ == "__main__":
    main()
