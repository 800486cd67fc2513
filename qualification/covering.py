"""Maximal covering: choose p candidate sites that together bring the most people within a distance.

Demand points are communes (population at their centre), supply candidates are sites; a site covers
the communes within the distance (a sparse matrix built from a KD-tree on unit vectors). Two
solvers: the greedy one with lazy gains (the classic (1 − 1/e) approximation, fast at national
scale) and an exact one, a sparse MILP solved by HiGHS through `scipy.optimize.milp`, whose status
and optimality gap are reported as the solver gives them: a time-limited answer is never called
optimal.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix, csr_matrix, hstack, identity, vstack
from scipy.spatial import cKDTree

from directory.geodesy import chord_length

EXACT_TIME_LIMIT_S = 10.0


@dataclass
class CoveringProblem:
    """Communes to serve and candidate sites, all as unit vectors; `covered` marks communes already served."""

    demand_xyz: np.ndarray
    population: np.ndarray
    covered: np.ndarray
    candidate_xyz: np.ndarray
    radius_m: float
    # Optional capacity per group of candidates (a territory's room under its quota).
    candidate_group: np.ndarray | None = None
    group_capacity: dict[int, int] = field(default_factory=dict)

    def coverage(self) -> csr_matrix:
        """Candidates × communes: 1 where the candidate serves a commune not yet served."""
        if not len(self.candidate_xyz) or not len(self.demand_xyz):
            return csr_matrix((len(self.candidate_xyz), len(self.demand_xyz)), dtype=np.int8)
        pairs = cKDTree(self.candidate_xyz).sparse_distance_matrix(
            cKDTree(self.demand_xyz), chord_length(self.radius_m), output_type="ndarray")
        keep = ~self.covered[pairs["j"]]
        rows, cols = pairs["i"][keep], pairs["j"][keep]
        return coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)),
                          shape=(len(self.candidate_xyz), len(self.demand_xyz))).tocsr()

    def capacity_of(self, candidate: int) -> int | None:
        if self.candidate_group is None:
            return None
        return self.group_capacity.get(int(self.candidate_group[candidate]))


@dataclass
class CoveringResult:
    picks: list[int]
    gains: list[int]
    solver: str
    status: str
    objective: int
    bound: int | None = None
    gap: float | None = None
    seconds: float = 0.0
    # The exact search stopped before finding a solution better than the greedy one, which is kept.
    greedy_fallback: bool = False

    @property
    def proven_optimal(self) -> bool:
        return self.status == "optimal"


def greedy(problem: CoveringProblem, count: int, matrix: csr_matrix | None = None) -> CoveringResult:
    """Pick the site that adds the most people, `count` times; gains are recomputed lazily (a gain only
    shrinks as communes get covered, so a stale gain still at the top of the heap is the best)."""
    started = time.perf_counter()
    matrix = problem.coverage() if matrix is None else matrix
    # People not yet served, per commune: a pick sets its communes to zero.
    unserved = np.where(problem.covered, 0.0, problem.population)
    capacity = dict(problem.group_capacity)
    indptr, indices = matrix.indptr, matrix.indices

    def gain(candidate: int) -> int:
        return int(unserved[indices[indptr[candidate]:indptr[candidate + 1]]].sum())

    initial = matrix @ unserved
    heap = [(-int(value), candidate) for candidate, value in enumerate(initial)]
    heapq.heapify(heap)
    picks: list[int] = []
    gains: list[int] = []
    while heap and len(picks) < count:
        stale, candidate = heapq.heappop(heap)
        group = None if problem.candidate_group is None else int(problem.candidate_group[candidate])
        if group is not None and group in capacity and capacity[group] <= 0:
            continue
        fresh = gain(candidate)
        if heap and fresh < -heap[0][0]:
            heapq.heappush(heap, (-fresh, candidate))
            continue
        if fresh <= 0:
            break
        picks.append(candidate)
        gains.append(fresh)
        unserved[indices[indptr[candidate]:indptr[candidate + 1]]] = 0.0
        if group is not None and group in capacity:
            capacity[group] -= 1
    return CoveringResult(picks, gains, "greedy", "heuristic", sum(gains), seconds=time.perf_counter() - started)


INTERCHANGE_TIME_LIMIT_S = 2.0


def interchange(problem: CoveringProblem, start: CoveringResult, matrix: csr_matrix | None = None,
                time_limit_s: float = INTERCHANGE_TIME_LIMIT_S) -> CoveringResult:
    """Improve a selection by swapping one pick for one other candidate while a swap adds people (the
    Teitz–Bart interchange), within the groups' capacities and a time limit; never worse than `start`."""
    started = time.perf_counter()
    matrix = problem.coverage() if matrix is None else matrix
    picks = list(start.picks)
    if not picks:
        return start
    population = np.where(problem.covered, 0.0, problem.population)
    chosen = np.zeros(matrix.shape[0], dtype=bool)
    chosen[picks] = True
    groups = problem.candidate_group
    capacity = dict(problem.group_capacity)
    if groups is not None:
        for pick in picks:
            if int(groups[pick]) in capacity:
                capacity[int(groups[pick])] -= 1
    while time.perf_counter() - started < time_limit_s:
        served_by = np.asarray(matrix[picks].sum(axis=0)).ravel()  # how many picks serve each commune
        gain_alone = matrix @ (population * (served_by == 0))
        best = (0.5, None, None)  # a swap must add at least one person
        room = None if groups is None else np.array([capacity.get(int(g), 1) for g in groups])
        for position, pick in enumerate(picks):
            only_this = matrix[pick].toarray().ravel().astype(bool) & (served_by == 1)
            loss = population[only_this].sum()
            delta = gain_alone + matrix @ (population * only_this) - loss
            delta[chosen] = -np.inf
            if room is not None:
                delta[(room <= 0) & (groups != groups[pick])] = -np.inf
            candidate = int(np.argmax(delta))
            if delta[candidate] > best[0]:
                best = (float(delta[candidate]), position, candidate)
        if best[1] is None:
            break
        _, position, candidate = best
        leaving = picks[position]
        if groups is not None:
            for group, change in ((int(groups[leaving]), 1), (int(groups[candidate]), -1)):
                if group in capacity:
                    capacity[group] += change
        chosen[leaving], chosen[candidate] = False, True
        picks[position] = candidate
    sub = CoveringProblem(problem.demand_xyz, problem.population, problem.covered, problem.candidate_xyz[picks],
                          problem.radius_m)
    order = greedy(sub, len(picks), matrix[picks])
    ordered = [picks[i] for i in order.picks]
    if sum(order.gains) <= start.objective:
        return start
    return CoveringResult(ordered, order.gains, "greedy+interchange", "heuristic", sum(order.gains),
                          seconds=start.seconds + time.perf_counter() - started)


