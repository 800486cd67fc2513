"""The maximal-covering solvers on hand-built cases: greedy and exact differ where they must, the exact
one matches brute force, capacities hold."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from qualification.covering import CoveringProblem, exact, greedy, improve, interchange


def problem(rows: list[set[int]], population: list[int], covered: set[int] = frozenset(),
            groups: list[int] | None = None, capacity: dict[int, int] | None = None):
    communes = len(population)
    matrix = csr_matrix([[1 if commune in row and commune not in covered else 0 for commune in range(communes)]
                         for row in rows], dtype=np.int8)
    covering = CoveringProblem(np.zeros((communes, 3)), np.array(population, dtype=float),
                               np.array([commune in covered for commune in range(communes)]),
                               np.zeros((len(rows), 3)), 10_000,
                               None if groups is None else np.array(groups), capacity or {})
    return covering, matrix


def test_greedy_takes_the_big_overlapping_site_and_exact_the_two_disjoint_ones():
    # Communes 0-1 and 2-3 are two pairs of 3 people each; site M covers one of each pair and a village of 1.
    covering, matrix = problem([{0, 1}, {2, 3}, {1, 2, 4}], [3, 3, 3, 3, 1])
    fast = greedy(covering, 2, matrix)
    best = exact(covering, 2, matrix=matrix)
    assert fast.picks[0] == 2 and fast.objective == 10 and fast.status == "heuristic"
    assert sorted(best.picks) == [0, 1] and best.objective == 12
    assert best.status == "optimal" and best.proven_optimal and best.gap == pytest.approx(0, abs=1e-6)
    assert best.gains == [6, 6]


def test_exact_matches_brute_force_and_greedy_never_beats_it():
    generator = random.Random(20)
    for _ in range(15):
        communes = 12
        population = [generator.randint(1, 50) for _ in range(communes)]
        rows = [set(generator.sample(range(communes), generator.randint(1, 5))) for _ in range(8)]
        covered = set(generator.sample(range(communes), 2))
        covering, matrix = problem(rows, population, covered)
        brute = max(sum(population[c] for c in set().union(*(rows[i] for i in chosen)) - covered)
                    for chosen in itertools.combinations(range(len(rows)), 3))
        assert exact(covering, 3, matrix=matrix).objective == brute
        assert greedy(covering, 3, matrix).objective <= brute


def test_communes_already_served_count_for_nobody():
    covering, matrix = problem([{0, 1}, {2}], [100, 5, 7], covered={0})
    result = greedy(covering, 2, matrix)
    assert result.picks == [1, 0] and result.gains == [7, 5]


def test_a_site_that_adds_nobody_is_not_recommended():
    covering, matrix = problem([{0}, {0}], [10])
    assert greedy(covering, 2, matrix).picks == [0]


def test_a_full_territory_gets_no_pick_and_a_territory_with_room_one_at_most():
    rows = [{0}, {1}, {2}, {3}]
    covering, matrix = problem(rows, [40, 30, 20, 10], groups=[0, 0, 1, 2], capacity={0: 1, 1: 0})
    for result in (greedy(covering, 4, matrix), exact(covering, 4, matrix=matrix)):
        assert sorted(result.picks) == [0, 3], result.solver


def test_a_time_limited_search_is_never_called_optimal():
    generator = random.Random(7)
    communes = 400
    rows = [set(generator.sample(range(communes), 25)) for _ in range(300)]
    covering, matrix = problem(rows, [generator.randint(1, 1000) for _ in range(communes)])
    result = exact(covering, 40, time_limit_s=0.05, matrix=matrix)
    assert result.status in ("optimal", "time_limit") and result.picks
    assert result.objective >= greedy(covering, 40, matrix).objective
    if result.status == "time_limit":
        assert not result.proven_optimal


def test_interchange_swaps_the_big_site_for_the_two_disjoint_ones():
    covering, matrix = problem([{0, 1}, {2, 3}, {1, 2, 4}], [3, 3, 3, 3, 1])
    improved = interchange(covering, greedy(covering, 2, matrix), matrix)
    assert sorted(improved.picks) == [0, 1] and improved.objective == 12 and improved.solver == "greedy+interchange"


def test_interchange_is_never_worse_than_greedy_nor_better_than_exact():
    generator = random.Random(21)
    for _ in range(15):
        communes = 14
        population = [generator.randint(1, 50) for _ in range(communes)]
        rows = [set(generator.sample(range(communes), generator.randint(1, 5))) for _ in range(9)]
        covering, matrix = problem(rows, population)
        fast = greedy(covering, 3, matrix)
        assert fast.objective <= interchange(covering, fast, matrix).objective <= exact(covering, 3, matrix=matrix).objective


def test_interchange_keeps_the_capacities():
    # Sites 0 and 1 share a territory with room for one; greedy takes 0, a swap to 1 stays allowed, 0+1 never.
    covering, matrix = problem([{0, 1}, {1, 2}, {3}], [10, 10, 10, 1], groups=[0, 0, 1], capacity={0: 1})
    result = interchange(covering, greedy(covering, 2, matrix), matrix)
    assert not {0, 1} <= set(result.picks)


def test_restarts_reach_the_optimum_of_small_cases_and_keep_capacities():
    generator = random.Random(22)
    for _ in range(10):
        communes = 16
        population = [generator.randint(1, 50) for _ in range(communes)]
        rows = [set(generator.sample(range(communes), generator.randint(1, 5))) for _ in range(10)]
        covering, matrix = problem(rows, population, groups=[i % 3 for i in range(10)], capacity={0: 1})
        fast = greedy(covering, 3, matrix)
        better = improve(covering, fast, matrix, time_limit_s=5)
        best = exact(covering, 3, matrix=matrix)
        assert fast.objective <= better.objective <= best.objective
        assert sum(1 for pick in better.picks if pick % 3 == 0) <= 1
        assert improve(covering, fast, matrix, time_limit_s=5).picks == better.picks  # deterministic
