"""Daily and weekly rhythms: when each land use is active and when each service is used.

Curves are sampled at the 96 quarter hours of a day (local time) for each day of the week
(0 = Monday). Traffic of service ``s`` in a tile of class ``k`` on day ``d`` follows
``presence[k, d] * usage[s, d] * mix[k, s]``: the land-use signature is in the *shape* of the
per-service weekly profiles, not in their volume.
"""

from __future__ import annotations

import numpy as np

SERVICES = (
    "YouTube",
    "Netflix",
    "WhatsApp",
    "Instagram",
    "Spotify",
    "Deezer",
    "Google_Maps",
    "Waze",
    "Fortnite",
    "Clash_of_Clans",
    "Microsoft_Mail",
    "Gmail",
    "LinkedIn",
    "Teams",
    "Web_e-Commerce",
    "Uber",
)
HOURS = (np.arange(96) + 0.5) / 4.0  # centre of each quarter hour
WEEKDAY, FRIDAY, SATURDAY, SUNDAY = "weekday", "friday", "saturday", "sunday"

# Mean downlink volume per unit of activity, and uplink / downlink ratio, per service.
VOLUME = np.array([9.0, 12.0, 2.0, 5.0, 2.5, 1.2, 1.5, 1.0, 2.2, 0.8, 0.9, 1.0, 0.6, 2.0, 1.4, 0.5])
UPLINK = np.array(
    [0.04, 0.03, 0.7, 0.25, 0.05, 0.05, 0.3, 0.35, 0.25, 0.3, 0.3, 0.25, 0.2, 0.6, 0.15, 0.4]
)


def bump(center: float, width: float, hours: np.ndarray = HOURS) -> np.ndarray:
    """A Gaussian bump over the day, wrapping around midnight."""
    d = np.abs(hours - center)
    d = np.minimum(d, 24.0 - d)
    return np.exp(-0.5 * (d / width) ** 2)


def plateau(start: float, end: float, edge: float = 0.6, hours: np.ndarray = HOURS) -> np.ndarray:
    """A smooth on/off window between ``start`` and ``end`` hours (end may exceed 24)."""
    h = np.where(hours < start - 6, hours + 24, hours)
    return 1 / (1 + np.exp(-(h - start) / (edge / 2))) / (1 + np.exp((h - end) / (edge / 2)))


def day_kind(dow: int) -> str:
    return {4: FRIDAY, 5: SATURDAY, 6: SUNDAY}.get(dow, WEEKDAY)


def _awake(kind: str) -> np.ndarray:
    wake = 7.0 if kind in (WEEKDAY, FRIDAY) else 8.5
    sleep = 24.3 if kind in (FRIDAY, SATURDAY) else 23.5
    return 0.08 + plateau(wake, sleep, 1.2)


