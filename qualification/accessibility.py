"""E2SFCA accessibility: distances on the sphere, stepped distance decay, scores of communes by venues."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from directory.geodesy import arc_m, chord_length, unit_vectors

# Distance decay of the enhanced two-step floating catchment (E2SFCA), as the APL indicator's
# stepped weights (1, 2/3, 1/3) but on distances, as venues are reached on foot, by bus or by car.
DECAY_ZONES = ((5_000.0, 1.0), (10_000.0, 0.66), (15_000.0, 0.33))
ACCESS_RADIUS_M = 10_000.0  # "gains access": no venue of the same level within this distance


def decay_weights(metres: np.ndarray, zones: tuple[tuple[float, float], ...] = DECAY_ZONES) -> np.ndarray:
    bounds = np.array([limit for limit, _ in zones])
    weights = np.array([weight for _, weight in zones] + [0.0])
    return weights[np.searchsorted(bounds, metres, side="right")]


def _pairs(supply_xyz: np.ndarray, demand_tree: cKDTree, radius_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(supply index, demand index, metres) of every pair closer than `radius_m`, without an all-pairs matrix."""
    if len(supply_xyz) == 0 or demand_tree.n == 0:
        empty = np.zeros(0, dtype=int)
        return empty, empty, np.zeros(0)
    pairs = cKDTree(supply_xyz).sparse_distance_matrix(demand_tree, chord_length(radius_m), output_type="ndarray")
    return pairs["i"].astype(int), pairs["j"].astype(int), arc_m(pairs["v"])


def e2sfca(demand_lonlat: np.ndarray, population: np.ndarray, supply_lonlat: np.ndarray,
           zones: tuple[tuple[float, float], ...] = DECAY_ZONES) -> np.ndarray:
    """Accessibility of each demand point, in venues per 10,000 inhabitants within reach.

    Step 1: each venue's ratio R_j = 1 / Σ_k W(d_kj)·P_k over the population within its catchment.
    Step 2: each commune's score A_i = Σ_j W(d_ij)·R_j over the venues within its catchment.
    """
    demand_lonlat, supply_lonlat = np.asarray(demand_lonlat, dtype=float), np.asarray(supply_lonlat, dtype=float)
    tree = cKDTree(unit_vectors(demand_lonlat[:, 0], demand_lonlat[:, 1]) if len(demand_lonlat) else np.zeros((0, 3)))
    supply_xyz = unit_vectors(supply_lonlat[:, 0], supply_lonlat[:, 1]) if len(supply_lonlat) else np.zeros((0, 3))
    ratios, s_idx, d_idx, weights = supply_ratios(supply_xyz, tree, np.asarray(population, dtype=float), zones)
    return 10_000 * np.bincount(d_idx, weights=weights * ratios[s_idx], minlength=len(demand_lonlat)).astype(float)


def supply_ratios(supply_xyz: np.ndarray, demand_tree: cKDTree, population: np.ndarray,
                  zones: tuple[tuple[float, float], ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Step 1 of the E2SFCA: each venue's ratio, with the (venue, commune, weight) pairs step 2 sums over."""
    s_idx, d_idx, metres = _pairs(supply_xyz, demand_tree, zones[-1][0])
    weights = decay_weights(metres, zones)
    reached = np.bincount(s_idx, weights=weights * population[d_idx], minlength=len(supply_xyz)).astype(float)
    ratios = np.divide(1.0, reached, out=np.zeros_like(reached), where=reached > 0)
    return ratios, s_idx, d_idx, weights
