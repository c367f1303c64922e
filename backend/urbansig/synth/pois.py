"""Points of interest: category counts per tile follow land use and activity; short texts."""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from urbansig.synth.grid import CRS, CityGrid

# category -> words its texts are drawn from
VOCABULARY: dict[str, tuple[str, ...]] = {
    "cafe": ("cafe", "espresso", "terrace", "croissant", "coffee", "breakfast", "wifi"),
    "restaurant": ("restaurant", "bistro", "menu", "lunch", "dinner", "cuisine", "wine"),
    "bar": ("bar", "cocktails", "beer", "happy", "hour", "terrace", "music"),
    "nightclub": ("club", "dj", "dance", "night", "techno", "party", "late"),
    "clothes_shop": ("fashion", "clothes", "shoes", "sale", "boutique", "brand"),
    "supermarket": ("supermarket", "grocery", "fresh", "bakery", "organic", "daily"),
    "bakery": ("bakery", "bread", "baguette", "pastry", "croissant", "morning"),
    "office": ("office", "consulting", "finance", "headquarters", "services", "company"),
    "bank": ("bank", "atm", "finance", "loans", "savings", "branch"),
    "coworking": ("coworking", "desk", "startup", "meeting", "rooms", "wifi"),
    "school": ("school", "pupils", "primary", "classes", "teachers", "playground"),
    "university": ("university", "campus", "faculty", "lecture", "research", "students"),
    "library": ("library", "books", "study", "reading", "quiet", "students"),
    "park": ("park", "garden", "trees", "lawn", "walk", "picnic", "pond"),
    "playground": ("playground", "children", "swings", "family", "garden"),
    "sports": ("sports", "gym", "football", "tennis", "fitness", "pool"),
    "pharmacy": ("pharmacy", "health", "medicine", "prescription", "care"),
    "hotel": ("hotel", "rooms", "stay", "breakfast", "travel", "reception"),
    "station": ("station", "metro", "tickets", "platform", "trains", "departures"),
    "parking": ("parking", "car", "spaces", "park", "ride", "garage"),
    "cinema": ("cinema", "films", "screen", "tickets", "premiere", "evening"),
    "place_of_worship": ("church", "chapel", "mass", "heritage", "bells"),
}
CATEGORIES = tuple(VOCABULARY)

# Expected POIs per tile for each land use (order of LAND_USES), by category (others 0).
_RATES: tuple[dict[str, float], ...] = (
    {
        "cafe": 0.25,
        "restaurant": 0.2,
        "bar": 0.1,
        "clothes_shop": 0.05,
        "supermarket": 0.2,
        "bakery": 0.2,
        "office": 0.05,
        "bank": 0.05,
        "coworking": 0.02,
        "school": 0.12,
        "library": 0.02,
        "park": 0.03,
        "playground": 0.06,
        "sports": 0.04,
        "pharmacy": 0.08,
        "hotel": 0.02,
        "parking": 0.05,
        "place_of_worship": 0.04,
    },
    {
        "cafe": 0.3,
        "restaurant": 0.3,
        "bar": 0.08,
        "clothes_shop": 0.05,
        "supermarket": 0.05,
        "bakery": 0.05,
        "office": 1.0,
        "bank": 0.3,
        "coworking": 0.2,
        "park": 0.01,
        "sports": 0.05,
        "pharmacy": 0.03,
        "hotel": 0.2,
        "parking": 0.1,
    },
    {
        "cafe": 0.5,
        "restaurant": 0.6,
        "bar": 0.5,
        "nightclub": 0.15,
        "clothes_shop": 0.5,
        "supermarket": 0.1,
        "bakery": 0.1,
        "office": 0.05,
        "bank": 0.08,
        "coworking": 0.02,
        "library": 0.01,
        "park": 0.01,
        "sports": 0.03,
        "pharmacy": 0.05,
        "hotel": 0.15,
        "parking": 0.05,
        "cinema": 0.08,
        "place_of_worship": 0.02,
    },
    {
        "cafe": 0.25,
        "restaurant": 0.15,
        "bar": 0.12,
        "nightclub": 0.01,
        "supermarket": 0.03,
        "bakery": 0.05,
        "office": 0.02,
        "bank": 0.01,
        "coworking": 0.05,
        "school": 0.02,
        "university": 0.6,
        "library": 0.2,
        "park": 0.03,
        "sports": 0.1,
        "pharmacy": 0.02,
        "hotel": 0.01,
        "parking": 0.03,
        "cinema": 0.01,
    },
    {
        "cafe": 0.02,
        "restaurant": 0.01,
        "park": 0.5,
        "playground": 0.12,
        "sports": 0.12,
        "parking": 0.02,
        "place_of_worship": 0.01,
    },
    {
        "cafe": 0.03,
        "restaurant": 0.03,
        "bar": 0.01,
        "clothes_shop": 0.01,
        "supermarket": 0.06,
        "bakery": 0.05,
        "office": 0.01,
        "bank": 0.01,
        "school": 0.06,
        "library": 0.01,
        "park": 0.03,
        "playground": 0.05,
        "sports": 0.04,
        "pharmacy": 0.02,
        "parking": 0.05,
        "place_of_worship": 0.02,
    },
    {
        "cafe": 0.4,
        "restaurant": 0.3,
        "bar": 0.15,
        "clothes_shop": 0.1,
        "supermarket": 0.05,
        "bakery": 0.1,
        "office": 0.1,
        "bank": 0.05,
        "coworking": 0.02,
        "pharmacy": 0.03,
        "hotel": 0.3,
        "station": 1.5,
        "parking": 0.4,
    },
)
_RATE = np.array([[rates.get(c, 0.0) for c in CATEGORIES] for rates in _RATES])
_NAME_PARTS = (
    "du Parc",
    "de la Gare",
    "du Centre",
    "des Lilas",
    "Saint-Jean",
    "Bellecour",
    "du Rhone",
    "des Arts",
    "Croix-Rousse",
    "de la Place",
    "Confluence",
    "du Marche",
)


def make_pois(
    grid: CityGrid, membership: np.ndarray, activity: np.ndarray, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """Poisson counts per tile and category, placed uniformly in the tile, with texts."""
    intensity = membership @ _RATE * np.clip(activity, 0.2, 3.0)[:, None] ** 0.5
    counts = rng.poisson(intensity)
    tile, cat = np.nonzero(counts)
    reps = counts[tile, cat]
    tile = np.repeat(tile, reps)
    cat = np.repeat(cat, reps)
    cx, cy = grid.centres()
    x = cx[tile] + rng.uniform(-0.48, 0.48, len(tile)) * grid.cell
    y = cy[tile] + rng.uniform(-0.48, 0.48, len(tile)) * grid.cell
    names, texts = [], []
    parts = rng.integers(0, len(_NAME_PARTS), len(tile))
    for c, p in zip(cat, parts):
        category = CATEGORIES[c]
        words = VOCABULARY[category]
        chosen = rng.choice(
            len(words), size=min(len(words), int(rng.integers(3, 5))), replace=False
        )
        names.append(f"{category.replace('_', ' ').title()} {_NAME_PARTS[p]}")
        texts.append(" ".join(words[i] for i in sorted(chosen)))
    return gpd.GeoDataFrame(
        {
            "poi_id": np.arange(len(tile), dtype=np.int64),
            "category": np.array(CATEGORIES, dtype=object)[cat],
            "name": names,
            "text": texts,
        },
        geometry=gpd.points_from_xy(x, y),
        crs=CRS,
    )