def presence(klass: int, dow: int) -> np.ndarray:
    """Activity curve of a land-use class (order of LAND_USES) on a day of the week."""
    kind = day_kind(dow)
    work = kind in (WEEKDAY, FRIDAY)
    if klass == 0:  # dense residential: away in the day on working days, evening peak
        base = _awake(kind) * (1 - (0.4 if work else 0.05) * plateau(9, 17, 1.5))
        return base + 0.5 * bump(21.0, 1.6) + (0.0 if work else 0.25 * bump(11, 2))
    if klass == 1:  # business district: office hours only on working days
        if work:
            end = 17.5 if kind == FRIDAY else 18.5
            return 0.05 + plateau(8.3, end, 0.8) * (1 + 0.25 * bump(12.5, 0.7)) + 0.1 * _awake(kind)
        return 0.05 + 0.15 * plateau(10, 18, 1.5)
    if klass == 2:  # commercial and nightlife: afternoons, evenings, late weekend nights
        late = 27.0 if kind in (FRIDAY, SATURDAY) else 24.0
        shops = 0.0 if kind == SUNDAY else 0.6
        return (
            0.06
            + shops * plateau(10, 19.5, 1.0)
            + 0.7 * plateau(18.5, late, 1.2) * (1.4 if kind in (FRIDAY, SATURDAY) else 0.8)
            + 0.3 * bump(12.8, 0.9)
        )
    if klass == 3:  # university: lectures on weekdays, Wednesday and Friday afternoons lighter
        if work:
            end = 16.0 if dow in (2, 4) else 18.0
            return 0.05 + plateau(8.2, end, 0.7) * (1 + 0.5 * bump(12.3, 0.6)) + 0.2 * bump(21, 2)
        return 0.06 + 0.12 * plateau(11, 22, 2.0)
    if klass == 4:  # parks: lunch and after work on weekdays, whole afternoons at weekends
        if work:
            return 0.03 + 0.35 * bump(12.8, 0.8) + 0.5 * bump(18.0, 1.2)
        return 0.03 + plateau(10.5, 19.5, 1.8) * (1.2 if kind == SUNDAY else 1.0)
    if klass == 5:  # suburban residential: early commute, empty days, early evenings
        wake = 6.2 if work else 8.3
        base = 0.06 + plateau(wake, 22.8, 1.0) * (1 - (0.6 if work else 0.0) * plateau(8, 17.5, 1))
        return base + 0.45 * bump(20.0, 1.4) + (0.3 * bump(6.8, 0.6) if work else 0.0)
    # transport hub: sharp rush hours on working days, closed at night
    service = plateau(5.5, 25.0 if kind in (FRIDAY, SATURDAY) else 24.5, 0.5)
    if work:
        return 0.02 + service * (0.3 + 1.3 * bump(8.0, 0.7) + 1.1 * bump(18.0, 0.9))
    return 0.02 + service * (0.25 + 0.5 * bump(15.0, 3.0))


def usage(service: int, dow: int) -> np.ndarray:
    """When people use a service (order of SERVICES) on a day of the week (relative)."""
    kind = day_kind(dow)
    work = kind in (WEEKDAY, FRIDAY)
    name = SERVICES[service]
    awake = _awake(kind)
    if name == "YouTube":
        return awake * (0.5 + bump(21.5, 1.8) + (0.5 * plateau(12, 19, 2) if not work else 0))
    if name == "Netflix":
        return 0.05 + 1.4 * bump(22.0, 1.3) + (0.5 * bump(16, 2.5) if kind == SUNDAY else 0)
    if name == "WhatsApp":
        return awake * (0.8 + 0.4 * bump(12.5, 1) + 0.5 * bump(19, 1.5))
    if name == "Instagram":
        return awake * (0.4 + 0.6 * bump(12.8, 0.8) + 0.5 * bump(18, 1) + 0.8 * bump(22.5, 1))
    if name == "Spotify":
        return awake * (0.3 + 0.9 * bump(8.2, 0.8) + 0.9 * bump(18.2, 1.0) + 0.3 * plateau(10, 16))
    if name == "Deezer":
        return awake * (0.5 + 0.6 * bump(7.8, 1.0) + 0.5 * bump(17.5, 1.2) + 0.3 * bump(10, 2))
    if name == "Google_Maps":
        evening = 0.7 * bump(20.5, 1.5) if kind in (FRIDAY, SATURDAY) else 0.0
        return awake * (0.2 + 0.7 * bump(8.5, 1) + 0.6 * bump(13, 2) + 0.6 * bump(18, 1)) + evening
    if name == "Waze":
        if work:
            return 0.03 + 1.5 * bump(7.8, 0.6) + 1.3 * bump(18.0, 0.8) + 0.2 * awake
        return 0.03 + 0.5 * bump(11, 1.5) + (0.8 * bump(19, 1.5) if kind == SUNDAY else 0.2)
    if name == "Fortnite":
        free = not work or dow == 2  # no school on Wednesday afternoons
        return 0.05 + (1.2 * plateau(13.5, 23, 1) if free else 1.0 * plateau(16.8, 23, 1))
    if name == "Clash_of_Clans":
        return awake * (0.6 + 0.4 * bump(8, 1) + 0.4 * bump(18, 1) + 0.6 * bump(22.5, 1.2))
    if name == "Microsoft_Mail":
        if work:
            return 0.05 + plateau(8.2, 18.3, 0.8) * (1 + 0.6 * bump(9, 0.7) + 0.3 * bump(14, 0.7))
        return 0.05 + 0.1 * bump(18, 3)
    if name == "Gmail":
        return awake * (0.5 + 0.8 * bump(8.5, 1.2) + (0.3 * plateau(9, 18) if work else 0.2))
    if name == "LinkedIn":
        if work:
            return 0.04 + 0.9 * bump(8.7, 0.9) + 0.7 * bump(12.8, 0.8) + 0.3 * plateau(9, 18)
        return 0.04 + 0.12 * bump(20, 2)
    if name == "Teams":
        if work:
            return 0.02 + plateau(8.8, 12.2, 0.5) + plateau(13.8, 17.7, 0.5)
        return np.full_like(HOURS, 0.02, dtype=float)
    if name == "Web_e-Commerce":
        sunday = 1.5 if kind == SUNDAY else 1.0
        return awake * (0.3 + 0.8 * bump(13, 1) + sunday * bump(21.3, 1.3))
    if name == "Uber":
        night = 1.8 if kind in (FRIDAY, SATURDAY) else 0.25
        return 0.05 + night * bump(1.5, 1.4) + 0.4 * bump(8, 0.8) + 0.3 * bump(19.5, 1.5)
    raise ValueError(f"unknown service {name}")


