"""The tier's table: for every algorithm, a valid run on the tiny city, and per parameter
kind the ways a user gets it wrong. Each case corrupts one parameter; the run must stop
with a bad-input error that names it, no traceback, no output, no input changed.

| kind                      | corruptions                                                   |
|---------------------------|---------------------------------------------------------------|
| layer (vector, layers)    | missing path, random bytes, a layer without that field        |
| raster                    | missing path, random bytes, GeoTIFF cut in half                |
| field, fields             | a field the layer lacks; a text field where numbers are needed |
| file                      | missing path, random bytes, empty file                        |
| model file                | random bytes, cut in half, a model of another method          |
| folder                    | missing path, an empty folder, a file                         |
| number (int, float)       | below the minimum, above the maximum, not a number            |
| choice (enum)             | not one of the choices                                        |
| checkbox (bool)           | not true or false                                             |
| output                    | an input of the run, an existing folder, an unwritable folder,|
|                           | a file that is not a GeoPackage (layers)                      |
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Fast, valid settings per algorithm (job-spec sections) on the tiny city; {city} expands.
BASE: dict[str, dict[str, dict[str, Any]]] = {
    "createh3grid": {
        "inputs": {"polygons": "{city}/regions.gpkg"},
        "params": {"resolution": 8},
        "outputs": {"output": "{out}/grid.gpkg"},
    },
    "diagnostics": {"inputs": {}, "params": {}, "outputs": {"output": "{out}/diag.html"}},
    "generatedemocity": {
        "inputs": {},
        "params": {"size": "tiny", "days": 1},
        "outputs": {"output": "{out}/newcity"},
    },
    "predictindicator": {
        "inputs": {"input": "{city}/regions.gpkg"},
        "params": {
            "target_field": "population_density",
            "feature_fields": "in_flow,out_flow",
            "model": "ridge",
            "baselines": False,
            "literature_protocol": False,
        },
        "outputs": {
            "output": "{out}/pred.gpkg",
            "model_file": "{out}/pred.pt",
            "report": "{out}/pred.html",
        },
    },
    "clustertraffictiles": {
        "inputs": {"input": "{city}/netmob", "tiles": "{city}/tiles.gpkg"},
        "params": {"n_clusters": "3", "epochs": 1, "city": "Demoville", "label_field": "land_use"},
        "outputs": {
            "output": "{out}/clusters.gpkg",
            "model_output": "{out}/cc.pt",
            "report": "{out}/cc.html",
        },
    },
    "embedregionsflows": {
        "inputs": {"regions": "{city}/regions.gpkg", "od": ["{city}/od_flows.csv"]},
        "params": {"id_field": "region_id", "epochs": 5, "dim": 4, "width": 8},
        "outputs": {
            "output": "{out}/flows.gpkg",
            "model_file": "{out}/flows.pt",
            "report": "{out}/flows.html",
        },
    },
    "embedregionsmusecl": {
        "inputs": {
            "regions": "{city}/regions.gpkg",
            "pois": "{city}/pois.gpkg",
            "od": "{city}/od_flows.csv",
            "raster": "{city}/remote_sensing.tif",
            "streetview": "{city}/streetview.gpkg",
        },
        "params": {
            "dim": 8,
            "epochs_image": 1,
            "epochs_tabular": 1,
            "epochs_fusion": 1,
            "epochs_text": 1,
            "images_per_epoch": 16,
            "ablation_field": "population_density",
        },
        "outputs": {
            "output": "{out}/musecl.gpkg",
            "output_model": "{out}/musecl.pt",
            "output_report": "{out}/musecl.html",
        },
    },
    "pooltrajectoriesraw": {
        "inputs": {
            "trajectories": "{city}/trajectories.csv",
            "regions": "{city}/regions.gpkg",
            "user_labels": "{city}/users.csv",
        },
        "params": {"epochs": 1, "width": 16, "layers": 1, "heads": 2, "label_field": "is_commuter"},
        "outputs": {
            "output": "{out}/raw.gpkg",
            "output_users": "{out}/users.csv",
            "output_model": "{out}/raw.pt",
            "output_report": "{out}/raw.html",
        },
    },
    "applyrawmodel": {
        "inputs": {
            "trajectories": "{city}/trajectories.csv",
            "model": "{city}/raw.pt",
            "regions": "{city}/regions.gpkg",
        },
        "params": {},
        "outputs": {
            "output": "{out}/applied.gpkg",
            "output_users": "{out}/applied_users.csv",
            "output_points": "{out}/forecast.gpkg",
        },
    },
}

# Model-file parameters (inputs.<key>): the method that made a right one.
MODEL_INPUTS = {
    ("applyrawmodel", "model"),
    ("clustertraffictiles", "model"),
    ("embedregionsflows", "trained_model"),
    ("embedregionsmusecl", "model"),
    ("embedregionsmusecl", "rs_weights"),
    ("embedregionsmusecl", "sv_weights"),
    ("pooltrajectoriesraw", "model"),
    ("predictindicator", "trained_model"),
}
# A text field of each layer, for fields that need numbers.
TEXT_FIELD = {"regions": "land_use_name", "tiles": "land_use_name", "input": "land_use_name"}


@dataclass(frozen=True)
class Case:
    task: str
    parameter: str  # the QGIS name the message must contain
    section: str
    key: str
    value: Any
    what: str
    names: tuple[str, ...] = ()  # other acceptable names (parameters sharing a target)

    @property
    def id(self) -> str:
        return f"{self.task}-{self.parameter}-{self.what}"


def expand(value: Any, city: Path, out: Path) -> Any:
    if isinstance(value, dict):
        return {k: expand(v, city, out) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, city, out) for v in value]
    if isinstance(value, str):
        return value.replace("{city}", str(city)).replace("{out}", str(out))
    return value


def cases() -> list[Case]:
    """Every case of the table, for every algorithm's parameters."""
    from urbansig.parameters import parameters

    found = []
    for task in BASE:
        table = parameters(task)
        for p in table:
            shared = tuple(q.name for q in table if q.section == p.section and q.key == p.key)
            for value, what in corruptions(task, p):
                found.append(Case(task, p.name, p.section, p.key, value, what, shared))
    return found


