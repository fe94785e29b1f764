"""Where cost stops paying (bench/knee.py): the connection knee and the Cloud Run
concurrency it implies, and where batching stops adding images/s."""

from __future__ import annotations

import pytest

from bench.knee import Point, connection_knee, knee_prose, plateau, plateau_prose

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


def test_the_prose_names_the_knee_and_the_concurrency():
    text = knee_prose(connection_knee(SWEEP))
    assert "**16 connections**" in text
    assert "**16 per vCPU**" in text
    assert "+1%" in text  # 3,400 → 3,450 req/s


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
