"""Distances on the Earth in Python (the database computes its own, see `db.geodesic_distance_m`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

EARTH_RADIUS_M = 6_371_008.8  # mean radius of the WGS84 ellipsoid


def haversine_m(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> Any:
    """Great-circle metres between points in degrees (floats or numpy arrays)."""
    lon1, lat1, lon2, lat2 = (np.radians(value) for value in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Points on the unit sphere, so that a k-d tree's chord distances order them as on the Earth."""
    lon, lat = np.radians(np.asarray(lon, dtype=float)), np.radians(np.asarray(lat, dtype=float))
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))


def chord_length(metres: float) -> float:
    """The straight-line distance between two points of the unit sphere `metres` apart on the Earth."""
    return 2 * math.sin(metres / (2 * EARTH_RADIUS_M))


def arc_m(chord: np.ndarray) -> np.ndarray:
    """Metres on the Earth between two points of the unit sphere `chord` apart."""
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(chord / 2, 1.0))
