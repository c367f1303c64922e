"""The synthetic reference city (demo data with ground truth): see MODEL.md."""

from __future__ import annotations

from urbansig.synth.writer import START_DATE, CityVariation, generate_city

__all__ = ["START_DATE", "CityVariation", "generate_city"]
