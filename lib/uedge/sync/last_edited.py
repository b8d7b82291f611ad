"""last_edited of a config document as epoch seconds (ISO 8601 or epoch numbers)."""


def _days_from_civil(y, m, d):
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    mp = m - 3 if m > 2 else m + 9
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def edited_seconds(v):
    """last_edited as epoch seconds (float), or None when it cannot be read.

    Accepts ISO 8601 ("2018-03-28T13:27:39+00:00", "...Z", fractions, no
    zone = UTC) and epoch numbers or numeric strings (ms when > 1e11, else s).
    """
    if v is None or v is True or v is False:
        return None
    if isinstance(v, (int, float)):
        n = float(v)
        return n / 1000.0 if n > 1e11 else n
    s = str(v).strip()
    if not s:
        return None
    try:
        n = float(s)
        return n / 1000.0 if n > 1e11 else n
    except ValueError:
        pass
    try:
        y = int(s[0:4])
        mo = int(s[5:7])
        d = int(s[8:10])
        secs = 0.0
        zone = 0
        rest = s[10:]
        if rest and rest[0] in "T t":
            t = rest[1:]
            hh = int(t[0:2])
            mi = int(t[3:5])
            ss = 0.0
            i = 5
            if len(t) > 5 and t[5] == ":":
                j = 8
                while j < len(t) and (t[j].isdigit() or t[j] == "."):
                    j += 1
                ss = float(t[6:j])
                i = j
            secs = hh * 3600 + mi * 60 + ss
            z = t[i:].strip()
            if z and z not in ("Z", "z"):
                sign = -1 if z[0] == "-" else 1
                z = z[1:].replace(":", "")
                zone = sign * (int(z[0:2]) * 3600 + int(z[2:4] or "0") * 60)
        return _days_from_civil(y, mo, d) * 86400.0 + secs - zone
    except (ValueError, IndexError):
        return None
