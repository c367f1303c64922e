"""POI reader: OSM PBF (real Helsinki extract), GeoPackage, GeoJSON, Shapefile."""

from __future__ import annotations

from pathlib import Path

import pytest

gpd = pytest.importorskip("geopandas")
from shapely.geometry import Point, box  # noqa: E402

from urbansig.io.poi import parse_other_tags, read_pois  # noqa: E402
from urbansig.protocol import BadInput  # noqa: E402

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_parse_other_tags():
    text = '"amenity"=>"cafe","name:en"=>"The \\"Best\\" cafe","opening_hours"=>"Mo-Fr 08:00"'
    tags = parse_other_tags(text)
    assert tags == {"amenity": "cafe", "name:en": 'The "Best" cafe', "opening_hours": "Mo-Fr 08:00"}
    assert parse_other_tags(None) == {} and parse_other_tags("") == {}


def test_helsinki_osm_pbf_real():
    if not DATA.is_dir():
        pytest.skip("../shared/data is absent: real-data checks need the shared samples")
    pois = read_pois(DATA / "helsinki" / "Helsinki.osm.pbf")
    assert len(pois) > 1500
    assert pois.crs.to_epsg() == 4326
    assert list(pois.columns[:2]) == ["category", "text"]
    counts = pois["category"].value_counts()
    assert counts.get("amenity:restaurant", 0) > 100 and counts.get("amenity:cafe", 0) > 30
    assert sum(c.startswith("shop") for c in counts.index) > 20
    assert (pois["text"].str.len() > 0).all()
    assert pois.geom_type.eq("Point").all()
    named = pois[pois["name"] != ""]
    assert (named.apply(lambda r: r["name"] in r["text"], axis=1)).all()
    report = pois.attrs["read_report"]
    assert report.counts["points_without_poi_tags"] + len(pois) == report.lines_read


def _layer(crs="EPSG:3067"):
    return gpd.GeoDataFrame(
        {
            "kind": ["cafe", "park", None],
            "name": ["Kahvila", "Puisto", "x"],
            "note": ["good coffee", None, "y"],
        },
        geometry=[Point(385000, 6672000), box(385100, 6672000, 385200, 6672100), Point(1, 1)],
        crs=crs,
    )


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp"])
def test_vector_formats(tmp_path: Path, suffix: str):
    path = tmp_path / f"pois{suffix}"
    layer = _layer()
    if suffix == ".shp":  # a shapefile holds one geometry type
        layer.geometry = layer.geometry.representative_point()
    layer.to_file(path)
    pois = read_pois(path, category_field="kind", text_fields=("name", "note"))
    assert pois["category"].tolist() == ["cafe", "park"]
    assert pois["text"].tolist() == ["Kahvila good coffee", "Puisto"]
    assert pois.geom_type.eq("Point").all()  # the park polygon became an inner point
    assert pois.geometry.iloc[1].within(box(385100, 6672000, 385200, 6672100))
    assert pois.attrs["read_report"].counts["rows_without_category_or_geometry"] == 1


def test_default_text_and_osm_columns(tmp_path: Path):
    layer = _layer()
    layer["amenity"] = ["cafe", None, None]
    layer["leisure"] = [None, "park", None]
    path = tmp_path / "osm.gpkg"
    layer.to_file(path)
    pois = read_pois(path, category_field=None)
    assert pois["category"].tolist() == ["amenity:cafe", "leisure:park"]
    assert pois["text"].tolist() == ["Kahvila", "Puisto"]


def test_bad_inputs(tmp_path: Path):
    path = tmp_path / "p.gpkg"
    _layer().to_file(path)
    with pytest.raises(BadInput, match="CATEGORY_FIELD.*kind"):
        read_pois(path)
    with pytest.raises(BadInput, match="TEXT_FIELDS"):
        read_pois(path, category_field="kind", text_fields=("nope",))
    with pytest.raises(BadInput, match="OSM tag fields"):
        read_pois(path, category_field=None)
    with pytest.raises(BadInput, match="does not exist"):
        read_pois(tmp_path / "none.gpkg")
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"garbage")
    with pytest.raises(BadInput, match="broken.osm.pbf"):
        read_pois(broken)


def test_text_fields_auto_none_and_named(tmp_path: Path):
    path = tmp_path / "p.gpkg"
    _layer().drop(columns="note").to_file(path)
    assert read_pois(path, category_field="kind")["text"].tolist() == ["Kahvila", "Puisto"]
    assert read_pois(path, category_field="kind", text_fields=())["text"].tolist() == ["", ""]


def test_musecl_text_fields_default_is_lenient_and_empty_means_none(tmp_path: Path):
    from urbansig.io.musecl_inputs import poi_text_fields
    from urbansig.parameters import default
    from urbansig.protocol import JobSpec
    from urbansig.runtime import apply_defaults, get_job

    assert poi_text_fields(default("embedregionsmusecl", "text_fields")) is None
    assert poi_text_fields(None) is None
    assert poi_text_fields("") == ()
    assert poi_text_fields("name, note") == ("name", "note")
    job = get_job("embedregionsmusecl")
    for given, expected in ((None, "text"), ("", ""), ("name", "name")):
        params = {} if given is None else {"text_fields": given}
        spec = JobSpec(
            task=job.task,
            inputs={"regions": __file__},
            params=params,
            outputs={"output": str(tmp_path / "o.gpkg")},
        )
        apply_defaults(job, spec)
        assert spec.params.get("text_fields") == expected