IMPROVE_RESTARTS = 120


def improve(problem: CoveringProblem, start: CoveringResult, matrix: csr_matrix | None = None,
            time_limit_s: float = INTERCHANGE_TIME_LIMIT_S, restarts: int = IMPROVE_RESTARTS,
            seed: int = 0) -> CoveringResult:
    """The greedy selection improved by swaps, then by swaps from randomised greedy starts (each step picks
    among the three best gains: GRASP), keeping the best; deterministic for a seed, bounded in time."""
    started = time.perf_counter()
    matrix = problem.coverage() if matrix is None else matrix
    best = interchange(problem, start, matrix, time_limit_s)
    generator = np.random.default_rng(seed)
    count = len(start.picks)
    for _ in range(restarts):
        if time.perf_counter() - started >= time_limit_s or not count:
            break
        remaining = max(0.0, time_limit_s - (time.perf_counter() - started))
        candidate = interchange(problem, _randomised_greedy(problem, count, matrix, generator), matrix, remaining)
        if candidate.objective > best.objective:
            best = candidate
    return CoveringResult(best.picks, best.gains, "greedy+interchange", "heuristic", best.objective,
                          seconds=start.seconds + time.perf_counter() - started)


def _randomised_greedy(problem: CoveringProblem, count: int, matrix: csr_matrix, generator: np.random.Generator,
                       among: int = 3) -> CoveringResult:
    unserved = np.where(problem.covered, 0.0, problem.population)
    capacity = dict(problem.group_capacity)
    groups = problem.candidate_group
    picks: list[int] = []
    gains: list[int] = []
    for _ in range(count):
        gain = matrix @ unserved
        gain[picks] = 0
        if groups is not None:
            gain[np.array([capacity.get(int(g), 1) <= 0 for g in groups])] = 0
        best = [int(c) for c in np.argsort(-gain)[:among] if gain[c] > 0]
        if not best:
            break
        chosen = best[int(generator.integers(len(best)))]
        picks.append(chosen)
        gains.append(int(gain[chosen]))
        unserved[matrix.indices[matrix.indptr[chosen]:matrix.indptr[chosen + 1]]] = 0.0
        if groups is not None and int(groups[chosen]) in capacity:
            capacity[int(groups[chosen])] -= 1
    return CoveringResult(picks, gains, "greedy", "heuristic", sum(gains))


