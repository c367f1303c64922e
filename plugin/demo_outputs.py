"""The demo's final outputs, made inside QGIS: a styled project, map images, one HTML report."""

from __future__ import annotations

import html
import json
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsMapLayer,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

from .columns import CLUSTER
from .parameter_tables import backend_module
from .styles import StyleSpec, apply_style

EMBEDDINGS = "musecl_regions.gpkg"
# (file in out/, layer name in the project)
PROJECT_LAYERS = (
    ("city/remote_sensing.tif", "Remote sensing (demo city)"),
    ("city/tiles.gpkg", "True land use (tiles)"),
    ("clusters.gpkg", "Traffic clusters"),
    (EMBEDDINGS, "Region embeddings (MuseCL): k-means clusters"),
    ("musecl_prediction.gpkg", "Population density predicted from MuseCL"),
    ("raw_prediction.gpkg", "Trip counts predicted from RAW"),
    ("city/pois.gpkg", "POIs"),
    ("city/stations.gpkg", "Stations"),
)
# Styles set here rather than read from the file. The embedding layer's emb_ columns mean
# nothing one by one: draw its k-means clusters of the embedding's principal components
# (the ``cluster`` column MuseCL writes, the colours of its report's map), never one class
# per region.
PROJECT_STYLES = {EMBEDDINGS: StyleSpec("categorized", CLUSTER, no_data_label="No embedding")}


def load(path: Path, name: str) -> QgsMapLayer | None:
    layer: QgsMapLayer
    if path.suffix.lower() == ".tif":
        layer = QgsRasterLayer(str(path), name)
    else:
        layer = QgsVectorLayer(str(path), name, "ogr")  # embedded default style loads
    return layer if layer.isValid() else None


def render(layers: list, png: Path, size: tuple[int, int] = (700, 700)) -> Path:
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(layers[0].crs())
    settings.setExtent(layers[0].extent())
    settings.setOutputSize(QSize(*size))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(str(png))
    return png


def write_outputs(out: Path, pipeline: list) -> Path:
    """Project, maps and report for a finished pipeline; returns the report's path."""
    app = QgsApplication([], False)
    app.initQgis()
    try:
        maps = out / "maps"
        maps.mkdir(exist_ok=True)
        project = QgsProject.instance()
        project.clear()
        loaded = {}
        for relative, name in PROJECT_LAYERS:
            layer = load(out / relative, name)
            if layer is not None:
                if relative in PROJECT_STYLES and isinstance(layer, QgsVectorLayer):
                    apply_style(layer, PROJECT_STYLES[relative])
                project.addMapLayer(layer)
                loaded[relative] = layer
        if "city/tiles.gpkg" in loaded:
            project.setCrs(loaded["city/tiles.gpkg"].crs())
        project.write(str(out / "urban_signatures.qgz"))
        images = []
        for relative, png, caption in (
            ("city/tiles.gpkg", "land_use_truth.png", "True land use of the demo city"),
            ("clusters.gpkg", "clusters.png", "Traffic clusters found from mobile traffic"),
            (
                "musecl_prediction.gpkg",
                "population_predicted.png",
                "Population density predicted from MuseCL embeddings (quantiles)",
            ),
            (
                "raw_prediction.gpkg",
                "trips_predicted.png",
                "Trip counts predicted from RAW region embeddings (quantiles)",
            ),
            (
                EMBEDDINGS,
                "embedding_pca.png",
                "MuseCL region embeddings: k-means clusters of their principal components",
            ),
        ):
            if relative in loaded:
                images.append((render([loaded[relative]], maps / png), caption))
        return write_report(out, pipeline, images)
    finally:
        QgsProject.instance().clear()
        app.exitQgis()


def _flat_metrics(metrics: dict) -> list[tuple[str, object]]:
    return [
        (k, f"{v:.4g}" if isinstance(v, float) else v)
        for k, v in metrics.items()
        if isinstance(v, (int, float, str)) and not isinstance(v, bool)
    ]


def _cell_text(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _rows_table(rows: list[dict]) -> str:
    """Methods by metrics, written as in the algorithms' reports (transposed when wide)."""
    return backend_module("html_table").rows_table(rows, _cell_text)


def write_report(out: Path, pipeline: list, images: list[tuple[Path, str]]) -> Path:
    from .demo_pipeline import stage_metrics

    parts = [
        "<h1>Urban Signatures: demo city pipeline</h1>",
        f"<p>Total time {sum(s.seconds for s in pipeline):.0f} s. Open "
        "<code>urban_signatures.qgz</code> in QGIS for every layer, styled.</p>",
    ]
    parts.append("<table><tr><th>stage</th><th>algorithm</th><th>seconds</th><th>report</th></tr>")
    for stage in pipeline:
        report = stage.results.get("REPORT")
        link = f"<a href='{html.escape(Path(report).name)}'>report</a>" if report else ""
        parts.append(
            f"<tr><td>{html.escape(stage.title)}</td><td>{stage.algorithm}</td>"
            f"<td>{stage.seconds:.0f}</td><td>{link}</td></tr>"
        )
    parts.append("</table>")
    for stage in pipeline:
        metrics = stage_metrics(stage)
        parts.append(f"<h2>{html.escape(stage.title)}</h2><table>")
        parts += [
            f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
            for k, v in _flat_metrics(metrics)
        ]
        parts.append("</table>")
        rows = metrics.get("models") or metrics.get("baselines") or []
        if rows and isinstance(rows, list) and isinstance(rows[0], dict):
            parts.append("<p>Compared with baselines, same data, same run:</p>")
            parts.append(_rows_table(rows))
    parts.append("<h2>Maps</h2>")
    for png, caption in images:
        parts.append(
            f"<figure><img src='maps/{png.name}' width='560'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 8px}"
        ".table{max-width:100%;overflow-x:auto;margin:.5em 0}"
        "table{border-collapse:collapse;max-width:100%}td,th{border:1px solid #bbb;"
        "padding:3px 6px}th{background:#eee;overflow-wrap:anywhere}"
        "figure{display:inline-block;margin:6px;max-width:100%}img{max-width:100%;height:auto}"
    )
    body = "".join(parts).replace("<table>", "<div class='table'><table>")
    body = body.replace("</table>", "</table></div>")
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Urban Signatures demo"
        f"</title><style>{style}</style></head><body>{body}</body></html>"
    )
    report = out / "report.html"
    tmp = out / ".report.html.partial"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(report)
    (out / "metrics.json").write_text(
        json.dumps({s.key: stage_metrics(s) for s in pipeline}, indent=1, default=str)
    )
    return report
