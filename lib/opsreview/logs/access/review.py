"""The access-log review of one day: what each section of the `logs` notebook shows.

:class:`AccessLogReview` opens the day's `requests` (and the baseline days, restricted to the
same local hours) as lazy DuckDB relations, computes the per-minute aggregate once, and offers
one method per notebook section. Each returns a :class:`Section` - figures, tables, findings -
that :func:`show_section` displays; :attr:`AccessLogReview.findings` collects the findings of
every section run so far for the notebook's last cell. Nothing here is loaded whole into
memory: every table is an aggregate or a top-N.

For drilling in from JupyterLab, :attr:`AccessLogReview.today` is the day's relation (with a
``route`` column)::

    logs.today.filter("status >= 500 AND route = 'POST /api/orders'").df()
"""

from __future__ import annotations

import datetime as dt
import functools

import pandas as pd

from opsreview import masking as sensitive
from opsreview.context import ReviewContext
from opsreview.display import Section
from opsreview.findings import kpi_number
from opsreview.localtime import local_columns
from opsreview.logs import baseline, charts, health
from opsreview.logs.access import abuse, aggregates, coverage, findings
from opsreview.logs.access import analysis as traffic
from opsreview.logs.access.aggregates import DailyAggregates
from opsreview.logs.access.route_inference import RouteInference
from opsreview.logs.evidence import ERROR_RATES, LOGGING, RESPONSE_TIMES, sample_lines
from opsreview.logs.review import SectionedReview, hosts_logging_around, log_files
from opsreview.relations import Relation, run_sql, sql_string

__all__ = ["COMPUTED_FROM", "AccessLogReview", "open_access_logs"]

COMPUTED_FROM = "Where the day's numbers come from"


def _in_window(start: object, end: object, closed: bool = False) -> str:
    """SQL: ``ts`` from ``start`` to before ``end`` (to ``end`` itself when ``closed``)."""
    upper = "<=" if closed else "<"
    return f"ts >= TIMESTAMPTZ '{pd.Timestamp(start).isoformat()}' AND ts {upper} TIMESTAMPTZ '{pd.Timestamp(end).isoformat()}'"