def exact(problem: CoveringProblem, count: int, time_limit_s: float = EXACT_TIME_LIMIT_S,
          matrix: csr_matrix | None = None) -> CoveringResult:
    """The MILP: max Σ pop·y over uncovered communes, y ≤ Σ x of the sites serving them, Σ x ≤ count,
    Σ x ≤ capacity per group; x binary, y in [0, 1] (integral at the optimum)."""
    started = time.perf_counter()
    matrix = problem.coverage() if matrix is None else matrix
    reachable = np.flatnonzero(np.asarray(matrix.sum(axis=0)).ravel() > 0)
    sites, communes = matrix.shape[0], len(reachable)
    if sites == 0 or communes == 0:
        return CoveringResult([], [], "exact", "optimal", 0, 0, 0.0, time.perf_counter() - started)
    serving = matrix[:, reachable].T.tocsr().astype(float)  # communes × sites
    weights = problem.population[reachable].astype(float)
    objective = np.concatenate([np.zeros(sites), -weights])
    rows = [hstack([-serving, identity(communes, format="csr")]),
            hstack([csr_matrix(np.ones((1, sites))), csr_matrix((1, communes))])]
    upper = [np.zeros(communes), np.array([count], dtype=float)]
    if problem.candidate_group is not None:
        for group, capacity in problem.group_capacity.items():
            members = (problem.candidate_group == group).astype(float)
            if members.any():
                rows.append(hstack([csr_matrix(members.reshape(1, -1)), csr_matrix((1, communes))]))
                upper.append(np.array([capacity], dtype=float))
    constraints = LinearConstraint(vstack(rows).tocsr(), -np.inf, np.concatenate(upper))
    integrality = np.concatenate([np.ones(sites), np.zeros(communes)])
    result = milp(objective, constraints=constraints, integrality=integrality, bounds=Bounds(0, 1),
                  options={"time_limit": time_limit_s, "disp": False})
    status = _STATUS.get(result.status, "failed")
    bound = getattr(result, "mip_dual_bound", None)
    bound_people = int(round(-bound)) if bound is not None and np.isfinite(bound) else None
    ordered, gains = ([], []) if result.x is None else _in_gain_order(
        problem, matrix, [int(j) for j in np.flatnonzero(result.x[:sites] > 0.5)])
    fallback = False
    if status != "optimal":
        kept = greedy(problem, count, matrix)
        if kept.objective > sum(gains):
            ordered, gains, fallback = kept.picks, kept.gains, True
    total = sum(gains)
    gap = max(0.0, (bound_people - total) / bound_people) if bound_people else None
    if status == "optimal" and gap is None:
        gap = 0.0
    return CoveringResult(ordered, gains, "exact", status, total, bound_people, gap,
                          time.perf_counter() - started, fallback)


# scipy.optimize.milp statuses: 0 optimal (within HiGHS' default relative gap of 0.01 %), 1 limit reached.
_STATUS = {0: "optimal", 1: "time_limit", 2: "infeasible", 3: "unbounded", 4: "failed"}


def _in_gain_order(problem: CoveringProblem, matrix: csr_matrix, chosen: list[int]) -> tuple[list[int], list[int]]:
    """The exact solver's sites, ordered as a greedy pass over them would take them, with each one's gain."""
    sub = CoveringProblem(problem.demand_xyz, problem.population, problem.covered, problem.candidate_xyz[chosen],
                          problem.radius_m)
    order = greedy(sub, len(chosen), matrix[chosen])
    picked = [chosen[i] for i in order.picks]
    rest = [j for j in chosen if j not in picked]  # sites that add nobody once the others are chosen
    return picked + rest, order.gains + [0] * len(rest)
