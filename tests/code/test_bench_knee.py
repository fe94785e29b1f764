"""Where cost stops paying (bench/knee.py): the connection knee, the most connections that
keep the p99 promise, the Cloud Run concurrency the two imply, and where batching stops
adding images/s."""

from __future__ import annotations

import pytest

from bench.knee import (
    Point,
    concurrency_prose,
    connection_knee,
    knee_prose,
    plateau,
    plateau_prose,
    promise_ceiling,
)

# A typical sweep: throughput saturates at 16, p99 queues beyond.
SWEEP = [
    Point(1, 1800, 0.9),
    Point(4, 3000, 2.0),
    Point(16, 3400, 6.0),
    Point(64, 3450, 25.0),
    Point(256, 3300, 110.0),
]


def test_the_knee_is_where_p99_doubles_and_throughput_stalls():
    knee = connection_knee(SWEEP)
    assert knee.at.connections == 16
    assert knee.past.connections == 64
    assert knee.concurrency_per_vcpu == 16


def test_a_latency_rise_that_buys_throughput_is_not_the_knee():
    # 1 → 4: p99 more than doubles, but req/s gains 67%: still worth it.
    knee = connection_knee(SWEEP)
    assert knee.at.connections != 1


def test_throughput_gains_of_just_under_ten_percent_are_past_the_knee():
    points = [Point(4, 1000, 1.0), Point(16, 1099, 2.5), Point(64, 1400, 9.0)]
    assert connection_knee(points).at.connections == 4
    assert connection_knee(points).strict
    points[1] = Point(16, 1100, 2.5)  # exactly +10%: not a stall by the strict test
    assert not connection_knee(points).strict


def test_the_order_of_the_points_does_not_matter():
    assert connection_knee(list(reversed(SWEEP))).at.connections == 16


def test_a_noisy_sweep_falls_back_to_the_costliest_latency_step():
    # 16 → 64 buys +12% for 17x p99; 64 → 256 even lowers p99 (noise): no step passes the
    # strict test, the knee is where p99 jumped for the least throughput.
    points = [
        Point(1, 5410, 4.96),
        Point(4, 6148, 4.83),
        Point(16, 7215, 6.13),
        Point(64, 8094, 103.88),
        Point(256, 7824, 55.44),
    ]
    knee = connection_knee(points)
    assert (knee.at.connections, knee.past.connections, knee.strict) == (16, 64, False)
    assert "bought the least req/s" in knee_prose(knee)
    assert connection_knee(SWEEP).strict


def test_no_knee_within_the_sweep_is_said_so():
    points = [Point(1, 1000, 1.0), Point(4, 2000, 1.5), Point(16, 3000, 2.9)]
    knee = connection_knee(points)
    assert knee.past is None
    assert knee.at.connections == 16
    assert "No knee up to 16 connections" in knee_prose(knee)


def test_the_prose_names_the_knee():
    text = knee_prose(connection_knee(SWEEP))
    assert "**16 connections**" in text
    assert "+1%" in text  # 3,400 → 3,450 req/s


def test_the_ceiling_is_the_most_connections_that_keep_the_p99_promise():
    assert promise_ceiling(SWEEP, 10.0).connections == 16  # 64 connections: p99 25 ms
    assert promise_ceiling(SWEEP, 25.0).connections == 64
    assert promise_ceiling(SWEEP, 0.5) is None  # even one connection breaks it


def test_a_point_past_a_broken_promise_does_not_raise_the_ceiling():
    # 64 breaks the promise; 256 keeps it again (noise): the ceiling stays below the break.
    points = [
        Point(4, 1000, 1.0),
        Point(16, 1100, 4.0),
        Point(64, 1100, 12.0),
        Point(256, 900, 9.0),
    ]
    assert promise_ceiling(points, 10.0).connections == 16


def test_a_ceiling_at_the_knee_implies_one_concurrency():
    knee = connection_knee(SWEEP)
    text = concurrency_prose(knee, promise_ceiling(SWEEP, 10.0), 10.0)
    assert "**16 per vCPU**" in text
    assert "≤ 10 ms" in text


def test_a_ceiling_past_the_knee_implies_a_range_from_the_knee_to_the_ceiling():
    # Today's shape: one core saturates at 4 connections, p99 stays under 10 ms up to 16.
    points = [
        Point(1, 6066, 0.28),
        Point(4, 10188, 0.84),
        Point(16, 10761, 2.85),
        Point(64, 9323, 11.65),
        Point(256, 7889, 2342.0),
    ]
    knee = connection_knee(points)
    assert knee.at.connections == 4
    text = concurrency_prose(knee, promise_ceiling(points, 10.0), 10.0)
    assert "between **4 and 16**" in text
    assert "p99 2.9 ms, 10,761 req/s" in text


def test_a_knee_past_the_ceiling_implies_the_ceiling():
    knee = connection_knee(SWEEP)  # the knee at 16, but a 5 ms promise holds only up to 4
    text = concurrency_prose(knee, promise_ceiling(SWEEP, 5.0), 5.0)
    assert "**4 per vCPU**" in text


def test_a_promise_no_point_keeps_is_said_so():
    knee = connection_knee(SWEEP)
    assert "No connection count" in concurrency_prose(knee, promise_ceiling(SWEEP, 0.5), 0.5)


def test_no_knee_and_no_broken_promise_sets_no_upper_bound():
    points = [Point(1, 1000, 1.0), Point(4, 2000, 1.5), Point(16, 3000, 2.9)]
    knee = connection_knee(points)
    text = concurrency_prose(knee, promise_ceiling(points, 10.0), 10.0)
    assert "no upper bound" in text
    assert "16 per vCPU is the highest measured" in text


def test_no_points_is_an_error():
    with pytest.raises(ValueError, match="no "):
        connection_knee([])
    with pytest.raises(ValueError, match="no "):
        plateau({})


def test_batching_plateaus_where_no_larger_batch_adds_ten_percent():
    images = {1: 3000, 8: 18000, 32: 40000, 128: 42000, 256: 50000, 1024: 43000}
    # 32 → 256 still adds 25%; from 256 on nothing adds 10%.
    assert plateau(images) == 256
    assert plateau({1: 3000, 8: 12000, 32: 13000, 256: 8000}) == 8
    assert plateau({1: 3000, 8: 12000, 32: 13200, 256: 8000}) == 32  # +10% still pays
    assert plateau({1: 5.0}) == 1


def test_plateau_prose_compares_with_the_roof_and_skips_it():
    batch = {
        "bare LiteRT": {8: 50000.0, 256: 100000.0},
        "V2 binary": {8: 20000.0, 256: 50000.0},
    }
    text = plateau_prose(batch, "bare LiteRT")
    assert text.startswith("V2 binary gains less than 10% beyond batch 256")
    assert "50% of bare LiteRT" in text
    assert "bare LiteRT gains" not in text