def corruptions(task: str, p: Any) -> list[tuple[Any, str]]:
    """(value, description) pairs for one parameter."""
    kind = p.kind
    wrapped = (lambda v: [v]) if kind == "layers" else (lambda v: v)
    if (task, p.key) in MODEL_INPUTS:
        other = "{city}/ridge.pt" if task != "predictindicator" else "{city}/raw.pt"
        return [
            ("{city}/random.bin", "random_bytes"),
            ("{city}/truncated.pt", "truncated"),
            (other, "other_method"),
            ("{city}/missing.pt", "missing"),
        ]
    if kind in ("vector", "layers"):
        found = [
            (wrapped("{city}/missing.gpkg"), "missing"),
            (wrapped("{city}/random.gpkg"), "random_bytes"),
        ]
        if p.geometry == "polygon":
            found.append((wrapped("{city}/stations.gpkg"), "points_for_polygons"))
        return found
    if kind == "raster":
        return [
            ("{city}/missing.tif", "missing"),
            ("{city}/random.tif", "random_bytes"),
            ("{city}/truncated.tif", "truncated"),
        ]
    if kind == "file":
        return [
            ("{city}/missing.csv", "missing"),
            ("{city}/random.csv", "random_bytes"),
            ("{city}/empty.csv", "empty"),
        ]
    if kind == "folder":
        return [
            ("{city}/missing_folder", "missing"),
            ("{city}/empty_folder", "empty"),
            ("{city}/notes.txt", "a_file"),
        ]
    if kind in ("field", "fields") and p.parent:
        found = [("no_such_field", "missing")]
        parent_key = next(q.key for q in _table(task) if q.name == p.parent)
        if p.numeric and parent_key in TEXT_FIELD:
            found.append((TEXT_FIELD[parent_key], "text_for_numbers"))
        return found
    if kind in ("int", "float"):
        found = [("abc", "not_a_number")]
        if p.minimum is not None:
            found.append((p.minimum - (1 if kind == "int" else 0.5 + abs(p.minimum)), "below_min"))
        if p.maximum is not None:
            found.append((p.maximum + 1, "above_max"))
        return found
    if kind == "enum":
        return [("no_such_choice", "not_a_choice")]
    if kind == "bool":  # a checkbox: true/false (or 1/0, yes/no) and nothing else
        return [("maybe", "not_a_boolean")]
    if kind in ("vector_out", "file_out", "folder_out"):
        found = [
            ("/sys/out" + Path(BASE[task]["outputs"].get(p.key, "x.gpkg")).suffix, "unwritable")
        ]
        first_input = next(iter(_input_files(task)), None)
        if first_input:
            found.append((first_input, "an_input"))
        if kind != "folder_out":
            found.append(("{city}/empty_folder", "existing_folder"))
        else:
            found.append(("{city}/netmob", "non_empty_folder"))
        if kind == "vector_out":
            found.append(("{city}/notes.gpkg|layername=x", "not_a_geopackage"))
        return found
    return []


def _table(task: str):
    from urbansig.parameters import parameters

    return parameters(task)


def _input_files(task: str) -> list[str]:
    inputs = BASE[task]["inputs"]
    files = [v[0] if isinstance(v, list) else v for v in inputs.values()]
    return [f for f in files if Path(f).suffix]