class AccessLogReview(SectionedReview):
    """The day's requests, its baseline, and one method per section of the `logs` notebook."""

    def __init__(self, review: ReviewContext) -> None:
        params = review.params
        super().__init__(review, [s.host for s in params.logs.access])
        store = review.store
        routes = params.logs.routes
        raw = store.relation("requests", [review.day], self.con)
        self.baseline_days = [d for d in review.baseline_days if store.parts("requests", d)]
        base_raw = store.relation("requests", self.baseline_days, self.con) if self.baseline_days else None
        # the daily aggregates the Spark pull computed, when they were made from the store as it is
        self.aggregates: DailyAggregates | None = (
            aggregates.open_current(store, review.day, self.baseline_days, routes, self.th, params.timezone, self.con)
            if raw is not None
            else None
        )
        # the day's and the baseline's paths are templated once, into one table every query joins;
        # without routes in the params, the table's parameters are inferred from those paths
        present = [r for r in (raw, base_raw) if r is not None]
        infer = None if routes else self.th
        mapping = None
        if self.aggregates is not None:
            paths = self.aggregates.paths.select("path, n, answered")
            mapping = traffic.route_map_from_paths(paths, routes, infer=infer, con=self.con)
        elif present:
            mapping = traffic.route_map(present, routes, infer=infer, con=self.con)
        self.route_inference: RouteInference | None = mapping.inference if mapping is not None else None
        self.today: Relation | None = traffic.with_route(raw, routes, mapping) if raw is not None else None
        empty = pd.DataFrame(columns=["minute", "host", "route", "requests", *traffic.STATUS_COLUMNS])
        self.counts = empty
        if self.aggregates is not None:
            self.counts = self.aggregates.counts("day")
        elif self.today is not None:
            self.counts = traffic.minute_counts(self.today)
        self.baseline: Relation | None = None
        self.base_counts = empty
        minutes = self.counts["minute"].dropna()
        self.window = self.elapsed_window(minutes.max() if not minutes.empty else None)
        if self.aggregates is not None and self.window != review.window:
            # the day is still running: its baseline is cut to the same hours, which the
            # aggregates (whole days, hourly quantiles) cannot follow
            self.aggregates = None
            assert self.today is not None
            self.counts = traffic.minute_counts(self.today)
        if base_raw is not None and not self.counts.empty:
            # the same hours of the baseline days: the whole day, or, while the review day is
            # still running, up to its newest line. A format without a date (tiny, short, dev)
            # has no minutes: its rows carry no time of day, so the baseline is each whole day.
            if not minutes.empty and self.window[1] < review.window[1]:
                last = pd.Timestamp(minutes.max()).tz_convert(self.tz).time()
                last = (dt.datetime.combine(dt.date.min, last) + dt.timedelta(seconds=59.999999)).time()
                base_raw = base_raw.filter(baseline.same_hours_sql(self.tz, dt.time(0), last))
            self.baseline = traffic.with_route(base_raw, routes, mapping)
            if self.aggregates is not None:
                self.base_counts = self.aggregates.counts("base")
            else:
                self.base_counts = traffic.minute_counts(self.baseline)

    def _exposure(self) -> tuple[float, float] | None:
        """Hours of the review day and of the baseline days, when whole days are compared (a
        DST day has 23 or 25); None while the day is still running (same hours each day)."""
        if self.window != self.review.window:
            return None

        def hours(day: dt.date) -> float:
            start, end = self.review.params.day_window(day)
            return (end - start).total_seconds() / 3600

        return hours(self.review.day), sum(hours(d) for d in self.baseline_days)

    def _expected(self, value: str, keys: list[str], counts: pd.DataFrame | None = None) -> pd.DataFrame | None:
        base = counts if counts is not None else self.base_counts
        if base.empty:
            return None
        grouped = base.groupby(["minute", *keys], as_index=False)[[value]].sum()
        return baseline.expected_per_minute(grouped, keys, value, self.tz, self.baseline_days)

    @functools.cached_property
    def _field_counts(self) -> pd.DataFrame:
        """Per host: the day's requests and how many carry each optional field (one scan)."""
        assert self.today is not None
        return coverage.field_counts(self.today)

    def _missing(self, section: Section, column: str, effect: str, checklist: tuple[str, ...] = ()) -> bool:
        """Say in ``section`` which hosts log no ``column``; True when none of the day's requests has it."""
        fact = coverage.missing_field(
            section, column, self._field_counts, self.review.params.logs.access, checklist, effect
        )
        return fact is not None and not (self._field_counts[column] > 0).any()

    # -- sections ------------------------------------------------------------------------------
    def kpis(self) -> dict[str, float | None]:
        """The day's headline numbers (summary.json ``kpis``, the index's trends): requests, the
        share of 5xx answers and the p95 response time; empty without requests (no data)."""
        if self.today is None:
            return {}
        if self.aggregates is not None:
            requests, rate, p95_ms = self.aggregates.kpis()
            return {"requests": requests, "5xx_rate": kpi_number(rate), "p95_ms": kpi_number(p95_ms)}
        timed = "response_time_ms" in self.today.columns
        p95 = "quantile_cont(response_time_ms, 0.95)" if timed else "NULL::DOUBLE"
        row = run_sql(
            self.today,
            "SELECT count(*) AS requests, avg(CASE WHEN status >= 500 THEN 1.0 ELSE 0.0 END) FILTER "
            f"(WHERE status IS NOT NULL) AS rate, {p95} AS p95 FROM t",
        ).iloc[0]
        return {"requests": int(row["requests"]), "5xx_rate": kpi_number(row["rate"]), "p95_ms": kpi_number(row["p95"])}

    def volume(self) -> Section:
        """Requests per minute against the baseline; gaps and volume drops per host."""
        section = Section("volume")
        if self.today is None:
            section.figures.append(charts.requests_chart(pd.DataFrame(columns=["minute", "requests"]), None, self.tz))
            if self.hosts:
                section.findings.append(health.no_data_finding("logs", "access-log requests", self.hosts))
            self.no_lines(section, "access", LOGGING)
            return self._done(section)
        self._missing(section, "ts", "its requests have no time of day: no per-minute volume, gaps or bursts")
        per_minute = traffic.requests_per_minute(self.counts)
        expected = self._expected("requests", [])
        expected_line = None
        if expected is not None:
            grid = per_minute[["minute"]].assign(mod=baseline.local_minute_of_day(per_minute["minute"], self.tz))
            expected_line = grid.merge(expected, on="mod", how="left")
        by_host = self._expected("requests", ["host"])
        gaps = baseline.quiet_gaps(
            traffic.requests_per_minute(self.counts, ["host"]),
            ["host"],
            "requests",
            self.window,
            by_host,
            self.tz,
            min_minutes=self.th.gap_minutes,
            min_expected=self.th.gap_min_expected_lines,
            all_keys=[(h,) for h in self.hosts],
        )
        today_hosts = self.counts.groupby("host", as_index=False)[["requests"]].sum()
        today_hosts = pd.concat(
            [
                today_hosts,
                pd.DataFrame({"host": [h for h in self.hosts if h not in set(today_hosts["host"])], "requests": 0}),
            ]
        )
        volume = baseline.compare_counts(
            today_hosts, self.base_counts, ["host"], "requests", len(self.baseline_days), self._exposure()
        )
        bursts = self._bursts(per_minute, "requests", expected)
        bursts = bursts[bursts["magnitude"] >= self.th.volume_burst_ratio]
        section.figures.append(charts.requests_chart(per_minute, expected_line, self.tz, gaps, bursts))
        section.tables.append(("Requests per host (baseline: mean per day, same hours)", volume))
        if not gaps.empty:
            section.tables.append(("Gaps without a single request", local_columns(gaps, self.tz)))
        if not bursts.empty:
            section.tables.append(("Request bursts above the baseline", local_columns(bursts, self.tz)))
        # without a baseline, a quiet start or end of the day may be where a log begins or ends
        edges = hosts_logging_around(self.review, "access") if by_host is None and not gaps.empty else (set(), set())
        section.findings += health.gap_findings(
            gaps, self.th, self.tz, has_baseline=by_host is not None, logged_before=edges[0], logged_after=edges[1]
        )
        if self.baseline_days:
            section.findings += health.volume_findings(volume, self.th)
        return self._done(section)

    def status(self) -> Section:
        """Status classes over time; 5xx rate and bursts per route; 4xx with 401/403/404/429; 429 surges."""
        section = Section("status")
        if self.today is None:
            self.no_lines(section, "access", ERROR_RATES)
            return self._done(section)
        day = traffic.error_rates(self.counts).iloc[0].to_dict()
        if not self.base_counts.empty:
            base = traffic.error_rates(self.base_counts).iloc[0]
            test = baseline.rate_test([day["s5xx"]], [day["requests"]], [base["s5xx"]], [base["requests"]])
            day.update(
                base_requests=int(base["requests"]),
                base_s5xx=int(base["s5xx"]),
                p_higher=float(test["p_higher"].iloc[0]),
            )
        windows = self._route_windows("s5xx")
        samples = {  # each burst's own first failures
            (w["route"], w["start"]): self._samples(w["route"], w["start"], w["end"], "status >= 500")
            for w in windows.to_dict("records")
        }
        section.findings += findings.server_error_findings(
            day, windows, self.th, self.tz, samples, self.window, self._sample_rows("status >= 500", first=True)
        )
        count_429 = baseline.compare_counts(
            self.counts[["s429"]], self.base_counts[["s429"]], [], "s429", len(self.baseline_days), self._exposure()
        )
        per_minute = self.counts.groupby("minute", as_index=False)[["s429", "s404"]].sum()
        windows_429 = self._bursts(per_minute, "s429", self._expected("s429", []), baseline_only=False)
        windows_404 = self._bursts(per_minute, "s404", self._expected("s404", []))
        where_429 = "status = 429"
        if not windows_429.empty:  # the first 429s of the largest window
            top = windows_429.loc[windows_429["observed"].astype(float).idxmax()]
            where_429 += f" AND {_in_window(top['start'], top['end'])}"
        section.findings += findings.rate_limit_findings(
            count_429, windows_429, self.th, self.tz, self._sample_rows(where_429, first=True)
        )
        section.figures.append(charts.status_chart(traffic.status_mix(self.counts), self.tz, windows))
        rates = traffic.error_rates(self.counts, ["host"])
        total = traffic.error_rates(self.counts).assign(host="(all)")
        section.tables.append(("Status counts and rates", pd.concat([total, rates], ignore_index=True)))
        section.tables.append(
            (
                "Status rates against the baseline (same hours)",
                traffic.rates_against_baseline(self.counts, self.base_counts),
            )
        )
        if not windows.empty:
            section.tables.append(("5xx anomaly windows per route", local_columns(windows, self.tz)))
        if not windows_404.empty:
            section.tables.append(("404 bursts above the baseline", local_columns(windows_404, self.tz)))
        return self._done(section)

    def _bursts(
        self, per_minute: pd.DataFrame, value: str, expected: pd.DataFrame | None, baseline_only: bool = True
    ) -> pd.DataFrame:
        """Windows where ``value`` per minute is significantly above ``expected`` (from
        :meth:`_expected`), see :func:`baseline.anomaly_windows`. ``baseline_only``: none without
        a baseline (the day against its own median would flag its daily curve)."""
        if expected is None and baseline_only:
            return pd.DataFrame(columns=baseline.WINDOW_COLUMNS)
        return baseline.anomaly_windows(
            per_minute[["minute", value]].dropna(subset=["minute"]),
            expected,
            [],
            value,
            self.tz,
            minute_p=self.th.burst_minute_p,
            floor=self.th.burst_floor_per_minute,
            min_minutes=self.th.burst_min_minutes,
            max_gap=self.th.burst_max_gap_minutes,
            alpha=self.th.significance,
        )

    def _route_windows(self, value: str) -> pd.DataFrame:
        """Windows where a route's share of ``value`` (s5xx) bursts above its baseline share."""
        per_route = self.counts.groupby(["minute", "route"], as_index=False)[[value, "requests"]].sum()
        base_rate = None
        if not self.base_counts.empty:
            base = self.base_counts.groupby("route", as_index=False)[[value, "requests"]].sum()
            base_rate = base.assign(rate=base[value] / base["requests"])[["route", "rate"]]
        return baseline.rate_windows(
            per_route,
            base_rate,
            ["route"],
            value,
            "requests",
            width=self.th.burst_window_minutes,
            min_share=self.th.burst_5xx_rate,
            minute_p=self.th.burst_minute_p,
            max_gap=self.th.burst_max_gap_minutes,
            alpha=self.th.significance,
            min_events=self.th.burst_5xx_min,
        )

    def _samples(self, route: str, start: pd.Timestamp, end: pd.Timestamp, where: str, n: int = 3) -> pd.DataFrame:
        return self._sample_rows(
            f"route = {sql_string(route)} AND {_in_window(start, end)} AND {where}", n
        ).sort_values("ts")

    def _sample_rows(self, where: str, n: int = 3, first: bool = False) -> pd.DataFrame:
        """A few of the day's requests matching ``where``: the slowest, or the ``first`` ones."""
        assert self.today is not None
        rel = self.today.filter(where)
        if first:
            # ties broken on every column: the same rows whichever engine wrote the store, in whatever order
            order = "ts, host, source_file, response_time_ms, url, remote_addr, status"
            rel = rel.order(order).limit(n).select("ts, remote_addr AS client, method, url, status, response_time_ms")
            return rel.df()
        return traffic.slowest_requests(rel, n)[["ts", "client", "method", "url", "status", "response_time_ms"]]

    def latency(self) -> Section:
        """p50/p95/p99 over time and per route, against the baseline (exceedance test)."""
        section = Section("latency")
        if self.today is None:
            self.no_lines(section, "access", RESPONSE_TIMES)
            return self._done(section)
        if self._missing(section, "response_time_ms", "no percentiles, no p95 check per route", RESPONSE_TIMES):
            return self._done(section)  # nothing to chart: every percentile would be empty
        aggregated = self.aggregates
        if aggregated is not None:
            today_profile = aggregated.profile("day")
            base_profile = aggregated.profile("base") if self.baseline is not None else today_profile.iloc[0:0]
            over_time = aggregated.over_time()
        else:
            today_profile = baseline.latency_profile(self.today, self.tz)
            base_profile = (
                baseline.latency_profile(self.baseline, self.tz)
                if self.baseline is not None
                else today_profile.iloc[0:0]
            )
            over_time = traffic.latency_over_time(self.today)
        above = aggregated.above() if aggregated is not None else None
        comparison = baseline.compare_latency(self.today, today_profile, base_profile, above=above)
        hours = baseline.hours_above(
            today_profile, base_profile, "route", self.th.p95_ratio_warning, max(10, self.th.min_requests // 5)
        )
        latency_found = findings.latency_findings(
            comparison, hours, self.th, f"{self.tz} hours", today_profile, self.tz, self.review.day
        )
        for finding in latency_found:  # the route's slowest requests of the day as sample lines
            route = str(finding.evidence["route"])
            finding.evidence["samples"] = sample_lines(
                self._sample_rows(f"route = {sql_string(route)} AND response_time_ms IS NOT NULL"), tz=self.tz
            )
        section.findings += latency_found
        overall = base_profile[(base_profile["route"] == baseline.ALL_ROUTES) & (base_profile["hour"] == -1)]["p95"]
        section.figures.append(charts.latency_chart(over_time, self.tz, overall.iloc[0] if len(overall) else None))
        section.figures.append(charts.route_latency_chart(comparison))
        section.tables.append(
            ("Latency over all routes (ms) against the baseline", baseline.overall_latency(today_profile, base_profile))
        )
        cols = ["route", "requests", "p50", "p95", "p99", "base_p95", "ratio", "share_above", "p_value"]
        section.tables.append(("Latency per route (ms), baseline p95 and exceedance test", comparison[cols].round(3)))
        return self._done(section)

    def routes(self) -> Section:
        """Top routes by volume, by errors and by latency; the route templates inferred from the data."""
        section = Section("routes")
        if self.today is None:
            self.no_lines(section, "access")
            return self._done(section)
        self._missing(section, "response_time_ms", "the p50/p95/p99 columns stay empty for it")
        summary = self.aggregates.route_summary() if self.aggregates is not None else traffic.route_summary(self.today)
        cols = ["route", "requests", "s4xx", "s5xx", "rate_5xx", "p50", "p95", "p99", "median_bytes"]
        section.figures.append(charts.routes_chart(summary))
        section.tables.append(("Top routes by volume", traffic.top_routes(summary, "requests")[cols]))
        section.tables.append(("Top routes by 5xx", traffic.top_routes(summary[summary["s5xx"] > 0], "s5xx")[cols]))
        section.tables.append(
            ("Slowest routes by p95", traffic.top_routes(summary, "p95", min_requests=self.th.min_requests)[cols])
        )
        if self.route_inference is not None and self.route_inference.routes:
            section.tables.append(
                (
                    "Route templates inferred from the data (no logs.routes in the params): a parameter's "
                    "examples are values that joined its :id; a literal stays a route of its own",
                    self.route_inference.table(),
                )
            )
        return self._done(section)

    def routes_yaml(self) -> str:
        """Where the route templates came from, and the inferred ones as params YAML to paste."""
        routes = self.review.params.logs.routes
        if routes:
            return f"Route templates: the {len(routes)} of logs.routes in the params (nothing inferred)."
        inference = self.route_inference
        if inference is None or not inference.routes:
            return (
                "Route templates: no logs.routes in the params, and nothing to infer - the automatic rules "
                "(numbers, UUIDs, hex ids) cover every parameter seen."
            )
        return (
            f"Route templates inferred from the day and its baseline days ({len(inference.routes)}); "
            "to fix them, paste into the params:\n\n" + inference.yaml()
        )

    def clients(self) -> Section:
        """Top clients with their 4xx/401/429 shares; credential-stuffing bursts."""
        section = Section("clients")
        if self.today is None:
            self.no_lines(section, "access")
            return self._done(section)
        self._missing(
            section, "remote_addr", "its requests cannot be told apart by client: no 401/403 bursts per client"
        )
        if self.aggregates is not None:
            top = traffic.with_agents(self.today, self.aggregates.top_clients(20))
        else:
            top = traffic.top_clients(self.today, 20)
        bursts = abuse.auth_failure_bursts(
            self.today, self.th.auth_window_minutes, self.th.auth_failures_per_client, self.th.burst_max_gap_minutes
        )
        auth_found = findings.auth_burst_findings(bursts, self.th, self.tz)
        for finding, row in zip(auth_found, bursts.to_dict("records"), strict=True):
            where = (
                f"remote_addr = {sql_string(str(row['client']))} AND status IN (401, 403) AND "
                f"{_in_window(row['start'], row['end'], closed=True)}"
            )
            finding.evidence["samples"] = sample_lines(self._sample_rows(where, first=True), tz=self.tz)
        section.findings += auth_found
        section.figures.append(charts.clients_chart(top))
        section.tables.append(("Top clients", local_columns(top, self.tz)))
        if not bursts.empty:
            section.tables.append(("401/403 bursts per client", local_columns(bursts, self.tz)))
        return self._done(section)

    def agents(self) -> Section:
        """User agents and bots by category; scanners probing for weak spots."""
        section = Section("agents")
        if self.today is None:
            self.no_lines(section, "access")
            return self._done(section)
        no_agents = self._missing(
            section, "user_agent", "no user-agent categories; scanners are still found by what they probe"
        )
        scanners = abuse.scanner_clients(self.today, self.th.scanner_patterns, self.th.scanner_distinct_404)
        scanner_found = findings.scanner_findings(scanners, self.th, self.tz)
        probing = abuse.scanner_path_sql(self.th.scanner_patterns)
        for finding in scanner_found:  # the first probes (an exposure: the probes answered 2xx)
            clients = finding.evidence.get("clients") or [finding.evidence["client"]]
            where = f"remote_addr IN ({', '.join(sql_string(str(c)) for c in clients)})"
            if finding.check == "logs.scanner_exposure":
                where += f" AND {probing} AND status BETWEEN 200 AND 299"
            else:
                where += f" AND ({probing} OR status = 404)"
            finding.evidence["samples"] = sample_lines(self._sample_rows(where, first=True), tz=self.tz)
        section.findings += scanner_found
        if not no_agents:
            section.figures.append(charts.agents_chart(traffic.agent_categories(self.today)))
            section.tables.append(("Top user agents", traffic.user_agents(self.today, 20)))
        if not scanners.empty:
            section.tables.append(("Scanner clients", local_columns(scanners, self.tz)))
        return self._done(section)

    def outliers(self) -> Section:
        """The slowest requests and responses far larger than their route's median."""
        section = Section("outliers")
        if self.today is None:
            self.no_lines(section, "access")
            return self._done(section)
        untimed = self._missing(section, "response_time_ms", "no slowest requests for it")
        slowest = traffic.slowest_requests(self.today, 20)
        medians = self.aggregates.route_summary()[["route", "median_bytes"]] if self.aggregates is not None else None
        sizes = traffic.size_outliers(
            self.today, self.th.size_outlier_factor, self.th.size_outlier_min_bytes, medians=medians
        )
        section.figures.append(charts.outliers_chart(slowest, sizes, self.tz))
        if not untimed:
            section.tables.append(("Slowest requests", local_columns(slowest, self.tz)))
        section.tables.append(("Response size outliers", local_columns(sizes, self.tz)))
        return self._done(section)

    def secrets(self) -> Section:
        """Secrets and card numbers in logged URLs (masked)."""
        section = Section("secrets")
        if self.today is None:
            self.no_lines(section, "access")
            return self._done(section)
        found = sensitive.sensitive_in_urls(self.today)
        section.findings += findings.sensitive_url_findings(found, self.tz)
        section.figures.append(charts.secrets_chart(found))
        section.tables.append(("Sensitive values in logged URLs (masked)", local_columns(found, self.tz)))
        return self._done(section)

    def ingest(self) -> Section:
        """Parsed and unparsed lines per access-log file of the day."""
        section = Section("ingest")
        files = log_files(self.review, "access")
        if files.empty and self.today is None:
            self.no_lines(section, "access")
        section.findings += health.unparsed_findings(files, self.th, "access")
        section.figures.append(charts.ingest_chart(files))
        section.tables.append(("Access-log files of the day", files.drop(columns=["kind"], errors="ignore")))
        if self.today is not None:
            section.tables.append((COMPUTED_FROM, self.computed_from()))
        return self._done(section)

    def computed_from(self) -> pd.DataFrame:
        """Where the day's counts and quantiles come from: the Spark pull's daily aggregates, or
        a scan of ``requests`` (and why the aggregates were not used)."""
        if self.aggregates is not None:
            how = "daily aggregates computed on Spark by the pull (requests_minutes, requests_latency, ...)"
            quantiles = "Spark percentile (exact, interpolated as DuckDB's quantile_cont)"
        else:
            how = "scan of the requests table (DuckDB)"
            if self.review.params.engine == "spark":
                how += (
                    ": the day is still running (same-hours baseline)"
                    if self.window != self.review.window
                    else ": no current Spark aggregates for this day and its baseline (re-run the pull)"
                )
            quantiles = "DuckDB quantile_cont (exact, interpolated)"
        drill = "scans of requests (filtered, top-N)"
        return pd.DataFrame(
            {
                "what": ["counts and quantiles", "quantiles", "sample lines, agents, outliers"],
                "from": [how, quantiles, drill],
            }
        )


def open_access_logs(review: ReviewContext) -> AccessLogReview:
    """What the `logs` notebook calls after opening the review."""
    return AccessLogReview(review)