# Relative use of each service (columns, order of SERVICES) in each land use (rows).
MIX = np.array(
    [
        # YT  NF   WA   IG   Sp   Dz   GM   Wz   Fn   CoC  MM   Gm   Li   Tm   WeC  Ub
        [1.2, 1.6, 1.0, 1.0, 0.7, 1.0, 0.5, 0.5, 1.3, 1.1, 0.4, 1.0, 0.5, 0.5, 1.3, 0.4],
        [0.6, 0.1, 1.0, 0.6, 1.0, 0.6, 0.8, 0.9, 0.1, 0.6, 3.0, 1.2, 2.5, 3.0, 0.8, 0.8],
        [0.8, 0.2, 1.4, 2.0, 0.8, 0.5, 1.6, 0.6, 0.3, 0.6, 0.3, 0.6, 0.3, 0.2, 1.1, 2.5],
        [1.5, 0.5, 1.2, 1.8, 1.4, 0.4, 0.5, 0.2, 1.8, 1.0, 0.8, 1.5, 0.6, 1.2, 0.6, 0.3],
        [0.7, 0.1, 1.0, 1.9, 2.0, 1.2, 1.3, 0.3, 0.4, 1.0, 0.1, 0.4, 0.1, 0.1, 0.4, 0.3],
        [1.1, 1.4, 0.9, 0.7, 0.6, 1.6, 0.6, 1.8, 1.4, 1.1, 0.4, 1.1, 0.5, 0.6, 1.4, 0.2],
        [0.7, 0.1, 1.3, 1.0, 2.0, 1.5, 2.5, 0.6, 0.5, 1.2, 0.8, 0.9, 0.7, 0.3, 0.5, 1.5],
    ]
)


def signature_table(n_classes: int) -> np.ndarray:
    """Array (K, S, 7, 96): presence x usage x mix x volume, per class, service and weekday."""

    def curve(value: np.ndarray | float) -> np.ndarray:
        return np.broadcast_to(np.asarray(value, dtype=float), HOURS.shape)

    pres = np.stack([[curve(presence(k, d)) for d in range(7)] for k in range(n_classes)])
    use = np.stack([[curve(usage(s, d)) for d in range(7)] for s in range(len(SERVICES))])
    table = pres[:, None, :, :] * use[None, :, :, :] * MIX[:n_classes, :, None, None]
    return table * VOLUME[None, :, None, None]
