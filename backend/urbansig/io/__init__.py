"""Readers and writers for the formats users have (vector layers, tables, rasters, traffic)."""
