"""Prometheus metrics, served at GET /metrics on the admin port.

The hot path only bumps plain dict counters and histogram buckets (a few hundred ns); a
prometheus-client collector turns them into metric families when Prometheus scrapes, which is
also when the journal size and reload counts are read.
"""
from __future__ import annotations

from bisect import bisect_left

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STATUS_CLASSES = ("0xx", "1xx", "2xx", "3xx", "4xx", "5xx")
GRPC_METHODS = 1000  # (method, code) pairs counted apart; beyond, under "(other)"


class Metrics:
    def __init__(self, server):
        self.server = server
        # (route, action, method, status) → [count per latency bucket..., +Inf, sum of seconds]:
        # one dict lookup per request updates both the request counter and the histogram
        self.cells: dict[tuple, list] = {}
        self.upstream_errors: dict[str, int] = {}  # cause → count
        self.faults: dict[tuple[str, str], int] = {}  # (route, fault type) → injections
        self.violations: dict[tuple[str, str, str], int] = {}  # (contract, operation, direction) → count
        self.grpc_calls: dict[tuple[str, str], int] = {}  # (gRPC method, status code name) → calls
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def observe(self, ex, seconds: float) -> None:
        route = ex.route
        key = (route.label if route is not None else "", ex.action, ex.method, ex.status)
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = [0] * (len(BUCKETS) + 1) + [0.0]
        cell[bisect_left(BUCKETS, seconds)] += 1
        cell[-1] += seconds
        if ex.error is not None:
            self.upstream_errors[ex.error] = self.upstream_errors.get(ex.error, 0) + 1
        if ex.plan is not None:
            for fault in ex.plan.fired:
                slot = (key[0], fault.type)
                self.faults[slot] = self.faults.get(slot, 0) + 1
        if ex.grpc is not None:
            slot2 = (ex.path, ex.grpc.code.name)
            if slot2 not in self.grpc_calls and len(self.grpc_calls) >= GRPC_METHODS:
                slot2 = ("(other)", slot2[1])  # (a method is any string a client sends: a bounded label set)
            self.grpc_calls[slot2] = self.grpc_calls.get(slot2, 0) + 1
        watch = ex.watch
        if watch is not None and watch.violations:
            rules = watch.rules
            for direction, found in (("request", watch.request), ("response", watch.response)):
                if found:
                    slot3 = (rules.contract, rules.label, direction)
                    self.violations[slot3] = self.violations.get(slot3, 0) + len(found)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    # prometheus-client's collector protocol
    def collect(self):
        requests = CounterMetricFamily(
            "stuntman_requests", "Requests answered, by route name (empty: no stub matched), action "
            "(stub, proxy, none, error), method and status class.",
            labels=("route", "action", "method", "status_class"))
        by_class: dict[tuple, int] = {}
        by_action: dict[str, list] = {}
        for (route, action, method, status), cell in self.cells.items():
            labels = (route, action, method, STATUS_CLASSES[min(status // 100, 5)])
            by_class[labels] = by_class.get(labels, 0) + sum(cell[:-1])
            histogram = by_action.setdefault(action, [0] * len(cell))
            for i, value in enumerate(cell):
                histogram[i] += value
        unmatched = 0
        for labels, count in sorted(by_class.items()):
            requests.add_metric(labels, count)
            unmatched += count if labels[0] == "" else 0
        yield requests
        yield CounterMetricFamily("stuntman_unmatched_requests", "Requests no stub matched "
                                  "(passed upstream in sidecar mode, else answered 404).", value=unmatched)
        latency = HistogramMetricFamily(
            "stuntman_request_duration_seconds", "From the request head to the end of the response, "
            "by action.", labels=("action",))
        for action, histogram in sorted(by_action.items()):
            cumulative, total = [], 0
            for bound, count in zip((*map(str, BUCKETS), "+Inf"), histogram[:-1], strict=True):
                total += count
                cumulative.append((bound, total))
            latency.add_metric((action,), cumulative, histogram[-1])
        yield latency
        errors = CounterMetricFamily("stuntman_upstream_errors", "Upstream failures, by cause "
                                     "(the X-Stuntman-Error value).", labels=("cause",))
        for cause, count in sorted(self.upstream_errors.items()):
            errors.add_metric((cause,), count)
        yield errors
        injected = CounterMetricFamily("stuntman_faults_injected", "Faults that fired, by route name "
                                       "(empty: no stub matched) and fault type.", labels=("route", "type"))
        for labels, count in sorted(self.faults.items()):
            injected.add_metric(labels, count)
        yield injected
        violations = CounterMetricFamily(
            "stuntman_contract_violations", "Violations of a monitored contract, by contract, operation "
            "(METHOD /path as the spec writes it) and direction (request, response).",
            labels=("contract", "operation", "direction"))
        for labels, count in sorted(self.violations.items()):
            violations.add_metric(labels, count)
        yield violations
        grpc_calls = CounterMetricFamily(
            "stuntman_grpc_calls", "gRPC calls answered, by method (/package.Service/Method) and status code.",
            labels=("grpc_method", "code"))
        for labels2, count in sorted(self.grpc_calls.items()):
            grpc_calls.add_metric(labels2, count)
        yield grpc_calls
        reloads = CounterMetricFamily("stuntman_config_reloads", "Reloads of the stub files, by outcome.",
                                      labels=("outcome",))
        for outcome, count in sorted(self.server.reloads.items()):
            reloads.add_metric((outcome,), count)
        yield reloads
        journal = self.server.journal
        yield GaugeMetricFamily("stuntman_journal_entries", "Requests held in the journal.",
                                value=len(journal.entries) if journal is not None else 0)
        yield GaugeMetricFamily("stuntman_stubs", "Stubs in the route table.", value=len(self.server.table.routes))
