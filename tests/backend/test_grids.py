import geopandas as gpd
import h3
import pytest
import shapely

from urbansig import grids
from urbansig.protocol import BadInput


def test_grid_covers_the_extent_without_gaps():
    area = grids.extent_area(4.80, 45.72, 4.90, 45.79, "EPSG:4326")
    grid = grids.h3_grid(area, 8)
    assert grid.crs.to_epsg() == 4326
    assert all(h3.is_valid_cell(c) and h3.get_resolution(c) == 8 for c in grid["region_id"])
    union = shapely.union_all(grid.geometry.values)
    assert union.buffer(1e-9).covers(area.iloc[0])
    # every cell touches the area (no stray cells)
    assert grid.intersects(area.iloc[0]).all()
    assert grid["region_id"].is_unique


def test_projected_input_returns_its_crs():
    area = grids.extent_area(600_000, 2_080_000, 604_000, 2_084_000, "EPSG:27572")
    grid = grids.h3_grid(area, 9)
    assert grid.crs.to_epsg() == 27572
    assert grid.total_bounds[0] == pytest.approx(600_000, abs=1000)
    wgs = grids.h3_grid(area, 9, target_crs="EPSG:4326")
    assert wgs.crs.to_epsg() == 4326 and len(wgs) == len(grid)


def test_polygons_input():
    polygon = shapely.Polygon([(4.8, 45.7), (4.9, 45.7), (4.85, 45.78)])
    grid = grids.h3_grid(gpd.GeoSeries([polygon], crs="EPSG:4326"), 8)
    assert grid.intersects(polygon).all()


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda a: grids.h3_grid(a, 16), "RESOLUTION must be between 0 and 15"),
        (lambda a: grids.h3_grid(a, -1), "RESOLUTION"),
        (lambda a: grids.h3_grid(a, 12, max_cells=1000), "MAX_CELLS"),
    ],
)
def test_bad_grids(call, needle):
    area = grids.extent_area(4.80, 45.72, 4.90, 45.79, "EPSG:4326")
    with pytest.raises(BadInput, match=needle):
        call(area)


def test_empty_extent():
    with pytest.raises(BadInput, match="EXTENT"):
        grids.extent_area(1, 1, 1, 2, "EPSG:4326")


def test_neighbours_are_symmetric():
    area = grids.extent_area(4.80, 45.72, 4.90, 45.79, "EPSG:4326")
    ids = list(grids.h3_grid(area, 8)["region_id"])
    neighbours = grids.h3_neighbours(ids)
    for i, adjacent in enumerate(neighbours):
        assert len(adjacent) <= 6
        for j in adjacent:
            assert i in neighbours[j]
    assert max(len(a) for a in neighbours) == 6
