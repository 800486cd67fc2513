"""The rules of the suspicious-redemption signals: one SQL aggregate each (opening hours are read with the OSM
grammar, one day of the venues' hours at a time, then one anti-join), with their French explanations.

Thresholds are settings read from the environment (`APTIC_SIGNAL_*`, see `SignalSettings`). Storing and
marking the signals is `redemption/signals.py`.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import opening_hours
from sqlalchemy import (
    Column, Date, Integer, MetaData, Select, Table, case, cast, distinct, exists, func, select, text,
)
from sqlalchemy.orm import Session

from directory import api as directory_api
from directory import french
from directory.db import PARIS_TZ, UTCDateTime, dialect_name
from directory.geodesy import haversine_m
from directory.models import Organisation, Venue
from redemption.bulk import insert_rows
from redemption.models import Booklet, Redemption, RedemptionStatus, ScanRefusal, SignalKind

MAX_REDEMPTIONS_KEPT = 200  # the redemptions behind one signal, as ids (the figures say how many in all)
NIGHTLY_WINDOW = timedelta(days=2)  # overlapping nights: fingerprints keep one signal per pattern
MIN_HISTORY_DAYS = 14  # a venue's "usual" volume needs this many days of history before the day judged


@dataclass(frozen=True)
class SignalSettings:
    """The thresholds of the rules; each is read from `APTIC_SIGNAL_<NAME>` when set."""

    max_per_hour: int = 8  # redemptions a venue's staff can serve in an hour
    unusual_factor: float = 4.0  # a day above this many times the venue's usual daily volume…
    unusual_min_day: int = 15  # …and at least this many redemptions that day
    baseline_days: int = 56  # the "usual" volume: the daily mean over these days before
    hours_grace_minutes: int = 30  # a scan this close to an opening period counts as within hours
    far_apart_km: float = 40.0  # one booklet in venues further apart than this on one day
    refusals_per_hour: int = 20  # refused scans on one key within an hour (guessing codes)
    concentration_share: float = 0.9  # a venue's redemptions from one distributor's booklets…
    concentration_overall_share: float = 0.5  # …when that distributor weighs at most this much overall
    concentration_min: int = 30  # and the venue has at least this many redemptions over the period
    profile_days: int = 90  # the period of the two venue-profile rules
    quick_minutes: int = 15  # redeemed within this many minutes of the booklet's distribution…
    quick_min: int = 5  # …at least this many times at a venue
    quick_share: float = 0.5  # …and at least this share of its redemptions

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> SignalSettings:
        values: dict[str, Any] = {}
        for setting in fields(cls):
            raw = environ.get(f"APTIC_SIGNAL_{setting.name.upper()}")
            if raw not in (None, ""):
                values[setting.name] = float(raw) if setting.type == "float" else int(raw)
        return cls(**values)


@dataclass
class Found:
    kind: SignalKind
    fingerprint: str
    start: datetime
    end: datetime
    rule: str
    explanation: str
    figures: dict[str, Any]
    redemption_ids: list[int] = field(default_factory=list)
    venue_id: int | None = None
    booklet_id: int | None = None
    actor: str | None = None


# ------------------------------------------------------------------------ dialect helpers


def _hour_bucket(session: Session, column: Any) -> Any:
    """The UTC hour of a time (Paris is a whole number of hours from UTC: the same hours there)."""
    if dialect_name(session) == "postgresql":
        return func.date_trunc("hour", func.timezone("UTC", column))
    return func.strftime("%Y-%m-%d %H:00:00", column)


def _sqlite_paris_day(value: str | None) -> str | None:
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC).astimezone(PARIS_TZ).date().isoformat()


def _paris_day(session: Session, column: Any) -> Any:
    """The Europe/Paris calendar day of a time; SQLite gets the conversion as a function of the connection."""
    if dialect_name(session) == "postgresql":
        return cast(func.timezone("Europe/Paris", column), Date)
    session.connection().connection.driver_connection.create_function(
        "aptic_paris_day", 1, _sqlite_paris_day, deterministic=True)
    return func.aptic_paris_day(column)


def _minutes_between(session: Session, later: Any, earlier: Any) -> Any:
    if dialect_name(session) == "postgresql":
        return func.extract("epoch", later - earlier) / 60
    return (func.julianday(later) - func.julianday(earlier)) * 1440


def _utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _day(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _paris_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), PARIS_TZ).astimezone(UTC)


def _active(start: datetime, end: datetime) -> list[Any]:
    return [Redemption.status != RedemptionStatus.CANCELLED, Redemption.created_at >= start, Redemption.created_at < end]


def _ids(session: Session, query: Select) -> tuple[int, list[int]]:
    ids = list(session.scalars(query.order_by(Redemption.created_at, Redemption.id)))
    return len(ids), ids[:MAX_REDEMPTIONS_KEPT]


def _venue_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    ids = set(ids)
    return dict(session.execute(select(Venue.id, Venue.nom).where(Venue.id.in_(ids))).tuples().all()) if ids else {}


def _at(moment: datetime) -> str:
    local = moment.astimezone(PARIS_TZ)
    return f"{local:%d/%m/%Y} à {local:%H} h {local:%M}"


def _n(value: float, digits: int = 0) -> str:
    return french.number(value, digits)


# ---------------------------------------------------------------------------------- rules


def _hourly_volume(session: Session, start: datetime, end: datetime, settings: SignalSettings) -> list[Found]:
    bucket = _hour_bucket(session, Redemption.created_at)
    rows = session.execute(
        select(Redemption.venue_id, bucket, func.count()).where(*_active(start, end))
        .group_by(Redemption.venue_id, bucket).having(func.count() > settings.max_per_hour)
    ).all()
    names = _venue_names(session, (r[0] for r in rows))
    found = []
    for venue_id, hour, count in rows:
        hour = _utc(hour)
        _, ids = _ids(session, select(Redemption.id).where(
            Redemption.venue_id == venue_id, *_active(hour, hour + timedelta(hours=1))))
        local = hour.astimezone(PARIS_TZ)
        found.append(Found(
            SignalKind.HOURLY_VOLUME, f"hourly_volume:venue:{venue_id}:{hour:%Y-%m-%dT%H}", hour,
            hour + timedelta(hours=1),
            f"Plus de {settings.max_per_hour} encaissements en une heure dans un lieu (APTIC_SIGNAL_MAX_PER_HOUR).",
            f"« {names[venue_id]} » a encaissé {count} prestations le {local:%d/%m/%Y} entre {local:%H} h et "
            f"{(local + timedelta(hours=1)):%H} h, au-delà des {settings.max_per_hour} par heure qu'une équipe peut servir.",
            {"redemptions": count, "threshold": settings.max_per_hour}, ids, venue_id=venue_id))
    return found


def _unusual_volume(session: Session, start: datetime, end: datetime, settings: SignalSettings) -> list[Found]:
    day = _paris_day(session, Redemption.created_at)
    baseline_start = start - timedelta(days=settings.baseline_days)
    rows = session.execute(
        select(Redemption.venue_id, day, func.count()).where(*_active(baseline_start, end))
        .group_by(Redemption.venue_id, day)
    ).all()
    daily: dict[int, dict[date, int]] = defaultdict(dict)
    for venue_id, on, count in rows:
        daily[venue_id][_day(on)] = count
    first_day = start.astimezone(PARIS_TZ).date()
    candidates = []
    for venue_id, days in daily.items():
        history = min(days)  # a venue's usual volume counts from its first redemption seen
        for on, count in days.items():
            if on < first_day or count < settings.unusual_min_day:
                continue
            since = max(on - timedelta(days=settings.baseline_days), history)
            span = (on - since).days
            if span < MIN_HISTORY_DAYS:
                continue  # no usual volume yet: the hourly rule still watches a new venue
            usual = sum(n for d, n in days.items() if since <= d < on) / span
            if count > settings.unusual_factor * usual:
                candidates.append((venue_id, on, count, usual, span))
    names = _venue_names(session, (c[0] for c in candidates))
    found = []
    for venue_id, on, count, usual, span in candidates:
        day_start, day_end = _paris_midnight(on), _paris_midnight(on + timedelta(days=1))
        _, ids = _ids(session, select(Redemption.id).where(Redemption.venue_id == venue_id, *_active(day_start, day_end)))
        found.append(Found(
            SignalKind.UNUSUAL_VOLUME, f"unusual_volume:venue:{venue_id}:{on.isoformat()}", day_start, day_end,
            f"Une journée à plus de {_n(settings.unusual_factor, 1)} fois le volume quotidien habituel du lieu "
            f"(moyenne sur au plus {settings.baseline_days} jours d'historique) et d'au moins {settings.unusual_min_day} encaissements.",
            f"« {names[venue_id]} » a encaissé {count} prestations le {on:%d/%m/%Y}, contre {_n(usual, 1)} par jour "
            f"en moyenne sur les {span} jours précédents.",
            {"redemptions": count, "usual_per_day": round(usual, 2), "baseline_days": span,
             "factor": settings.unusual_factor},
            ids, venue_id=venue_id))
    return found


@lru_cache(maxsize=65536)
def _open_periods(horaires: str, code_prefix: str, on: date, grace: timedelta) -> tuple[tuple[datetime, datetime], ...] | None:
    """The periods of a local day when the hours do not say closed, widened by the grace; venues sharing their
    hours and time zone (the département: overseas ones have their own) share the computation."""
    venue = SimpleNamespace(horaires=horaires, code_insee=code_prefix)
    hours = directory_api.venue_hours(venue)
    if hours is None:
        return None
    day_start = datetime.combine(on, time(), directory_api.venue_timezone(venue))
    return tuple(
        (_utc(period_start) - grace, _utc(period_end) + grace)
        for period_start, period_end, state, _ in hours.intervals(day_start - grace, day_start + timedelta(days=1) + grace)
        if state != opening_hours.State.CLOSED
    )


# The open periods of the venues and days being judged, keyed by venue and Paris day so that one hash
# anti-join finds the redemptions outside them.
_PERIODS = Table("tmp_signal_open_period", MetaData(), Column("venue_id", Integer), Column("day", Date),
                 Column("starts", UTCDateTime()), Column("ends", UTCDateTime()), prefixes=["TEMPORARY"])


def _outside_hours(session: Session, start: datetime, end: datetime, settings: SignalSettings) -> list[Found]:
    venue_ids = select(distinct(Redemption.venue_id)).where(*_active(start, end)).scalar_subquery()
    venues = {v.id: v for v in session.scalars(select(Venue).where(Venue.id.in_(venue_ids),
                                                                   Venue.horaires.is_not(None), Venue.horaires != ""))}
    venues = {vid: v for vid, v in venues.items() if directory_api.venue_hours(v) is not None}
    if not venues:
        return []
    grace = timedelta(minutes=settings.hours_grace_minutes)
    first, last = start.astimezone(PARIS_TZ).date() - timedelta(days=1), end.astimezone(PARIS_TZ).date() + timedelta(days=1)
    periods = []
    for venue_id, venue in venues.items():
        prefix = (venue.code_insee or "")[:3]
        on = first
        while on <= last:
            for period_start, period_end in _open_periods(venue.horaires, prefix, on, grace) or ():
                for day in {period_start.astimezone(PARIS_TZ).date(),
                            (period_end - timedelta(microseconds=1)).astimezone(PARIS_TZ).date()}:
                    periods.append({"venue_id": venue_id, "day": day, "starts": period_start, "ends": period_end})
            on += timedelta(days=1)
    connection = session.connection()
    _PERIODS.drop(connection, checkfirst=True)
    _PERIODS.create(connection)
    try:
        insert_rows(session, _PERIODS, periods)
        if dialect_name(session) == "postgresql":
            session.execute(text(f"ANALYZE {_PERIODS.name}"))
        covered = exists().where(_PERIODS.c.venue_id == Redemption.venue_id,
                                 _PERIODS.c.day == _paris_day(session, Redemption.created_at),
                                 _PERIODS.c.starts <= Redemption.created_at, _PERIODS.c.ends > Redemption.created_at)
        rows = session.execute(
            select(Redemption.id, Redemption.venue_id, Redemption.created_at)
            .where(Redemption.venue_id.in_(list(venues)), *_active(start, end), ~covered)
        ).all()
    finally:
        _PERIODS.drop(connection)
    outside: dict[tuple[int, date], list[tuple[int, datetime]]] = defaultdict(list)
    for redemption_id, venue_id, created_at in rows:
        outside[(venue_id, created_at.astimezone(PARIS_TZ).date())].append((redemption_id, created_at))
    found = []
    for (venue_id, on), items in sorted(outside.items()):
        items.sort(key=lambda item: item[1])
        venue = venues[venue_id]
        times = ", ".join(f"{at.astimezone(PARIS_TZ):%H} h {at.astimezone(PARIS_TZ):%M}" for _, at in items[:5])
        found.append(Found(
            SignalKind.OUTSIDE_HOURS, f"outside_hours:venue:{venue_id}:{on.isoformat()}",
            _paris_midnight(on), _paris_midnight(on + timedelta(days=1)),
            f"Un encaissement à plus de {settings.hours_grace_minutes} minutes des horaires d'ouverture déclarés "
            "par le lieu (APTIC_SIGNAL_HOURS_GRACE_MINUTES).",
            f"« {venue.nom} » a encaissé {len(items)} prestation{'s' if len(items) > 1 else ''} le {on:%d/%m/%Y} hors de "
            f"ses horaires d'ouverture (« {venue.horaires} ») : {times}{'…' if len(items) > 5 else ''}.",
            {"redemptions": len(items), "opening_hours": venue.horaires, "grace_minutes": settings.hours_grace_minutes},
            [rid for rid, _ in items[:MAX_REDEMPTIONS_KEPT]], venue_id=venue_id))
    return found


def _far_apart(session: Session, start: datetime, end: datetime, settings: SignalSettings) -> list[Found]:
    day = _paris_day(session, Redemption.created_at)
    # min <> max: at least two venues, without the sort a count(DISTINCT) costs; a third venue is rare,
    # and read only for those days
    groups = session.execute(
        select(Redemption.booklet_id, day, func.min(Redemption.venue_id), func.max(Redemption.venue_id), func.count())
        .where(*_active(start, end)).group_by(Redemption.booklet_id, day)
        .having(func.min(Redemption.venue_id) != func.max(Redemption.venue_id))
    ).all()
    by_day: dict[tuple[int, date], set[int]] = {}
    for booklet_id, on, low, high, _ in groups:
        by_day[(booklet_id, _day(on))] = {low, high}
    busy = [key for key, (*_, count) in zip(by_day, groups, strict=True) if count > 2]
    for offset in range(0, len(busy), 500):
        chunk = busy[offset:offset + 500]
        for booklet_id, venue_id, at in session.execute(
            select(Redemption.booklet_id, Redemption.venue_id, Redemption.created_at)
            .where(Redemption.booklet_id.in_({b for b, _ in chunk}), *_active(start, end))
        ):
            key = (booklet_id, at.astimezone(PARIS_TZ).date())
            if key in by_day:
                by_day[key].add(venue_id)
    triples = [(b, on, v) for (b, on), venue_ids in by_day.items() for v in venue_ids]
    points = {v.id: directory_api.venue_coordinates(v) for v in session.scalars(
        select(Venue).where(Venue.id.in_({venue_id for _, _, venue_id in triples})))} if triples else {}
    flagged = []
    for (booklet_id, on), venue_ids in sorted(by_day.items()):
        located = sorted(v for v in venue_ids if points.get(v))
        best = max(((float(haversine_m(*points[a], *points[b])), a, b)
                    for index, a in enumerate(located) for b in located[index + 1:]), default=None)
        if best is not None and best[0] > settings.far_apart_km * 1000:
            flagged.append((booklet_id, on, best, len(venue_ids)))
    if not flagged:
        return []
    names = _venue_names(session, {v for _, _, best, _ in flagged for v in best[1:]})
    numbers = dict(session.execute(select(Booklet.id, Booklet.number)
                                   .where(Booklet.id.in_({f[0] for f in flagged}))).tuples().all())
    found = []
    for booklet_id, on, (metres, a, b), venue_count in flagged:
        day_start, day_end = _paris_midnight(on), _paris_midnight(on + timedelta(days=1))
        rows = session.execute(select(Redemption.id, Redemption.venue_id, Redemption.created_at).where(
            Redemption.booklet_id == booklet_id, *_active(day_start, day_end)).order_by(Redemption.created_at)).all()
        when = {venue_id: at.astimezone(PARIS_TZ) for _, venue_id, at in reversed(rows)}  # first time at each venue
        first, second = sorted((a, b), key=lambda v: when[v])
        found.append(Found(
            SignalKind.FAR_APART, f"far_apart:booklet:{booklet_id}:{on.isoformat()}", day_start, day_end,
            f"Un même carnet encaissé le même jour dans des lieux distants de plus de {_n(settings.far_apart_km)} km "
            "(APTIC_SIGNAL_FAR_APART_KM).",
            f"Le carnet n° {numbers[booklet_id]} a été encaissé le {on:%d/%m/%Y} à « {names[first]} » "
            f"({when[first]:%H} h {when[first]:%M}) puis à « {names[second]} » ({when[second]:%H} h "
            f"{when[second]:%M}), à {_n(metres / 1000)} km de distance.",
            {"distance_km": round(metres / 1000, 1), "venues": venue_count, "threshold_km": settings.far_apart_km},
            [r.id for r in rows], venue_id=second, booklet_id=booklet_id))
    return found


def _refusal_bursts(session: Session, start: datetime, end: datetime, settings: SignalSettings) -> list[Found]:
    bucket = _hour_bucket(session, ScanRefusal.created_at)
    rows = session.execute(
        select(ScanRefusal.actor, bucket, func.count(), func.min(ScanRefusal.venue_id))
        .where(ScanRefusal.created_at >= start, ScanRefusal.created_at < end)
        .group_by(ScanRefusal.actor, bucket).having(func.count() >= settings.refusals_per_hour)
    ).all()
    names = _venue_names(session, (r[3] for r in rows))
    found = []
    for actor, hour, count, venue_id in rows:
        hour = _utc(hour)
        codes = dict(session.execute(
            select(ScanRefusal.code, func.count()).where(ScanRefusal.actor == actor, ScanRefusal.created_at >= hour,
                                                         ScanRefusal.created_at < hour + timedelta(hours=1))
            .group_by(ScanRefusal.code)
        ).all())
        local = hour.astimezone(PARIS_TZ)
        reasons = ", ".join(f"{n} « {code} »" for code, n in sorted(codes.items(), key=lambda item: -item[1]))
        found.append(Found(
            SignalKind.REFUSAL_BURST, f"refusal_burst:{actor}:{hour:%Y-%m-%dT%H}", hour, hour + timedelta(hours=1),
            f"Au moins {settings.refusals_per_hour} scans refusés en une heure sur une même clé d'API "
            "(APTIC_SIGNAL_REFUSALS_PER_HOUR) : des codes essayés au hasard ?",
            f"La clé {actor.removeprefix('api_key:')} de « {names.get(venue_id, '?')} » a vu {count} scans refusés le "
            f"{local:%d/%m/%Y} entre {local:%H} h et {(local + timedelta(hours=1)):%H} h ({reasons}).",
            {"refusals": count, "codes": codes, "threshold": settings.refusals_per_hour}, [],
            venue_id=venue_id, actor=actor))
    return found


def _venue_profiles(session: Session, end: datetime, settings: SignalSettings) -> list[Found]:
    """Over the last `profile_days`: venues living off one distributor's booklets, or off booklets just handed out."""
    start = end - timedelta(days=settings.profile_days)
    month = end.astimezone(PARIS_TZ).strftime("%Y-%m")
    rows = session.execute(
        select(Redemption.venue_id, Booklet.distributor_id, func.count(),
               func.sum(case((_minutes_between(session, Redemption.created_at, Booklet.distributed_at)
                              < settings.quick_minutes, 1), else_=0)))
        .join(Booklet, Booklet.id == Redemption.booklet_id).where(*_active(start, end))
        .group_by(Redemption.venue_id, Booklet.distributor_id)
    ).all()
    totals: dict[int, int] = defaultdict(int)
    quick: dict[int, int] = defaultdict(int)
    per_distributor: dict[int, int] = defaultdict(int)
    for venue_id, distributor_id, count, quick_count in rows:
        totals[venue_id] += count
        quick[venue_id] += quick_count or 0
        if distributor_id is not None:
            per_distributor[distributor_id] += count
    overall = sum(per_distributor.values())
    flagged = []
    for venue_id, distributor_id, count, _ in rows:
        if distributor_id is None or totals[venue_id] < settings.concentration_min:
            continue
        share, weight = count / totals[venue_id], per_distributor[distributor_id] / overall
        if share >= settings.concentration_share and weight <= settings.concentration_overall_share:
            flagged.append(("concentration", venue_id, distributor_id, count, share, weight))
    for venue_id, count in quick.items():
        share = count / totals[venue_id]
        if count >= settings.quick_min and share >= settings.quick_share:
            flagged.append(("quick", venue_id, None, count, share, 0.0))
    names = _venue_names(session, (f[1] for f in flagged))
    distributors = dict(session.execute(select(Organisation.id, Organisation.name)
                                        .where(Organisation.id.in_({f[2] for f in flagged if f[2]}))).tuples().all())
    found = []
    for what, venue_id, distributor_id, count, share, weight in flagged:
        if what == "concentration":
            _, ids = _ids(session, select(Redemption.id).join(Booklet, Booklet.id == Redemption.booklet_id).where(
                Redemption.venue_id == venue_id, Booklet.distributor_id == distributor_id, *_active(start, end)))
            found.append(Found(
                SignalKind.DISTRIBUTOR_CONCENTRATION, f"distributor_concentration:venue:{venue_id}:{month}", start, end,
                f"Au moins {_n(settings.concentration_share * 100)} % des encaissements d'un lieu (sur "
                f"{settings.profile_days} jours, {settings.concentration_min} au moins) viennent des carnets d'un seul "
                f"aiguilleur, qui pèse au plus {_n(settings.concentration_overall_share * 100)} % de l'ensemble.",
                f"{_n(share * 100)} % des {totals[venue_id]} encaissements de « {names[venue_id]} » sur "
                f"{settings.profile_days} jours viennent de carnets remis par « {distributors[distributor_id]} », qui "
                f"ne pèse que {_n(weight * 100)} % de l'ensemble des encaissements.",
                {"redemptions": totals[venue_id], "from_distributor": count, "share": round(share, 3),
                 "distributor_overall_share": round(weight, 3), "distributor_id": distributor_id}, ids, venue_id=venue_id))
        else:
            minutes = _minutes_between(session, Redemption.created_at, Booklet.distributed_at)
            _, ids = _ids(session, select(Redemption.id).join(Booklet, Booklet.id == Redemption.booklet_id).where(
                Redemption.venue_id == venue_id, minutes < settings.quick_minutes, *_active(start, end)))
            found.append(Found(
                SignalKind.QUICK_AFTER_DISTRIBUTION, f"quick_after_distribution:venue:{venue_id}:{month}", start, end,
                f"Au moins {settings.quick_min} encaissements d'un lieu, et {_n(settings.quick_share * 100)} % des siens "
                f"sur {settings.profile_days} jours, moins de {settings.quick_minutes} minutes après la remise du carnet.",
                f"« {names[venue_id]} » a encaissé {count} de ses {totals[venue_id]} prestations ({_n(share * 100)} %) "
                f"moins de {settings.quick_minutes} minutes après la remise du carnet au bénéficiaire.",
                {"redemptions": totals[venue_id], "quick": count, "share": round(share, 3),
                 "minutes": settings.quick_minutes}, ids, venue_id=venue_id))
    return found


def find_signals(session: Session, start: datetime, end: datetime, settings: SignalSettings | None = None) -> list[Found]:
    """Every rule over [start, end) (the venue-profile rules over the `profile_days` before `end`)."""
    settings = settings or SignalSettings.from_environ()
    return [
        *_hourly_volume(session, start, end, settings),
        *_unusual_volume(session, start, end, settings),
        *_outside_hours(session, start, end, settings),
        *_far_apart(session, start, end, settings),
        *_refusal_bursts(session, start, end, settings),
        *_venue_profiles(session, end, settings),
    ]
