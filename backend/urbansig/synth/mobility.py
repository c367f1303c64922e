"""Users, their daily schedules, trips (walk, car/bus, subway) and GPS-like trajectories.

Homes are drawn by resident population, workplaces by jobs, student places by university
share. Each user follows a schedule for its kind; a trip uses the subway when a line
connects stations near both ends and saves distance, otherwise walks (short) or drives.
GPS fixes come every 1-10 minutes (denser while moving), with ~20 m noise, gaps when the
phone is off and none underground.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from urbansig.synth.grid import CityGrid
from urbansig.synth.landuse import BUSINESS, COMMERCIAL, PARK, UNIVERSITY
from urbansig.synth.network import Network
from urbansig.synth.population import Population

TZ = ZoneInfo("Europe/Paris")
KINDS = ("commuter", "non_commuter", "shift_worker", "student")
KIND_SHARES = np.array([0.5, 0.2, 0.12, 0.18])
WALK, DRIVE, SUBWAY_SPEED = 1.3, 6.0, 9.0  # m/s (city driving; subway includes stops)
PARKING = 300.0  # seconds lost finding a parking space
GPS_NOISE = 20.0  # metres


@dataclass
class Users:
    """Per-user attributes (EPSG:27572 coordinates; NaN work for non-commuters)."""

    kind: np.ndarray  # int index into KINDS
    home: np.ndarray  # (n, 2)
    work: np.ndarray  # (n, 2)
    shift: np.ndarray  # shift start hour for shift workers

    @property
    def ids(self) -> list[str]:
        return [f"u{i:04d}" for i in range(len(self.kind))]


@dataclass
class Movement:
    """Trajectory points (UTC seconds, EPSG:27572) and trips of every user."""

    user: list[np.ndarray] = field(default_factory=list)
    t: list[np.ndarray] = field(default_factory=list)
    x: list[np.ndarray] = field(default_factory=list)
    y: list[np.ndarray] = field(default_factory=list)
    trips: list[tuple] = field(default_factory=list)  # (user, depart, arrive, ox, oy, dx, dy, mode)
    boardings: list[tuple[int, float]] = field(default_factory=list)  # (station, utc seconds)


def make_users(
    grid: CityGrid,
    membership: np.ndarray,
    pop: Population,
    n_users: int,
    rng: np.random.Generator,
) -> Users:
    """Kinds, homes (by residents), workplaces (by jobs) and student places (by university)."""
    kind = rng.choice(len(KINDS), size=n_users, p=KIND_SHARES)
    cx, cy = grid.centres()
    home_t = rng.choice(grid.n_tiles, n_users, p=_norm(pop.residents.astype(float)))
    job_w = pop.jobs * (1 + 2 * membership[:, BUSINESS])
    work_t = rng.choice(grid.n_tiles, n_users, p=_norm(job_w))
    uni_w = membership[:, UNIVERSITY] ** 2
    # a city without a university: students go where the jobs are
    uni_t = rng.choice(grid.n_tiles, n_users, p=_norm(uni_w if uni_w.sum() > 0 else job_w))
    work_t = np.where(kind == 3, uni_t, work_t)
    jitter = rng.uniform(-0.45, 0.45, (n_users, 4)) * grid.cell
    home = np.c_[cx[home_t] + jitter[:, 0], cy[home_t] + jitter[:, 1]]
    work = np.c_[cx[work_t] + jitter[:, 2], cy[work_t] + jitter[:, 3]]
    work[kind == 1] = np.nan
    shift = rng.choice([6.0, 14.0, 22.0], n_users)
    return Users(kind, home, work, shift)


def _norm(w: np.ndarray) -> np.ndarray:
    w = np.clip(np.asarray(w, dtype=float), 0, None)
    return w / w.sum()


def _utc(day: dt.date, hour: float) -> float:
    """UTC epoch seconds of local clock ``hour`` (may exceed 24) on ``day`` in Europe/Paris."""
    base = dt.datetime(day.year, day.month, day.day) + dt.timedelta(hours=hour)
    return base.replace(tzinfo=TZ).timestamp()


class Planner:
    """Builds each user's trips and GPS fixes over the simulated days."""

    def __init__(
        self,
        grid: CityGrid,
        network: Network,
        membership: np.ndarray,
        pop: Population,
        start: dt.date,
        days: int,
    ) -> None:
        self.grid, self.net, self.start, self.days = grid, network, start, days
        cx, cy = grid.centres()
        leisure = (membership[:, COMMERCIAL] + 0.6 * membership[:, PARK]) * np.clip(
            pop.activity, 0.1, 5
        )
        self.leisure_w = _norm(leisure)
        self.cx, self.cy = cx, cy
        self.lines = [network.line_stations(k) for k in range(network.n_lines)]

    def leisure_place(self, near: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        cand = rng.choice(len(self.cx), 40, p=self.leisure_w)
        d = np.hypot(self.cx[cand] - near[0], self.cy[cand] - near[1])
        pick = cand[np.argmax(-d / 2500.0 + rng.gumbel(size=len(cand)))]
        return np.array([self.cx[pick], self.cy[pick]]) + rng.uniform(-45, 45, 2)

    def schedule(
        self, kind: int, home: np.ndarray, work: np.ndarray, shift: float, rng
    ) -> list[tuple[float, np.ndarray]]:
        """(UTC departure, destination) pairs over all days, in time order."""
        plan: list[tuple[float, np.ndarray]] = []
        for d in range(self.days):
            day = self.start + dt.timedelta(days=d)
            dow = day.weekday()
            working = dow < 5
            if kind == 0 and working:  # commuter
                plan.append((_utc(day, rng.normal(8.0, 0.6)), work))
                if rng.uniform() < 0.3:
                    lunch = self.leisure_place(work, rng)
                    plan.append((_utc(day, rng.normal(12.3, 0.2)), lunch))
                    plan.append((_utc(day, rng.normal(13.4, 0.15)), work))
                plan.append((_utc(day, rng.normal(17.8, 0.7)), home))
                if rng.uniform() < 0.3:
                    plan.append((_utc(day, rng.normal(20.0, 0.5)), self.leisure_place(home, rng)))
                    plan.append((_utc(day, rng.normal(23.0, 0.6)), home))
            elif kind == 2 and working:  # shift worker
                plan.append((_utc(day, shift - 0.7 + rng.normal(0, 0.15)), work))
                plan.append((_utc(day, shift + 8.1 + rng.normal(0, 0.2)), home))
            elif kind == 3 and working:  # student
                plan.append((_utc(day, rng.normal(8.8, 0.5)), work))
                end = 12.5 if dow == 2 else rng.normal(16.8, 0.8)
                plan.append((_utc(day, end), home))
                if rng.uniform() < 0.4:
                    plan.append((_utc(day, rng.normal(20.5, 0.6)), self.leisure_place(home, rng)))
                    plan.append((_utc(day, rng.normal(24.2, 0.7)), home))
            else:  # non-commuters, and everybody at weekends
                t = rng.uniform(9.5, 14.0)
                for _ in range(int(rng.integers(1, 4))):
                    if t > 21:
                        break
                    plan.append((_utc(day, t), self.leisure_place(home, rng)))
                    t += rng.uniform(1.0, 3.0)
                    plan.append((_utc(day, t), home))
                    t += rng.uniform(0.5, 2.5)
        plan.sort(key=lambda p: p[0])
        return plan

    def route(
        self, a: np.ndarray, b: np.ndarray, depart: float, rng
    ) -> tuple[list[tuple[float, float, float, bool]], str, int | None]:
        """Knots (t, x, y, visible after this knot) from a to b, the mode and boarding station."""
        dist = float(np.hypot(*(b - a)))
        best = self._subway(a, b, dist, rng.uniform(1.0, 1.8))
        if best is not None:
            s1, s2, ride = best
            p1 = np.array([self.net.x[s1], self.net.y[s1]])
            p2 = np.array([self.net.x[s2], self.net.y[s2]])
            t1 = depart + np.hypot(*(p1 - a)) * 1.3 / WALK
            t2 = t1 + rng.uniform(120, 360)  # waiting on the platform
            t3 = t2 + ride / SUBWAY_SPEED
            t4 = t3 + np.hypot(*(b - p2)) * 1.3 / WALK
            knots = [
                (depart, *a, True),
                (t1, *p1, True),
                (t2, *p1, False),  # underground: no fixes while riding
                (t3, *p2, True),
                (t4, *b, True),
            ]
            return knots, "subway", int(s1)
        speed = WALK if dist < 1500 else DRIVE * rng.uniform(0.8, 1.25)
        corner = np.array([a[0], b[1]]) if rng.uniform() < 0.5 else np.array([b[0], a[1]])
        leg1 = float(np.hypot(*(corner - a)))
        total = leg1 + float(np.hypot(*(b - corner)))
        t_mid = depart + leg1 / speed
        t_end = depart + total / speed + (0.0 if speed == WALK else PARKING)
        knots = [(depart, *a, True), (t_mid, *corner, True), (t_end, *b, True)]
        return knots, ("walk" if speed == WALK else "drive"), None

    def _subway(
        self, a: np.ndarray, b: np.ndarray, dist: float, preference: float
    ) -> tuple[int, int, float] | None:
        """Boarding and alighting stations and ride length, if the subway is worth it.

        ``preference`` > 1 is how much longer than driving a user accepts the subway to be.
        """
        if dist < 1200:
            return None
        best, best_cost = None, (dist * 1.2 / DRIVE + PARKING) * preference
        for idx in self.lines:
            xs, ys = self.net.x[idx], self.net.y[idx]
            da = np.hypot(xs - a[0], ys - a[1])
            db = np.hypot(xs - b[0], ys - b[1])
            i, j = int(np.argmin(da)), int(np.argmin(db))
            if i == j or da[i] > 1200 or db[j] > 1200:
                continue
            lo, hi = min(i, j), max(i, j)
            ride = float(np.hypot(np.diff(xs[lo : hi + 1]), np.diff(ys[lo : hi + 1])).sum())
            cost = (da[i] + db[j]) * 1.2 / WALK + 240 + ride / SUBWAY_SPEED
            if cost < best_cost:
                best, best_cost = (int(idx[i]), int(idx[j]), ride), cost
        return best


def simulate(
    grid: CityGrid,
    network: Network,
    membership: np.ndarray,
    pop: Population,
    users: Users,
    start: dt.date,
    days: int,
    seed: int,
    check_cancelled: Callable[[], None],
    progress: Callable[[float, str], None],
) -> Movement:
    """Trips and GPS fixes for every user; each user has its own random stream."""
    planner = Planner(grid, network, membership, pop, start, days)
    t_start, t_end = _utc(start, 0.0), _utc(start + dt.timedelta(days=days), 0.0)
    out = Movement()
    n = len(users.kind)
    for u in range(n):
        if u % 20 == 0:
            check_cancelled()
            progress(u / n, f"Trajectories of user {u + 1}/{n}")
        rng = np.random.default_rng([seed, 9001, u])
        home, work = users.home[u], users.work[u]
        plan = planner.schedule(int(users.kind[u]), home, work, float(users.shift[u]), rng)
        knots: list[tuple[float, float, float, bool]] = [(t_start, *home, True)]
        here = home
        for depart, dest in plan:
            if depart <= knots[-1][0] + 300 or np.array_equal(dest, here):
                continue
            leg, mode, station = planner.route(here, dest, depart, rng)
            if leg[-1][0] >= t_end:
                break
            out.trips.append((u, depart, leg[-1][0], *here, *dest, mode))
            if station is not None:
                out.boardings.append((station, leg[1][0]))
            knots.extend(leg)
            here = dest
        knots.append((t_end - 1, *here, True))
        _fixes(out, u, np.array(knots, dtype=float), t_start, t_end, rng)
    progress(1.0, "Trajectories done")
    return out


def _fixes(out: Movement, u: int, knots: np.ndarray, t0: float, t1: float, rng) -> None:
    """Irregular GPS fixes along the knots: 1-10 min apart, 20-90 s while moving, gaps."""
    kt, kx, ky, vis = knots[:, 0], knots[:, 1], knots[:, 2], knots[:, 3] > 0.5
    n_base = int((t1 - t0) / 60 / 4) + 10
    base = t0 + np.cumsum(rng.uniform(60, 600, n_base))
    moving_parts = []
    for i in range(len(kt) - 1):
        moved = kx[i] != kx[i + 1] or ky[i] != ky[i + 1]
        if moved and vis[i] and kt[i + 1] > kt[i]:
            n_m = int((kt[i + 1] - kt[i]) / 20) + 2
            moving_parts.append(kt[i] + np.cumsum(rng.uniform(20, 90, n_m)))
            moving_parts[-1] = moving_parts[-1][moving_parts[-1] < kt[i + 1]]
    times = np.sort(np.concatenate([base, *moving_parts]))
    times = times[(times >= t0) & (times < t1)]
    seg = np.clip(np.searchsorted(kt, times, side="right") - 1, 0, len(kt) - 1)
    keep = vis[seg]
    # Phone off: a few gaps of 1-4 hours per week, and sparser fixes at night.
    for _ in range(int(rng.poisson((t1 - t0) / 86400 * 0.4))):
        g0 = rng.uniform(t0, t1)
        keep &= ~((times >= g0) & (times < g0 + rng.uniform(3600, 14400)))
    keep &= rng.uniform(size=len(times)) > 0.05
    # The phone reports less at night (00:30-06:00 local time) while it lies still.
    local = pd.to_datetime(times.astype("int64"), unit="s", utc=True).tz_convert(TZ)
    hour = local.hour.to_numpy() + local.minute.to_numpy() / 60.0
    night = (hour >= 0.5) & (hour < 6.0) & ~np.isin(times, np.concatenate([[], *moving_parts]))
    keep &= ~night | (rng.uniform(size=len(times)) < 0.35)
    times = np.round(times[keep])
    x = np.interp(times, kt, kx) + rng.normal(0, GPS_NOISE, len(times))
    y = np.interp(times, kt, ky) + rng.normal(0, GPS_NOISE, len(times))
    times, first = np.unique(times, return_index=True)
    out.user.append(np.full(len(times), u))
    out.t.append(times)
    out.x.append(x[first])
    out.y.append(y[first])


def points_frame(move: Movement, users: Users) -> pd.DataFrame:
    """user_id, utc seconds, x, y of every fix (sorted by user then time)."""
    ids = np.array(users.ids)
    return pd.DataFrame(
        {
            "user_id": ids[np.concatenate(move.user)] if move.user else [],
            "t": np.concatenate(move.t) if move.t else [],
            "x": np.concatenate(move.x) if move.x else [],
            "y": np.concatenate(move.y) if move.y else [],
        }
    )


def iso_local(seconds: np.ndarray) -> np.ndarray:
    """ISO 8601 local (Europe/Paris) times with their UTC offset, e.g. 2019-03-25T08:01:10+01:00."""
    utc = pd.to_datetime(np.asarray(seconds, dtype="int64"), unit="s", utc=True)
    local = utc.tz_convert(TZ).tz_localize(None)
    offset = (local.to_numpy() - utc.tz_localize(None).to_numpy()).astype("timedelta64[s]")
    hours = offset.astype(np.int64) // 3600
    text = np.datetime_as_string(local.to_numpy().astype("datetime64[s]"), unit="s")
    sign = np.where(hours >= 0, "+", "-")
    suffix = np.char.add(sign, np.char.add(np.char.zfill(np.abs(hours).astype(str), 2), ":00"))
    return np.char.add(text.astype(str), suffix)
