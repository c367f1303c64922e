"""Urban Signatures backend: models and jobs behind the QGIS plugin, usable without QGIS."""

__version__ = "0.1.0"
