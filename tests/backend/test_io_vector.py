"""Vector and table reading: styled GeoPackages, plain tables, numeric CSV text."""

from __future__ import annotations

import warnings

import pytest

gpd = pytest.importorskip("geopandas")
pd = pytest.importorskip("pandas")
pyogrio = pytest.importorskip("pyogrio")


def test_a_styled_geopackage_reads_its_data_layer_without_a_warning(tmp_path):
    from shapely.geometry import Point

    from urbansig.io.vector import read_layer

    path = tmp_path / "styled.gpkg"
    layer = gpd.GeoDataFrame({"a": [1, 2]}, geometry=[Point(0, 0), Point(1, 1)], crs=4326)
    layer.to_file(path, layer="regions", engine="pyogrio")
    pyogrio.write_dataframe(pd.DataFrame({"styleName": ["s"]}), path, layer="layer_styles")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = read_layer(path)
    assert list(frame["a"]) == [1, 2]


def test_a_plain_table_round_trips_and_read_layer_asks_for_geometry(tmp_path):
    from urbansig.io.vector import read_layer, read_table, write_layer
    from urbansig.protocol import BadInput

    csv = tmp_path / "regions.csv"
    pd.DataFrame({"region_id": [3, 1], "x": [0.5, 2.0], "name": ["a", "b"]}).to_csv(
        csv, index=False
    )
    table = read_table(csv, "REGIONS")
    assert not isinstance(table, gpd.GeoDataFrame)
    assert table["x"].dtype == "float64" and table["region_id"].dtype == "int64"
    assert table["region_id"].tolist() == [3, 1]
    assert table["name"].tolist() == ["a", "b"]
    out = write_layer(table, tmp_path / "out.gpkg")
    assert read_table(out)["x"].tolist() == [0.5, 2.0]
    with pytest.raises(BadInput, match="REGIONS: .*without geometry"):
        read_layer(csv, "REGIONS")
